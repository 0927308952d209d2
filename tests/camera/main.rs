//! The camera path: frames as towers upload them, the smoke model against its own card, drone
//! photos placed from their metadata, and the per-view memory (what is new in a view).

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod drone;
mod frames;
mod health;
mod smoke_model;
mod view;
