//! Group robots: a WeCom (企业微信) group robot and a DingTalk (钉钉) custom robot as a township's
//! webhook. The outbox keeps the event's JSON; here, at delivery, it becomes the robot's text
//! message ([`text`]), DingTalk's URL gets its signature ([`dingtalk_sign`]), and the robot's
//! `errcode` says what happened ([`outcome`]).
//!
//! A robot keeps no idempotency key (the `Idempotency-Key` header goes along and is ignored): a
//! send cut off after the robot accepted it (a timeout, a sender killed before it recorded
//! success) is posted to the group once more. The outbox's claim and record keep everything else
//! to once.

use base64::Engine;
use hmac::Mac;

use super::{exchange, fill, post, Claimed, Hook, NotifyConfig, Outcome, WebhookKind};
use crate::domain::Ticket;

/// Posts one webhook message to a robot as text.
pub fn send(agent: &ureq::Agent, m: &Claimed, hook: Hook, cfg: &NotifyConfig) -> Outcome {
    let event: serde_json::Value = serde_json::from_str(&m.body).unwrap_or_default();
    let body = serde_json::json!({ "msgtype": "text", "text": { "content": text(&event, cfg) } }).to_string();
    let url = match hook.kind {
        WebhookKind::Dingtalk if !hook.secret.is_empty() => {
            let stamp = chrono::Utc::now().timestamp_millis();
            let sep = if hook.url.contains('?') { '&' } else { '?' };
            format!(
                "{}{sep}timestamp={stamp}&sign={}",
                hook.url,
                super::aliyun::encode(&dingtalk_sign(hook.secret, stamp))
            )
        }
        _ => hook.url.to_string(),
    };
    let req = post(agent, &url, &m.key).header("Content-Type", "application/json");
    match exchange(req, body.as_bytes(), &url) {
        Ok(answer) if (200..300).contains(&answer.status) => {
            match serde_json::from_str::<serde_json::Value>(&answer.body) {
                Ok(json) if json["errcode"].is_i64() => {
                    outcome(hook.kind, json["errcode"].as_i64().unwrap_or(0), json["errmsg"].as_str().unwrap_or(""))
                }
                _ => Outcome::Delivered,
            }
        }
        Ok(answer) => answer.by_status(&url),
        Err(outcome) => outcome,
    }
}

/// What a robot's `errcode` means: 0 delivered; busy (-1) and the rate limits (WeCom 45009: 20
/// messages a minute; DingTalk 130101 and 410100: sending too fast) retried; anything else (a
/// key or token not found, a signature or keyword refused, a message not understood) permanent.
pub fn outcome(kind: WebhookKind, errcode: i64, errmsg: &str) -> Outcome {
    let name = if kind == WebhookKind::Wecom { "WeCom robot" } else { "DingTalk robot" };
    match errcode {
        0 => Outcome::Delivered,
        -1 | 45009 | 130101 | 410100 => Outcome::Retry(format!("{name}: errcode {errcode} {errmsg}")),
        _ => Outcome::Permanent(format!("{name} refused it: errcode {errcode} {errmsg}")),
    }
}

/// DingTalk's `sign`: base64 of HMAC-SHA256 keyed with the secret over `timestamp\nsecret`
/// (timestamp in milliseconds), not yet URL-encoded.
pub fn dingtalk_sign(secret: &str, timestamp_ms: i64) -> String {
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(format!("{timestamp_ms}\n{secret}").as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// The text a group reads for a webhook event: a new ticket as its SMS (with its evidence link),
/// an escalation as the escalation SMS, another step as one line of who did what, a tower notice
/// as its text.
pub fn text(event: &serde_json::Value, cfg: &NotifyConfig) -> String {
    let name = event["event"].as_str().unwrap_or("");
    if let Some(text) = event["text"].as_str() {
        return text.to_string(); // tower notices carry their own
    }
    let Ok(t) = serde_json::from_value::<Ticket>(event["ticket"].clone()) else {
        return format!("【火情通知】{name} {}", event["key"].as_str().unwrap_or(""));
    };
    let by = event["by"].as_str().unwrap_or("");
    match name.strip_prefix("ticket.").unwrap_or(name) {
        "open" => {
            let mut text = fill(&cfg.sms_template, &t, cfg, &[]);
            if let Some(link) = event["evidence"]["list"].as_str().filter(|l| l.starts_with("http")) {
                text.push_str(&format!("\n图像：{link}"));
            }
            text
        }
        "escalate" => {
            let level = event["detail"]["level"].as_i64().unwrap_or(1);
            let step = super::step_chinese(event["detail"]["step"].as_str().unwrap_or(""));
            let who = super::level_chinese(level);
            fill(&cfg.escalation_template, &t, cfg, &[("step", step), ("level", who)])
        }
        action => {
            let done = match action {
                "ack" => "已签收",
                "on_site" => "已到场",
                "resolve" => "已查实处置",
                "false_alarm" => "已查否",
                "duplicate" => "已并入重复工单",
                _ => action,
            };
            let who = if by.is_empty() { String::new() } else { format!("（{by}）") };
            fill(&format!("【火情】{{township}}{{village}}网格{{grid}}{{kind}}工单{{id}}{done}{who}"), &t, cfg, &[])
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r21_a_dingtalk_robot_url_is_signed_as_the_provider_documents() {
        // DingTalk custom robot security settings, 加签 (open.dingtalk.com › 自定义机器人安全设置,
        // https://open.dingtalk.com/document/robots/customize-robot-security-settings): sign =
        // urlEncode(base64(HmacSHA256(key = secret, timestamp + "\n" + secret))). The page's
        // example uses the current time; this vector was computed independently with its Python
        // sample: python3 -c "import hmac,hashlib,base64,urllib.parse; s='this is secret';
        //   print(urllib.parse.quote_plus(base64.b64encode(hmac.new(s.encode(),
        //   ('1577262236757\n'+s).encode(), hashlib.sha256).digest())))"
        let sign = dingtalk_sign("this is secret", 1577262236757);
        assert_eq!(crate::notify::aliyun::encode(&sign), DINGTALK_VECTOR);
    }

    const DINGTALK_VECTOR: &str = "hmPWwU%2B7lVdm3ZZz0r9tSfx0L4Q26jWOZr9%2BGs6EZQM%3D";

    #[test]
    fn r21_robot_errcodes_say_retry_for_rate_limits_and_stop_for_a_bad_key() {
        assert_eq!(outcome(WebhookKind::Wecom, 0, "ok"), Outcome::Delivered);
        assert!(matches!(outcome(WebhookKind::Wecom, 45009, "api freq out of limit"), Outcome::Retry(_)));
        assert!(matches!(outcome(WebhookKind::Dingtalk, 130101, "send too fast"), Outcome::Retry(_)));
        assert!(matches!(outcome(WebhookKind::Wecom, 93000, "invalid webhook url"), Outcome::Permanent(_)));
        assert!(matches!(outcome(WebhookKind::Dingtalk, 310000, "sign not match"), Outcome::Permanent(_)));
    }
}
