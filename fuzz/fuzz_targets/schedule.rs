//! Feeds arbitrary strings to the SSM schedule parser and, when they parse,
//! to the effective-interval and next-firing computations: none may panic,
//! loop without bound, or answer an interval for a one-shot schedule.
#![no_main]

use blindspot_core::schedule::Schedule;
use chrono::{DateTime, Utc};
use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The first five bytes choose the evaluation time and the schedule
    // offset; the rest is the expression.
    if data.len() < 5 {
        return;
    }
    let seconds = i64::from(i32::from_le_bytes([data[0], data[1], data[2], data[3]]));
    // 2026-01-01 plus or minus ~68 years.
    let Some(from) = DateTime::<Utc>::from_timestamp(1_767_225_600 + seconds, 0) else {
        return;
    };
    let offset = match data[4] % 9 {
        0 => None,
        n => Some(i32::from(n) - 1),
    };
    let Ok(text) = std::str::from_utf8(&data[5..]) else {
        return;
    };
    let plain = text.parse::<Schedule>();
    let with_offset = Schedule::parse_with_offset(text, offset);
    if let Ok(schedule) = &plain {
        let interval = schedule.effective_interval(from);
        if matches!(schedule, Schedule::At(_)) {
            assert!(interval.is_none());
        }
        // What Display prints must parse again.
        let printed = schedule.to_string();
        assert!(printed.parse::<Schedule>().is_ok(), "{printed}");
        let _ = schedule.next_after(from);
    }
    if let Ok(schedule) = &with_offset {
        let _ = schedule.effective_interval(from);
        let _ = schedule.next_after(from);
    }
    // An offset never makes an unparseable expression parse.
    if plain.is_err() {
        assert!(with_offset.is_err());
    }
});
