//! Counters of outbound calls, filled by the AWS adapter and read by metrics,
//! tests and benchmarks. Kept here so neither side depends on the other.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

/// A counter's key: (service, operation, outcome).
pub type CallKey = (String, String, String);

/// Counts calls by (service, operation, outcome). Cheap to clone and share.
#[derive(Debug, Clone, Default)]
pub struct CallCounter {
    inner: Arc<Mutex<BTreeMap<CallKey, u64>>>,
}

impl CallCounter {
    /// Records one call; `outcome` is `ok`, `throttled`, `access_denied`, ...
    pub fn record(&self, service: &str, operation: &str, outcome: &str) {
        // A poisoned lock only means another thread panicked mid-increment; the
        // counts are still usable, so recover rather than lose metrics.
        let mut map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        *map.entry((service.to_owned(), operation.to_owned(), outcome.to_owned()))
            .or_default() += 1;
    }

    /// Every counter, sorted by key.
    pub fn snapshot(&self) -> Vec<(CallKey, u64)> {
        let map = self.inner.lock().unwrap_or_else(|e| e.into_inner());
        map.iter().map(|(k, v)| (k.clone(), *v)).collect()
    }

    /// The total of all counters for one service and operation.
    pub fn total(&self, service: &str, operation: &str) -> u64 {
        self.snapshot()
            .into_iter()
            .filter(|((s, o, _), _)| s == service && o == operation)
            .map(|(_, n)| n)
            .sum()
    }
}
