//! The batch as cron runs it: a crash and a rerun, inputs that used to stop a county's cron,
//! hardening against absurd inputs, many workers on one PostgreSQL store, and the stop-the-line
//! defects of issue 18. Each module names what it proves; regression tests carry their issue.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod crash;
mod cron;
mod defects;
mod hardening;
mod history;
mod inbox;
mod workers;
