//! Notifications: what each ticket change tells whom ([`messages`], written to the store's
//! outbox in the same transaction as the change), and how one message is delivered
//! ([`deliver`]; the loop over the outbox is `sender::send_due`, run by `firepoint notify` from
//! cron or inside `serve`).
//!
//! Channels, per township: a webhook (JSON, signed with HMAC-SHA256 over `timestamp.body` in
//! `X-Firepoint-Signature: sha256=<hex>`, with `X-Firepoint-Timestamp`) and an SMS gateway over
//! HTTP (JSON `{key, to, text, segments}`). Every message carries an idempotency key (body `key`
//! and header `Idempotency-Key`): the sender may deliver a message more than once (a timeout
//! after the receiver acted, a sender killed before it recorded success), and the receiver acts
//! once per key. Timeouts, connection errors, 401, 403, 408, 429 and 5xx are retried with doubling
//! backoff up to `max_attempts`; any other 4xx, and a redirect (never followed: a redirected POST
//! loses its body), is permanent and the message is marked failed (`notify --retry-failed`
//! queues failed messages again once the cause is fixed).

use std::collections::BTreeMap;
use std::time::Duration;

use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::domain::Ticket;

/// Where notifications go, from the `[notify]` section.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    /// Every ticket change is posted here as JSON (empty: no webhook). A township's own URL in
    /// `townships` takes its place for that township's tickets.
    pub webhook_url: String,
    /// HMAC-SHA256 key of the webhook signature (empty: unsigned).
    pub webhook_secret: String,
    /// SMS gateway endpoint (HTTP POST, JSON); empty: no SMS.
    pub sms_url: String,
    /// Sent as `Authorization: Bearer …` to the SMS gateway when set.
    pub sms_token: String,
    /// The SMS of a new ticket to the grid member and the township team leader. Placeholders:
    /// {township} {village} {grid} {member} {kind} {window} (the risk windows it was seen in, as
    /// `（收工时）`; empty off-window) {deadline} (Beijing HH:MM; with the date when it is not the
    /// day of the sighting) {map} {id}. Unknown placeholders are refused.
    pub sms_template: String,
    /// The SMS of an overdue step to the next level (township lead, then county office); also
    /// {step} and {level}.
    pub escalation_template: String,
    /// The map link in messages; {lon} {lat} {id} are replaced (empty: `lon,lat`).
    pub map_url: String,
    /// The bureau's address of `firepoint serve` as the teams reach it (e.g.
    /// `https://fire.example.gov.cn`): a camera or drone ticket's webhook JSON links its evidence
    /// pictures there, and its SMS ends with a short link (`/e/ID`) to them. Empty: the webhook
    /// carries the paths alone and the SMS no link.
    pub public_url: String,
    /// Escalation level 2: the county office's duty phone (SMS).
    pub county_office_phone: String,
    /// Per township code: its own webhook.
    pub townships: BTreeMap<String, TownshipChannel>,
    /// Seconds to wait for a receiver's answer before the attempt counts as a timeout.
    pub timeout_s: u64,
    /// Attempts before a retryable failure becomes permanent.
    pub max_attempts: i64,
    /// First retry after this many seconds, doubling on each attempt up to `max_backoff_s`.
    pub backoff_s: i64,
    /// Longest wait between two attempts, seconds.
    pub max_backoff_s: i64,
    /// A sender claims a message for this many seconds; a sender killed mid-send leaves it to
    /// the next one after that (same key: the receiver acts once).
    pub claim_s: i64,
}

#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TownshipChannel {
    pub webhook_url: String,
    pub webhook_secret: String,
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            webhook_url: String::new(),
            webhook_secret: String::new(),
            sms_url: String::new(),
            sms_token: String::new(),
            sms_template:
                "【火情】{township}{village}网格{grid}疑似{kind}{window}，请{member}{deadline}前到场核查{map}".into(),
            escalation_template: "【超时】{township}{village}火情{step}超时，升级至{level}，请督办{map}".into(),
            map_url: String::new(),
            public_url: String::new(),
            county_office_phone: String::new(),
            townships: BTreeMap::new(),
            timeout_s: 10,
            max_attempts: 8,
            backoff_s: 5,
            max_backoff_s: 600,
            claim_s: 60,
        }
    }
}

impl NotifyConfig {
    /// Checks the numbers and URLs when the configuration loads.
    pub fn check(&self) -> Result<(), String> {
        if self.timeout_s == 0 || self.max_attempts < 1 || self.backoff_s < 1 || self.max_backoff_s < self.backoff_s {
            return Err(
                "notify: timeout_s, max_attempts and backoff_s must be ≥ 1 and max_backoff_s ≥ backoff_s".into()
            );
        }
        if self.claim_s <= self.timeout_s as i64 {
            return Err("notify.claim_s must be longer than notify.timeout_s".into());
        }
        for (name, template, extra) in [
            ("sms_template", &self.sms_template, &[][..]),
            ("escalation_template", &self.escalation_template, &["step", "level"][..]),
        ] {
            check_placeholders(name, template, extra)?;
        }
        let named =
            [("notify.webhook_url".to_string(), &self.webhook_url), ("notify.sms_url".to_string(), &self.sms_url)];
        let townships =
            self.townships.iter().map(|(code, t)| (format!("notify.townships.{code}.webhook_url"), &t.webhook_url));
        for (key, url) in named.into_iter().chain(townships).filter(|(_, u)| !u.is_empty()) {
            check_url(&key, url)?;
        }
        Ok(())
    }

    /// The webhook URL a township's messages go to, if any.
    pub fn webhook_url(&self, township: &str) -> Option<&str> {
        self.webhook(township).map(|(url, _)| url)
    }

    fn webhook(&self, township: &str) -> Option<(&str, &str)> {
        match self.townships.get(township).filter(|t| !t.webhook_url.is_empty()) {
            Some(t) => Some((&t.webhook_url, &t.webhook_secret)),
            None => (!self.webhook_url.is_empty()).then_some((&self.webhook_url, &self.webhook_secret)),
        }
    }
}

/// Refuses what is not an absolute http(s) URL with a host (and a valid port).
fn check_url(key: &str, url: &str) -> Result<(), String> {
    let bad = |why: &str| Err(format!("{key} = `{url}`: {why}"));
    let uri: axum::http::Uri = match url.parse() {
        Ok(u) => u,
        Err(e) => return bad(&e.to_string()),
    };
    if !matches!(uri.scheme_str(), Some("http" | "https")) {
        return bad("not an http:// or https:// URL");
    }
    match uri.authority() {
        None => bad("no host"),
        Some(a) if a.host().is_empty() => bad("no host"),
        Some(a)
            if a.as_str()
                .rsplit_once(':')
                .is_some_and(|(_, p)| !p.is_empty() && p.parse::<u16>().is_err() && !p.ends_with(']')) =>
        {
            bad("the port is not a number from 1 to 65535")
        }
        _ => Ok(()),
    }
}

/// Refuses a template with a placeholder `fill` does not know (it would go out literally).
fn check_placeholders(name: &str, template: &str, extra: &[&str]) -> Result<(), String> {
    let known = ["township", "village", "grid", "member", "kind", "window", "deadline", "map", "id"];
    let mut rest = template;
    while let Some(open) = rest.find('{') {
        let close =
            rest[open..].find('}').map(|c| open + c).ok_or_else(|| format!("notify.{name}: `{{` without `}}`"))?;
        let word = &rest[open + 1..close];
        if !known.contains(&word) && !extra.contains(&word) {
            let all: Vec<String> = known.iter().chain(extra).map(|k| format!("{{{k}}}")).collect();
            return Err(format!("notify.{name}: unknown placeholder {{{word}}} (known: {})", all.join(" ")));
        }
        rest = &rest[close + 1..];
    }
    Ok(())
}

/// Where a message goes: a township's webhook (its JSON as is) or the SMS gateway (one phone
/// each). The outbox's `channel` column holds [`Channel::as_str`] and its CHECK lists [`Channel::NAMES`];
/// a value that is neither is refused when read, never sent somewhere by default.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Channel {
    Webhook,
    Sms,
}

crate::domain::str_enum!(Channel { Webhook => "webhook", Sms => "sms" });

impl std::fmt::Display for Channel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// One message to deliver, before the store gives it its key.
#[derive(Debug, Clone, PartialEq)]
pub struct Outgoing {
    pub channel: Channel,
    /// The phone number (SMS); empty for a webhook (its township's URL when it is sent).
    pub target: String,
    /// The JSON body without its key.
    pub body: serde_json::Value,
}

/// Fills a template's {placeholders} for ticket `t`.
pub fn fill(template: &str, t: &Ticket, cfg: &NotifyConfig, extra: &[(&str, &str)]) -> String {
    let map = if cfg.map_url.is_empty() {
        format!(" {:.5},{:.5}", t.lon, t.lat)
    } else {
        format!(
            " {}",
            cfg.map_url
                .replace("{lon}", &t.lon.to_string())
                .replace("{lat}", &t.lat.to_string())
                .replace("{id}", &t.id)
        )
    };
    // the on-site (camera) or verification (satellite) deadline; its date when not the day seen
    let bj = crate::time::beijing();
    let due = t.deadline.with_timezone(&bj);
    let deadline = if due.date_naive() == t.first_seen.with_timezone(&bj).date_naive() {
        due.format("%H:%M").to_string()
    } else {
        due.format("%m月%d日%H:%M").to_string()
    };
    // window labels are `name span`: the SMS names them only
    let names: Vec<&str> = t.windows.iter().filter_map(|w| w.split(' ').next()).collect();
    let window = if names.is_empty() { String::new() } else { format!("（{}）", names.join("、")) };
    let mut text = template
        .replace("{township}", &t.township)
        .replace("{village}", &t.village)
        .replace("{grid}", &t.grid_id)
        .replace("{member}", if t.grid_member.is_empty() { "网格员" } else { &t.grid_member })
        .replace("{kind}", t.kind.event_chinese())
        .replace("{window}", &window)
        .replace("{deadline}", &deadline)
        .replace("{map}", &map)
        .replace("{id}", &t.id);
    for (k, v) in extra {
        text = text.replace(&format!("{{{k}}}"), v);
    }
    text
}

/// SMS segments a text needs: 160 / 153 characters a segment in the GSM 7-bit alphabet (ASCII
/// letters, digits and common punctuation here), 70 / 67 in UCS-2 (any Chinese character).
pub fn sms_segments(text: &str) -> usize {
    let n = text.chars().count();
    let gsm = text.chars().all(|c| c.is_ascii() && !c.is_ascii_control() && !"[]{}\\^~|`".contains(c));
    let (single, multi) = if gsm { (160, 153) } else { (70, 67) };
    if n <= single {
        1
    } else {
        n.div_ceil(multi)
    }
}

/// An SMS of `text` to `to`; none to an empty number.
pub fn sms(to: &str, text: String) -> Option<Outgoing> {
    (!to.trim().is_empty()).then(|| Outgoing {
        channel: Channel::Sms,
        target: to.trim().to_string(),
        body: serde_json::json!({ "to": to.trim(), "segments": sms_segments(&text), "text": text }),
    })
}

/// `sha256=<hex>` of HMAC-SHA256(`secret`, `timestamp.body`).
pub fn signature(secret: &str, timestamp: &str, body: &str) -> String {
    use hmac::Mac;
    let mut mac = hmac::Hmac::<sha2::Sha256>::new_from_slice(secret.as_bytes()).expect("HMAC takes any key length");
    mac.update(timestamp.as_bytes());
    mac.update(b".");
    mac.update(body.as_bytes());
    let bytes = mac.finalize().into_bytes();
    format!("sha256={}", bytes.iter().map(|b| format!("{b:02x}")).collect::<String>())
}

/// A message the sender took from the outbox.
#[derive(Debug, Clone)]
pub struct Claimed {
    pub id: i64,
    pub key: String,
    pub ticket_id: String,
    pub channel: Channel,
    pub target: String,
    pub body: String,
    pub attempts: i64,
}

/// How one delivery attempt ended.
#[derive(Debug, Clone, PartialEq)]
pub enum Outcome {
    Delivered,
    /// Its channel is not configured (no webhook for the township, no SMS gateway): not sent.
    Skipped(String),
    /// Try again later (timeout, connection refused, 408, 429, 5xx).
    Retry(String),
    /// Never going to work (other 4xx, a bad URL).
    Permanent(String),
}

/// Posts one message; the webhook's secret comes from the configuration of its township.
pub fn deliver(agent: &ureq::Agent, m: &Claimed, cfg: &NotifyConfig, township: &str) -> Outcome {
    // a webhook goes to its township's URL as configured now; an SMS's target is the phone, and
    // it goes to the gateway
    let url = match m.channel {
        Channel::Sms if cfg.sms_url.is_empty() => return Outcome::Skipped("no SMS gateway (notify.sms_url)".into()),
        Channel::Sms => cfg.sms_url.as_str(),
        Channel::Webhook => match cfg.webhook(township) {
            Some((url, _)) => url,
            None => return Outcome::Skipped(format!("no webhook for township {township} (notify.webhook_url)")),
        },
    };
    let mut req = agent
        .post(url)
        .header("Content-Type", "application/json")
        .header("Idempotency-Key", &m.key)
        .header("User-Agent", concat!("firepoint/", env!("CARGO_PKG_VERSION")));
    match m.channel {
        Channel::Webhook => {
            let secret = cfg.webhook(township).map(|(_, s)| s).unwrap_or("");
            if !secret.is_empty() {
                let stamp = Utc::now().timestamp().to_string();
                req = req.header("X-Firepoint-Signature", &signature(secret, &stamp, &m.body));
                req = req.header("X-Firepoint-Timestamp", &stamp);
            }
        }
        Channel::Sms if !cfg.sms_token.is_empty() => {
            req = req.header("Authorization", &format!("Bearer {}", cfg.sms_token))
        }
        Channel::Sms => {}
    }
    match req.send(m.body.as_bytes()) {
        Ok(resp) => {
            let status = resp.status().as_u16();
            match status {
                200..=299 => Outcome::Delivered,
                // 401 / 403: a gateway credential expired or not yet granted — fixable, so retried
                401 | 403 | 408 | 429 | 500..=599 => Outcome::Retry(format!("HTTP {status} from {url}")),
                300..=399 => {
                    let to = resp.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or("?").to_string();
                    Outcome::Permanent(format!("HTTP {status} from {url}: redirected to {to}; configure the final URL"))
                }
                _ => Outcome::Permanent(format!("HTTP {status} from {url}")),
            }
        }
        Err(ureq::Error::BadUri(e)) => Outcome::Permanent(format!("bad URL {url}: {e}")),
        Err(e) => Outcome::Retry(e.to_string()),
    }
}

/// The HTTP client of the sender: the configured timeout, answers of every status read as
/// answers (not errors).
pub fn agent(cfg: &NotifyConfig) -> ureq::Agent {
    ureq::Agent::config_builder()
        .timeout_global(Some(Duration::from_secs(cfg.timeout_s)))
        .http_status_as_error(false)
        // a redirected POST would arrive as a GET without its body: never follow, say so
        .max_redirects(0)
        .build()
        .into()
}

/// Seconds until the next attempt after `attempts` failed ones.
pub fn backoff_s(cfg: &NotifyConfig, attempts: i64) -> i64 {
    let doubled = cfg.backoff_s.saturating_mul(1i64 << (attempts - 1).clamp(0, 30));
    doubled.min(cfg.max_backoff_s)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn segments_count_chinese_as_ucs2() {
        assert_eq!(sms_segments(&"a".repeat(160)), 1);
        assert_eq!(sms_segments(&"a".repeat(161)), 2);
        assert_eq!(sms_segments(&"火".repeat(70)), 1);
        assert_eq!(sms_segments(&"火".repeat(71)), 2);
        assert_eq!(sms_segments(&"火".repeat(135)), 3);
    }

    #[test]
    fn the_signature_is_hmac_sha256_of_timestamp_dot_body() {
        // computed independently: python3 -c "import hmac,hashlib;
        //   print(hmac.new(b'Jefe', b'1700000000.{\"a\":1}', hashlib.sha256).hexdigest())"
        assert_eq!(
            signature("Jefe", "1700000000", r#"{"a":1}"#),
            "sha256=fa5f6481efc59da48b19c9dc10196c9953e5651f8304b3a318b6b87d70272e0a"
        );
    }

    #[test]
    fn templates_with_unknown_placeholders_are_refused_and_a_next_day_deadline_has_its_date() {
        let bad = NotifyConfig { sms_template: "请{member}于{deadine}前到场".into(), ..Default::default() };
        assert!(bad.check().unwrap_err().contains("{deadine}"));
        let step_in_sms = NotifyConfig { sms_template: "{step}".into(), ..Default::default() };
        assert!(step_in_sms.check().is_err(), "{{step}} belongs to the escalation template only");
        assert!(NotifyConfig::default().check().is_ok());
        let mut t: Ticket = serde_json::from_value(serde_json::json!({
            "id": "FP-1", "status": "open", "kind": "straw", "priority": "normal", "reasons": [], "lon": 115.6,
            "lat": 37.6, "radius_m": 700.0, "township_code": "T", "township": "东风乡", "team": "", "team_phone": "",
            "village_code": "", "village": "周屯", "grid_id": "G-1", "grid_member": "王五", "grid_phone": "",
            "landuse": "farmland", "sources": ["satellite"], "cameras": [], "related": [], "detections": 1,
            "first_seen": "2026-06-10T09:30:00Z", "last_seen": "2026-06-10T09:30:00Z",
            "deadline": "2026-06-11T09:00:00Z", "created_at": "2026-06-10T09:30:00Z",
            "updated_at": "2026-06-10T09:30:00Z"
        }))
        .unwrap();
        let cfg = NotifyConfig::default();
        let text = fill(&cfg.sms_template, &t, &cfg, &[]);
        assert!(text.contains("王五06月11日17:00前"), "seen 17:30, due the next day: {text}");
        t.first_seen = "2026-06-10T01:00:00Z".parse().unwrap();
        t.deadline = "2026-06-10T09:00:00Z".parse().unwrap();
        let text = fill(&cfg.sms_template, &t, &cfg, &[]);
        assert!(text.contains("王五17:00前") && sms_segments(&text) == 1, "{text}");
        assert!(text.contains("疑似秸秆焚烧，"), "off-window: no window named: {text}");
        t.kind = crate::domain::BurnKind::Leaves;
        t.windows = vec!["收工时 16:30–19:00".into(), "下雨前 rain 80 % 12.0 mm from 06-10 20:00".into()];
        let text = fill(&cfg.sms_template, &t, &cfg, &[]);
        assert!(text.contains("疑似枯枝落叶焚烧（收工时、下雨前），"), "{text}");
    }

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let cfg = NotifyConfig { backoff_s: 5, max_backoff_s: 30, ..Default::default() };
        let got: Vec<i64> = (1..=5).map(|a| backoff_s(&cfg, a)).collect();
        assert_eq!(got, [5, 10, 20, 30, 30]);
    }
}
