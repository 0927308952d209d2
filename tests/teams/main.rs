//! What township teams and other systems meet: the ticket store (SQLite and PostgreSQL), the
//! feed server and its page in a browser, notifications at a real receiver, and the outputs
//! other systems read (feed, ledger, CAP), pinned by snapshots.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod cap;
mod feed;
mod notify;
mod once;
mod ops;
mod page;
mod providers;
mod province;
mod serve;
mod store;
