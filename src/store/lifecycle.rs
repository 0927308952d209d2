//! The township team's steps as store writes, each in one transaction: a conditional update
//! (compare-and-set on the current state: a lost race changes nothing and is refused), the
//! append-only audit row (`ticket_log`) and the notifications it sends (`outbox`). Also the
//! escalation of overdue steps and the outbox's claim / settle for the sender.
//!
//! Several processes share a store (workers, senders, serve; on PostgreSQL at READ COMMITTED):
//! an overdue step is escalated by the one sender that locks its ticket (`FOR UPDATE SKIP
//! LOCKED`), and an escalation's messages are keyed by ticket, step and level, so a repeat could
//! never queue a second message; a duplicate locks both tickets before it reads either, and
//! never makes a chain (it names a ticket that carries the fire, and no ticket that carries one
//! for others becomes a duplicate).

use chrono::{DateTime, Duration, Utc};
use serde::Serialize;

use super::db::{vals, Conn, DbError, Val};
use super::tickets::{read_ticket, tickets_from};
use super::{ts, Store, StoreError};
use crate::domain::{Status, Ticket};
use crate::lifecycle::{to_escalate, Announce, Change, Step};
use crate::notify::{Channel, Claimed, NotifyConfig, Outcome};

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

/// Appends the audit row of `change` (from state `from`) and the messages `announce` makes of
/// it, in the caller's transaction.
pub(super) fn log_change(
    tx: &Conn,
    change: &Change,
    from: Option<Status>,
    announce: &dyn Announce,
) -> Result<i64, DbError> {
    let Change { action, ticket: t, by, at, detail } = *change;
    let seq = tx.insert(
        "INSERT INTO ticket_log (ticket_id, action, from_status, to_status, by, at, detail)
         VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)",
        "seq",
        vals![&t.id, action, from.map(|s| s.as_str()), t.status.as_str(), by, ts(at), detail.to_string()],
    )?;
    for (i, m) in announce.messages(change).into_iter().enumerate() {
        let key = format!("{}/{}/{}/{i}", t.id, change_key(change, seq), m.channel);
        let mut body = m.body;
        body["key"] = serde_json::Value::String(key.clone());
        // a repeat of an escalation already queued (same ticket, step and level) is dropped here
        tx.exec(
            "INSERT INTO outbox (key, log_seq, ticket_id, channel, target, body, next_at, created_at)
             VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?7) ON CONFLICT (key) DO NOTHING",
            vals![key, seq, &t.id, m.channel.as_str(), &m.target, body.to_string(), ts(at)],
        )?;
    }
    Ok(seq)
}

/// What names a change in its messages' idempotency keys: an escalation by what it is (its step
/// and level: `escalate/verify/1`), so that the same escalation made twice, by two senders or
/// two officers, can only ever queue one message a channel; any other change by its audit row.
fn change_key(change: &Change, seq: i64) -> String {
    match (change.action, change.detail["step"].as_str(), change.detail["level"].as_i64()) {
        ("escalate", Some(step), Some(level)) => format!("escalate/{step}/{level}"),
        _ => seq.to_string(),
    }
}

fn sql_list(states: &[Status]) -> String {
    states.iter().map(|s| format!("'{}'", s.as_str())).collect::<Vec<_>>().join(", ")
}

impl Store {
    /// Takes `step` on ticket `id` for `by` at `at`: one conditional update from the step's
    /// states, its audit row and its notifications, committed together. A ticket in another state
    /// (a lost race included) is refused and nothing is written. `announce` says what the
    /// change sends (the notification settings: [`crate::lifecycle::messages`]).
    pub fn step(
        &mut self,
        id: &str,
        step: &Step,
        by: &str,
        at: DateTime<Utc>,
        announce: &dyn Announce,
    ) -> Result<Ticket, StoreError> {
        self.step_until(id, step, by, at, None, announce)
    }

    /// [`Store::step`] that gives up ([`StoreError::TooLate`], nothing written) when `deadline`
    /// has passed by the time the change is ready to commit: a request answered 408 must not be
    /// applied afterwards.
    pub fn step_until(
        &mut self,
        id: &str,
        step: &Step,
        by: &str,
        at: DateTime<Utc>,
        deadline: Option<std::time::Instant>,
        announce: &dyn Announce,
    ) -> Result<Ticket, StoreError> {
        step.check(id).map_err(StoreError::BadStep)?;
        let too_late = move || deadline.is_some_and(|d| std::time::Instant::now() >= d);
        if too_late() {
            return Err(StoreError::TooLate);
        }
        let sql = super::sql_at(&self.path);
        let postgres = self.conn.is_postgres();
        self.conn.in_tx_or(true, sql, |tx| {
            if let (Step::Duplicate { of }, true) = (step, postgres) {
                // `A of B` and `B of A` at once: each locks both rows, in one order, before it reads
                // either, so the second reads what the first wrote (SQLite's write lock serialises)
                tx.rows("SELECT id FROM tickets WHERE id IN (?1, ?2) ORDER BY id FOR UPDATE", vals![id, of])
                    .map_err(sql)?;
            }
            let before = read_ticket(tx, id).map_err(sql)?.ok_or_else(|| StoreError::NoTicket(id.into()))?;
            if let Step::Duplicate { of } = step {
                let other = read_ticket(tx, of)
                    .map_err(sql)?
                    .ok_or_else(|| StoreError::BadStep(format!("no ticket {of} to be a duplicate of")))?;
                // a duplicate names the ticket that carries the fire: never another duplicate (two
                // tickets naming each other would make the fire vanish from every list)
                if other.status == Status::Duplicate {
                    let carrier = other.duplicate_of.unwrap_or_default();
                    return Err(StoreError::BadStep(format!(
                        "{of} is itself a duplicate of {carrier}; name {carrier}"
                    )));
                }
                // nor a chain: a ticket that others name as their duplicate carries the fire for
                // them; it is refused (re-pointing them would rewrite their steps behind the team)
                let named_by = tx
                    .rows(
                        "SELECT id FROM tickets WHERE duplicate_of = ?1 AND status = 'duplicate' ORDER BY id",
                        vals![id],
                    )
                    .map_err(sql)?
                    .iter()
                    .map(|r| r.text(0))
                    .collect::<Result<Vec<_>, _>>()
                    .map_err(sql)?;
                if !named_by.is_empty() {
                    return Err(StoreError::BadStep(format!(
                        "{id} carries the fire for its duplicate(s) {}; mark {of} a duplicate of {id} instead",
                        named_by.join(", ")
                    )));
                }
            }
            let (set, detail, values): (&str, serde_json::Value, Vec<Val>) = match step {
                Step::Ack => ("acked_by = ?3, acked_at = ?4", serde_json::json!({}), vec![]),
                Step::OnSite { note } => {
                    ("on_site_by = ?3, on_site_at = ?4", serde_json::json!({ "note": note }), vec![])
                }
                Step::Resolve { action } => (
                    "closed_by = ?3, closed_at = ?4, close_note = ?5",
                    serde_json::json!({ "action": action }),
                    vec![Val::from(action.trim())],
                ),
                Step::FalseAlarm { cause, note } => (
                    "closed_by = ?3, closed_at = ?4, close_note = ?5, false_alarm_cause = ?6",
                    serde_json::json!({ "cause": cause, "note": note }),
                    vec![Val::from(note), Val::from(cause.as_str())],
                ),
                Step::Duplicate { of } => (
                    "closed_by = ?3, closed_at = ?4, duplicate_of = ?5",
                    serde_json::json!({ "of": of }),
                    vec![Val::from(of)],
                ),
                // one level up at once (the lead, then the county office), said to that level; a
                // compare-and-set on the level too, so two officers at once raise it once
                Step::Escalate { note } => {
                    if before.escalation >= 2 {
                        return Err(StoreError::BadStep(format!("{id} is already escalated to the county office")));
                    }
                    let level = before.escalation + 1;
                    (
                        "escalation = ?5",
                        serde_json::json!({
                            "step": "county", "level": level, "to": crate::lifecycle::level_name(level),
                            "note": note, "by": by,
                        }),
                        vec![Val::from(level), Val::from(before.escalation)],
                    )
                }
            };
            // every statement binds the same first four values; an escalation has no column for
            // its actor (?3: it is in the audit row), so it is named in the condition, typed
            // an escalation keeps the state it read: a step taken meanwhile makes it match nothing
            let cond = if matches!(step, Step::Escalate { .. }) {
                "escalation = ?6 AND status = ?2 AND CAST(?3 AS TEXT) IS NOT NULL AND "
            } else {
                ""
            };
            let update = format!(
                "UPDATE tickets SET status = ?2, {set}, updated_at = ?4 WHERE {cond}id = ?1 AND status IN ({})",
                sql_list(step.from())
            );
            let to = step.to().unwrap_or(before.status);
            let mut args: Vec<Val> = vals![id, to.as_str(), by, ts(at)].to_vec();
            args.extend(values);
            if tx.exec(&update, &args).map_err(sql)? == 0 {
                return Err(StoreError::BadTransition {
                    id: id.into(),
                    status: before.status.as_str().into(),
                    action: step.action(),
                });
            }
            let after = read_ticket(tx, id).map_err(sql)?.expect("updated just now");
            let change = Change { action: step.action(), ticket: &after, by, at, detail: &detail };
            log_change(tx, &change, Some(before.status), announce).map_err(sql)?;
            if too_late() {
                return Err(StoreError::TooLate); // rolled back
            }
            Ok(after)
        })
    }

    /// The audit log of ticket `id`, oldest first.
    pub fn log(&self, id: &str) -> Result<Vec<LogEntry>, StoreError> {
        let rows = self
            .conn
            .rows(
                "SELECT seq, ticket_id, action, from_status, to_status, by, at, detail FROM ticket_log
                 WHERE ticket_id = ?1 ORDER BY seq",
                vals![id],
            )
            .map_err(self.sql())?;
        rows.iter()
            .map(|r| {
                Ok(LogEntry {
                    seq: r.int(0)?,
                    ticket_id: r.text(1)?,
                    action: r.text(2)?,
                    from_status: r.opt_text(3)?,
                    to_status: r.text(4)?,
                    by: r.text(5)?,
                    at: r.time(6)?,
                    detail: serde_json::from_str(&r.text(7)?).unwrap_or(serde_json::Value::Null),
                })
            })
            .collect::<Result<_, DbError>>()
            .map_err(self.sql())
    }

    /// Escalates every active ticket's steps that went past their deadline by `now` and were not
    /// escalated yet: one level per step (grid member → township lead → county office), with its
    /// audit row and notifications. Returns how many steps were escalated.
    pub fn escalate_overdue(&mut self, now: DateTime<Utc>, announce: &dyn Announce) -> Result<usize, StoreError> {
        let sql = super::sql_at(&self.path);
        // PostgreSQL: the due tickets are claimed as they are read (row locks held to the commit),
        // and read as they are now, not as the statement's snapshot had them; a ticket another
        // sender is escalating is passed over (it escalates it). SQLite's write lock serialises.
        let claim = if self.conn.is_postgres() { " FOR UPDATE SKIP LOCKED" } else { "" };
        self.conn.in_tx_or(true, sql, |tx| {
            let due = tx
                .rows(
                    &format!(
                        "SELECT {} FROM tickets WHERE status IN ('open', 'acknowledged', 'on_site')
                           AND (deadline < ?1 OR ack_deadline < ?1) ORDER BY id{claim}",
                        super::tickets::TICKET_COLUMNS
                    ),
                    vals![ts(now)],
                )
                .and_then(tickets_from)
                .map_err(sql)?;
            let mut n = 0;
            'tickets: for mut t in due {
                for o in to_escalate(&t, now) {
                    let from = t.status;
                    let (was, listed) = (t.escalation, serde_json::to_string(&t.escalated).expect("strings"));
                    t.escalated.push(o.step.to_string());
                    t.escalation = (t.escalation + 1).min(2);
                    t.updated_at = now;
                    // compare-and-set on what was read: a step, a county escalation or another
                    // sender that changed the ticket meanwhile wins, and this one leaves it
                    let changed = tx
                        .exec(
                            "UPDATE tickets SET escalated = ?2, escalation = ?3, updated_at = ?4
                             WHERE id = ?1 AND escalation = ?5 AND escalated = ?6 AND status = ?7",
                            vals![
                                &t.id,
                                serde_json::to_string(&t.escalated).expect("strings"),
                                t.escalation,
                                ts(now),
                                was,
                                listed,
                                from.as_str()
                            ],
                        )
                        .map_err(sql)?;
                    if changed == 0 {
                        continue 'tickets;
                    }
                    let detail = serde_json::json!({
                        "step": o.step, "due": ts(o.due), "level": t.escalation,
                        "to": crate::lifecycle::level_name(t.escalation),
                    });
                    let change = Change { action: "escalate", ticket: &t, by: "firepoint", at: now, detail: &detail };
                    log_change(tx, &change, Some(from), announce).map_err(sql)?;
                    n += 1;
                }
            }
            Ok(n)
        })
    }

    /// The townships of the webhook messages still pending (to rest every township that shares
    /// a dead receiver's URL).
    pub fn pending_webhook_townships(&self) -> Result<Vec<String>, StoreError> {
        let rows = self
            .conn
            .rows(
                "SELECT DISTINCT t.township_code FROM outbox o JOIN tickets t ON t.id = o.ticket_id
                 WHERE o.state = 'pending' AND o.channel = 'webhook'",
                &[],
            )
            .map_err(super::sql_at(&self.path))?;
        rows.iter().map(|r| r.text(0)).collect::<Result<_, DbError>>().map_err(super::sql_at(&self.path))
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
        // webhooks of resting townships are passed over: one placeholder each (?3, ?4, …)
        let resting_towns = if resting.townships.is_empty() {
            String::new()
        } else {
            let marks = (0..resting.townships.len()).map(|i| format!("?{}", i + 3)).collect::<Vec<_>>();
            format!("AND NOT (o.channel = 'webhook' AND t.township_code IN ({}))", marks.join(", "))
        };
        let query = format!(
            "SELECT o.id, o.key, o.ticket_id, o.channel, o.target, o.body, o.attempts, t.township_code, o.next_at
             FROM outbox o JOIN tickets t ON t.id = o.ticket_id
             WHERE o.state = 'pending' AND o.next_at <= ?1 AND NOT (o.channel = 'sms' AND ?2 = 1) {resting_towns}
             ORDER BY o.next_at, o.id LIMIT 1{}",
            // PostgreSQL: senders on other machines pass over a row one of them is claiming
            if self.conn.is_postgres() { " FOR UPDATE OF o SKIP LOCKED" } else { "" }
        );
        let mut args: Vec<Val> = vals![ts(now), resting.sms].to_vec();
        args.extend(resting.townships.iter().map(Val::from));
        self.conn.in_tx_or(true, sql, |tx| {
            let Some(r) = tx.row(&query, &args).map_err(sql)? else {
                return Ok(None);
            };
            let found = (|| -> Result<_, DbError> {
                Ok((
                    Claimed {
                        id: r.int(0)?,
                        key: r.text(1)?,
                        ticket_id: r.text(2)?,
                        channel: {
                            let c = r.text(3)?;
                            Channel::parse(&c)
                                .ok_or_else(|| DbError::Value(format!("outbox channel `{c}` is unknown")))?
                        },
                        target: r.text(4)?,
                        body: r.text(5)?,
                        attempts: r.int(6)?,
                    },
                    r.text(7)?,
                ))
            })()
            .map_err(sql)?;
            // a conditional update: a second sender that read the same row claims nothing
            let taken = tx
                .exec(
                    "UPDATE outbox SET next_at = ?2 WHERE id = ?1 AND next_at = ?3",
                    vals![found.0.id, ts(now + Duration::seconds(claim_s)), r.text(8).ok()],
                )
                .map_err(sql)?;
            Ok((taken == 1).then_some(found))
        })
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
            .exec(
                "UPDATE outbox SET state = ?2, attempts = ?3, next_at = ?4, last_error = ?5,
                     sent_at = CASE WHEN ?2 = 'sent' THEN ?6 ELSE sent_at END
                 WHERE id = ?1 AND state = 'pending'",
                vals![m.id, state, attempts, ts(next), error, ts(now)],
            )
            .map(|_| ())
            .map_err(self.sql())
    }

    /// Queues every failed message again (after its cause was fixed); how many.
    pub fn requeue_failed(&mut self, now: DateTime<Utc>) -> Result<usize, StoreError> {
        self.conn
            .exec(
                "UPDATE outbox SET state = 'pending', attempts = 0, next_at = ?1 WHERE state = 'failed'",
                vals![ts(now)],
            )
            .map_err(self.sql())
    }

    /// Outbox counts by state (pending, sent, failed, skipped).
    pub fn outbox_counts(&self) -> Result<(i64, i64, i64, i64), StoreError> {
        let r = self
            .conn
            .one(
                "SELECT count(*) FILTER (WHERE state = 'pending'), count(*) FILTER (WHERE state = 'sent'),
                        count(*) FILTER (WHERE state = 'failed'), count(*) FILTER (WHERE state = 'skipped') FROM outbox",
                &[],
            )
            .map_err(self.sql())?;
        (|| Ok((r.int(0)?, r.int(1)?, r.int(2)?, r.int(3)?)))().map_err(self.sql())
    }
}
