//! The ticket feed is read by other systems (dispatch apps, GIS screens): its shape is pinned.

mod common;

#[test]
fn demo_ticket_feed_shape_is_pinned() {
    let sb = common::Sandbox::new();
    sb.simulate();
    sb.cmd().arg("run").assert().code(0);
    let tickets = sb.tickets();
    insta::assert_json_snapshot!("demo_tickets", tickets, {
        "[].created_at" => "[wall clock]",
        "[].updated_at" => "[wall clock]",
    });
}
