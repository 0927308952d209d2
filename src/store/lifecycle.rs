//! The township team's steps as store writes, each in one transaction: a conditional update
//! (compare-and-set on the current state: a lost race changes nothing and is refused), the
//! append-only audit row (`ticket_log`) and the notifications it sends (`outbox`). Also the
//! escalation of overdue steps and the outbox's claim / settle for the sender.

use chrono::{DateTime, Duration, Utc};
use rusqlite::{params, OptionalExtension, Transaction, TransactionBehavior};
use serde::Serialize;

use super::tickets::read_ticket;
use super::{parse_ts, ts, Store, StoreError};
use crate::domain::{Status, Ticket};
use crate::lifecycle::{to_escalate, Step};
use crate::notify::{Claimed, NotifyConfig, Outcome};

/// Destinations a sender leaves alone for the rest of its run (they just failed).
#[derive(Debug, Clone, Default)]
pub struct Resting {
    /// The SMS gateway.
    pub sms: bool,
    /// Townships whose webhook failed.
    pub townships: Vec<String>,
}

/// One audit row: who did what to a ticket, when.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogEntry {
    pub seq: i64,
    pub ticket_id: String,
    pub action: String,
    pub from_status: Option<String>,
    pub to_status: String,
    pub by: String,
    pub at: DateTime<Utc>,
    pub detail: serde_json::Value,
}

/// Appends the audit row of a change to ticket `t` (as it is after the change) and queues its
/// notifications, in the caller's transaction.
#[allow(clippy::too_many_arguments)]
pub(super) fn log_change(
    tx: &Transaction,
    t: &Ticket,
    action: &str,
    from: Option<Status>,
    by: &str,
    at: DateTime<Utc>,
    detail: &serde_json::Value,
    notify: &NotifyConfig,
) -> rusqlite::Result<i64> {
    tx.prepare_cached(
        "INSERT INTO ticket_log (ticket_id, action, from_status, to_status, by, at, detail) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
    )?
    .execute(params![t.id, action, from.map(|s| s.as_str()), t.status.as_str(), by, ts(at), detail.to_string()])?;
    let seq = tx.last_insert_rowid();
    for (i, m) in crate::notify::messages(action, t, by, at, detail, notify).into_iter().enumerate() {
        let key = format!("{}/{seq}/{}/{i}", t.id, m.channel);
        let mut body = m.body;
        body["key"] = serde_json::Value::String(key.clone());
        tx.prepare_cached(
            "INSERT INTO outbox (key, log_seq, ticket_id, channel, target, body, next_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7)",
        )?
        .execute(params![key, seq, t.id, m.channel, m.target, body.to_string(), ts(at)])?;
    }
    Ok(seq)
}

fn sql_list(states: &[Status]) -> String {
    states.iter().map(|s| format!("'{}'", s.as_str())).collect::<Vec<_>>().join(", ")
}

impl Store {
    /// Takes `step` on ticket `id` for `by` at `at`: one conditional update from the step's
    /// states, its audit row and its notifications, committed together. A ticket in another state
    /// (a lost race included) is refused and nothing is written.
    pub fn step(&mut self, id: &str, step: &Step, by: &str, at: DateTime<Utc>) -> Result<Ticket, StoreError> {
        step.check(id).map_err(StoreError::BadStep)?;
        let notify = self.notify.clone();
        let sql = super::sql_at(&self.path);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(&sql)?;
        let before = read_ticket(&tx, id).map_err(&sql)?.ok_or_else(|| StoreError::NoTicket(id.into()))?;
        if let Step::Duplicate { of } = step {
            let other = read_ticket(&tx, of)
                .map_err(&sql)?
                .ok_or_else(|| StoreError::BadStep(format!("no ticket {of} to be a duplicate of")))?;
            // a duplicate names the ticket that carries the fire: never another duplicate (two
            // tickets naming each other would make the fire vanish from every list)
            if other.status == Status::Duplicate {
                let carrier = other.duplicate_of.unwrap_or_default();
                return Err(StoreError::BadStep(format!("{of} is itself a duplicate of {carrier}; name {carrier}")));
            }
        }
        let (set, detail, values): (&str, serde_json::Value, Vec<Option<String>>) = match step {
            Step::Ack => ("acked_by = ?3, acked_at = ?4", serde_json::json!({}), vec![]),
            Step::OnSite { note } => ("on_site_by = ?3, on_site_at = ?4", serde_json::json!({ "note": note }), vec![]),
            Step::Resolve { action } => (
                "closed_by = ?3, closed_at = ?4, close_note = ?5",
                serde_json::json!({ "action": action }),
                vec![Some(action.trim().to_string())],
            ),
            Step::FalseAlarm { cause, note } => (
                "closed_by = ?3, closed_at = ?4, close_note = ?5, false_alarm_cause = ?6",
                serde_json::json!({ "cause": cause, "note": note }),
                vec![note.clone(), Some(cause.as_str().into())],
            ),
            Step::Duplicate { of } => (
                "closed_by = ?3, closed_at = ?4, duplicate_of = ?5",
                serde_json::json!({ "of": of }),
                vec![Some(of.clone())],
            ),
        };
        let update = format!(
            "UPDATE tickets SET status = ?2, {set}, updated_at = ?4 WHERE id = ?1 AND status IN ({})",
            sql_list(step.from())
        );
        let mut args: Vec<Box<dyn rusqlite::ToSql>> =
            vec![Box::new(id.to_string()), Box::new(step.to().as_str()), Box::new(by.to_string()), Box::new(ts(at))];
        args.extend(values.into_iter().map(|v| Box::new(v) as Box<dyn rusqlite::ToSql>));
        let changed = tx.execute(&update, rusqlite::params_from_iter(args.iter())).map_err(&sql)?;
        if changed == 0 {
            return Err(StoreError::BadTransition {
                id: id.into(),
                status: before.status.as_str().into(),
                action: step.action(),
            });
        }
        let after = read_ticket(&tx, id).map_err(&sql)?.expect("updated just now");
        log_change(&tx, &after, step.action(), Some(before.status), by, at, &detail, &notify).map_err(&sql)?;
        tx.commit().map_err(&sql)?;
        Ok(after)
    }

    /// The audit log of ticket `id`, oldest first.
    pub fn log(&self, id: &str) -> Result<Vec<LogEntry>, StoreError> {
        let mut stmt = self
            .conn
            .prepare(
                "SELECT seq, ticket_id, action, from_status, to_status, by, at, detail FROM ticket_log
                 WHERE ticket_id = ?1 ORDER BY seq",
            )
            .map_err(self.sql())?;
        let rows = stmt
            .query_map([id], |r| {
                Ok(LogEntry {
                    seq: r.get(0)?,
                    ticket_id: r.get(1)?,
                    action: r.get(2)?,
                    from_status: r.get(3)?,
                    to_status: r.get(4)?,
                    by: r.get(5)?,
                    at: parse_ts(&r.get::<_, String>(6)?)?,
                    detail: serde_json::from_str(&r.get::<_, String>(7)?).unwrap_or(serde_json::Value::Null),
                })
            })
            .and_then(|rows| rows.collect::<rusqlite::Result<Vec<_>>>())
            .map_err(self.sql())?;
        Ok(rows)
    }

    /// Escalates every active ticket's steps that went past their deadline by `now` and were not
    /// escalated yet: one level per step (grid member → township lead → county office), with its
    /// audit row and notifications. Returns how many steps were escalated.
    pub fn escalate_overdue(&mut self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        let notify = self.notify.clone();
        let sql = super::sql_at(&self.path);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(&sql)?;
        let due: Vec<Ticket> = {
            let mut stmt = tx
                .prepare(&format!(
                    "SELECT {} FROM tickets WHERE status IN ('open', 'acknowledged', 'on_site')
                       AND (deadline < ?1 OR ack_deadline < ?1)",
                    super::tickets::TICKET_COLUMNS
                ))
                .map_err(&sql)?;
            let rows = stmt.query_map([ts(now)], super::tickets::ticket_from_row).map_err(&sql)?;
            rows.collect::<rusqlite::Result<_>>().map_err(&sql)?
        };
        let mut n = 0;
        for mut t in due {
            for o in to_escalate(&t, now) {
                let from = t.status;
                t.escalated.push(o.step.to_string());
                t.escalation = (t.escalation + 1).min(2);
                t.updated_at = now;
                tx.execute(
                    "UPDATE tickets SET escalated = ?2, escalation = ?3, updated_at = ?4 WHERE id = ?1",
                    params![t.id, serde_json::to_string(&t.escalated).expect("strings"), t.escalation, ts(now)],
                )
                .map_err(&sql)?;
                let detail = serde_json::json!({
                    "step": o.step, "due": ts(o.due), "level": t.escalation,
                    "to": crate::lifecycle::level_name(t.escalation),
                });
                log_change(&tx, &t, "escalate", Some(from), "firepoint", now, &detail, &notify).map_err(&sql)?;
                n += 1;
            }
        }
        tx.commit().map_err(&sql)?;
        Ok(n)
    }

    /// Claims the next message due at `now` for `claim_s` seconds (a conditional update, so two
    /// senders never take the same one at once), not to a `resting` destination; with the
    /// township of its ticket.
    pub fn claim_message(
        &mut self,
        now: DateTime<Utc>,
        claim_s: i64,
        resting: &Resting,
    ) -> Result<Option<(Claimed, String)>, StoreError> {
        let sql = super::sql_at(&self.path);
        let tx = self.conn.transaction_with_behavior(TransactionBehavior::Immediate).map_err(&sql)?;
        let found = tx
            .query_row(
                "SELECT o.id, o.key, o.ticket_id, o.channel, o.target, o.body, o.attempts, t.township_code
                 FROM outbox o JOIN tickets t ON t.id = o.ticket_id
                 WHERE o.state = 'pending' AND o.next_at <= ?1
                   AND NOT (o.channel = 'sms' AND ?2)
                   AND NOT (o.channel = 'webhook' AND t.township_code IN (SELECT value FROM json_each(?3)))
                 ORDER BY o.next_at, o.id LIMIT 1",
                params![ts(now), resting.sms, serde_json::to_string(&resting.townships).expect("strings")],
                |r| {
                    Ok((
                        Claimed {
                            id: r.get(0)?,
                            key: r.get(1)?,
                            ticket_id: r.get(2)?,
                            channel: r.get(3)?,
                            target: r.get(4)?,
                            body: r.get(5)?,
                            attempts: r.get(6)?,
                        },
                        r.get::<_, String>(7)?,
                    ))
                },
            )
            .optional()
            .map_err(&sql)?;
        if let Some((m, _)) = &found {
            tx.execute(
                "UPDATE outbox SET next_at = ?2 WHERE id = ?1",
                params![m.id, ts(now + Duration::seconds(claim_s))],
            )
            .map_err(&sql)?;
        }
        tx.commit().map_err(&sql)?;
        Ok(found)
    }

    /// Records how delivering message `m` ended: sent; retried after a backoff; or failed for
    /// good (a permanent error, or the last attempt).
    pub fn settle_message(
        &mut self,
        m: &Claimed,
        outcome: &Outcome,
        now: DateTime<Utc>,
        cfg: &NotifyConfig,
    ) -> Result<(), StoreError> {
        let attempts = m.attempts + 1;
        let (state, next, error) = match outcome {
            Outcome::Delivered => ("sent", now, None),
            Outcome::Skipped(why) => ("skipped", now, Some(why.as_str())),
            Outcome::Retry(e) if attempts < cfg.max_attempts => {
                ("pending", now + Duration::seconds(crate::notify::backoff_s(cfg, attempts)), Some(e.as_str()))
            }
            Outcome::Retry(e) | Outcome::Permanent(e) => ("failed", now, Some(e.as_str())),
        };
        self.conn
            .execute(
                "UPDATE outbox SET state = ?2, attempts = ?3, next_at = ?4, last_error = ?5,
                     sent_at = CASE WHEN ?2 = 'sent' THEN ?6 ELSE sent_at END
                 WHERE id = ?1 AND state = 'pending'",
                params![m.id, state, attempts, ts(next), error, ts(now)],
            )
            .map(|_| ())
            .map_err(self.sql())
    }

    /// Queues every failed message again (after its cause was fixed); how many.
    pub fn requeue_failed(&mut self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        self.conn
            .execute(
                "UPDATE outbox SET state = 'pending', attempts = 0, next_at = ?1 WHERE state = 'failed'",
                [ts(now)],
            )
            .map_err(self.sql())
    }

    /// Outbox counts by state (pending, sent, failed, skipped).
    pub fn outbox_counts(&self) -> Result<(i64, i64, i64, i64), StoreError> {
        self.conn
            .query_row(
                "SELECT count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'sent'),
                        count(*) FILTER (WHERE state = 'failed'), count(*) FILTER (WHERE state = 'skipped') FROM outbox",
                [],
                |r| Ok((r.get(0)?, r.get(1)?, r.get(2)?, r.get(3)?)),
            )
            .map_err(self.sql())
    }
}
