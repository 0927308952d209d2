//! Issue 21: notifications over HTTPS to the channels county offices use — Alibaba Cloud SMS,
//! Tencent Cloud SMS, a WeCom group robot and a DingTalk robot. Each test runs a real HTTPS
//! receiver on loopback: a CA and a server certificate for 127.0.0.1 made here, the sender
//! trusting the CA through `notify.ca_file`. The receiver checks each request's signature with the
//! provider's documented algorithm, written here again (not the sender's code), checks the
//! template and its parameters, and answers as the provider does: success, throttled, or refused.

use crate::common;

use std::collections::{BTreeMap, HashSet};
use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpListener;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use base64::Engine;
use common::Sandbox;
use hmac::Mac;
use sha2::Digest;

// ---------------------------------------------------------------- the HTTPS receiver

/// A CA, and a server certificate it issued for 127.0.0.1 and localhost.
struct Pki {
    ca_pem: String,
    server: Arc<rustls::ServerConfig>,
}

fn pki() -> Pki {
    use rcgen::{BasicConstraints, CertificateParams, CertifiedIssuer, DnType, IsCa, KeyPair, KeyUsagePurpose};
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name.push(DnType::CommonName, "Test County Bureau CA");
    ca.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    let ca = CertifiedIssuer::self_signed(ca, KeyPair::generate().unwrap()).unwrap();
    let key = KeyPair::generate().unwrap();
    let leaf = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()]).unwrap();
    let cert = leaf.signed_by(&key, &ca).unwrap();
    // rustls's default provider: ring, the only one built (as the sender's)
    let server = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_single_cert(
            vec![cert.der().clone(), ca.der().clone()],
            rustls::pki_types::PrivateKeyDer::Pkcs8(key.serialize_der().into()),
        )
        .unwrap();
    Pki { ca_pem: ca.pem(), server: Arc::new(server) }
}

/// One request as it arrived.
struct Request {
    target: String,
    headers: BTreeMap<String, String>,
    body: String,
}

type Handler = Arc<dyn Fn(&Request) -> (u16, String) + Send + Sync>;

/// An HTTPS server on loopback answering every request with `handler` (a thread per connection).
fn https(pki: &Pki, handler: Handler) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let config = pki.server.clone();
    std::thread::spawn(move || {
        for tcp in listener.incoming().flatten() {
            let (config, handler) = (config.clone(), handler.clone());
            std::thread::spawn(move || {
                let conn = rustls::ServerConnection::new(config).unwrap();
                let mut tls = rustls::StreamOwned::new(conn, tcp);
                let Some(req) = read_request(&mut tls) else { return };
                let (status, body) = handler(&req);
                let _ = write!(
                    tls,
                    "HTTP/1.1 {status} X\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
                    body.len()
                );
                tls.conn.send_close_notify();
                let _ = tls.flush();
            });
        }
    });
    port
}

/// The request line, headers and `Content-Length` body; none when the handshake failed.
fn read_request(s: &mut impl Read) -> Option<Request> {
    let mut reader = BufReader::new(s);
    let mut line = String::new();
    reader.read_line(&mut line).ok().filter(|n| *n > 0)?;
    let target = line.split_whitespace().nth(1).unwrap_or("").to_string();
    let mut headers = BTreeMap::new();
    loop {
        let mut h = String::new();
        if reader.read_line(&mut h).ok()? == 0 || h.trim().is_empty() {
            break;
        }
        if let Some((k, v)) = h.split_once(':') {
            headers.insert(k.trim().to_ascii_lowercase(), v.trim().to_string());
        }
    }
    let len: usize = headers.get("content-length").and_then(|v| v.parse().ok()).unwrap_or(0);
    let mut body = vec![0u8; len];
    reader.read_exact(&mut body).ok()?;
    Some(Request { target, headers, body: String::from_utf8(body).ok()? })
}

// ---------------------------------------------------------------- the providers' algorithms

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut m = hmac::Hmac::<sha2::Sha256>::new_from_slice(key).unwrap();
    m.update(data);
    m.finalize().into_bytes().to_vec()
}

fn hex(b: &[u8]) -> String {
    b.iter().map(|x| format!("{x:02x}")).collect()
}

/// RFC 3986 percent-encoding, as Alibaba's signature docs specify it.
fn pct(s: &str) -> String {
    s.bytes()
        .map(|b| match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => (b as char).to_string(),
            _ => format!("%{b:02X}"),
        })
        .collect()
}

fn unpct(s: &str) -> String {
    let (b, mut out, mut i) = (s.as_bytes(), Vec::new(), 0);
    while i < b.len() {
        match b[i] {
            b'%' => {
                out.push(u8::from_str_radix(&s[i + 1..i + 3], 16).unwrap());
                i += 3;
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            c => {
                out.push(c);
                i += 1;
            }
        }
    }
    String::from_utf8(out).unwrap()
}

fn form(s: &str) -> BTreeMap<String, String> {
    s.split('&').filter_map(|kv| kv.split_once('=')).map(|(k, v)| (unpct(k), unpct(v))).collect()
}

/// Alibaba RPC: Signature = base64(HMAC-SHA1(secret + "&", "POST&%2F&" + pct(sorted query))).
fn alibaba_signature_ok(secret: &str, params: &BTreeMap<String, String>) -> bool {
    let canonical: Vec<String> =
        params.iter().filter(|(k, _)| *k != "Signature").map(|(k, v)| format!("{}={}", pct(k), pct(v))).collect();
    let to_sign = format!("POST&{}&{}", pct("/"), pct(&canonical.join("&")));
    let mut m = hmac::Hmac::<sha1::Sha1>::new_from_slice(format!("{secret}&").as_bytes()).unwrap();
    m.update(to_sign.as_bytes());
    let want = base64::engine::general_purpose::STANDARD.encode(m.finalize().into_bytes());
    params.get("Signature") == Some(&want)
}

/// Tencent TC3-HMAC-SHA256 over the signed headers as they arrived.
fn tencent_signature_ok(id: &str, secret: &str, req: &Request) -> bool {
    let auth = req.headers.get("authorization").cloned().unwrap_or_default();
    let Some(rest) = auth.strip_prefix("TC3-HMAC-SHA256 ") else { return false };
    let fields: BTreeMap<&str, &str> = rest.split(", ").filter_map(|kv| kv.split_once('=')).collect();
    let scope: Vec<&str> = fields.get("Credential").unwrap_or(&"").split('/').collect();
    let [cred_id, date, service, "tc3_request"] = scope[..] else { return false };
    let stamp: i64 = req.headers.get("x-tc-timestamp").and_then(|t| t.parse().ok()).unwrap_or(0);
    let day = chrono::DateTime::from_timestamp(stamp, 0).unwrap().format("%Y-%m-%d").to_string();
    let signed = fields.get("SignedHeaders").copied().unwrap_or("");
    let canonical_headers: String = signed
        .split(';')
        .map(|h| format!("{h}:{}\n", req.headers.get(h).map(|v| v.to_lowercase()).unwrap_or_default()))
        .collect();
    let canonical =
        format!("POST\n/\n\n{canonical_headers}\n{signed}\n{}", hex(&sha2::Sha256::digest(req.body.as_bytes())));
    let to_sign = format!(
        "TC3-HMAC-SHA256\n{stamp}\n{date}/{service}/tc3_request\n{}",
        hex(&sha2::Sha256::digest(canonical.as_bytes()))
    );
    let k_date = hmac_sha256(format!("TC3{secret}").as_bytes(), date.as_bytes());
    let k_service = hmac_sha256(&k_date, service.as_bytes());
    let k_signing = hmac_sha256(&k_service, b"tc3_request");
    cred_id == id
        && date == day
        && service == "sms"
        && signed.contains("host")
        && fields.get("Signature") == Some(&hex(&hmac_sha256(&k_signing, to_sign.as_bytes())).as_str())
}

/// DingTalk: sign = urlencode(base64(HMAC-SHA256(secret, timestamp + "\n" + secret))).
fn dingtalk_signature_ok(secret: &str, target: &str) -> bool {
    let query = form(target.split_once('?').map(|(_, q)| q).unwrap_or(""));
    let stamp = query.get("timestamp").cloned().unwrap_or_default();
    let want = base64::engine::general_purpose::STANDARD
        .encode(hmac_sha256(secret.as_bytes(), format!("{stamp}\n{secret}").as_bytes()));
    query.get("access_token").map(String::as_str) == Some(DINGTALK_TOKEN) && query.get("sign") == Some(&want)
}

// ---------------------------------------------------------------- the providers

const KEY_ID: &str = "LTAI-test-key-id";
const KEY_SECRET: &str = "test-key-secret";
const WECOM_KEY: &str = "693a91f6-7xxx-4bc4-97a0-0ec2sifa5aaa";
const DINGTALK_TOKEN: &str = "test-access-token";
const DINGTALK_SECRET: &str = "SECtest-signing-secret";

#[derive(Debug, Clone, Copy, PartialEq)]
enum Kind {
    Aliyun,
    Tencent,
    Wecom,
    Dingtalk,
}

/// How the provider answers an arrival.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Answer {
    Accept,
    /// Throttled before acting (flow control, rate limit).
    Throttle,
    /// Acted, then failed with a 502 (the message comes again: a provider cannot tell).
    AcceptThen502,
    /// Refused for good (a bad template, number or key).
    Refuse,
}

#[derive(Default)]
struct Seen {
    /// Every arrival's message key (the SMS's OutId / SessionContext, a robot's Idempotency-Key).
    arrivals: Vec<String>,
    /// Arrivals the provider acted on (sent the SMS, posted to the group).
    acted: Vec<String>,
    /// Key → what was acted on: (template id, parameters) or the robot's text.
    applied: BTreeMap<String, serde_json::Value>,
    bad: Vec<String>,
}

/// What a provider's receiver checks of one request: the signature, the fixed fields, and what
/// the message carries (its key, and its template and parameters or its text).
fn check(kind: Kind, req: &Request) -> Result<(String, serde_json::Value), String> {
    match kind {
        Kind::Aliyun => {
            let p = form(&req.body);
            if !alibaba_signature_ok(KEY_SECRET, &p) {
                return Err(format!("bad Alibaba signature: {p:?}"));
            }
            let fixed = [
                ("Action", "SendSms"),
                ("Version", "2017-05-25"),
                ("SignatureMethod", "HMAC-SHA1"),
                ("SignatureVersion", "1.0"),
                ("AccessKeyId", KEY_ID),
                ("SignName", "县森防办"),
                ("Format", "JSON"),
            ];
            if let Some((k, v)) = fixed.iter().find(|(k, v)| p.get(*k).map(String::as_str) != Some(*v)) {
                return Err(format!("{k} is not {v}: {p:?}"));
            }
            let phone = &p["PhoneNumbers"];
            if phone.len() != 11 || !phone.starts_with('1') {
                return Err(format!("Alibaba takes 11 digits, not {phone}"));
            }
            let params: serde_json::Value = serde_json::from_str(&p["TemplateParam"]).map_err(|e| e.to_string())?;
            Ok((p["OutId"].clone(), serde_json::json!({ "template": p["TemplateCode"], "params": params })))
        }
        Kind::Tencent => {
            if !tencent_signature_ok(KEY_ID, KEY_SECRET, req) {
                return Err(format!("bad Tencent signature: {:?}", req.headers));
            }
            let fixed = [("x-tc-action", "SendSms"), ("x-tc-version", "2021-01-11"), ("x-tc-region", "ap-nanjing")];
            if let Some((k, v)) = fixed.iter().find(|(k, v)| req.headers.get(*k).map(String::as_str) != Some(*v)) {
                return Err(format!("{k} is not {v}"));
            }
            let b: serde_json::Value = serde_json::from_str(&req.body).map_err(|e| e.to_string())?;
            let phone = b["PhoneNumberSet"][0].as_str().unwrap_or("");
            if !(phone.starts_with("+861") && phone.len() == 14)
                || b["SmsSdkAppId"] != "1400000001"
                || b["SignName"] != "县森防办"
            {
                return Err(format!("Tencent takes +86 numbers, the app id and sign name: {b}"));
            }
            let key = b["SessionContext"].as_str().unwrap_or("").to_string();
            Ok((key, serde_json::json!({ "template": b["TemplateId"], "params": b["TemplateParamSet"] })))
        }
        Kind::Wecom | Kind::Dingtalk => {
            let ok = match kind {
                Kind::Wecom => req.target == format!("/cgi-bin/webhook/send?key={WECOM_KEY}"),
                _ => req.target.starts_with("/robot/send?") && dingtalk_signature_ok(DINGTALK_SECRET, &req.target),
            };
            if !ok {
                return Err(format!("bad robot URL or signature: {}", req.target));
            }
            let b: serde_json::Value = serde_json::from_str(&req.body).map_err(|e| e.to_string())?;
            let text = b["text"]["content"].as_str().unwrap_or("");
            if b["msgtype"] != "text" || text.is_empty() {
                return Err(format!("not a text message: {b}"));
            }
            let key = req.headers.get("idempotency-key").cloned().unwrap_or_default();
            Ok((key, serde_json::json!(text)))
        }
    }
}

/// The provider's answer body and status for `answer`.
fn reply(kind: Kind, answer: Answer) -> (u16, String) {
    let ok = match kind {
        Kind::Aliyun => {
            r#"{"Code":"OK","Message":"OK","BizId":"900619746936498440^0","RequestId":"F655A8D5-B967-440B-8683-DAD6FF8DE990"}"#
        }
        Kind::Tencent => {
            r#"{"Response":{"SendStatusSet":[{"SerialNo":"5000:1045710669157053657849499619","PhoneNumber":"+8613800000000","Fee":1,"SessionContext":"","Code":"Ok","Message":"send success","IsoCode":"CN"}],"RequestId":"a0aabda6-cf91-4f3e-a81f-9198114a2279"}}"#
        }
        Kind::Wecom | Kind::Dingtalk => r#"{"errcode":0,"errmsg":"ok"}"#,
    };
    let throttled = match kind {
        Kind::Aliyun => r#"{"Code":"isv.BUSINESS_LIMIT_CONTROL","Message":"触发分钟级流控Permits:1","RequestId":"x"}"#,
        Kind::Tencent => {
            r#"{"Response":{"SendStatusSet":[{"Code":"LimitExceeded.PhoneNumberThirtySecondLimit","Message":"the number of SMS messages sent from a single mobile number within 30 seconds exceeds the upper limit","PhoneNumber":"+8613800000000"}],"RequestId":"x"}}"#
        }
        Kind::Wecom => r#"{"errcode":45009,"errmsg":"api freq out of limit"}"#,
        Kind::Dingtalk => r#"{"errcode":130101,"errmsg":"send too fast, exceed 20 times per minute"}"#,
    };
    let refused = match kind {
        Kind::Aliyun => r#"{"Code":"isv.SMS_TEMPLATE_ILLEGAL","Message":"模板不合法(不存在或被拉黑)","RequestId":"x"}"#,
        Kind::Tencent => {
            r#"{"Response":{"Error":{"Code":"FailedOperation.TemplateIncorrectOrUnapproved","Message":"template is not approved or request content does not match the approved template content"},"RequestId":"x"}}"#
        }
        Kind::Wecom => r#"{"errcode":93000,"errmsg":"invalid webhook url"}"#,
        Kind::Dingtalk => r#"{"errcode":300001,"errmsg":"token is not exist"}"#,
    };
    match answer {
        Answer::Accept => (200, ok.into()),
        Answer::Throttle => (200, throttled.into()),
        Answer::AcceptThen502 => (502, "<html>bad gateway</html>".into()),
        Answer::Refuse => (200, refused.into()),
    }
}

/// A provider at a local HTTPS receiver answering arrival n with `script(n)`.
fn provider(pki: &Pki, kind: Kind, script: fn(u64) -> Answer) -> (u16, Arc<Mutex<Seen>>) {
    let seen = Arc::new(Mutex::new(Seen::default()));
    let st = seen.clone();
    let handler: Handler = Arc::new(move |req: &Request| {
        let mut st = st.lock().unwrap();
        let (key, what) = match check(kind, req) {
            Ok(k) => k,
            Err(why) => {
                st.bad.push(why);
                return (200, r#"{"Code":"SignatureDoesNotMatch","errcode":310000,"Response":{"Error":{"Code":"AuthFailure.SignatureFailure"}}}"#.into());
            }
        };
        let answer = script(st.arrivals.len() as u64);
        st.arrivals.push(key.clone());
        if matches!(answer, Answer::Accept | Answer::AcceptThen502) {
            st.acted.push(key.clone());
            st.applied.entry(key).or_insert(what);
        }
        reply(kind, answer)
    });
    (https(pki, handler), seen)
}

/// The settings that send through `kind` at `port`, trusting the test CA in `ca`.
fn settings(kind: Kind, port: u16, ca: &str) -> Vec<String> {
    let mut s = vec![
        format!("notify.ca_file=\"{ca}\""),
        "notify.county_office_phone=\"13900000009\"".into(),
        "notify.timeout_s=5".into(),
        "notify.backoff_s=1".into(),
        "notify.max_backoff_s=1".into(),
        "notify.claim_s=10".into(),
        "notify.max_attempts=1000".into(),
    ];
    let provider = |name: &str| {
        vec![
            format!("notify.sms_provider=\"{name}\""),
            format!("notify.provider.endpoint=\"https://127.0.0.1:{port}/\""),
            format!("notify.provider.key_id=\"{KEY_ID}\""),
            format!("notify.provider.key_secret=\"{KEY_SECRET}\""),
            "notify.provider.sign_name=\"县森防办\"".into(),
            "notify.provider.sdk_app_id=\"1400000001\"".into(),
            "notify.provider.region=\"ap-nanjing\"".into(),
            "notify.provider.new_ticket.id=\"SMS_NEW\"".into(),
            "notify.provider.escalation.id=\"SMS_ESC\"".into(),
            "notify.provider.tower.id=\"SMS_TOWER\"".into(),
        ]
    };
    match kind {
        Kind::Aliyun => s.extend(provider("aliyun")),
        Kind::Tencent => s.extend(provider("tencent")),
        Kind::Wecom => s.extend([
            format!("notify.webhook_url=\"https://127.0.0.1:{port}/cgi-bin/webhook/send?key={WECOM_KEY}\""),
            "notify.webhook_kind=\"wecom\"".into(),
        ]),
        Kind::Dingtalk => s.extend([
            format!("notify.webhook_url=\"https://localhost:{port}/robot/send?access_token={DINGTALK_TOKEN}\""),
            "notify.webhook_kind=\"dingtalk\"".into(),
            format!("notify.webhook_secret=\"{DINGTALK_SECRET}\""),
        ]),
    }
    s
}

fn with(sb: &Sandbox, settings: &[String]) -> assert_cmd::Command {
    let mut c = sb.cmd();
    for s in settings {
        c.args(["--set", s]);
    }
    c
}

fn outbox(sb: &Sandbox, sql: &str) -> Vec<(String, String, String, String)> {
    let conn = rusqlite::Connection::open(sb.path("work/firepoint.sqlite")).unwrap();
    let mut stmt = conn.prepare(sql).unwrap();
    stmt.query_map([], |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get::<_, Option<String>>(3)?.unwrap_or_default())))
        .unwrap()
        .map(Result::unwrap)
        .collect()
}

/// A sandbox with the demo's tickets (one escalated to the county office), the CA file written.
fn demo(pki: &Pki) -> (Sandbox, String) {
    let sb = Sandbox::new();
    let ca = sb.path("bureau-ca.pem");
    std::fs::write(&ca, &pki.ca_pem).unwrap();
    sb.simulate();
    sb.cmd().arg("run").assert().code(0);
    // the county office raises one ticket twice (督办): an escalation SMS to its own mobile
    let id = sb.tickets()[0]["id"].as_str().unwrap().to_string();
    for _ in 0..2 {
        sb.cmd().args(["tickets", "escalate", &id, "--by", "县办"]).assert().success();
    }
    (sb, ca.to_string_lossy().into_owned())
}

/// Runs `firepoint notify` as cron would until nothing is pending (retries wait a second).
fn drain(sb: &Sandbox, settings: &[String]) {
    let started = Instant::now();
    while !outbox(sb, "SELECT key, state, channel, last_error FROM outbox WHERE state = 'pending'").is_empty() {
        assert!(
            started.elapsed() < Duration::from_secs(300),
            "outbox not drained: {:#?}",
            outbox(sb, "SELECT key, state, channel, last_error FROM outbox WHERE state = 'pending'")
        );
        let out = with(sb, settings).arg("notify").output().unwrap();
        assert!(matches!(out.status.code(), Some(0 | 1)), "{}", String::from_utf8_lossy(&out.stderr));
        std::thread::sleep(Duration::from_millis(1100));
    }
}

/// Arrival n: throttled every 9th, accepted-then-502 every 7th, else accepted.
fn flaky(n: u64) -> Answer {
    match n {
        n if n % 9 == 1 => Answer::Throttle,
        n if n % 7 == 3 => Answer::AcceptThen502,
        _ => Answer::Accept,
    }
}

/// Every message through `kind` reaches the provider's application once (the ones it accepted
/// and then failed, once more), none lost, every signature right; SMS carry their template's
/// parameters by name (Alibaba) or in order (Tencent); numbers that are no mobiles never leave.
fn exactly_once(kind: Kind) {
    let pki = pki();
    let (port, seen) = provider(&pki, kind, flaky);
    let (sb, ca) = demo(&pki);
    let settings = settings(kind, port, &ca);
    drain(&sb, &settings);

    let channel = if matches!(kind, Kind::Wecom | Kind::Dingtalk) { "webhook" } else { "sms" };
    let rows = outbox(&sb, &format!("SELECT key, state, target, last_error FROM outbox WHERE channel = '{channel}'"));
    let sent: HashSet<String> = rows.iter().filter(|r| r.1 == "sent").map(|r| r.0.clone()).collect();
    let failed: Vec<_> = rows.iter().filter(|r| r.1 == "failed").collect();
    let st = seen.lock().unwrap();
    assert!(st.bad.is_empty(), "{:#?}", st.bad);
    assert!(sent.len() >= 5, "{kind:?}: {rows:#?}");
    let applied: HashSet<String> = st.applied.keys().cloned().collect();
    assert_eq!(applied, sent, "{kind:?}: every message sent reached the application, none unknown");
    let again = st.arrivals.iter().zip(0..).filter(|(_, n)| flaky(*n) == Answer::AcceptThen502).count();
    assert!(again > 0 && st.arrivals.len() > st.acted.len(), "{kind:?}: the test's failures happened");
    assert_eq!(
        st.acted.len(),
        sent.len() + again,
        "{kind:?}: acted once per message, and once more only after its 502"
    );
    // the demo's team leaders have landlines: their SMS fail for good before any request
    for (key, _, target, error) in &failed {
        assert!(
            channel == "sms" && error.contains("landline") && !st.arrivals.contains(key),
            "{key} to {target}: {error}"
        );
    }
    match kind {
        Kind::Aliyun => {
            let new = st.applied.values().find(|v| v["template"] == "SMS_NEW").expect("a new-ticket SMS");
            let names: Vec<&String> = new["params"].as_object().unwrap().keys().collect();
            assert_eq!(names, ["deadline", "grid", "kind", "member", "township", "village"], "{new}");
            assert!(new["params"]["kind"].as_str().unwrap().contains("焚烧"), "{new}");
            assert!(st.applied.values().any(|v| v["template"] == "SMS_ESC" && v["params"]["level"] == "县办"));
        }
        Kind::Tencent => {
            let new = st.applied.values().find(|v| v["template"] == "SMS_NEW").expect("a new-ticket SMS");
            // township, village, grid, kind, member, deadline: the default order
            let p: Vec<&str> = new["params"].as_array().unwrap().iter().map(|v| v.as_str().unwrap()).collect();
            assert_eq!(p.len(), 6, "{new}");
            assert!(p[3].contains("焚烧") && p[5].contains(':'), "{p:?}");
        }
        Kind::Wecom | Kind::Dingtalk => {
            let texts: Vec<&str> = st.applied.values().map(|v| v.as_str().unwrap()).collect();
            assert!(texts.iter().any(|t| t.starts_with("【火情】") && t.contains("前到场核查")), "{texts:?}");
            assert!(texts.iter().any(|t| t.starts_with("【超时】")), "escalations reach the group");
        }
    }
}

#[test]
fn r21_alibaba_sms_arrive_once_signed_with_their_template_parameters() {
    exactly_once(Kind::Aliyun);
}

#[test]
fn r21_tencent_sms_arrive_once_signed_with_their_template_parameters() {
    exactly_once(Kind::Tencent);
}

#[test]
fn r21_wecom_robot_messages_arrive_once_as_text() {
    exactly_once(Kind::Wecom);
}

#[test]
fn r21_dingtalk_robot_messages_arrive_once_signed() {
    exactly_once(Kind::Dingtalk);
}

#[test]
fn r21_a_provider_refusal_fails_the_message_for_good_with_the_providers_code() {
    // one outbox, an SMS provider and a robot at a time; `--retry-failed` hands what the first
    // pair refused to the second
    let pki = pki();
    let (sb, ca) = demo(&pki);
    let rounds = [
        [(Kind::Aliyun, "isv.SMS_TEMPLATE_ILLEGAL"), (Kind::Wecom, "errcode 93000")],
        [(Kind::Tencent, "FailedOperation.TemplateIncorrectOrUnapproved"), (Kind::Dingtalk, "errcode 300001")],
    ];
    for round in rounds {
        let receivers: Vec<_> = round.iter().map(|(kind, _)| provider(&pki, *kind, |_| Answer::Refuse)).collect();
        let settings: Vec<String> =
            round.iter().zip(&receivers).flat_map(|((kind, _), (port, _))| settings(*kind, *port, &ca)).collect();
        let out = with(&sb, &settings).args(["notify", "--retry-failed"]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{round:?}: {stderr}");
        assert!(
            !stderr.contains(WECOM_KEY) && !stderr.contains(DINGTALK_TOKEN),
            "a robot's key is not printed: {stderr}"
        );
        let mut tried = Vec::new();
        for ((kind, code), (_, seen)) in round.iter().zip(&receivers) {
            assert!(stderr.contains(code), "{kind:?}: {stderr}");
            let seen = seen.lock().unwrap();
            assert!(!seen.arrivals.is_empty() && seen.bad.is_empty(), "{kind:?}: {:?}", seen.bad);
            tried.push(seen.arrivals.len());
        }
        with(&sb, &settings).arg("notify").assert().code(0);
        let again: Vec<usize> = receivers.iter().map(|(_, seen)| seen.lock().unwrap().arrivals.len()).collect();
        assert_eq!(again, tried, "{round:?}: a refused message is not sent again");
    }
}

#[test]
fn r21_a_receiver_whose_certificate_is_not_trusted_fails_for_good_and_says_so() {
    // the receiver's certificate comes from a CA the sender was not given
    let (theirs, ours) = (pki(), pki());
    let (port, seen) = provider(&theirs, Kind::Wecom, |_| Answer::Accept);
    let (sb, ca) = demo(&ours);
    let settings = settings(Kind::Wecom, port, &ca);
    let out = with(&sb, &settings).arg("notify").output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("certificate is not trusted") && stderr.contains("notify.ca_file"), "{stderr}");
    assert!(seen.lock().unwrap().arrivals.is_empty(), "nothing was sent to it");
    // with the right CA, `--retry-failed` sends them
    std::fs::write(&ca, &theirs.ca_pem).unwrap();
    with(&sb, &settings).args(["notify", "--retry-failed"]).assert().code(0);
    assert!(!seen.lock().unwrap().applied.is_empty());
}

#[test]
fn r21_a_bad_ca_file_or_an_incomplete_provider_is_a_config_error_naming_it() {
    let sb = Sandbox::new();
    let junk = sb.path("junk.pem");
    std::fs::write(&junk, "not a certificate\n").unwrap();
    let cases = [
        (vec![format!("notify.ca_file=\"{}\"", junk.display())], junk.display().to_string()),
        (vec!["notify.ca_file=\"/nonexistent/ca.pem\"".to_string()], "/nonexistent/ca.pem".into()),
        (vec!["notify.sms_provider=\"tencent\"".into()], "notify.provider.key_id".into()),
        (vec!["notify.county_office_phone=\"0311-12345678\"".into()], "notify.county_office_phone".into()),
    ];
    for (set, said) in cases {
        let out = with(&sb, &set).args(["config"]).output().unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{set:?}: {stderr}");
        assert!(stderr.contains(&said), "{set:?}: {stderr}");
    }
}
