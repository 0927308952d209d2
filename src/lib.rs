//! firepoint: finds straw- and garbage-burning fires in satellite passes and tower-camera frames,
//! places each on a village grid cell, merges sightings of one fire, and keeps dispatch tickets.
//!
//! At the bottom, [`grid`] (georeferencing, distances, day/night), [`domain`] (detections,
//! scenes, tickets), [`time`] and [`text`]: every stage uses them, they use no stage.
//! The modules then read as the pipeline's stages, in order:
//! [`ingest`] (files → rasters and frames) → [`detect`] (hotspot test, ONNX smoke model) →
//! [`locate`] (village, grid cell, land use, heat sources) → [`events`] (one fire, one event) →
//! [`dispatch`] (ticket fields: team, priority, deadline) → [`store`] (SQLite) → [`feed`] (JSONL,
//! GeoJSON). [`batch`] runs them over an inbox; [`aoi`] loads and generates the district;
//! [`simulate`] makes sample inputs. The library never installs a log subscriber: the binary does.

pub mod aoi;
pub mod batch;
pub mod burn;
pub mod cap;
pub mod config;
pub mod detect;
pub mod dispatch;
pub mod domain;
pub mod events;
pub mod evidence;
pub mod feed;
pub mod files;
pub mod grid;
pub mod health;
pub mod ingest;
pub mod ledger;
pub mod lifecycle;
pub mod locate;
pub mod notify;
pub mod persistence;
pub mod phone;
pub mod plan;
pub mod report;
pub mod report_map;
pub mod rng;
pub mod sender;
pub mod serve;
pub mod simulate;
pub mod store;
pub mod text;
pub mod time;
pub mod validate;
