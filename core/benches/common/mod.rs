//! What every benchmark of pageflow-core shares.

use std::time::Duration;

use criterion::Criterion;

/// Short warm-up and measurement: the machines these run on are small and shared, and the numbers
/// are reported, never asserted.
pub fn config() -> Criterion {
    Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3))
}
