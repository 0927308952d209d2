//! CAP alerts are read by other systems (county platforms, alerting hubs): every state of a ticket
//! gives an alert that OASIS's CAP 1.2 schema accepts (checked by xmllint), and one Update's XML
//! is pinned.

use std::path::{Path, PathBuf};
use std::process::Command;

use firepoint::cap::alert_xml;
use firepoint::domain::Ticket;

const SENDER: &str = "firepoint@county.example";

/// A camera-confirmed, high-priority ticket in `status`, updated an hour after it was opened
/// unless `status` is "open".
fn ticket(status: &str) -> Ticket {
    let updated_at = if status == "open" { "2026-06-10T05:31:12Z" } else { "2026-06-10T06:32:00Z" };
    let close_note = match status {
        "resolved" => Some("已扑灭，现场劝导农户 <王某> & 家人"),
        "false_alarm" => Some("砖厂烟囱排烟，非火点"),
        "duplicate" => Some("FP-20260610-6D75ED"),
        _ => None,
    };
    let acked = (status != "open").then_some(("张三", "2026-06-10T05:50:00Z"));
    let json = |status: &str| {
        serde_json::json!({
            "id": "FP-20260610-370A0F", "status": status, "kind": "straw", "priority": "high",
            "reasons": ["in no-burn zone 县城禁烧区"], "lon": 115.665, "lat": 37.645, "radius_m": 709.0,
            "township_code": "130524101", "township": "城关镇", "team": "城关镇禁烧处置队",
            "team_phone": "0319-0000001", "village_code": "130524101201", "village": "东庄村",
            "grid_id": "G-2-089", "grid_member": "李四", "grid_phone": "139-0000-0089",
            "landuse": "farmland", "sources": ["satellite", "camera"], "cameras": ["cam-03"],
            "related": ["FP-20260610-6D75ED"], "detections": 3, "first_seen": "2026-06-10T05:30:00Z",
            "last_seen": "2026-06-10T06:20:00Z", "deadline": "2026-06-10T15:59:59Z",
            "created_at": "2026-06-10T05:31:12Z", "updated_at": updated_at,
            "acked_by": acked.map(|a| a.0), "acked_at": acked.map(|a| a.1),
            "closed_at": close_note.map(|_| updated_at), "close_note": close_note,
            "false_alarm_cause": (status == "false_alarm").then_some("industrial_heat"),
            "duplicate_of": (status == "duplicate").then_some("FP-20260610-6D75ED"),
            "escalation": 0, "escalated": []
        })
    };
    serde_json::from_value(json(status)).unwrap()
}

/// Writes the alert of `status`'s ticket and has xmllint check it against the CAP 1.2 schema.
fn assert_valid_cap(status: &str) {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let xsd: PathBuf = root.join(".deps/cap/CAP-v1.2.xsd");
    assert!(xsd.is_file(), "{} is missing: run scripts/cap_xsd.sh (or scripts/setup.sh)", xsd.display());
    let dir = tempfile::tempdir().unwrap();
    let xml = alert_xml(&ticket(status), SENDER);
    let file = dir.path().join(format!("{status}.xml"));
    std::fs::write(&file, &xml).unwrap();
    let out = Command::new("xmllint")
        .args(["--noout", "--nonet", "--schema"])
        .arg(&xsd)
        .arg(&file)
        .output()
        .unwrap_or_else(|e| panic!("cannot run xmllint ({e}): install libxml2-utils (scripts/setup.sh)"));
    let said = String::from_utf8_lossy(&out.stderr);
    assert!(out.status.success(), "{status}: xmllint rejects the alert:\n{said}\n{xml}");
    assert!(said.contains("validates"), "{status}: xmllint did not say the alert validates:\n{said}");
}

#[test]
#[ignore = "needs .deps/cap/CAP-v1.2.xsd (scripts/cap_xsd.sh) and xmllint (libxml2-utils)"]
fn a_new_ticket_is_a_valid_cap_alert() {
    assert_valid_cap("open");
}

#[test]
#[ignore = "needs .deps/cap/CAP-v1.2.xsd (scripts/cap_xsd.sh) and xmllint (libxml2-utils)"]
fn an_acknowledged_ticket_is_a_valid_cap_update() {
    assert_valid_cap("acknowledged");
}

#[test]
#[ignore = "needs .deps/cap/CAP-v1.2.xsd (scripts/cap_xsd.sh) and xmllint (libxml2-utils)"]
fn a_resolved_ticket_is_a_valid_cap_all_clear() {
    assert_valid_cap("resolved");
}

#[test]
#[ignore = "needs .deps/cap/CAP-v1.2.xsd (scripts/cap_xsd.sh) and xmllint (libxml2-utils)"]
fn a_false_alarm_is_a_valid_cap_cancel() {
    assert_valid_cap("false_alarm");
}

#[test]
#[ignore = "needs .deps/cap/CAP-v1.2.xsd (scripts/cap_xsd.sh) and xmllint (libxml2-utils)"]
fn a_duplicate_is_a_valid_cap_cancel() {
    assert_valid_cap("duplicate");
}

#[test]
fn an_update_alert_is_pinned() {
    insta::assert_snapshot!("update_alert", alert_xml(&ticket("acknowledged"), SENDER));
}
