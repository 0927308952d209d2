//! CAP export: one dispatch ticket as one OASIS CAP 1.2 alert (`urn:oasis:names:tc:emergency:cap:1.2`),
//! for county platforms and alerting hubs that read the Common Alerting Protocol.
//!
//! The XML is a pure function of the ticket and the sender name: every time in it is one of the
//! ticket's own (in Beijing time, `+08:00`), so the same ticket always gives the same alert. A new,
//! unchanged ticket is an `Alert` identified by the ticket id; every later state is an `Update` (or a
//! `Cancel` for a false alarm or a duplicate) that references that first alert. The module reads only
//! the ticket; it writes no file and sends nothing.
//!
//! Scope is `Restricted`, not `Public`: the alert is a work order for a township team, and it
//! carries the grid member's and the team's names and phone numbers. A `Public` alert may be
//! rebroadcast to anyone by the hubs that aggregate CAP; a restricted one stays with its addressees.

use chrono::{DateTime, Utc};

use crate::domain::{Status, Ticket};

/// CAP 1.2's XML namespace.
pub const NAMESPACE: &str = "urn:oasis:names:tc:emergency:cap:1.2";

/// Who may see an alert (CAP `<restriction>`).
pub const RESTRICTION: &str = "仅限乡镇处置队伍、网格员及县级指挥平台使用；含个人联系方式，不得公开转发";

/// The `<senderName>` of every alert.
pub const SENDER_NAME: &str = "firepoint 火点监测";

/// The status as an alert's headline and description name it (the ledger has its own words, for
/// the outcome: `Status::chinese`).
fn label(status: Status) -> &'static str {
    match status {
        Status::Open => "待签收",
        Status::Acknowledged => "已签收",
        Status::OnSite => "已到场",
        Status::Resolved => "已办结",
        Status::FalseAlarm => "误报",
        Status::Duplicate => "重复工单",
    }
}

/// A false alarm or a duplicate withdraws the alert.
fn cancels(status: Status) -> bool {
    matches!(status, Status::FalseAlarm | Status::Duplicate)
}

/// CAP `<msgType>`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum MsgType {
    Alert,
    Update,
    Cancel,
}

fn msg_type(status: Status, unchanged: bool) -> MsgType {
    match status {
        _ if cancels(status) => MsgType::Cancel,
        Status::Open if unchanged => MsgType::Alert,
        _ => MsgType::Update,
    }
}

/// The ticket `t` as one CAP 1.2 alert from `sender` (CAP's sender: a name without spaces,
/// commas, `<` or `&`, e.g. `firepoint@county.example`).
pub fn alert_xml(t: &Ticket, sender: &str) -> String {
    let status = t.status;
    let msg = msg_type(status, status == Status::Open && t.updated_at == t.created_at);
    let mut x = Xml::default();
    x.raw("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n");
    x.raw(&format!("<alert xmlns=\"{NAMESPACE}\">\n"));
    if msg == MsgType::Alert {
        x.el(1, "identifier", &t.id);
        x.el(1, "sender", sender);
        x.el(1, "sent", &cap_time(t.created_at));
    } else {
        x.el(1, "identifier", &format!("{}.{}", t.id, t.updated_at.timestamp()));
        x.el(1, "sender", sender);
        x.el(1, "sent", &cap_time(t.updated_at));
    }
    x.el(1, "status", "Actual");
    x.el(1, "msgType", &format!("{msg:?}"));
    x.el(1, "scope", "Restricted");
    x.el(1, "restriction", RESTRICTION);
    if let Some(note) = note(t) {
        x.el(1, "note", &note);
    }
    if msg != MsgType::Alert {
        x.el(1, "references", &format!("{sender},{},{}", t.id, cap_time(t.created_at)));
    }
    info(&mut x, t);
    x.raw("</alert>\n");
    x.0
}

/// The one `<info>` block, in Chinese.
fn info(x: &mut Xml, t: &Ticket) {
    let camera = t.sources.iter().any(|s| s == "camera" || s == "drone") || !t.cameras.is_empty();
    x.open(1, "info");
    x.el(2, "language", "zh-CN");
    x.el(2, "category", "Fire");
    x.el(2, "event", event(t));
    if t.status == Status::Resolved {
        x.el(2, "responseType", "AllClear");
    }
    x.el(2, "urgency", if camera { "Immediate" } else { "Expected" });
    x.el(2, "severity", if t.priority.as_str() == "high" { "Severe" } else { "Moderate" });
    x.el(2, "certainty", "Observed");
    x.el(2, "senderName", SENDER_NAME);
    x.el(2, "headline", &headline(t));
    x.el(2, "description", &description(t));
    x.el(2, "instruction", &instruction(t));
    for (name, value) in [
        ("ticket_id", t.id.as_str()),
        ("grid_id", t.grid_id.as_str()),
        ("township_code", t.township_code.as_str()),
        ("status", t.status.as_str()),
    ] {
        x.open(2, "parameter");
        x.el(3, "valueName", name);
        x.el(3, "value", value);
        x.close(2, "parameter");
    }
    x.open(2, "area");
    x.el(3, "areaDesc", &join_nonempty(&[&t.township, &t.village, &t.grid_id], " "));
    x.el(3, "circle", &format!("{:.6},{:.6} {:.3}", t.lat, t.lon, t.radius_m / 1000.0));
    x.close(2, "area");
    x.close(1, "info");
}

/// CAP `<event>` for the ticket's kind of burning.
fn event(t: &Ticket) -> &'static str {
    t.kind.event_chinese()
}

/// Township, village and kind; the status after it once the ticket has moved on.
fn headline(t: &Ticket) -> String {
    let head = format!("{}{}{}", t.township, t.village, event(t));
    match t.status {
        Status::Open => head,
        status => format!("{head}（{}）", label(status)),
    }
}

fn description(t: &Ticket) -> String {
    let sources: Vec<&str> = t.sources.iter().map(|s| crate::domain::source_chinese(s)).collect();
    let mut source = sources.join("+");
    if !t.cameras.is_empty() {
        source = format!("{source}（{}）", t.cameras.join("、"));
    }
    let mut lines = vec![
        format!("类型：{}", event(t)),
        format!("来源：{source}"),
        format!("首次发现：{}", beijing(t.first_seen)),
        format!("最后发现：{}", beijing(t.last_seen)),
        format!("火点数：{}", t.detections),
        format!("状态：{}", label(t.status)),
    ];
    if !t.reasons.is_empty() {
        lines.push(format!("优先原因：{}", t.reasons.join("；")));
    }
    if let (Some(by), Some(at)) = (&t.acked_by, t.acked_at) {
        lines.push(format!("签收：{by}，{}", beijing(at)));
    }
    if t.status == Status::Resolved {
        lines.push(format!("处置措施：{}", t.close_note.as_deref().unwrap_or("未填写")));
    }
    if !t.related.is_empty() {
        lines.push(format!("同一火情：{}", t.related.join(" ")));
    }
    lines.join("\n")
}

/// Who goes, by when; or that nobody needs to any more.
fn instruction(t: &Ticket) -> String {
    match t.status {
        Status::Resolved => "火情已处置办结，无需进一步行动。".into(),
        status if cancels(status) => "撤销此前派单，无需到场。".into(),
        _ => format!(
            "请{}（{}）会同网格员 {}（{}）赶赴{}{} {} 网格现场核查处置，并于{}前反馈。",
            t.team,
            t.team_phone,
            t.grid_member,
            t.grid_phone,
            t.township,
            t.village,
            t.grid_id,
            beijing(t.deadline)
        ),
    }
}

/// Why a ticket is cancelled: the cause of a false alarm, the ticket a duplicate repeats.
fn note(t: &Ticket) -> Option<String> {
    let why = t.close_note.as_deref().filter(|n| !n.trim().is_empty());
    match t.status {
        Status::FalseAlarm => Some(format!(
            "误报撤销：{}",
            match (t.false_alarm_cause, why) {
                (Some(c), Some(n)) => format!("{}，{n}", c.chinese()),
                (Some(c), None) => c.chinese().to_string(),
                (None, n) => n.unwrap_or("未注明原因").to_string(),
            }
        )),
        Status::Duplicate => Some(format!(
            "重复工单撤销：与 {} 为同一火情",
            t.duplicate_of.as_deref().or(why).unwrap_or("未注明重复的工单")
        )),
        _ => None,
    }
}

fn join_nonempty(parts: &[&str], sep: &str) -> String {
    parts.iter().filter(|p| !p.is_empty()).copied().collect::<Vec<_>>().join(sep)
}

/// A CAP time: Beijing time, whole seconds, explicit offset (`2026-06-10T13:30:00+08:00`).
fn cap_time(at: DateTime<Utc>) -> String {
    at.with_timezone(&crate::time::beijing()).format("%Y-%m-%dT%H:%M:%S%:z").to_string()
}

/// A time for people to read: `2026-06-10 13:30:00 +08:00`.
fn beijing(at: DateTime<Utc>) -> String {
    at.with_timezone(&crate::time::beijing()).format("%Y-%m-%d %H:%M:%S %:z").to_string()
}

/// Text as XML character data: `&`, `<`, `>` escaped, and the control characters XML 1.0 cannot
/// hold at all dropped (a pasted note may carry them).
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if c < ' ' || c == '\u{FFFE}' || c == '\u{FFFF}' => {}
            c => out.push(c),
        }
    }
    out
}

/// An indented XML text being written.
#[derive(Default)]
struct Xml(String);

impl Xml {
    fn raw(&mut self, s: &str) {
        self.0.push_str(s);
    }

    fn open(&mut self, depth: usize, name: &str) {
        self.0.push_str(&format!("{}<{name}>\n", "  ".repeat(depth)));
    }

    fn close(&mut self, depth: usize, name: &str) {
        self.0.push_str(&format!("{}</{name}>\n", "  ".repeat(depth)));
    }

    fn el(&mut self, depth: usize, name: &str, text: &str) {
        self.0.push_str(&format!("{}<{name}>{}</{name}>\n", "  ".repeat(depth), escape(text)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ticket() -> Ticket {
        serde_json::from_value(serde_json::json!({
            "id": "FP-20260610-370A0F", "status": "open", "kind": "straw", "priority": "normal",
            "reasons": [], "lon": 115.665, "lat": 37.645, "radius_m": 709.0, "township_code": "130524101",
            "township": "城关镇", "team": "城关镇处置队", "team_phone": "0319-0000001", "village_code": "130524101201",
            "village": "东庄村", "grid_id": "G-2-089", "grid_member": "网格员089", "grid_phone": "139-0000-0089",
            "landuse": "farmland", "sources": ["satellite"], "cameras": [], "related": [], "detections": 1,
            "first_seen": "2026-06-10T05:30:00Z", "last_seen": "2026-06-10T05:30:00Z",
            "deadline": "2026-06-10T15:59:59Z", "created_at": "2026-06-10T05:31:12.345Z",
            "updated_at": "2026-06-10T05:31:12.345Z", "acked_by": null, "acked_at": null,
            "closed_at": null, "close_note": null
        }))
        .unwrap()
    }

    fn changed() -> Ticket {
        let mut t = ticket();
        t.updated_at = "2026-06-10T06:02:03Z".parse().unwrap();
        t
    }

    /// The alert of `t` in `status`.
    fn render(t: &Ticket, status: Status, sender: &str) -> String {
        alert_xml(&Ticket { status, ..t.clone() }, sender)
    }

    /// The text of the first `<name>` element (enough for this module's flat output).
    fn field<'a>(xml: &'a str, name: &str) -> &'a str {
        let open = format!("<{name}>");
        let start = xml.find(&open).unwrap_or_else(|| panic!("no <{name}> in\n{xml}")) + open.len();
        &xml[start..start + xml[start..].find(&format!("</{name}>")).unwrap()]
    }

    #[test]
    fn an_unchanged_open_ticket_is_an_alert_named_by_its_id_and_sent_at_creation() {
        let xml = alert_xml(&ticket(), "firepoint@county.example");
        assert_eq!(field(&xml, "msgType"), "Alert");
        assert_eq!(field(&xml, "identifier"), "FP-20260610-370A0F");
        assert_eq!(field(&xml, "sent"), "2026-06-10T13:31:12+08:00");
        assert!(!xml.contains("<references>"));
        assert!(xml.contains("<alert xmlns=\"urn:oasis:names:tc:emergency:cap:1.2\">"));
    }

    #[test]
    fn a_changed_ticket_is_an_update_that_references_the_first_alert() {
        for status in [Status::Open, Status::Acknowledged, Status::OnSite] {
            let xml = render(&changed(), status, "fp@x");
            assert_eq!(field(&xml, "msgType"), "Update", "{status:?}");
            assert_eq!(field(&xml, "identifier"), "FP-20260610-370A0F.1781071323");
            assert_eq!(field(&xml, "sent"), "2026-06-10T14:02:03+08:00");
            assert_eq!(field(&xml, "references"), "fp@x,FP-20260610-370A0F,2026-06-10T13:31:12+08:00");
            assert!(!xml.contains("AllClear"));
        }
    }

    #[test]
    fn an_acknowledged_ticket_is_an_update_even_if_its_times_are_equal() {
        assert_eq!(field(&render(&ticket(), Status::Acknowledged, "fp"), "msgType"), "Update");
    }

    #[test]
    fn a_resolved_ticket_is_an_all_clear_update() {
        let mut t = changed();
        t.close_note = Some("已扑灭，劝导农户".into());
        let xml = render(&t, Status::Resolved, "fp");
        assert_eq!(field(&xml, "msgType"), "Update");
        assert_eq!(field(&xml, "responseType"), "AllClear");
        assert!(field(&xml, "description").contains("处置措施：已扑灭，劝导农户"));
        assert_eq!(field(&xml, "headline"), "城关镇东庄村秸秆焚烧（已办结）");
    }

    #[test]
    fn false_alarms_and_duplicates_cancel_with_the_cause_in_the_note() {
        let mut t = changed();
        t.close_note = Some("烧烤炉烟".into());
        let xml = render(&t, Status::FalseAlarm, "fp");
        assert_eq!(field(&xml, "msgType"), "Cancel");
        assert_eq!(field(&xml, "identifier"), "FP-20260610-370A0F.1781071323");
        assert_eq!(field(&xml, "note"), "误报撤销：烧烤炉烟");
        assert!(xml.contains("<references>fp,FP-20260610-370A0F,"));
        t.close_note = None;
        t.duplicate_of = Some("FP-20260610-6D75ED".into());
        let xml = render(&t, Status::Duplicate, "fp");
        assert_eq!(field(&xml, "msgType"), "Cancel");
        assert_eq!(field(&xml, "note"), "重复工单撤销：与 FP-20260610-6D75ED 为同一火情");
    }

    #[test]
    fn urgency_follows_the_source_and_severity_the_priority() {
        let mut t = ticket();
        assert_eq!(field(&alert_xml(&t, "fp"), "urgency"), "Expected");
        assert_eq!(field(&alert_xml(&t, "fp"), "severity"), "Moderate");
        t.sources = vec!["satellite".into(), "camera".into()];
        t.priority = crate::domain::Priority::High;
        assert_eq!(field(&alert_xml(&t, "fp"), "urgency"), "Immediate");
        assert_eq!(field(&alert_xml(&t, "fp"), "severity"), "Severe");
    }

    #[test]
    fn the_event_names_the_kind_of_burning() {
        let mut t = ticket();
        for (kind, event) in [("straw", "秸秆焚烧"), ("garbage", "垃圾焚烧"), ("unknown", "露天焚烧")] {
            t.kind = crate::domain::BurnKind::parse(kind).unwrap();
            assert_eq!(field(&alert_xml(&t, "fp"), "event"), event);
        }
    }

    #[test]
    fn the_area_is_a_circle_of_lat_lon_and_radius_in_km() {
        let xml = alert_xml(&ticket(), "fp");
        assert_eq!(field(&xml, "circle"), "37.645000,115.665000 0.709");
        assert_eq!(field(&xml, "areaDesc"), "城关镇 东庄村 G-2-089");
    }

    #[test]
    fn description_times_are_beijing_times() {
        let d = alert_xml(&ticket(), "fp");
        assert!(field(&d, "description").contains("首次发现：2026-06-10 13:30:00 +08:00"), "{d}");
        assert!(field(&d, "instruction").contains("2026-06-10 23:59:59 +08:00前反馈"), "{d}");
    }

    #[test]
    fn outside_text_is_escaped_and_control_characters_dropped() {
        let mut t = changed();
        t.village = "<东&庄>\u{1}村".into();
        t.close_note = Some("a < b & c\u{0}".into());
        let xml = render(&t, Status::FalseAlarm, "fp");
        assert!(xml.contains("&lt;东&amp;庄&gt;村"), "{xml}");
        assert_eq!(field(&xml, "note"), "误报撤销：a &lt; b &amp; c");
        assert!(!xml.contains('\u{0}') && !xml.contains('\u{1}'));
    }

    #[test]
    fn the_same_ticket_gives_the_same_alert() {
        assert_eq!(alert_xml(&changed(), "fp"), alert_xml(&changed(), "fp"));
    }
}
