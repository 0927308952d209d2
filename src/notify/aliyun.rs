//! Alibaba Cloud SMS (阿里云短信服务): `SendSms` of API version 2017-05-25 in the RPC style,
//! signed with HMAC-SHA1 (signature version 1.0), and what its answers mean.
//!
//! The request is a form POST of every parameter and `Signature`, the base64 HMAC-SHA1, keyed
//! `secret&`, of `POST&%2F&` and the percent-encoded, name-sorted, percent-encoded query
//! (RFC 3986: only `A–Z a–z 0–9 - _ . ~` stay as they are). Alibaba's docs now also offer the
//! V3 signature (ACS3-HMAC-SHA256); the RPC signature stays valid for `dysmsapi`, and is the one
//! their SMS docs give a worked example of (our test vector). The phone goes as 11 digits, the
//! message's key as `OutId` (it comes back in delivery receipts; Alibaba does not deduplicate on it).

use base64::Engine;
use chrono::Utc;
use hmac::Mac;

use super::{exchange, template_params, Claimed, NotifyConfig, Outcome};

/// The public endpoint of SendSms.
pub const ENDPOINT: &str = "https://dysmsapi.aliyuncs.com/";

/// Sends one SMS of the outbox by SendSms.
pub fn send(agent: &ureq::Agent, m: &Claimed, cfg: &NotifyConfig) -> Outcome {
    let phone = match crate::phone::national(&m.target) {
        Ok(p) => p,
        Err(why) => return Outcome::Permanent(format!("SMS to {}: {why}", m.target)),
    };
    let (template_id, params) = match template_params(m, cfg) {
        Ok(t) => t,
        Err(outcome) => return outcome,
    };
    let p = &cfg.provider;
    let template_param: serde_json::Map<String, serde_json::Value> =
        params.into_iter().map(|(k, v)| (k, v.into())).collect();
    let now = Utc::now();
    // unique per request: Alibaba refuses a nonce seen in the last 15 minutes
    let nonce = format!("{}-{}-{}", m.id, m.attempts, now.timestamp_nanos_opt().unwrap_or_default());
    let mut query: Vec<(String, String)> = [
        ("AccessKeyId", p.key_id.as_str()),
        ("Action", "SendSms"),
        ("Format", "JSON"),
        ("OutId", &m.key),
        ("PhoneNumbers", &phone),
        ("RegionId", "cn-hangzhou"),
        ("SignName", &p.sign_name),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureNonce", &nonce),
        ("SignatureVersion", "1.0"),
        ("TemplateCode", template_id),
        ("TemplateParam", &serde_json::Value::Object(template_param).to_string()),
        ("Timestamp", &now.format("%Y-%m-%dT%H:%M:%SZ").to_string()),
        ("Version", "2017-05-25"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect();
    let sig = signature(&p.key_secret, "POST", &query);
    query.push(("Signature".into(), sig));
    let form = query.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&");
    let url = if p.endpoint.is_empty() { ENDPOINT } else { &p.endpoint };
    let req = agent
        .post(url)
        .header("Content-Type", "application/x-www-form-urlencoded")
        .header("User-Agent", concat!("firepoint/", env!("CARGO_PKG_VERSION")));
    match exchange(req, form.as_bytes(), url) {
        Ok(answer) => match serde_json::from_str::<serde_json::Value>(&answer.body) {
            Ok(json) if json["Code"].is_string() => {
                outcome(json["Code"].as_str().unwrap_or(""), json["Message"].as_str().unwrap_or(""))
            }
            _ => answer.by_status(url),
        },
        Err(outcome) => outcome,
    }
}

/// What SendSms's `Code` means. Flow control (the provider's limits per number and minute,
/// hour and day), throttling, its own failures and an account out of credit are retried; a bad
/// number, template, signature (签名) or parameter, and refused credentials are permanent.
pub fn outcome(code: &str, message: &str) -> Outcome {
    const RETRY: &[&str] = &[
        "isv.BUSINESS_LIMIT_CONTROL",
        "isv.DAY_LIMIT_CONTROL",
        "isv.AMOUNT_NOT_ENOUGH",
        "isv.OUT_OF_SERVICE",
        "isp.SYSTEM_ERROR",
        "isp.GATEWAY_ERROR",
        "SignatureNonceUsed",
        "ServiceUnavailable",
        "InternalError",
    ];
    match code {
        "OK" => Outcome::Delivered,
        c if RETRY.contains(&c) || c.starts_with("Throttling") => {
            Outcome::Retry(format!("Alibaba Cloud SMS: {code} {message}"))
        }
        _ => Outcome::Permanent(format!("Alibaba Cloud SMS refused it: {code} {message}")),
    }
}

/// The `Signature` of an RPC request: base64 of HMAC-SHA1 keyed `secret&` over
/// `METHOD&%2F&` + the percent-encoded canonical query (parameters sorted by name, each name
/// and value percent-encoded).
pub fn signature(secret: &str, method: &str, params: &[(String, String)]) -> String {
    let mut sorted: Vec<&(String, String)> = params.iter().collect();
    sorted.sort_by(|a, b| a.0.cmp(&b.0));
    let canonical = sorted.iter().map(|(k, v)| format!("{}={}", encode(k), encode(v))).collect::<Vec<_>>().join("&");
    let to_sign = format!("{method}&{}&{}", encode("/"), encode(&canonical));
    let mut mac =
        hmac::Hmac::<sha1::Sha1>::new_from_slice(format!("{secret}&").as_bytes()).expect("HMAC takes any key length");
    mac.update(to_sign.as_bytes());
    base64::engine::general_purpose::STANDARD.encode(mac.finalize().into_bytes())
}

/// RFC 3986 percent-encoding of UTF-8 (what Alibaba calls its "special URL encode": space as
/// `%20`, `*` as `%2A`, `~` kept).
pub fn encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len() * 3);
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => out.push(b as char),
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r21_an_alibaba_sms_is_signed_as_the_provider_documents() {
        // The worked example of Alibaba Cloud SMS's signature docs (短信服务 › HTTP 协议及签名,
        // https://help.aliyun.com/document_detail/101343.html): AccessKey testId / testSecret,
        // GET, expected Signature zJDF+Lrzhj/ThnlvIToysFRq6t4=.
        let params: Vec<(String, String)> = [
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "45e25e9b-0a6f-4070-8c85-2956eda1b466"),
            ("AccessKeyId", "testId"),
            ("SignatureVersion", "1.0"),
            ("Timestamp", "2017-07-12T02:42:19Z"),
            ("Format", "XML"),
            ("Action", "SendSms"),
            ("Version", "2017-05-25"),
            ("RegionId", "cn-hangzhou"),
            ("PhoneNumbers", "15300000001"),
            ("SignName", "阿里云短信测试专用"),
            ("TemplateParam", r#"{"customer":"test"}"#),
            ("TemplateCode", "SMS_71390007"),
            ("OutId", "123"),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        assert_eq!(signature("testSecret", "GET", &params), "zJDF+Lrzhj/ThnlvIToysFRq6t4=");
        assert_eq!(encode("zJDF+Lrzhj/ThnlvIToysFRq6t4="), "zJDF%2BLrzhj%2FThnlvIToysFRq6t4%3D");
        assert_eq!(encode("a b*~"), "a%20b%2A~");
    }

    #[test]
    fn r21_alibaba_flow_control_is_retried_and_a_bad_template_is_not() {
        assert_eq!(outcome("OK", "OK"), Outcome::Delivered);
        assert!(matches!(outcome("isv.BUSINESS_LIMIT_CONTROL", "触发分钟级流控"), Outcome::Retry(_)));
        assert!(matches!(
            outcome("Throttling.User", "Request was denied due to user flow control."),
            Outcome::Retry(_)
        ));
        for permanent in [
            "isv.SMS_TEMPLATE_ILLEGAL",
            "isv.SMS_SIGNATURE_ILLEGAL",
            "isv.MOBILE_NUMBER_ILLEGAL",
            "SignatureDoesNotMatch",
            "InvalidAccessKeyId.NotFound",
        ] {
            match outcome(permanent, "…") {
                Outcome::Permanent(e) => assert!(e.contains(permanent), "{e}"),
                other => panic!("{permanent}: {other:?}"),
            }
        }
    }
}
