//! Notifications: what each ticket change tells whom ([`messages`], written to the store's
//! outbox in the same transaction as the change), and how one message is delivered
//! ([`deliver`]; the loop over the outbox is `sender::send_due`, run by `firepoint notify` from
//! cron or inside `serve`).
//!
//! Channels, per township: a webhook and SMS. A webhook is of a [`WebhookKind`]: `firepoint`
//! (the event's JSON, signed with HMAC-SHA256 over `timestamp.body` in
//! `X-Firepoint-Signature: sha256=<hex>`, with `X-Firepoint-Timestamp`), or a WeCom or DingTalk
//! group robot (the event rendered as text at delivery, [`robot`]). SMS go through an
//! [`SmsProvider`]: the generic gateway (JSON `{key, to, text, segments}`), Alibaba Cloud SMS
//! ([`aliyun`]) or Tencent Cloud SMS ([`tencent`]); a provider holds the SMS text itself and takes
//! the template's id and parameters, which every SMS in the outbox carries beside its text
//! (`template`, `params`). HTTPS is rustls (ring) with Mozilla's roots plus the bureau's own CA
//! (`ca_file`, [`agent`]).
//!
//! Every message carries an idempotency key (body `key` and header `Idempotency-Key`; a
//! provider's `OutId` / `SessionContext`): the sender may deliver a message more than once (a
//! timeout after the receiver acted, a sender killed before it recorded success), and a receiver
//! of ours acts once per key. The SMS providers and the robots take no such key: for them exactly
//! once is the outbox's claim and record, and a send cut off after they accepted it goes once more.
//! Timeouts, connection errors, 401, 403, 408, 429 and 5xx are retried with doubling backoff up
//! to `max_attempts`, and so are a provider's throttling and flow-control answers; any other 4xx,
//! a provider's refusal (template, signature, number, credentials), a server certificate that is
//! not trusted, and a redirect (never followed: a redirected POST loses its body), are permanent
//! and the message is marked failed (`notify --retry-failed` queues failed messages again once the
//! cause is fixed).

use std::collections::BTreeMap;

use chrono::Utc;
use serde::{Deserialize, Serialize};

use crate::domain::Ticket;

pub mod aliyun;
pub mod robot;
pub mod tencent;
mod tls;

pub use tls::{agent, TlsError};

/// Where notifications go, from the `[notify]` section.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct NotifyConfig {
    /// Every ticket change is posted here as JSON (empty: no webhook). A township's own URL in
    /// `townships` takes its place for that township's tickets.
    pub webhook_url: String,
    /// The webhook's secret: for `firepoint`, the HMAC-SHA256 key of `X-Firepoint-Signature`;
    /// for `dingtalk`, the robot's signing secret (加签, `SEC…`); unused by `wecom` (its key is in
    /// the URL). Empty: unsigned.
    pub webhook_secret: String,
    /// What the webhook understands: `firepoint` (the event's JSON, signed), `wecom` (a WeCom
    /// group robot, `https://qyapi.weixin.qq.com/cgi-bin/webhook/send?key=…`) or `dingtalk` (a
    /// DingTalk custom robot, `https://oapi.dingtalk.com/robot/send?access_token=…`). A robot gets
    /// the event as a text message; it keeps no idempotency key, so a send cut off after the
    /// robot accepted it is posted once more.
    pub webhook_kind: WebhookKind,
    /// A PEM file with the bureau's own CA certificate(s), trusted beside Mozilla's roots for
    /// every `https://` receiver (a township server or SMS gateway with a certificate of the
    /// bureau's CA). Empty: Mozilla's roots alone.
    pub ca_file: String,
    /// Who sends the SMS: `gateway` (a generic HTTP gateway at `sms_url`, the text as JSON),
    /// `aliyun` (Alibaba Cloud SMS, SendSms) or `tencent` (Tencent Cloud SMS, SendSms); the two
    /// providers take the account and templates in `[notify.provider]`.
    pub sms_provider: SmsProvider,
    /// SMS gateway endpoint (HTTP POST, JSON); empty: no SMS (`sms_provider = "gateway"`).
    pub sms_url: String,
    /// Sent as `Authorization: Bearer …` to the SMS gateway when set.
    pub sms_token: String,
    /// The Alibaba or Tencent Cloud SMS account and its approved templates (`sms_provider`).
    pub provider: ProviderConfig,
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

/// A township's own webhook (`[notify.townships.CODE]`), in place of the county's.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct TownshipChannel {
    pub webhook_url: String,
    /// As `notify.webhook_secret`, for this URL.
    pub webhook_secret: String,
    /// As `notify.webhook_kind`, for this URL.
    pub webhook_kind: WebhookKind,
}

/// What a webhook URL understands (see [`NotifyConfig::webhook_kind`]).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum WebhookKind {
    /// The event's JSON as it is, signed with `X-Firepoint-Signature`, with its idempotency key.
    #[default]
    Firepoint,
    /// A WeCom (企业微信) group robot: a text message; `errcode` in the answer.
    Wecom,
    /// A DingTalk (钉钉) custom robot: a text message, signed with `timestamp` and `sign` in the
    /// URL when a secret is set; `errcode` in the answer.
    Dingtalk,
}

/// Who delivers the SMS (see [`NotifyConfig::sms_provider`]).
#[derive(Debug, Clone, Copy, Default, Serialize, Deserialize, PartialEq, Eq, schemars::JsonSchema)]
#[serde(rename_all = "snake_case")]
pub enum SmsProvider {
    /// A generic HTTP gateway at `sms_url`: `{key, to, text, segments}` as JSON.
    #[default]
    Gateway,
    /// Alibaba Cloud SMS (阿里云短信), SendSms, RPC style signed with HMAC-SHA1.
    Aliyun,
    /// Tencent Cloud SMS (腾讯云短信), SendSms of API 3.0, signed with TC3-HMAC-SHA256.
    Tencent,
}

/// The SMS provider's account and templates (`[notify.provider]`). A provider sends only
/// templates it approved: the text is the template's, and the message gives its parameters.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderConfig {
    /// AccessKey ID (Alibaba) or SecretId (Tencent), of a RAM / CAM user allowed to send SMS only.
    pub key_id: String,
    /// AccessKey secret (Alibaba) or SecretKey (Tencent).
    pub key_secret: String,
    /// The approved signature (签名), without 【】.
    pub sign_name: String,
    /// Tencent: the SMS application's SdkAppId (`1400…`).
    pub sdk_app_id: String,
    /// Tencent: the API region (`ap-guangzhou`, `ap-beijing` or `ap-nanjing`).
    pub region: String,
    /// The API's address; empty: the provider's (`https://dysmsapi.aliyuncs.com/`,
    /// `https://sms.tencentcloudapi.com/`). Set for a proxy, or a test receiver.
    pub endpoint: String,
    /// The new-ticket SMS (`sms_template`'s): its placeholders {township} {village} {grid}
    /// {member} {kind} {window} {deadline} {map} {id} are the parameters.
    pub new_ticket: ProviderTemplate,
    /// The escalation SMS (`escalation_template`'s): also {step} {level}.
    pub escalation: ProviderTemplate,
    /// The tower notice SMS to the county office: {camera} (camera id), {trouble} (离线, 画面冻结
    /// or 画面异常), {since} (Beijing `MM-DD HH:MM`), {state} (告警 or 恢复).
    pub tower: ProviderTemplate,
}

/// One approved provider template and the placeholders it is given.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq, schemars::JsonSchema)]
#[serde(default, deny_unknown_fields)]
pub struct ProviderTemplate {
    /// The template's id (Alibaba `SMS_…` TemplateCode, Tencent numeric TemplateId).
    pub id: String,
    /// The placeholders the template takes, by name. Alibaba: a variable `${name}` each,
    /// sent as `{"name": value}`; Tencent: `{1}`, `{2}`… in this order. Empty: the default list
    /// shown here (so `new_ticket = { id = "…" }` takes it). Providers limit a
    /// variable's length (see their template rules), so a template
    /// names the short ones; {map} is a link, which a provider approves only in
    /// templates made for links.
    pub params: Vec<String>,
}

/// The parameters of each provider template when its `params` is empty.
const DEFAULT_PARAMS: [(&str, &[&str]); 3] = [
    ("new_ticket", &["township", "village", "grid", "kind", "member", "deadline"]),
    ("escalation", &["township", "village", "step", "level"]),
    ("tower", &["camera", "trouble", "since", "state"]),
];

impl Default for ProviderConfig {
    fn default() -> Self {
        let template = |i: usize| ProviderTemplate {
            id: String::new(),
            params: DEFAULT_PARAMS[i].1.iter().map(|s| s.to_string()).collect(),
        };
        ProviderConfig {
            key_id: String::new(),
            key_secret: String::new(),
            sign_name: String::new(),
            sdk_app_id: String::new(),
            region: "ap-guangzhou".into(),
            endpoint: String::new(),
            new_ticket: template(0),
            escalation: template(1),
            tower: template(2),
        }
    }
}

/// The placeholders of each SMS a provider template may take.
const NEW_TICKET: &[&str] = &["township", "village", "grid", "member", "kind", "window", "deadline", "map", "id"];
const ESCALATION_EXTRA: &[&str] = &["step", "level"];
const TOWER: &[&str] = &["camera", "trouble", "since", "state"];

impl ProviderConfig {
    /// The template of an SMS (`template` of its outbox body) and the placeholders it takes.
    pub fn template(&self, name: &str) -> Option<(&str, Vec<String>)> {
        let t = match name {
            "new_ticket" => &self.new_ticket,
            "escalation" => &self.escalation,
            "tower" => &self.tower,
            _ => return None,
        };
        let params = match DEFAULT_PARAMS.iter().find(|(n, _)| *n == name) {
            Some((_, default)) if t.params.is_empty() => default.iter().map(|s| s.to_string()).collect(),
            _ => t.params.clone(),
        };
        Some((&t.id, params))
    }

    fn check(&self, provider: SmsProvider) -> Result<(), String> {
        let mut missing: Vec<&str> = [
            ("key_id", &self.key_id),
            ("key_secret", &self.key_secret),
            ("sign_name", &self.sign_name),
            ("new_ticket.id", &self.new_ticket.id),
            ("escalation.id", &self.escalation.id),
            ("tower.id", &self.tower.id),
        ]
        .into_iter()
        .filter(|(_, v)| v.trim().is_empty())
        .map(|(k, _)| k)
        .collect();
        if provider == SmsProvider::Tencent {
            missing.extend(
                [("sdk_app_id", &self.sdk_app_id), ("region", &self.region)]
                    .iter()
                    .filter(|(_, v)| v.trim().is_empty())
                    .map(|(k, _)| *k),
            );
        }
        if !missing.is_empty() {
            let which = if provider == SmsProvider::Tencent { "tencent" } else { "aliyun" };
            return Err(format!(
                "notify.sms_provider = \"{which}\" needs notify.provider.{}",
                missing.join(", notify.provider.")
            ));
        }
        let escalation: Vec<&str> = NEW_TICKET.iter().chain(ESCALATION_EXTRA).copied().collect();
        for (name, t, known) in [
            ("new_ticket", &self.new_ticket, NEW_TICKET),
            ("escalation", &self.escalation, &escalation[..]),
            ("tower", &self.tower, TOWER),
        ] {
            if let Some(bad) = t.params.iter().find(|p| !known.contains(&p.as_str())) {
                let all: Vec<String> = known.iter().map(|k| format!("{{{k}}}")).collect();
                return Err(format!(
                    "notify.provider.{name}.params: unknown placeholder {bad} (known: {})",
                    all.join(" ")
                ));
            }
        }
        if !self.endpoint.is_empty() {
            check_url("notify.provider.endpoint", &self.endpoint)?;
        }
        Ok(())
    }
}

impl Default for NotifyConfig {
    fn default() -> Self {
        NotifyConfig {
            webhook_url: String::new(),
            webhook_secret: String::new(),
            webhook_kind: WebhookKind::Firepoint,
            ca_file: String::new(),
            sms_provider: SmsProvider::Gateway,
            sms_url: String::new(),
            sms_token: String::new(),
            provider: ProviderConfig::default(),
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
        if !self.county_office_phone.trim().is_empty() {
            crate::phone::mobile(&self.county_office_phone)
                .map_err(|why| format!("notify.county_office_phone: {why} (the county office is told by SMS)"))?;
        }
        if self.sms_provider != SmsProvider::Gateway {
            self.provider.check(self.sms_provider)?;
        }
        if !self.ca_file.is_empty() {
            tls::bureau_roots(std::path::Path::new(&self.ca_file)).map_err(|e| e.to_string())?;
        }
        Ok(())
    }

    /// The webhook URL a township's messages go to, if any.
    pub fn webhook_url(&self, township: &str) -> Option<&str> {
        self.webhook(township).map(|h| h.url)
    }

    /// The webhook a township's messages go to: its own, else the county's.
    pub fn webhook(&self, township: &str) -> Option<Hook<'_>> {
        match self.townships.get(township).filter(|t| !t.webhook_url.is_empty()) {
            Some(t) => Some(Hook { url: &t.webhook_url, secret: &t.webhook_secret, kind: t.webhook_kind }),
            None => (!self.webhook_url.is_empty()).then_some(Hook {
                url: &self.webhook_url,
                secret: &self.webhook_secret,
                kind: self.webhook_kind,
            }),
        }
    }

    /// Whether SMS can go out: a gateway URL, or a provider (checked complete when loaded).
    fn sms_configured(&self) -> bool {
        self.sms_provider != SmsProvider::Gateway || !self.sms_url.is_empty()
    }
}

/// One webhook: where, its secret and what it understands.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Hook<'a> {
    pub url: &'a str,
    pub secret: &'a str,
    pub kind: WebhookKind,
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
    render(template, &values(t, cfg, extra))
}

/// Replaces each {name} of `template` by its value.
pub fn render(template: &str, values: &BTreeMap<String, String>) -> String {
    let mut text = template.to_string();
    for (k, v) in values {
        text = text.replace(&format!("{{{k}}}"), v);
    }
    text
}

/// The value of every placeholder for ticket `t` (and `extra`'s): what a template is filled
/// with, and what a provider's SMS template gets as its parameters.
pub fn values(t: &Ticket, cfg: &NotifyConfig, extra: &[(&str, &str)]) -> BTreeMap<String, String> {
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
    let member = if t.grid_member.is_empty() { "网格员" } else { &t.grid_member };
    [
        ("township", t.township.as_str()),
        ("village", &t.village),
        ("grid", &t.grid_id),
        ("member", member),
        ("kind", t.kind.event_chinese()),
        ("window", &window),
        ("deadline", &deadline),
        ("map", &map),
        ("id", &t.id),
    ]
    .into_iter()
    .chain(extra.iter().copied())
    .map(|(k, v)| (k.to_string(), v.to_string()))
    .collect()
}

/// A step's name as the ledger and the SMS say it.
pub fn step_chinese(step: &str) -> &'static str {
    match step {
        "ack" => "签收",
        "on_site" => "到场",
        "county" => "县办督办",
        // `verify`, and `lead`: a satellite point still not verified past the township lead's
        // deadline ("核查超时，升级至县办")
        _ => "核查",
    }
}

/// Who an escalation of `level` goes to, as the SMS says it (1 the township lead, 2 the county office).
pub fn level_chinese(level: i64) -> &'static str {
    if level >= 2 {
        "县办"
    } else {
        "乡镇负责人"
    }
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

/// An SMS of `text` to `to`; none to an empty number. `template` (`new_ticket`, `escalation` or
/// `tower`) and the placeholders' `values` go with it for a provider, which sends its own
/// approved template filled with them (a value is sent without the spaces around it).
pub fn sms(to: &str, text: String, template: &str, values: &BTreeMap<String, String>) -> Option<Outgoing> {
    let params: BTreeMap<&str, &str> = values.iter().map(|(k, v)| (k.as_str(), v.trim())).collect();
    (!to.trim().is_empty()).then(|| Outgoing {
        channel: Channel::Sms,
        target: to.trim().to_string(),
        body: serde_json::json!({
            "to": to.trim(), "segments": sms_segments(&text), "text": text, "template": template, "params": params,
        }),
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

/// Delivers one message: a webhook to its township's URL as configured now (as the hook's kind
/// wants it), an SMS through the configured provider (its target is the phone).
pub fn deliver(agent: &ureq::Agent, m: &Claimed, cfg: &NotifyConfig, township: &str) -> Outcome {
    match m.channel {
        Channel::Sms if !cfg.sms_configured() => Outcome::Skipped("no SMS gateway (notify.sms_url)".into()),
        Channel::Sms => match cfg.sms_provider {
            SmsProvider::Gateway => gateway(agent, m, cfg),
            SmsProvider::Aliyun => aliyun::send(agent, m, cfg),
            SmsProvider::Tencent => tencent::send(agent, m, cfg),
        },
        Channel::Webhook => match cfg.webhook(township) {
            None => Outcome::Skipped(format!("no webhook for township {township} (notify.webhook_url)")),
            Some(hook) if hook.kind == WebhookKind::Firepoint => firepoint_hook(agent, m, hook),
            Some(hook) => robot::send(agent, m, hook, cfg),
        },
    }
}

/// Posts the event's JSON as it is, signed when the hook has a secret.
fn firepoint_hook(agent: &ureq::Agent, m: &Claimed, hook: Hook) -> Outcome {
    let mut req = post(agent, hook.url, &m.key).header("Content-Type", "application/json");
    if !hook.secret.is_empty() {
        let stamp = Utc::now().timestamp().to_string();
        req = req.header("X-Firepoint-Signature", &signature(hook.secret, &stamp, &m.body));
        req = req.header("X-Firepoint-Timestamp", &stamp);
    }
    match exchange(req, m.body.as_bytes(), hook.url) {
        Ok(answer) => answer.by_status(hook.url),
        Err(outcome) => outcome,
    }
}

/// Posts the SMS's JSON to the generic gateway.
fn gateway(agent: &ureq::Agent, m: &Claimed, cfg: &NotifyConfig) -> Outcome {
    let mut req = post(agent, &cfg.sms_url, &m.key).header("Content-Type", "application/json");
    if !cfg.sms_token.is_empty() {
        req = req.header("Authorization", &format!("Bearer {}", cfg.sms_token));
    }
    match exchange(req, m.body.as_bytes(), &cfg.sms_url) {
        Ok(answer) => answer.by_status(&cfg.sms_url),
        Err(outcome) => outcome,
    }
}

/// A POST to `url` with the message's idempotency key and our User-Agent.
fn post(agent: &ureq::Agent, url: &str, key: &str) -> ureq::RequestBuilder<ureq::typestate::WithBody> {
    agent
        .post(url)
        .header("Idempotency-Key", key)
        .header("User-Agent", concat!("firepoint/", env!("CARGO_PKG_VERSION")))
}

/// A receiver's answer: its status, where it redirects to, and its body (the first 64 KiB).
#[derive(Debug, Clone, PartialEq)]
pub struct Answer {
    pub status: u16,
    pub location: String,
    pub body: String,
}

impl Answer {
    /// What the status alone says: 2xx delivered; 401, 403 (a credential expired or not yet
    /// granted: fixable, so retried), 408, 429 and 5xx retried; a redirect and other 4xx permanent.
    pub fn by_status(&self, url: &str) -> Outcome {
        let (status, url) = (self.status, shown(url));
        match status {
            200..=299 => Outcome::Delivered,
            401 | 403 | 408 | 429 | 500..=599 => Outcome::Retry(format!("HTTP {status} from {url}")),
            300..=399 => Outcome::Permanent(format!(
                "HTTP {status} from {url}: redirected to {}; configure the final URL",
                self.location
            )),
            _ => Outcome::Permanent(format!("HTTP {status} from {url}")),
        }
    }
}

/// Sends `req` with `body` and reads the answer, of any status; a request that got no answer
/// is the outcome of its failure: a bad URL and a server certificate we do not trust are
/// permanent (the configuration must change: `notify.ca_file`, or the URL), anything else (a
/// timeout, a refused or reset connection, a name not found) is retried.
pub fn exchange(
    req: ureq::RequestBuilder<ureq::typestate::WithBody>,
    body: &[u8],
    url: &str,
) -> Result<Answer, Outcome> {
    let failed = |e: ureq::Error| match e {
        ureq::Error::BadUri(e) => Outcome::Permanent(format!("bad URL {}: {e}", shown(url))),
        e if e.to_string().contains("invalid peer certificate") => Outcome::Permanent(format!(
            "{}: the server's certificate is not trusted ({e}); if the bureau's own CA issued it, add the CA to \
             notify.ca_file, then `firepoint notify --retry-failed`",
            shown(url)
        )),
        e => Outcome::Retry(format!("{}: {e}", shown(url))),
    };
    let mut resp = req.send(body).map_err(failed)?;
    let status = resp.status().as_u16();
    let location = resp.headers().get("location").and_then(|l| l.to_str().ok()).unwrap_or("?").to_string();
    // an answer cut short is still an answer: its status decides, its body may be empty
    let body = resp.body_mut().with_config().limit(64 * 1024).read_to_string().unwrap_or_default();
    Ok(Answer { status, location, body })
}

/// `url` as messages and the outbox show it: without its query, which holds a robot's key.
pub fn shown(url: &str) -> &str {
    url.split('?').next().unwrap_or(url)
}

/// A provider template's id and its parameters, (name, value) in the template's order.
pub type Filled<'a> = (&'a str, Vec<(String, String)>);

/// The provider template of an SMS from the outbox and its parameters, in the template's order;
/// or why it cannot be sent by a provider (permanent: an SMS queued without parameters, by a
/// version before providers, is sent by the gateway only).
pub fn template_params<'a>(m: &Claimed, cfg: &'a NotifyConfig) -> Result<Filled<'a>, Outcome> {
    let body: serde_json::Value = serde_json::from_str(&m.body).unwrap_or_default();
    let name = body["template"].as_str().unwrap_or("");
    let Some((id, names)) = cfg.provider.template(name) else {
        return Err(Outcome::Permanent(format!(
            "SMS {} has no template parameters (queued before notify.sms_provider was supported): send it by the gateway",
            m.key
        )));
    };
    let mut params = Vec::with_capacity(names.len());
    for p in names {
        match body["params"][&p].as_str() {
            Some(v) => params.push((p, v.to_string())),
            None => {
                return Err(Outcome::Permanent(format!(
                    "notify.provider.{name}.params names {{{p}}}, which a {name} SMS does not have"
                )))
            }
        }
    }
    Ok((id, params))
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
