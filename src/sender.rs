//! The outbox sender: escalates overdue steps, then delivers every notification that is due,
//! one claimed message at a time, recording each outcome (`firepoint notify`, and `serve`'s
//! background loop). Several senders may share a store: a claim is a conditional update, and a
//! sender killed mid-send leaves its claim to expire; the message goes again with the same
//! idempotency key.

use chrono::Utc;
use serde::Serialize;

use crate::notify::{agent, deliver, NotifyConfig, Outcome};
use crate::store::{Store, StoreError};

/// What one run of the sender did.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct SendReport {
    pub escalated: usize,
    pub delivered: usize,
    pub retrying: usize,
    pub failed: Vec<String>,
}

/// Escalates overdue steps, then delivers every message due at `now`, one claim at a time (so
/// that several senders share an outbox). Stops after `max_messages` deliveries.
pub fn send_due(store: &mut Store, cfg: &NotifyConfig, max_messages: usize) -> Result<SendReport, StoreError> {
    let mut report = SendReport { escalated: store.escalate_overdue(Utc::now())?, ..Default::default() };
    let agent = agent(cfg);
    for _ in 0..max_messages {
        let Some((m, township)) = store.claim_message(Utc::now(), cfg.claim_s)? else { break };
        let outcome = deliver(&agent, &m, cfg, &township);
        match &outcome {
            Outcome::Delivered => report.delivered += 1,
            Outcome::Retry(_) if m.attempts + 1 < cfg.max_attempts => report.retrying += 1,
            Outcome::Retry(e) | Outcome::Permanent(e) => {
                report.failed.push(format!("{} ({} to {}, ticket {}): {e}", m.key, m.channel, m.target, m.ticket_id))
            }
        }
        store.settle_message(&m, &outcome, Utc::now(), cfg)?;
    }
    Ok(report)
}
