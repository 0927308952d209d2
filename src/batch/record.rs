//! Recording one input: its located detections, each suppressed or decided by the event rule
//! (`events::decide`) and carried out by the store, all in one transaction.

use std::path::Path;

use chrono::Utc;

use crate::domain::{Decision, Detection, SourceKind};
use crate::events::{decide, Rules};
use crate::locate::Located;
use crate::store::{Store, StoreError};

/// Which input is being recorded.
#[derive(Debug, Clone, Copy)]
pub struct InputRef<'a> {
    pub path: &'a Path,
    pub sha256: &'a str,
    /// `satellite`, `table` or `frame`.
    pub kind: &'a str,
}

/// What recording one input changed.
#[derive(Debug, Default, Clone, PartialEq)]
pub struct Recorded {
    pub opened: Vec<String>,
    pub joined: Vec<String>,
    pub suppressed: usize,
}

/// Records `input` and its located detections in one transaction; satellite detections also
/// enter the persistence history (cells of `cell_deg`).
pub fn record_input(
    store: &mut Store,
    input: InputRef,
    located: &[Located],
    rules: &Rules,
    cell_deg: f64,
) -> Result<Recorded, StoreError> {
    let mut tx = store.begin_input(input.path, input.sha256, input.kind, located.len())?;
    let mut out = Recorded::default();
    let now = Utc::now();
    for (idx, loc) in located.iter().enumerate() {
        let d = &loc.detection;
        let ticket = match &loc.suppressed_by {
            Some(_) => {
                out.suppressed += 1;
                None
            }
            None => {
                let anchors = tx.candidates(d, rules.events)?;
                match decide(&anchors, loc, (input.sha256, idx), rules, now) {
                    Decision::Join(id) => {
                        tx.join(&id, d)?;
                        out.joined.push(id.clone());
                        Some(id)
                    }
                    Decision::Open(t) => {
                        tx.open(&t)?;
                        out.opened.push(t.id.clone());
                        Some(t.id)
                    }
                }
            }
        };
        tx.detection(idx, d, loc.suppressed_by.as_deref(), ticket.as_deref())?;
    }
    let satellite: Vec<Detection> =
        located.iter().filter(|l| l.detection.source == SourceKind::Satellite).map(|l| l.detection.clone()).collect();
    tx.history(&satellite, cell_deg)?;
    tx.commit()?;
    Ok(out)
}
