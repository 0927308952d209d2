//! Tencent Cloud SMS (腾讯云短信): `SendSms` of API 3.0 (version 2021-01-11), signed with
//! TC3-HMAC-SHA256, and what its answers mean.
//!
//! The request is a JSON POST with `X-TC-Action`, `X-TC-Version`, `X-TC-Timestamp`,
//! `X-TC-Region` and `Authorization: TC3-HMAC-SHA256 Credential=ID/DATE/sms/tc3_request,
//! SignedHeaders=content-type;host, Signature=HEX`: the signature is HMAC-SHA256 with a key
//! derived from the secret, the UTC date and the service, over the hashed canonical request
//! (method, path `/`, empty query, the two signed headers, the body's SHA-256). The phone goes in
//! E.164 (`+86…`), the parameters in the template's order, the message's key as `SessionContext`
//! (it comes back in receipts; Tencent does not deduplicate on it).

use chrono::{TimeZone, Utc};
use hmac::Mac;
use sha2::{Digest, Sha256};

use super::{exchange, template_params, Claimed, NotifyConfig, Outcome};

/// The public endpoint of API 3.0 for SMS.
pub const ENDPOINT: &str = "https://sms.tencentcloudapi.com/";
const CONTENT_TYPE: &str = "application/json; charset=utf-8";

/// Sends one SMS of the outbox by SendSms.
pub fn send(agent: &ureq::Agent, m: &Claimed, cfg: &NotifyConfig) -> Outcome {
    let phone = match crate::phone::mobile(&m.target) {
        Ok(p) => p,
        Err(why) => return Outcome::Permanent(format!("SMS to {}: {why}", m.target)),
    };
    let (template_id, params) = match template_params(m, cfg) {
        Ok(t) => t,
        Err(outcome) => return outcome,
    };
    let p = &cfg.provider;
    let body = serde_json::json!({
        "PhoneNumberSet": [phone],
        "SmsSdkAppId": p.sdk_app_id,
        "SignName": p.sign_name,
        "TemplateId": template_id,
        "TemplateParamSet": params.into_iter().map(|(_, v)| v).collect::<Vec<_>>(),
        "SessionContext": m.key,
    })
    .to_string();
    let url = if p.endpoint.is_empty() { ENDPOINT } else { &p.endpoint };
    let Some(host) = url.split("://").nth(1).and_then(|rest| rest.split(['/', '?']).next()) else {
        return Outcome::Permanent(format!("bad URL {url}: no host"));
    };
    let timestamp = Utc::now().timestamp();
    let req = agent
        .post(url)
        .header("Authorization", &authorization(&p.key_id, &p.key_secret, "sms", host, &body, timestamp))
        .header("Content-Type", CONTENT_TYPE)
        .header("Host", host)
        .header("X-TC-Action", "SendSms")
        .header("X-TC-Version", "2021-01-11")
        .header("X-TC-Timestamp", &timestamp.to_string())
        .header("X-TC-Region", &p.region)
        .header("User-Agent", concat!("firepoint/", env!("CARGO_PKG_VERSION")));
    match exchange(req, body.as_bytes(), url) {
        Ok(answer) => match serde_json::from_str::<serde_json::Value>(&answer.body) {
            Ok(json) if json["Response"].is_object() => outcome(&json["Response"]),
            _ => answer.by_status(url),
        },
        Err(outcome) => outcome,
    }
}

/// What a SendSms `Response` means: a request-level `Error`, else the one number's
/// `SendStatusSet` entry. Rate limits (the API's and the per-number ones), Tencent's own
/// failures, an expired signature time (a clock off, fixed by NTP) and an SMS package out of
/// credit are retried; a bad number, template, signature (签名), parameter or credential is
/// permanent.
pub fn outcome(response: &serde_json::Value) -> Outcome {
    let (code, message) = match response["Error"]["Code"].as_str() {
        Some(code) => (code, response["Error"]["Message"].as_str().unwrap_or("")),
        None => match response["SendStatusSet"].get(0) {
            Some(status) => (status["Code"].as_str().unwrap_or(""), status["Message"].as_str().unwrap_or("")),
            None => ("", "no SendStatusSet in the answer"),
        },
    };
    const RETRY: &[&str] = &[
        "RequestLimitExceeded",
        "LimitExceeded",
        "InternalError",
        "ResourceUnavailable",
        "AuthFailure.SignatureExpire",
        "FailedOperation.InsufficientBalanceInSmsPackage",
    ];
    match code {
        "Ok" => Outcome::Delivered,
        c if RETRY.iter().any(|r| c == *r || c.starts_with(&format!("{r}."))) => {
            Outcome::Retry(format!("Tencent Cloud SMS: {code} {message}"))
        }
        _ => Outcome::Permanent(format!("Tencent Cloud SMS refused it: {code} {message}")),
    }
}

/// The `Authorization` header of a JSON POST to `host` with `payload`, signed at `timestamp`.
pub fn authorization(id: &str, secret: &str, service: &str, host: &str, payload: &str, timestamp: i64) -> String {
    let date = Utc.timestamp_opt(timestamp, 0).single().unwrap_or_default().format("%Y-%m-%d").to_string();
    let sig = signature(secret, service, host, CONTENT_TYPE, payload, timestamp);
    format!(
        "TC3-HMAC-SHA256 Credential={id}/{date}/{service}/tc3_request, SignedHeaders=content-type;host, Signature={sig}"
    )
}

/// The TC3-HMAC-SHA256 signature (hex) of a POST to `/` with headers `content-type` and `host`.
pub fn signature(secret: &str, service: &str, host: &str, content_type: &str, payload: &str, timestamp: i64) -> String {
    let date = Utc.timestamp_opt(timestamp, 0).single().unwrap_or_default().format("%Y-%m-%d").to_string();
    let canonical = format!(
        "POST\n/\n\ncontent-type:{content_type}\nhost:{host}\n\ncontent-type;host\n{}",
        hex(&Sha256::digest(payload.as_bytes()))
    );
    let to_sign = format!(
        "TC3-HMAC-SHA256\n{timestamp}\n{date}/{service}/tc3_request\n{}",
        hex(&Sha256::digest(canonical.as_bytes()))
    );
    let key = [date.as_str(), service, "tc3_request"]
        .iter()
        .fold(format!("TC3{secret}").into_bytes(), |key, part| hmac(&key, part.as_bytes()));
    hex(&hmac(&key, to_sign.as_bytes()))
}

fn hmac(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = hmac::Hmac::<Sha256>::new_from_slice(key).expect("HMAC takes any key length");
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn r21_a_tencent_request_is_signed_as_the_provider_documents() {
        // The worked example of Tencent Cloud API 3.0's "Signature v3" page (the same page in every
        // product's API docs, e.g. https://tencentcloud.com/document/product/598/32226):
        // SecretKey Gu5t9xGARNpq86cd98joQYCN3EXAMPLE, cvm DescribeInstances at 1551113065, the
        // documented signature 72e494ea…525168.
        let payload = r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
        let sig = signature(
            "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
            "cvm",
            "cvm.tencentcloudapi.com",
            "application/json; charset=utf-8",
            payload,
            1551113065,
        );
        assert_eq!(sig, "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168");
        let auth = authorization(
            "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
            "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
            "cvm",
            "cvm.tencentcloudapi.com",
            payload,
            1551113065,
        );
        assert_eq!(
            auth,
            "TC3-HMAC-SHA256 Credential=AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE/2019-02-25/cvm/tc3_request, \
             SignedHeaders=content-type;host, Signature=72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
    }

    #[test]
    fn r21_tencent_rate_limits_are_retried_and_a_bad_number_is_not() {
        let status = |code: &str| serde_json::json!({ "SendStatusSet": [{ "Code": code, "Message": "m" }] });
        let error = |code: &str| serde_json::json!({ "Error": { "Code": code, "Message": "m" } });
        assert_eq!(outcome(&status("Ok")), Outcome::Delivered);
        assert!(matches!(outcome(&status("LimitExceeded.PhoneNumberThirtySecondLimit")), Outcome::Retry(_)));
        assert!(matches!(outcome(&error("RequestLimitExceeded")), Outcome::Retry(_)));
        assert!(matches!(outcome(&error("InternalError.Timeout")), Outcome::Retry(_)));
        for permanent in [
            status("InvalidParameterValue.IncorrectPhoneNumber"),
            status("FailedOperation.TemplateIncorrectOrUnapproved"),
            error("AuthFailure.SignatureFailure"),
            error("FailedOperation.SignatureIncorrectOrUnapproved"),
        ] {
            assert!(matches!(outcome(&permanent), Outcome::Permanent(_)), "{permanent}");
        }
        assert!(matches!(outcome(&serde_json::json!({})), Outcome::Permanent(_)));
    }
}
