//! The outbox sender: escalates overdue steps, then delivers every notification that is due,
//! one claimed message at a time, recording each outcome (`firepoint notify`, and `serve`'s
//! background loop). Several senders may share a store: a claim is a conditional update, and a
//! sender killed mid-send leaves its claim to expire; the message goes again with the same
//! idempotency key. Senders escalating at once escalate each overdue step once (the store locks
//! each ticket for the one that escalates it, and keys its messages by ticket, step and level).

use chrono::Utc;
use serde::Serialize;

use crate::notify::{agent, deliver, NotifyConfig, Outcome, TlsError};
use crate::store::{Store, StoreError};

/// Why the sender could not run: its store, or its TLS roots (`notify.ca_file`).
#[derive(Debug, thiserror::Error)]
pub enum SendError {
    #[error(transparent)]
    Store(#[from] StoreError),
    #[error(transparent)]
    Tls(#[from] TlsError),
}

/// What one run of the sender did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SendReport {
    pub escalated: usize,
    pub delivered: usize,
    pub retrying: usize,
    /// Not sent: their channel is not configured.
    pub skipped: usize,
    pub failed: Vec<String>,
    /// The distinct errors of the attempts that will be retried.
    pub retry_errors: Vec<String>,
}

/// Escalates overdue steps, then delivers every message due at `now`, one claim at a time (so
/// that several senders share an outbox). Stops after `max_messages` deliveries. A destination
/// that failed in a way worth retrying (a township's webhook, or the SMS gateway) is left alone for the
/// rest of the run, so one dead township webhook costs one timeout, not one per message, and
/// never holds up the SMS behind it.
pub fn send_due(store: &mut Store, cfg: &NotifyConfig, max_messages: usize) -> Result<SendReport, SendError> {
    let agent = agent(cfg)?;
    let mut report = SendReport { escalated: store.escalate_overdue(Utc::now(), cfg)?, ..Default::default() };
    let mut resting = crate::store::Resting::default();
    for _ in 0..max_messages {
        let Some((m, township)) = store.claim_message(Utc::now(), cfg.claim_s, &resting)? else { break };
        let outcome = deliver(&agent, &m, cfg, &township);
        if let Outcome::Retry(e) = &outcome {
            match m.channel {
                crate::notify::Channel::Sms => resting.sms = true,
                // the URL rests, for every township whose messages go there (by default all
                // townships share one webhook): one timeout for a dead receiver, not one a township
                crate::notify::Channel::Webhook => {
                    let url = cfg.webhook_url(&township).map(str::to_string);
                    let same =
                        store.pending_webhook_townships()?.into_iter().filter(|t| cfg.webhook_url(t) == url.as_deref());
                    resting.townships.extend(same.chain([township.clone()]));
                    resting.townships.sort();
                    resting.townships.dedup();
                }
            }
            if !report.retry_errors.contains(e) {
                report.retry_errors.push(e.clone());
            }
        }
        match &outcome {
            Outcome::Delivered => report.delivered += 1,
            Outcome::Skipped(_) => report.skipped += 1,
            Outcome::Retry(_) if m.attempts + 1 < cfg.max_attempts => report.retrying += 1,
            Outcome::Retry(e) | Outcome::Permanent(e) => {
                report.failed.push(format!("{} ({} to {}, ticket {}): {e}", m.key, m.channel, m.target, m.ticket_id))
            }
        }
        store.settle_message(&m, &outcome, Utc::now(), cfg)?;
    }
    tell_towers(store, cfg, &agent, &mut report)?;
    Ok(report)
}

/// Tells the county office of each tower notice opened or closed and not told yet: an SMS to
/// `notify.county_office_phone` and the webhook (`tower.offline`, `tower.frozen`,
/// `tower.recovered`), each with a stable idempotency key. A retryable failure leaves it for
/// the next run (the receiver keys on the key: what already arrived is not acted on twice).
fn tell_towers(
    store: &mut Store,
    cfg: &NotifyConfig,
    agent: &ureq::Agent,
    report: &mut SendReport,
) -> Result<(), StoreError> {
    use crate::notify::{Channel, Claimed};
    let bj = crate::time::beijing();
    for n in store.notices_to_tell()? {
        for closing in [false, true] {
            let pending = if closing { n.told_close.as_deref() == Some("pending") } else { n.told == "pending" };
            // the closing waits for its opening: "recovered" never arrives before the alarm
            if !pending || (closing && n.told == "pending") {
                continue;
            }
            let since = n.since.with_timezone(&bj).format("%m-%d %H:%M");
            let (event, text, state) = if closing {
                let back = n.closed_at.unwrap_or(n.since).with_timezone(&bj).format("%m-%d %H:%M");
                (
                    "tower.recovered".to_string(),
                    format!("【塔台恢复】摄像头{}已恢复（{}自{since}，{back}恢复）", n.camera_id, n.kind.chinese()),
                    "恢复",
                )
            } else {
                let what = match n.kind {
                    crate::health::Trouble::Offline => format!("离线，自{since}（北京时间）无画面"),
                    crate::health::Trouble::Frozen => format!("画面冻结，自{since}（北京时间）画面不变"),
                    crate::health::Trouble::ViewChanged => {
                        format!("画面异常，自{since}（北京时间）与预置位历史画面不符（移位、遮挡或失焦）")
                    }
                };
                (
                    format!("tower.{}", n.kind.as_str()),
                    format!("【塔台告警】摄像头{}{what}，请县办核查。", n.camera_id),
                    "告警",
                )
            };
            // a provider's tower template gets these (see `ProviderConfig::tower`)
            let params: std::collections::BTreeMap<String, String> = [
                ("camera", n.camera_id.to_string()),
                ("trouble", n.kind.chinese().split('（').next().unwrap_or_default().to_string()),
                ("since", since.to_string()),
                ("state", state.to_string()),
            ]
            .into_iter()
            .map(|(k, v)| (k.to_string(), v))
            .collect();
            let key = format!("tower/{}/{}", n.id, if closing { "close" } else { "open" });
            let body = serde_json::json!({ "event": event, "key": key, "notice": n, "text": text });
            let mut sends = vec![Claimed {
                id: 0,
                key: format!("{key}/webhook"),
                ticket_id: String::new(),
                channel: Channel::Webhook,
                target: String::new(),
                body: body.to_string(),
                attempts: 0,
            }];
            if let Some(sms) = crate::notify::sms(&cfg.county_office_phone, text, "tower", &params) {
                let mut b = sms.body;
                b["key"] = format!("{key}/sms").into();
                sends.push(Claimed {
                    key: format!("{key}/sms"),
                    channel: Channel::Sms,
                    target: sms.target,
                    body: b.to_string(),
                    ..sends[0].clone()
                });
            }
            // a channel already delivered is not sent again while another one is retried
            let done = store.notice_delivered(n.id)?;
            let mut outcomes = Vec::new();
            for m in &sends {
                let outcome = if done.contains(&m.key) { Outcome::Delivered } else { deliver(agent, m, cfg, "") };
                if outcome == Outcome::Delivered && !done.contains(&m.key) {
                    store.notice_channel_delivered(n.id, &m.key)?;
                }
                outcomes.push(outcome);
            }
            let state = if outcomes.iter().any(|o| matches!(o, Outcome::Retry(_))) {
                report.retrying += 1;
                continue;
            } else if outcomes.iter().any(|o| matches!(o, Outcome::Delivered)) {
                report.delivered += 1;
                "sent"
            } else if let Some(Outcome::Permanent(e)) = outcomes.iter().find(|o| matches!(o, Outcome::Permanent(_))) {
                report.failed.push(format!("{key} (tower notice): {e}"));
                "failed"
            } else {
                report.skipped += 1;
                "skipped"
            };
            store.told(n.id, closing, state)?;
        }
    }
    Ok(())
}

/// Runs [`send_due`] every `every` on a thread of its own, with its own store connection, for as
/// long as the process lives (`firepoint serve` with `serve.notify_every_s`).
pub fn spawn_loop(store_path: std::path::PathBuf, notify: NotifyConfig, every: std::time::Duration) {
    std::thread::spawn(move || loop {
        let sent = Store::open(&store_path).map_err(SendError::from).and_then(|mut s| send_due(&mut s, &notify, 1000));
        match sent {
            Ok(r) if r.delivered + r.escalated + r.failed.len() > 0 => tracing::info!(?r, "notifications"),
            Ok(_) => {}
            Err(e) => tracing::warn!("notification sender: {}", crate::text::error_chain(&e)),
        }
        std::thread::sleep(every);
    });
}
