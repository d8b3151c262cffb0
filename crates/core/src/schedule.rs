//! SSM State Manager schedule expressions (`rate()`, `cron()`, `at()`) and
//! their effective interval. Filled in by the inspector2-associations work.
