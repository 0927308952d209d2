//! The township team's steps on a ticket and their deadlines, as pure rules: which state a step
//! may start from and leads to, which steps are overdue at a given time, and who hears of an
//! overdue step (one escalation level per overdue deadline: grid member → township lead → county
//! office; a satellite ticket's second deadline is the township lead's, [`SATELLITE_LEAD_H`]),
//! and what each change says to whom ([`Announce`], [`messages`]). The store applies a
//! step as one conditional update plus an audit row and appends the messages decided here
//! (`store::lifecycle`); nothing here touches the store, and the store holds no notification
//! settings.

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::{FalseAlarmCause, Status, Ticket};
use crate::notify::{render, sms, values, Channel, NotifyConfig, Outgoing};

/// A step a township team takes on a ticket.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "step", rename_all = "snake_case")]
pub enum Step {
    /// 签收: the team has the ticket.
    Ack,
    /// 到场: the grid member is at the fire.
    OnSite { note: Option<String> },
    /// 查实: a burning fire, and what was done.
    Resolve { action: String },
    /// 查否: not a burning fire, and why.
    FalseAlarm { cause: FalseAlarmCause, note: Option<String> },
    /// The same fire as another ticket.
    Duplicate { of: String },
    /// 督办: the county office raises the ticket one level (township lead, then county office)
    /// at once, without waiting for a deadline; the state stays.
    Escalate { note: Option<String> },
}

impl Step {
    /// The audit log's name of the step.
    pub fn action(&self) -> &'static str {
        match self {
            Step::Ack => "ack",
            Step::OnSite { .. } => "on_site",
            Step::Resolve { .. } => "resolve",
            Step::FalseAlarm { .. } => "false_alarm",
            Step::Duplicate { .. } => "duplicate",
            Step::Escalate { .. } => "escalate",
        }
    }

    /// The states it may start from (compare-and-set: the update matches only these).
    pub fn from(&self) -> &'static [Status] {
        match self {
            Step::Ack => &[Status::Open],
            Step::OnSite { .. } => &[Status::Acknowledged],
            _ => &[Status::Open, Status::Acknowledged, Status::OnSite],
        }
    }

    /// The state it leads to; `None`: the state stays (an escalation).
    pub fn to(&self) -> Option<Status> {
        match self {
            Step::Ack => Some(Status::Acknowledged),
            Step::OnSite { .. } => Some(Status::OnSite),
            Step::Resolve { .. } => Some(Status::Resolved),
            Step::FalseAlarm { .. } => Some(Status::FalseAlarm),
            Step::Duplicate { .. } => Some(Status::Duplicate),
            Step::Escalate { .. } => None,
        }
    }

    /// Checks the step's own fields (what was done must be said; a ticket is no duplicate of itself).
    pub fn check(&self, id: &str) -> Result<(), String> {
        match self {
            Step::Resolve { action } if action.trim().is_empty() => Err("resolve needs what was done (action)".into()),
            Step::Duplicate { of } if of.trim().is_empty() || of == id => {
                Err(format!("duplicate needs another ticket's id (of), not `{of}`"))
            }
            _ => Ok(()),
        }
    }
}

/// A step whose deadline has passed: `ack` and `on_site` for camera sightings, `verify` for
/// satellite points (closed by the day's cutoff).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Overdue {
    pub step: &'static str,
    pub due: DateTime<Utc>,
    /// Done, but after the deadline (false: still not done at `now`).
    pub done_late: bool,
}

/// One step of a ticket: its deadline and when it was done.
struct StepDue {
    step: &'static str,
    due: DateTime<Utc>,
    done: Option<DateTime<Utc>>,
}

/// The steps of `t` with their deadlines and when they were done: `ack` and `on_site` for a
/// camera ticket, `verify` (closed) for a satellite one. A camera ticket is one opened by a camera
/// sighting (it has an acknowledge deadline); a satellite ticket a camera sees later keeps its one
/// step, so no deadline is escalated twice. The last step's deadline is `t.deadline`.
fn steps(t: &Ticket) -> Vec<StepDue> {
    let closed_at = if t.status.is_active() { None } else { t.closed_at };
    match t.ack_deadline {
        Some(ack_due) => vec![
            StepDue { step: "ack", due: ack_due, done: t.acked_at.or(t.on_site_at).or(closed_at) },
            StepDue { step: "on_site", due: t.deadline, done: t.on_site_at.or(closed_at) },
        ],
        None => vec![StepDue { step: "verify", due: t.deadline, done: closed_at }],
    }
}

/// When the ticket's last step was done (on site, or verified): what "verified on time" is
/// judged by against `t.deadline`.
pub fn verified_at(t: &Ticket) -> Option<DateTime<Utc>> {
    steps(t).last().and_then(|s| s.done)
}

/// Every step of `t` that was or is late at `now`: done after its deadline, or not done and past it.
pub fn late_steps(t: &Ticket, now: DateTime<Utc>) -> Vec<Overdue> {
    steps(t)
        .into_iter()
        .filter_map(|StepDue { step, due, done }| match done {
            Some(at) if at > due => Some(Overdue { step, due, done_late: true }),
            None if now > due => Some(Overdue { step, due, done_late: false }),
            _ => None,
        })
        .collect()
}

/// A step's name as the ledger and the SMS say it (worded in `notify`, whose robot texts say it too).
pub use crate::notify::step_chinese;

/// Hours a satellite ticket's township lead has, past the team's `verify` deadline (the day's
/// cutoff, when the lead was told), to have it verified before the county office is told: the
/// lead's own deadline, step `lead`. A camera ticket needs none: its two steps (ack, on site)
/// already reach the county office.
pub const SATELLITE_LEAD_H: i64 = 2;

/// The deadlines that raise a ticket one level when missed: the team's steps, and for a satellite
/// ticket (one step) the township lead's `lead` after it, so that every ticket can reach the
/// county office. Not a team step: the ledger and the report judge [`late_steps`] only.
fn escalation_deadlines(t: &Ticket) -> Vec<StepDue> {
    let mut out = steps(t);
    if let [StepDue { step: "verify", due, done }] = out[..] {
        out.push(StepDue { step: "lead", due: due + chrono::Duration::hours(SATELLITE_LEAD_H), done });
    }
    out
}

/// The deadlines to escalate now: past, their step not done, not escalated before (each one
/// level: camera `ack` → township lead, `on_site` → county office; satellite `verify` → township
/// lead, `lead` → county office).
pub fn to_escalate(t: &Ticket, now: DateTime<Utc>) -> Vec<Overdue> {
    if !t.status.is_active() {
        return Vec::new();
    }
    escalation_deadlines(t)
        .into_iter()
        .filter(|s| s.done.is_none() && now > s.due && !t.escalated.iter().any(|e| e == s.step))
        .map(|StepDue { step, due, .. }| Overdue { step, due, done_late: false })
        .collect()
}

/// The escalation level's name (0 grid member, 1 township lead, 2 county office).
pub fn level_name(level: i64) -> &'static str {
    match level {
        0 => "grid member",
        1 => "township lead",
        _ => "county office",
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    fn ticket(sources: &[&str]) -> Ticket {
        let at = Utc.with_ymd_and_hms(2026, 6, 10, 5, 30, 0).unwrap();
        serde_json::from_value(serde_json::json!({
            "id": "FP-1", "status": "open", "kind": "straw", "priority": "normal", "reasons": [], "lon": 115.6,
            "lat": 37.6, "radius_m": 700.0, "township_code": "T", "township": "T", "team": "", "team_phone": "",
            "village_code": "", "village": "", "grid_id": "", "grid_member": "", "grid_phone": "",
            "landuse": "farmland", "sources": sources, "cameras": [], "related": [], "detections": 1,
            "first_seen": at, "last_seen": at, "deadline": at + chrono::Duration::minutes(15),
            "ack_deadline": at + chrono::Duration::minutes(5), "created_at": at, "updated_at": at,
            "acked_by": null, "acked_at": null, "on_site_by": null, "on_site_at": null, "closed_by": null,
            "closed_at": null, "close_note": null, "false_alarm_cause": null, "duplicate_of": null, "follows": null,
            "escalation": 0, "escalated": []
        }))
        .unwrap()
    }

    #[test]
    fn r22_an_unassigned_ticket_is_sent_to_the_county_office() {
        let cfg = NotifyConfig { county_office_phone: "13900000000".into(), ..NotifyConfig::default() };
        let mut t = ticket(&["satellite"]);
        (t.grid_phone, t.team_phone) = ("13911111111".into(), "13922222222".into());
        let sent = |t: &Ticket| -> Vec<String> {
            let change = Change { action: "open", ticket: t, by: "batch", at: t.first_seen, detail: &serde_json::Value::Null };
            messages(&change, &cfg).into_iter().filter(|m| m.channel == Channel::Sms).map(|m| m.target).collect()
        };
        assert_eq!(sent(&t), ["13911111111", "13922222222"]);
        // in no village (未归属): no township, opened at the county office's level
        (t.township_code, t.grid_phone, t.team_phone, t.escalation) = (String::new(), String::new(), String::new(), 2);
        assert_eq!(sent(&t), ["13900000000"]);
    }

    #[test]
    fn camera_steps_go_late_one_after_the_other_and_done_steps_do_not_escalate() {
        let mut t = ticket(&["camera"]);
        let at = t.first_seen;
        let steps = |t: &Ticket, min: i64| -> Vec<&'static str> {
            to_escalate(t, at + chrono::Duration::minutes(min)).iter().map(|o| o.step).collect()
        };
        assert!(steps(&t, 5).is_empty(), "at the deadline it is not late yet");
        assert_eq!(steps(&t, 6), ["ack"]);
        assert_eq!(steps(&t, 16), ["ack", "on_site"]);
        t.escalated = vec!["ack".into()];
        assert_eq!(steps(&t, 16), ["on_site"], "escalated once per step");
        t.acked_at = Some(at + chrono::Duration::minutes(7));
        t.status = Status::Acknowledged;
        let late = late_steps(&t, at + chrono::Duration::minutes(10));
        assert_eq!(late, [Overdue { step: "ack", due: t.ack_deadline.unwrap(), done_late: true }]);
        t.status = Status::Resolved;
        t.closed_at = Some(at + chrono::Duration::minutes(20));
        assert!(to_escalate(&t, at + chrono::Duration::hours(5)).is_empty(), "closed tickets never escalate");
        assert_eq!(late_steps(&t, at).len(), 2, "ack and on-site were both late");
    }

    #[test]
    fn a_satellite_point_has_one_step_verify_by_the_cutoff() {
        let mut t = ticket(&["satellite", "camera"]);
        t.ack_deadline = None; // opened by a satellite point; a camera joined later
        let due = t.deadline;
        assert_eq!(to_escalate(&t, due + chrono::Duration::seconds(1))[0].step, "verify");
        t.status = Status::FalseAlarm;
        t.closed_at = Some(due - chrono::Duration::minutes(1));
        assert!(late_steps(&t, due + chrono::Duration::days(1)).is_empty());
    }

    #[test]
    fn r21_a_satellite_ticket_reaches_the_county_office_past_the_leads_deadline() {
        let mut t = ticket(&["satellite"]);
        t.ack_deadline = None;
        let (due, lead_due) = (t.deadline, t.deadline + chrono::Duration::hours(SATELLITE_LEAD_H));
        let second = chrono::Duration::seconds(1);
        let steps = |t: &Ticket, at| -> Vec<&'static str> { to_escalate(t, at).iter().map(|o| o.step).collect() };
        assert_eq!(steps(&t, due + second), ["verify"]);
        assert_eq!(steps(&t, lead_due), ["verify"], "at the lead's deadline it is not late yet");
        assert_eq!(steps(&t, lead_due + second), ["verify", "lead"], "a sender that was down escalates both");
        t.escalated = vec!["verify".into()];
        assert_eq!(steps(&t, lead_due + second), ["lead"]);
        t.escalated.push("lead".into());
        assert!(steps(&t, lead_due + chrono::Duration::days(3)).is_empty(), "once");
        // the lead's deadline is no team step: the ledger and the report still see one late step
        assert_eq!(late_steps(&t, lead_due + second).len(), 1);
        t.escalated = vec!["verify".into()];
        t.status = Status::Resolved;
        t.closed_at = Some(due + chrono::Duration::minutes(30));
        assert!(steps(&t, lead_due + second).is_empty(), "verified late, before the lead's deadline");
    }

    #[test]
    fn steps_start_only_from_their_states() {
        assert_eq!(Step::Ack.from(), [Status::Open]);
        assert_eq!(Step::OnSite { note: None }.from(), [Status::Acknowledged]);
        assert!(Step::Resolve { action: " ".into() }.check("FP-1").is_err());
        assert!(Step::Duplicate { of: "FP-1".into() }.check("FP-1").is_err());
        assert!(Step::Duplicate { of: "FP-2".into() }.check("FP-1").is_ok());
    }
}

/// A ticket opened by a camera or drone sighting (it has pictures).
fn is_sighting(t: &Ticket) -> bool {
    t.sources.iter().any(|s| crate::domain::SourceKind::parse(s).is_some_and(|k| k.is_sighting()))
}

/// One change to a ticket as its audit row records it (the ticket as it is after the change).
#[derive(Debug, Clone, Copy)]
pub struct Change<'a> {
    /// `open`, a step's name ([`Step::action`]) or `escalate`.
    pub action: &'a str,
    pub ticket: &'a Ticket,
    pub by: &'a str,
    pub at: DateTime<Utc>,
    pub detail: &'a serde_json::Value,
}

/// What a change says, and to whom. The store asks it inside the change's transaction and
/// appends what it returns to the outbox; the notification settings implement it ([`messages`]).
pub trait Announce {
    fn messages(&self, change: &Change) -> Vec<Outgoing>;
}

impl Announce for NotifyConfig {
    fn messages(&self, change: &Change) -> Vec<Outgoing> {
        messages(change, self)
    }
}

/// What audit entry `action` of ticket `t` (after the change) sends, to whom: every change to the
/// township's webhook; a new ticket by SMS to its grid member and team leader; an escalation by
/// SMS to the new level (1: the township lead, 2: the county office). Messages are queued
/// whatever is configured now: where they go is decided when they are sent (the webhook URL of
/// the ticket's township, the SMS gateway), so a batch run without the `[notify]` settings loses
/// nothing, and a changed URL applies to what is still pending. A channel not configured when
/// the sender runs marks its messages `skipped`.
pub fn messages(change: &Change, cfg: &NotifyConfig) -> Vec<Outgoing> {
    let Change { action, ticket: t, by, at, detail } = *change;
    let at = at.to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    let mut out = vec![Outgoing {
        channel: Channel::Webhook,
        target: String::new(),
        body: serde_json::json!({
            "event": format!("ticket.{action}"), "by": by, "at": at, "detail": detail, "ticket": t,
        }),
    }];
    match action {
        "open" => {
            let vals = values(t, cfg, &[]);
            let mut text = render(&cfg.sms_template, &vals);
            if is_sighting(t) {
                // the pictures come with the alarm: links in the webhook, a short one in the SMS
                let base = cfg.public_url.trim_end_matches('/');
                let at = |name: &str| format!("{base}/tickets/{}/evidence/{name}", t.id);
                out[0].body["evidence"] = serde_json::json!({
                    "list": at("").trim_end_matches('/'), "frame": at("frame.jpg"), "crop": at("crop.jpg"),
                    "before": at("before.jpg"),
                });
                if !base.is_empty() {
                    text.push_str(&format!(" 图像{base}/e/{}", t.id));
                }
            }
            let mut phones = vec![t.grid_phone.as_str()];
            if t.team_phone != t.grid_phone {
                phones.push(&t.team_phone);
            }
            if t.township_code.is_empty() && t.escalation >= 2 {
                // in no village (未归属, opened at the county office's level by events::decide):
                // no grid member, no team; the county office is told
                phones = vec![cfg.county_office_phone.as_str()];
            }
            out.extend(phones.into_iter().filter_map(|p| sms(p, text.clone(), "new_ticket", &vals)));
        }
        "escalate" => {
            let level = detail["level"].as_i64().unwrap_or(1);
            let step = step_chinese(detail["step"].as_str().unwrap_or(""));
            let who = crate::notify::level_chinese(level);
            let vals = values(t, cfg, &[("step", step), ("level", who)]);
            let text = render(&cfg.escalation_template, &vals);
            let phone = if level >= 2 { &cfg.county_office_phone } else { &t.team_phone };
            out.extend(sms(phone, text, "escalation", &vals));
        }
        _ => {}
    }
    out
}
