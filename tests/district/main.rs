//! The district and the satellite path: placing points and camera rays, a county's own layer
//! formats, the four burnings and the patrol plan, the report map, the persistence mask and the
//! real satellite products.

#[macro_use]
#[path = "../common/mod.rs"]
mod common;

mod aoi_load;
mod burnings;
mod formats;
mod locate;
mod persistence;
mod report_map;
mod satellite;
