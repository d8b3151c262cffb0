//! SSM State Manager schedule expressions (`rate()`, `cron()`, `at()`) and
//! their effective interval.
//!
//! An association scans only as often as its schedule fires, so the number that
//! matters is the *effective interval*: the longest gap between consecutive
//! firings. For `rate()` that is the rate itself; for `cron()` it is computed
//! from the expression; `at()` fires once and has none.
//!
//! # Cron expressions
//! AWS cron has six fields (minutes, hours, day-of-month, month, day-of-week,
//! year) plus an optional leading seconds field that must be `0`. Day-of-week
//! is numbered 1-7 = SUN-SAT (Unix uses 0-6), exactly one of day-of-month and
//! day-of-week is `?`, and the year runs 1970-2199. This module validates that
//! grammar itself, so errors name the field and the offending text.
//!
//! Which *days* match is decided in two places:
//! - the day-of-month field (days, ranges, steps, `L` and `nW`) is evaluated
//!   here, by `DayOfMonth`, because croner's `W` crosses month boundaries (a
//!   `1W` on a Saturday picks the Friday before) while AWS's never leaves the
//!   month;
//! - the month and day-of-week fields, translated to croner's layout (POSIX
//!   0-6 numbering; `L` alone is Saturday, `5L` becomes `4#l`), go to
//!   [`croner`], which decides the month and, when day-of-month is `?`, the
//!   day of the week, including `#n` (the nth weekday) and `nL` (the last one
//!   of the month).
//!
//! Month lengths and leap years come from chrono's calendar as the walk steps
//! through dates. Times of day are the product of the minute and hour sets,
//! and the year field is applied here because croner has none.
//!
//! # Effective interval
//! The gap between consecutive firings is either a gap inside one firing day
//! (fixed by the minute and hour sets) or the gap from the last firing of one
//! firing day to the first of the next. So the computation walks *days*, not
//! firings: at most [`WINDOW_DAYS`] calendar days from `from`, which bounds the
//! work (a few thousand day checks) no matter how often the schedule fires.
//! The window is twelve years so that even a leap-day-only schedule, which may
//! first fire almost four years in and whose longest gap is eight years (across
//! a skipped leap year such as 2100), shows its real gap.
//! A schedule that stays silent longer than the window reports the silence it
//! saw (a lower bound): any such schedule is far slower than any sane maximum.
//! A year field can end a schedule: when the scan reaches the end of its last
//! year, the result is exact, and a schedule with fewer than two firings left
//! has no interval ([`None`]).
//!
//! # Schedule offsets
//! `ScheduleOffset` (1-6 days, cron only) delays every firing by the same
//! number of days. A uniform shift leaves every gap unchanged, so it changes
//! the effective interval only near the end of a finite schedule; it is applied
//! exactly by scanning from `from` minus the offset.

use chrono::{DateTime, Datelike, NaiveDate, NaiveDateTime, Timelike, Utc};
use std::fmt;
use std::str::FromStr;
use std::time::Duration;

/// The longest expression SSM accepts (`ScheduleExpression`, max 256).
pub const MAX_EXPRESSION_LEN: usize = 256;

/// How many calendar days the effective-interval computation looks ahead:
/// twelve years, so a leap-day schedule's eight-year gap across 2100 is seen
/// even when its first firing is almost four years away.
pub const WINDOW_DAYS: u64 = 12 * 366;

/// The allowed `ScheduleOffset` range in days.
pub const SCHEDULE_OFFSET_RANGE: std::ops::RangeInclusive<i32> = 1..=6;

/// The years an AWS cron expression may name.
const YEAR_MIN: u32 = 1970;
const YEAR_MAX: u32 = 2199;

const SECONDS_PER_DAY: i64 = 86_400;

/// Why a schedule expression was rejected, with the part that is wrong.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum ScheduleError {
    /// The expression is empty or blank.
    #[error("schedule expression is empty")]
    Empty,
    /// Longer than SSM allows.
    #[error(
        "schedule expression is {len} characters long; SSM allows at most {MAX_EXPRESSION_LEN}"
    )]
    TooLong {
        /// The length in characters.
        len: usize,
    },
    /// Not `rate(...)`, `cron(...)` or `at(...)`.
    #[error(
        "`{expression}` is not a schedule expression; expected rate(...), cron(...) or at(...)"
    )]
    UnknownForm {
        /// The expression (truncated to 64 characters).
        expression: String,
    },
    /// A malformed `rate()`.
    #[error("invalid rate expression `{expression}`: {reason}")]
    Rate {
        /// The text inside `rate(...)`.
        expression: String,
        /// What is wrong.
        reason: String,
    },
    /// A `cron()` with the wrong number of fields.
    #[error("cron expression `{expression}` has {found} fields; expected 6 (minutes hours day-of-month month day-of-week year) or 7 with a leading seconds field of 0")]
    CronFieldCount {
        /// The text inside `cron(...)`.
        expression: String,
        /// How many fields it has.
        found: usize,
    },
    /// One cron field is malformed.
    #[error("invalid {field} field `{value}`: {reason}")]
    CronField {
        /// The field's name, e.g. `day-of-week`.
        field: &'static str,
        /// The field's text.
        value: String,
        /// What is wrong.
        reason: String,
    },
    /// Both or neither of day-of-month and day-of-week are `?`.
    #[error(
        "cron expression `{expression}`: exactly one of day-of-month and day-of-week must be `?`"
    )]
    CronDayConflict {
        /// The text inside `cron(...)`.
        expression: String,
    },
    /// croner rejected the translated pattern (should not happen after our own
    /// validation; reported rather than hidden).
    #[error("cron expression `{expression}` could not be evaluated: {reason}")]
    Cron {
        /// The text inside `cron(...)`.
        expression: String,
        /// croner's message.
        reason: String,
    },
    /// A malformed `at()` timestamp.
    #[error("invalid at() timestamp `{value}`: expected YYYY-MM-DDTHH:MM:SS in UTC")]
    At {
        /// The text inside `at(...)`.
        value: String,
    },
    /// A `ScheduleOffset` out of range or with a non-cron schedule.
    #[error("invalid schedule offset {offset}: {reason}")]
    Offset {
        /// The offset in days.
        offset: i32,
        /// What is wrong.
        reason: String,
    },
}

/// A parsed SSM schedule expression.
// The cron variant is larger than the others; schedules are parsed a handful
// at a time, so boxing would cost ergonomics for no measurable gain.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone)]
pub enum Schedule {
    /// `rate(N unit)`: fires every N units.
    Rate(Duration),
    /// `cron(...)`: fires on the matching times.
    Cron(CronSchedule),
    /// `at(YYYY-MM-DDTHH:MM:SS)`: fires once, at that UTC time.
    At(NaiveDateTime),
}

impl Schedule {
    /// Parses an expression together with the association's `ScheduleOffset`
    /// (days), which SSM allows only with `cron()` and only 1-6.
    pub fn parse_with_offset(expression: &str, offset: Option<i32>) -> Result<Self, ScheduleError> {
        let schedule: Schedule = expression.parse()?;
        match (schedule, offset) {
            (schedule, None) => Ok(schedule),
            (Schedule::Cron(cron), Some(days)) => cron.with_offset(days).map(Schedule::Cron),
            (_, Some(days)) => Err(ScheduleError::Offset {
                offset: days,
                reason: "a schedule offset is only allowed with cron() expressions".into(),
            }),
        }
    }

    /// The longest gap between consecutive firings from `from` on, or `None`
    /// when the schedule does not recur any more (`at()`, or a cron whose year
    /// field leaves fewer than two firings). See the module docs for the window.
    pub fn effective_interval(&self, from: DateTime<Utc>) -> Option<Duration> {
        match self {
            Schedule::Rate(every) => Some(*every),
            Schedule::Cron(cron) => cron.effective_interval(from),
            Schedule::At(_) => None,
        }
    }

    /// The first firing strictly after `after`, if any. A `rate()` has no fixed
    /// phase (SSM starts it when the association is created), so it answers
    /// `after + rate`.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        match self {
            Schedule::Rate(every) => {
                let step = chrono::Duration::from_std(*every).ok()?;
                after.checked_add_signed(step)
            }
            Schedule::Cron(cron) => cron.next_after(after),
            Schedule::At(at) => {
                let at = at.and_utc();
                (at > after).then_some(at)
            }
        }
    }
}

impl FromStr for Schedule {
    type Err = ScheduleError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let expression = s.trim();
        if expression.is_empty() {
            return Err(ScheduleError::Empty);
        }
        let len = expression.chars().count();
        if len > MAX_EXPRESSION_LEN {
            return Err(ScheduleError::TooLong { len });
        }
        if let Some(inner) = inside(expression, "rate") {
            parse_rate(inner).map(Schedule::Rate)
        } else if let Some(inner) = inside(expression, "cron") {
            CronSchedule::parse(inner).map(Schedule::Cron)
        } else if let Some(inner) = inside(expression, "at") {
            parse_at(inner).map(Schedule::At)
        } else {
            Err(ScheduleError::UnknownForm {
                expression: expression.chars().take(64).collect(),
            })
        }
    }
}

impl fmt::Display for Schedule {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Schedule::Rate(every) => {
                let secs = every.as_secs();
                let (n, unit) = if secs.is_multiple_of(86_400) {
                    (secs / 86_400, "day")
                } else if secs.is_multiple_of(3_600) {
                    (secs / 3_600, "hour")
                } else {
                    (secs / 60, "minute")
                };
                let plural = if n == 1 { "" } else { "s" };
                write!(f, "rate({n} {unit}{plural})")
            }
            Schedule::Cron(cron) => write!(f, "cron({})", cron.expression),
            Schedule::At(at) => write!(f, "at({})", at.format("%Y-%m-%dT%H:%M:%S")),
        }
    }
}

/// `name(inner)` → `inner`, with the keyword matched exactly (SSM is
/// case-sensitive about it).
fn inside<'a>(expression: &'a str, name: &str) -> Option<&'a str> {
    expression
        .strip_prefix(name)?
        .strip_prefix('(')?
        .strip_suffix(')')
}

fn parse_rate(inner: &str) -> Result<Duration, ScheduleError> {
    let err = |reason: &str| ScheduleError::Rate {
        expression: inner.to_owned(),
        reason: reason.to_owned(),
    };
    let mut parts = inner.split_whitespace();
    let (Some(number), Some(unit), None) = (parts.next(), parts.next(), parts.next()) else {
        return Err(err("expected `N unit`, e.g. `30 minutes`"));
    };
    if !number.bytes().all(|b| b.is_ascii_digit()) {
        return Err(err("the value must be a positive whole number"));
    }
    if number.len() > 1 && number.starts_with('0') {
        return Err(err("the value must not have leading zeros"));
    }
    let n: u64 = number.parse().map_err(|_| err("the value is too large"))?;
    if n == 0 {
        return Err(err("the value must be at least 1"));
    }
    let (unit_secs, singular) = match unit {
        "minute" => (60, true),
        "minutes" => (60, false),
        "hour" => (3_600, true),
        "hours" => (3_600, false),
        "day" => (86_400, true),
        "days" => (86_400, false),
        _ => return Err(err("the unit must be minute(s), hour(s) or day(s)")),
    };
    // SSM spells the unit in the singular exactly when the value is 1.
    if singular != (n == 1) {
        return Err(err(if n == 1 {
            "a value of 1 takes a singular unit, e.g. `1 hour`"
        } else {
            "a value other than 1 takes a plural unit, e.g. `2 hours`"
        }));
    }
    let secs = n
        .checked_mul(unit_secs)
        // Keep the interval representable as a chrono duration as well.
        .filter(|secs| *secs <= i64::MAX as u64 / 1_000)
        .ok_or_else(|| err("the value is too large"))?;
    Ok(Duration::from_secs(secs))
}

fn parse_at(inner: &str) -> Result<NaiveDateTime, ScheduleError> {
    NaiveDateTime::parse_from_str(inner.trim(), "%Y-%m-%dT%H:%M:%S").map_err(|_| {
        ScheduleError::At {
            value: inner.to_owned(),
        }
    })
}

/// A validated AWS cron expression, ready to evaluate.
#[derive(Debug, Clone)]
pub struct CronSchedule {
    /// The text inside `cron(...)`, as given.
    expression: String,
    /// Seconds of the day at which it fires on a firing day, ascending.
    times: Vec<u32>,
    /// The largest gap between consecutive `times` (0 with one time).
    intra_day_gap: u32,
    /// Bit `y - 1970` set when year `y` is allowed.
    years: u256,
    /// Whether the year field was `*` (the schedule never ends).
    every_year: bool,
    /// The day-of-month field, `None` when it is `?`.
    day_of_month: Option<DayOfMonth>,
    /// croner's view of the month and day-of-week fields.
    days: croner::Cron,
    /// `ScheduleOffset` in days (0 when none).
    offset_days: u8,
}

impl CronSchedule {
    /// Parses the text inside `cron(...)`.
    pub fn parse(inner: &str) -> Result<Self, ScheduleError> {
        let expression = inner.trim().to_owned();
        let mut fields: Vec<&str> = expression.split_whitespace().collect();
        if fields.len() == 7 {
            // The optional seconds field: SSM runs at minute granularity and only
            // accepts 0 there (`cron(0 */30 * * * ? *)`).
            if fields[0] != "0" {
                return Err(ScheduleError::CronField {
                    field: "seconds",
                    value: fields[0].to_owned(),
                    reason: "the optional seconds field must be 0".into(),
                });
            }
            fields.remove(0);
        }
        let [minutes, hours, dom, month, dow, year] = fields[..] else {
            return Err(ScheduleError::CronFieldCount {
                found: fields.len(),
                expression,
            });
        };

        let minute_set = parse_simple(&MINUTES, minutes)?;
        let hour_set = parse_simple(&HOURS, hours)?;
        let month_set = parse_simple(&MONTHS, month)?;
        let year_set = parse_simple(&YEARS, year)?;
        if (dom == "?") == (dow == "?") {
            return Err(ScheduleError::CronDayConflict { expression });
        }
        let day_of_month = DayOfMonth::parse(dom)?;
        let dow_pattern = translate_day_of_week(dow)?;

        let mut times = Vec::new();
        for hour in 0..24u32 {
            if !hour_set.get(hour) {
                continue;
            }
            for minute in 0..60u32 {
                if minute_set.get(minute) {
                    times.push(hour * 3_600 + minute * 60);
                }
            }
        }
        let intra_day_gap = times.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0);

        // Only the month and day-of-week fields go to croner; its seconds,
        // minutes and hours are pinned to midnight because times of day are
        // handled above, and its day-of-month is `*` because `DayOfMonth`
        // evaluates that field. With day-of-month `*`, croner matches every
        // day whose weekday matches.
        let pattern = format!("0 0 0 * {} {dow_pattern}", list(month_set, 1, 12));
        let days = croner::Cron::new(&pattern)
            .with_seconds_required()
            .parse()
            .map_err(|e| ScheduleError::Cron {
                expression: expression.clone(),
                reason: e.to_string(),
            })?;

        Ok(CronSchedule {
            every_year: year.trim() == "*",
            expression,
            times,
            intra_day_gap,
            years: year_set,
            day_of_month,
            days,
            offset_days: 0,
        })
    }

    /// The same schedule with a `ScheduleOffset` of `days` (1-6).
    pub fn with_offset(mut self, days: i32) -> Result<Self, ScheduleError> {
        if !SCHEDULE_OFFSET_RANGE.contains(&days) {
            return Err(ScheduleError::Offset {
                offset: days,
                reason: "SSM allows 1 to 6 days".into(),
            });
        }
        self.offset_days = u8::try_from(days).unwrap_or(0);
        Ok(self)
    }

    /// The text inside `cron(...)`.
    pub fn expression(&self) -> &str {
        &self.expression
    }

    /// The `ScheduleOffset` in days, 0 when none.
    pub fn offset_days(&self) -> u8 {
        self.offset_days
    }

    fn year_allowed(&self, year: i32) -> bool {
        match u32::try_from(year) {
            Ok(y) if (YEAR_MIN..=YEAR_MAX).contains(&y) => self.years.get(y - YEAR_MIN),
            // croner has no year limit, but AWS stops at 2199: only `*` runs on.
            _ => self.every_year && year > YEAR_MAX as i32,
        }
    }

    /// The last year in which the schedule can fire, `None` when unbounded.
    fn last_year(&self) -> Option<i32> {
        if self.every_year {
            return None;
        }
        (YEAR_MIN..=YEAR_MAX)
            .rev()
            .find(|y| self.year_allowed(*y as i32))
            .map(|y| y as i32)
    }

    /// Whether the cron fields (before the offset) select this day.
    fn day_matches(&self, date: NaiveDate) -> bool {
        if !self.year_allowed(date.year()) {
            return false;
        }
        let pattern = &self.days.pattern;
        if !matches!(pattern.month_match(date.month()), Ok(true)) {
            return false;
        }
        match &self.day_of_month {
            Some(dom) => dom.matches(date),
            None => matches!(
                pattern.day_match(date.year(), date.month(), date.day()),
                Ok(true)
            ),
        }
    }

    fn offset(&self) -> chrono::Duration {
        chrono::Duration::days(i64::from(self.offset_days))
    }

    /// The first firing strictly after `after`, looking at most
    /// [`WINDOW_DAYS`] ahead.
    pub fn next_after(&self, after: DateTime<Utc>) -> Option<DateTime<Utc>> {
        let base = after.checked_sub_signed(self.offset())?;
        let start = base.date_naive();
        let start_sod = base.num_seconds_from_midnight();
        let mut date = start;
        for _ in 0..WINDOW_DAYS {
            if self.day_matches(date) {
                let first = if date == start {
                    self.times.iter().find(|t| **t > start_sod)
                } else {
                    self.times.first()
                };
                if let Some(secs) = first {
                    let at = date.and_hms_opt(0, 0, 0)?.and_utc()
                        + chrono::Duration::seconds(i64::from(*secs));
                    return at.checked_add_signed(self.offset());
                }
            }
            date = date.succ_opt()?;
        }
        None
    }

    /// The longest gap between consecutive firings from `from` on; see the
    /// module docs.
    pub fn effective_interval(&self, from: DateTime<Utc>) -> Option<Duration> {
        if self.times.is_empty() {
            return None;
        }
        // Firings are cron matches shifted by the offset, so scanning cron days
        // from `from - offset` sees exactly the firings from `from` on.
        let base = from.checked_sub_signed(self.offset())?;
        let start = base.date_naive();
        let start_sod = base.num_seconds_from_midnight();
        let window_end = start
            .checked_add_days(chrono::Days::new(WINDOW_DAYS))
            .unwrap_or(NaiveDate::MAX);
        // A schedule whose years end inside the window is scanned to its end,
        // which makes the answer exact.
        let schedule_end = self
            .last_year()
            .and_then(|y| NaiveDate::from_ymd_opt(y + 1, 1, 1));
        let (scan_end, exact) = match schedule_end {
            Some(end) if end <= window_end => (end, true),
            _ => (window_end, false),
        };

        let mut max_gap: i64 = 0;
        let mut firings: u64 = 0;
        let mut previous_last: Option<i64> = None;
        let mut date = start;
        while date < scan_end {
            if !self.year_allowed(date.year()) {
                // Skip the whole year: the day-by-day walk is for allowed years.
                date = match NaiveDate::from_ymd_opt(date.year() + 1, 1, 1) {
                    Some(next) => next,
                    None => break,
                };
                continue;
            }
            if self.day_matches(date) {
                let times = if date == start {
                    let idx = self.times.partition_point(|t| *t < start_sod);
                    &self.times[idx..]
                } else {
                    &self.times[..]
                };
                if let (Some(&first), Some(&last)) = (times.first(), times.last()) {
                    let day_start = date_seconds(date);
                    if let Some(prev) = previous_last {
                        max_gap = max_gap.max(day_start + i64::from(first) - prev);
                    }
                    let intra = if times.len() == self.times.len() {
                        self.intra_day_gap
                    } else {
                        times.windows(2).map(|w| w[1] - w[0]).max().unwrap_or(0)
                    };
                    max_gap = max_gap.max(i64::from(intra));
                    firings = firings.saturating_add(times.len() as u64);
                    previous_last = Some(day_start + i64::from(last));
                }
            }
            date = match date.succ_opt() {
                Some(next) => next,
                None => break,
            };
        }

        if exact {
            if firings < 2 {
                return None;
            }
        } else {
            // The schedule goes on past the window: the silence from the last
            // firing seen (or from `from`) to the window's end is a lower bound
            // of the gap in progress.
            let end = date_seconds(scan_end);
            let since = previous_last.unwrap_or_else(|| base.timestamp());
            max_gap = max_gap.max(end - since);
        }
        u64::try_from(max_gap).ok().map(Duration::from_secs)
    }
}

fn date_seconds(date: NaiveDate) -> i64 {
    date.and_hms_opt(0, 0, 0)
        .map(|dt| dt.and_utc().timestamp())
        .unwrap_or_else(|| i64::from(date.num_days_from_ce()) * SECONDS_PER_DAY)
}

/// One numeric cron field's range and names.
struct FieldSpec {
    name: &'static str,
    min: u32,
    max: u32,
    /// Names for `min`, `min + 1`, ... (case-insensitive).
    names: &'static [&'static str],
}

const MINUTES: FieldSpec = FieldSpec {
    name: "minutes",
    min: 0,
    max: 59,
    names: &[],
};
const HOURS: FieldSpec = FieldSpec {
    name: "hours",
    min: 0,
    max: 23,
    names: &[],
};
const DAYS_OF_MONTH: FieldSpec = FieldSpec {
    name: "day-of-month",
    min: 1,
    max: 31,
    names: &[],
};
const MONTHS: FieldSpec = FieldSpec {
    name: "month",
    min: 1,
    max: 12,
    names: &[
        "JAN", "FEB", "MAR", "APR", "MAY", "JUN", "JUL", "AUG", "SEP", "OCT", "NOV", "DEC",
    ],
};
const DAYS_OF_WEEK: FieldSpec = FieldSpec {
    name: "day-of-week",
    min: 1,
    max: 7,
    names: &["SUN", "MON", "TUE", "WED", "THU", "FRI", "SAT"],
};
const YEARS: FieldSpec = FieldSpec {
    name: "year",
    min: YEAR_MIN,
    max: YEAR_MAX,
    names: &[],
};

impl FieldSpec {
    fn error(&self, value: &str, reason: impl Into<String>) -> ScheduleError {
        ScheduleError::CronField {
            field: self.name,
            value: value.to_owned(),
            reason: reason.into(),
        }
    }

    /// One value: a number in range or a name.
    fn value(&self, field: &str, text: &str) -> Result<u32, ScheduleError> {
        if let Some(idx) = self
            .names
            .iter()
            .position(|name| name.eq_ignore_ascii_case(text))
        {
            return Ok(self.min + idx as u32);
        }
        if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
            return Err(self.error(field, format!("`{text}` is not a number or a name")));
        }
        match text.parse::<u32>() {
            Ok(n) if (self.min..=self.max).contains(&n) => Ok(n),
            _ => Err(self.error(
                field,
                format!("`{text}` is outside {}-{}", self.min, self.max),
            )),
        }
    }

    /// One list item without special characters: `*`, `N`, `A-B`, each with
    /// an optional `/step`. Returns a bit set indexed by `value - min`.
    fn item(&self, field: &str, item: &str) -> Result<u256, ScheduleError> {
        let (range, step) = match item.split_once('/') {
            Some((range, step)) => {
                let step: u32 = match step.parse() {
                    Ok(s) if s >= 1 && step.bytes().all(|b| b.is_ascii_digit()) => s,
                    _ => {
                        return Err(
                            self.error(field, format!("step `{step}` must be a positive number"))
                        )
                    }
                };
                (range, Some(step))
            }
            None => (item, None),
        };
        let (low, high) = if range == "*" {
            (self.min, self.max)
        } else if let Some((a, b)) = range.split_once('-') {
            let (a, b) = (self.value(field, a)?, self.value(field, b)?);
            if a > b {
                return Err(self.error(field, format!("range `{range}` runs backwards")));
            }
            (a, b)
        } else {
            let v = self.value(field, range)?;
            // `A/step` means from A to the end of the range, stepping.
            (v, if step.is_some() { self.max } else { v })
        };
        let step = step.unwrap_or(1);
        let mut set = u256::default();
        let mut v = low;
        while v <= high {
            set.set(v - self.min);
            v = match v.checked_add(step) {
                Some(next) => next,
                None => break,
            };
        }
        Ok(set)
    }

    /// A comma-separated list of plain items.
    fn list(&self, field: &str) -> Result<u256, ScheduleError> {
        let mut set = u256::default();
        for item in field.split(',') {
            if item.is_empty() {
                return Err(self.error(field, "empty list item"));
            }
            set.or(self.item(field, item)?);
        }
        Ok(set)
    }
}

/// A small fixed bit set, big enough for the 230 cron years.
#[allow(non_camel_case_types)]
#[derive(Debug, Default, Clone, Copy)]
struct u256([u128; 2]);

impl u256 {
    fn set(&mut self, bit: u32) {
        if bit < 256 {
            self.0[(bit / 128) as usize] |= 1 << (bit % 128);
        }
    }
    fn get(&self, bit: u32) -> bool {
        bit < 256 && self.0[(bit / 128) as usize] & (1 << (bit % 128)) != 0
    }
    fn or(&mut self, other: u256) {
        self.0[0] |= other.0[0];
        self.0[1] |= other.0[1];
    }
}

/// Parses minutes, hours, month or year into a bit set (bit `v - min`).
fn parse_simple(spec: &FieldSpec, field: &str) -> Result<u256, ScheduleError> {
    if field == "?" {
        return Err(spec.error(field, "`?` is only allowed in day-of-month or day-of-week"));
    }
    spec.list(field)
}

/// The values of a set as a croner list, e.g. `1,2,12`.
fn list(set: u256, min: u32, max: u32) -> String {
    let values: Vec<String> = (min..=max)
        .filter(|v| set.get(v - min))
        .map(|v| v.to_string())
        .collect();
    values.join(",")
}

/// A day-of-month field other than `?`: evaluated here rather than by croner,
/// because croner's `W` crosses month boundaries (a `1W` on a Saturday picks
/// the Friday before), while AWS, like Quartz, never leaves the month.
#[derive(Debug, Clone, Default)]
struct DayOfMonth {
    /// Bit `d` set when day `d` is selected outright.
    days: u256,
    /// `L`: the last day of the month.
    last: bool,
    /// `nW`: the weekday nearest to day `n` within the same month.
    nearest_weekday: Vec<u32>,
}

impl DayOfMonth {
    fn parse(field: &str) -> Result<Option<Self>, ScheduleError> {
        let spec = &DAYS_OF_MONTH;
        if field == "?" {
            return Ok(None);
        }
        let mut dom = DayOfMonth::default();
        for item in field.split(',') {
            if item.is_empty() {
                return Err(spec.error(field, "empty list item"));
            } else if item.eq_ignore_ascii_case("L") {
                dom.last = true;
            } else if item.eq_ignore_ascii_case("LW") {
                return Err(spec.error(field, "`LW` is not supported"));
            } else if let Some(day) = item.strip_suffix(['W', 'w']) {
                dom.nearest_weekday.push(spec.value(field, day)?);
            } else {
                let set = spec.item(field, item)?;
                for day in spec.min..=spec.max {
                    if set.get(day - spec.min) {
                        dom.days.set(day);
                    }
                }
            }
        }
        Ok(Some(dom))
    }

    fn matches(&self, date: NaiveDate) -> bool {
        let day = date.day();
        if self.days.get(day) {
            return true;
        }
        let last = last_day_of_month(date);
        if self.last && day == last {
            return true;
        }
        self.nearest_weekday
            .iter()
            .any(|&n| nearest_weekday(n, date, last) == Some(day))
    }
}

fn last_day_of_month(date: NaiveDate) -> u32 {
    (28..=31)
        .rev()
        .find(|d| date.with_day(*d).is_some())
        .unwrap_or(28)
}

/// Quartz's `nW` in the month of `date`: the weekday nearest day `n`, never
/// leaving the month; no day when the month is shorter than `n`.
fn nearest_weekday(n: u32, date: NaiveDate, last: u32) -> Option<u32> {
    use chrono::Weekday;
    let target = date.with_day(n)?;
    Some(match target.weekday() {
        Weekday::Sat if n == 1 => 3,
        Weekday::Sat => n - 1,
        Weekday::Sun if n == last => n - 2,
        Weekday::Sun => n + 1,
        _ => n,
    })
}

/// Validates AWS day-of-week (1-7 = SUN-SAT) and writes it in croner's POSIX
/// numbering (0-6 = SUN-SAT).
fn translate_day_of_week(field: &str) -> Result<String, ScheduleError> {
    let spec = &DAYS_OF_WEEK;
    if field == "?" || field == "*" {
        return Ok("*".into());
    }
    let mut parts = Vec::new();
    for item in field.split(',') {
        if item.is_empty() {
            return Err(spec.error(field, "empty list item"));
        } else if item.eq_ignore_ascii_case("L") {
            // `L` alone is the last day of the week: Saturday.
            parts.push("6".to_owned());
        } else if let Some((day, nth)) = item.split_once('#') {
            let day = spec.value(field, day)?;
            let nth = match nth.parse::<u8>() {
                Ok(n) if (1..=5).contains(&n) && nth.len() == 1 => n,
                _ => return Err(spec.error(field, format!("`#{nth}` must be #1 to #5"))),
            };
            parts.push(format!("{}#{nth}", day - 1));
        } else if let Some(day) = item.strip_suffix(['L', 'l']) {
            // `5L`: the last Thursday of the month.
            let day = spec.value(field, day)?;
            parts.push(format!("{}#l", day - 1));
        } else {
            let set = spec.item(field, item)?;
            parts.extend(
                (spec.min..=spec.max)
                    .filter(|v| set.get(v - spec.min))
                    .map(|v| (v - 1).to_string()),
            );
        }
    }
    Ok(parts.join(","))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use chrono::TimeZone;
    use proptest::prelude::*;

    const HOUR: u64 = 3_600;
    const DAY: u64 = 86_400;

    fn at(y: i32, mo: u32, d: u32, h: u32, mi: u32) -> DateTime<Utc> {
        Utc.with_ymd_and_hms(y, mo, d, h, mi, 0).unwrap()
    }

    fn from() -> DateTime<Utc> {
        at(2026, 11, 22, 5, 0)
    }

    fn interval(expr: &str) -> Option<u64> {
        let schedule: Schedule = expr.parse().unwrap_or_else(|e| panic!("{expr}: {e}"));
        schedule.effective_interval(from()).map(|d| d.as_secs())
    }

    fn error(expr: &str) -> ScheduleError {
        expr.parse::<Schedule>()
            .expect_err(&format!("{expr} should not parse"))
    }

    #[test]
    fn rates() {
        assert_eq!(interval("rate(30 minutes)"), Some(1_800));
        assert_eq!(interval("rate(1 minute)"), Some(60));
        assert_eq!(interval("rate(1 hour)"), Some(HOUR));
        assert_eq!(interval("rate(12 hours)"), Some(12 * HOUR));
        assert_eq!(interval("rate(1 day)"), Some(DAY));
        assert_eq!(interval("rate(14 days)"), Some(14 * DAY));
        assert_eq!(interval("  rate(2  hours) "), Some(2 * HOUR));
        assert_eq!(
            "rate(2 hours)".parse::<Schedule>().unwrap().to_string(),
            "rate(2 hours)"
        );
    }

    #[test]
    fn rate_errors_say_what_is_wrong() {
        for (expr, needle) in [
            ("rate(1 hours)", "singular"),
            ("rate(2 hour)", "plural"),
            ("rate(0 minutes)", "at least 1"),
            ("rate(-5 minutes)", "positive whole number"),
            ("rate(5 weeks)", "unit"),
            ("rate(5)", "N unit"),
            ("rate(5 minutes extra)", "N unit"),
            ("rate(030 minutes)", "leading zeros"),
            ("rate(99999999999999999999 days)", "too large"),
        ] {
            let err = error(expr);
            assert!(matches!(err, ScheduleError::Rate { .. }), "{expr}: {err:?}");
            assert!(err.to_string().contains(needle), "{expr}: {err}");
        }
    }

    #[test]
    fn crons_from_the_ssm_guide() {
        assert_eq!(interval("cron(15 13 ? * MON *)"), Some(7 * DAY));
        assert_eq!(interval("cron(0 0/12 * * ? *)"), Some(12 * HOUR));
        assert_eq!(interval("cron(0 */30 * * * ? *)"), Some(1_800));
        assert_eq!(interval("cron(0/30 * * * ? *)"), Some(1_800));
        assert_eq!(interval("cron(0 10 * * ? *)"), Some(DAY));
        assert_eq!(
            interval("cron(0 9-17 ? * MON-FRI *)"),
            Some(DAY * 2 + 16 * HOUR)
        );
        assert_eq!(interval("cron(15,45 8 ? * 2,4 *)"), Some(5 * DAY - 30 * 60));
    }

    #[test]
    fn day_of_week_is_numbered_from_sunday() {
        // 1 = SUN in AWS (0 in Unix): Sunday 2026-11-22 00:00 is the next run.
        let sunday: Schedule = "cron(0 0 ? * 1 *)".parse().unwrap();
        assert_eq!(
            sunday.next_after(at(2026, 11, 21, 12, 0)),
            Some(at(2026, 11, 22, 0, 0))
        );
        let saturday: Schedule = "cron(0 0 ? * 7 *)".parse().unwrap();
        assert_eq!(
            saturday.next_after(at(2026, 11, 22, 12, 0)),
            Some(at(2026, 11, 28, 0, 0))
        );
        let sat_by_l: Schedule = "cron(0 0 ? * L *)".parse().unwrap();
        assert_eq!(
            sat_by_l.next_after(at(2026, 11, 22, 12, 0)),
            Some(at(2026, 11, 28, 0, 0))
        );
        let range: Schedule = "cron(0 0 ? * SAT-SAT *)".parse().unwrap();
        assert_eq!(
            range.effective_interval(from()),
            Some(Duration::from_secs(7 * DAY))
        );
    }

    #[test]
    fn nth_weekday_and_last_day() {
        // Third Tuesday of every month at 23:30: 2026-12-15, then 2027-01-19.
        let third_tue: Schedule = "cron(30 23 ? * TUE#3 *)".parse().unwrap();
        assert_eq!(third_tue.next_after(from()), Some(at(2026, 12, 15, 23, 30)));
        assert_eq!(
            third_tue.next_after(at(2026, 12, 16, 0, 0)),
            Some(at(2027, 1, 19, 23, 30))
        );
        // The longest gap between two third Tuesdays is five weeks.
        assert_eq!(interval("cron(30 23 ? * TUE#3 *)"), Some(35 * DAY));
        // Last day of the month: longest gap is 31 days.
        assert_eq!(interval("cron(0 0 L * ? *)"), Some(31 * DAY));
        let last: Schedule = "cron(0 0 L * ? *)".parse().unwrap();
        assert_eq!(
            last.next_after(at(2028, 2, 1, 0, 0)),
            Some(at(2028, 2, 29, 0, 0))
        );
        // Last Friday of the month.
        let last_fri: Schedule = "cron(0 0 ? * 6L *)".parse().unwrap();
        assert_eq!(last_fri.next_after(from()), Some(at(2026, 11, 27, 0, 0)));
        // Closest weekday to the 15th: 2026-11-15 is a Sunday, so Monday 16th.
        let weekday: Schedule = "cron(0 0 15W * ? *)".parse().unwrap();
        assert_eq!(
            weekday.next_after(at(2026, 11, 1, 0, 0)),
            Some(at(2026, 11, 16, 0, 0))
        );
        // `W` never leaves the month: 2027-05-01 is a Saturday, so `1W` is
        // Monday the 3rd, and 2026-05-31 is a Sunday, so `31W` is Friday the 29th.
        let first: Schedule = "cron(0 0 1W * ? *)".parse().unwrap();
        assert_eq!(
            first.next_after(at(2027, 4, 30, 0, 0)),
            Some(at(2027, 5, 3, 0, 0))
        );
        let last_w: Schedule = "cron(0 0 31W * ? *)".parse().unwrap();
        assert_eq!(
            last_w.next_after(at(2026, 5, 1, 0, 0)),
            Some(at(2026, 5, 29, 0, 0))
        );
        // A month without a 31st has no `31W` day.
        assert_eq!(
            last_w.next_after(at(2026, 6, 1, 0, 0)),
            Some(at(2026, 7, 31, 0, 0))
        );
    }

    #[test]
    fn monthly_yearly_and_leap_schedules() {
        assert_eq!(interval("cron(0 0 1 * ? *)"), Some(31 * DAY));
        assert_eq!(interval("cron(0 0 1 JAN ? *)"), Some(366 * DAY));
        assert_eq!(interval("cron(0 0 1 1,7 ? *)"), Some(184 * DAY));
        // Leap day only: 2028, 2032 in the window from 2026, four years apart.
        assert_eq!(
            interval("cron(0 0 29 FEB ? *)"),
            Some((366 + 3 * 365) * DAY)
        );
        // Across 2100 (not a leap year) the gap is eight years.
        let leap: Schedule = "cron(0 0 29 2 ? *)".parse().unwrap();
        let gap = leap
            .effective_interval(at(2095, 1, 1, 0, 0))
            .unwrap()
            .as_secs();
        let expected = (at(2104, 2, 29, 0, 0) - at(2096, 2, 29, 0, 0)).num_seconds() as u64;
        assert_eq!(gap, expected);
    }

    #[test]
    fn year_field_makes_schedules_finite() {
        // Daily during 2027 only: interval is a day until the last two firings,
        // then there is none.
        assert_eq!(interval("cron(0 0 * * ? 2027)"), Some(DAY));
        let s: Schedule = "cron(0 0 * * ? 2027)".parse().unwrap();
        assert_eq!(s.effective_interval(at(2027, 12, 31, 1, 0)), None);
        assert_eq!(s.effective_interval(at(2030, 1, 1, 0, 0)), None);
        assert_eq!(s.next_after(at(2027, 12, 31, 1, 0)), None);
        // Years long past never fire again.
        assert_eq!(interval("cron(0 0 * * ? 1970-2000)"), None);
        // Two firings a year apart, then nothing.
        assert_eq!(interval("cron(0 0 1 1 ? 2027,2028)"), Some(365 * DAY));
        // A gap between allowed years is a gap in firings.
        assert_eq!(
            interval("cron(0 0 1 1 ? 2027,2030)"),
            Some((at(2030, 1, 1, 0, 0) - at(2027, 1, 1, 0, 0)).num_seconds() as u64)
        );
        // Stepped years.
        assert_eq!(
            interval("cron(0 0 1 1 ? 2027/2)"),
            Some((at(2029, 1, 1, 0, 0) - at(2027, 1, 1, 0, 0)).num_seconds() as u64)
        );
    }

    #[test]
    fn a_schedule_that_never_fires_reports_the_whole_window() {
        // 31 February does not exist: the silence covers the whole window.
        let secs = interval("cron(0 0 31 2 ? *)").unwrap();
        assert_eq!(secs, WINDOW_DAYS * DAY - 5 * HOUR);
    }

    #[test]
    fn at_runs_once() {
        let s: Schedule = "at(2020-07-07T15:55:00)".parse().unwrap();
        assert!(matches!(s, Schedule::At(_)));
        assert_eq!(s.effective_interval(from()), None);
        assert_eq!(s.to_string(), "at(2020-07-07T15:55:00)");
        assert_eq!(
            s.next_after(at(2020, 1, 1, 0, 0)),
            Some(at(2020, 7, 7, 15, 55))
        );
        assert!(matches!(
            error("at(2020-13-07T15:55:00)"),
            ScheduleError::At { .. }
        ));
        assert!(matches!(error("at(tomorrow)"), ScheduleError::At { .. }));
    }

    #[test]
    fn offsets_shift_firings_but_not_gaps() {
        let plain = Schedule::parse_with_offset("cron(0 0 ? * THU#2 *)", None).unwrap();
        let shifted = Schedule::parse_with_offset("cron(0 0 ? * THU#2 *)", Some(3)).unwrap();
        assert_eq!(
            plain.effective_interval(from()),
            shifted.effective_interval(from())
        );
        // Second Thursday of December 2026 is the 10th; three days later, Sunday 13th.
        assert_eq!(plain.next_after(from()), Some(at(2026, 12, 10, 0, 0)));
        assert_eq!(shifted.next_after(from()), Some(at(2026, 12, 13, 0, 0)));
        // The offset also moves the end of a finite schedule.
        let last = Schedule::parse_with_offset("cron(0 0 31 12 ? 2027)", Some(2)).unwrap();
        assert_eq!(
            last.next_after(at(2027, 12, 31, 12, 0)),
            Some(at(2028, 1, 2, 0, 0))
        );
        for (expr, offset) in [
            ("rate(1 day)", Some(2)),
            ("at(2020-07-07T15:55:00)", Some(1)),
        ] {
            assert!(matches!(
                Schedule::parse_with_offset(expr, offset),
                Err(ScheduleError::Offset { .. })
            ));
        }
        for offset in [0, 7, -1] {
            assert!(matches!(
                Schedule::parse_with_offset("cron(0 0 * * ? *)", Some(offset)),
                Err(ScheduleError::Offset { .. })
            ));
        }
    }

    #[test]
    fn cron_errors_name_the_field() {
        for (expr, field) in [
            ("cron(60 * * * ? *)", "minutes"),
            ("cron(0 24 * * ? *)", "hours"),
            ("cron(0 0 32 * ? *)", "day-of-month"),
            ("cron(0 0 0 * ? *)", "day-of-month"),
            ("cron(0 0 * 13 ? *)", "month"),
            ("cron(0 0 * FOO ? *)", "month"),
            ("cron(0 0 ? * 0 *)", "day-of-week"),
            ("cron(0 0 ? * 8 *)", "day-of-week"),
            ("cron(0 0 ? * MON#6 *)", "day-of-week"),
            ("cron(0 0 ? * 7-1 *)", "day-of-week"),
            ("cron(0 0 * * ? 1969)", "year"),
            ("cron(0 0 * * ? 2200)", "year"),
            ("cron(0/0 0 * * ? *)", "minutes"),
            ("cron(0,,5 0 * * ? *)", "minutes"),
            ("cron(5 0 0 * * ? *)", "seconds"),
            ("cron(? 0 * * ? *)", "minutes"),
            ("cron(0 0 LW * ? *)", "day-of-month"),
        ] {
            match error(expr) {
                ScheduleError::CronField { field: f, .. } => assert_eq!(f, field, "{expr}"),
                other => panic!("{expr}: {other:?}"),
            }
        }
        assert!(matches!(
            error("cron(0 0 * * *)"),
            ScheduleError::CronFieldCount { found: 5, .. }
        ));
        assert!(matches!(
            error("cron(0 0 * * ? * * *)"),
            ScheduleError::CronFieldCount { found: 8, .. }
        ));
        assert!(matches!(
            error("cron(0 0 * * * *)"),
            ScheduleError::CronDayConflict { .. }
        ));
        assert!(matches!(
            error("cron(0 0 ? * ? *)"),
            ScheduleError::CronDayConflict { .. }
        ));
        assert!(matches!(
            error("cron(0 0 1 * MON *)"),
            ScheduleError::CronDayConflict { .. }
        ));
        assert!(matches!(error(""), ScheduleError::Empty));
        assert!(matches!(
            error("every day"),
            ScheduleError::UnknownForm { .. }
        ));
        assert!(matches!(
            error("RATE(1 day)"),
            ScheduleError::UnknownForm { .. }
        ));
        let long = format!("rate({} minutes)", "1".repeat(300));
        assert!(matches!(error(&long), ScheduleError::TooLong { .. }));
        let msg = error("cron(0 0 ? * 8 *)").to_string();
        assert!(msg.contains("day-of-week") && msg.contains("1-7"), "{msg}");
    }

    /// croner's own pattern for a parsed schedule, times included, to check
    /// this module's day walk against croner's iterator. `None` for `nW`,
    /// where croner crosses month boundaries and AWS does not.
    fn full_croner(cron: &CronSchedule) -> Option<croner::Cron> {
        let mut minutes: Vec<u32> = cron.times.iter().map(|t| t % 3_600 / 60).collect();
        minutes.sort_unstable();
        minutes.dedup();
        let mut hours: Vec<u32> = cron.times.iter().map(|t| t / 3_600).collect();
        hours.dedup();
        let join = |v: Vec<u32>| v.iter().map(u32::to_string).collect::<Vec<_>>().join(",");
        let day_fields: Vec<&str> = cron.days.pattern.as_str().split_whitespace().collect();
        let dom = match &cron.day_of_month {
            None => "*".to_owned(),
            Some(dom) if !dom.nearest_weekday.is_empty() => return None,
            Some(dom) => {
                let mut parts: Vec<String> = (1..=31)
                    .filter(|d| dom.days.get(*d))
                    .map(|d| d.to_string())
                    .collect();
                if dom.last {
                    parts.push("l".into());
                }
                parts.join(",")
            }
        };
        let pattern = format!(
            "0 {} {} {dom} {} {}",
            join(minutes),
            join(hours),
            day_fields[4],
            day_fields[5]
        );
        Some(
            croner::Cron::new(&pattern)
                .with_seconds_required()
                .parse()
                .unwrap(),
        )
    }

    fn step_field(max: u32) -> impl Strategy<Value = (String, u32)> {
        // (field text, smallest gap it allows between selected values)
        prop_oneof![
            Just(("*".to_owned(), 1)),
            (0..=max).prop_map(move |v| (v.to_string(), max + 1)),
            (1..=max).prop_map(|s| (format!("*/{s}"), s)),
            (0..=max, 1..=max).prop_map(|(a, s)| (format!("{a}/{s}"), s)),
        ]
    }

    fn cron_expr() -> impl Strategy<Value = (String, u32)> {
        let dom = prop_oneof![
            Just("*".to_owned()),
            Just("L".to_owned()),
            (1..=28u32).prop_map(|d| d.to_string()),
            (1..=28u32).prop_map(|d| format!("{d}W")),
            (1..=14u32, 1..=14u32).prop_map(|(a, b)| format!("{a}-{}", a + b)),
        ];
        let dow = prop_oneof![
            Just("*".to_owned()),
            (1..=7u32).prop_map(|d| d.to_string()),
            (1..=7u32, 1..=4u32).prop_map(|(d, n)| format!("{d}#{n}")),
            (1..=7u32).prop_map(|d| format!("{d}L")),
            Just("MON-FRI".to_owned()),
            Just("SUN,SAT".to_owned()),
        ];
        let days = prop_oneof![
            dom.prop_map(|d| format!("{d} ?")),
            dow.prop_map(|d| format!("? {d}")),
        ]
        .prop_map(|s| {
            let (dom, dow) = s.split_once(' ').unwrap();
            (dom.to_owned(), dow.to_owned())
        });
        let month = prop_oneof![
            Just("*".to_owned()),
            Just("1,4,7,10".to_owned()),
            Just("JAN-JUN".to_owned())
        ];
        (step_field(59), step_field(23), days, month).prop_map(
            |((m, ms), (h, _), (dom, dow), mon)| {
                (format!("cron({m} {h} {dom} {mon} {dow} *)"), ms * 60)
            },
        )
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        #[test]
        fn rates_round_trip(n in 1u64..100_000, unit in 0usize..3) {
            let (name, secs) = [("minute", 60), ("hour", 3_600), ("day", 86_400)][unit];
            let expr = if n == 1 { format!("rate(1 {name})") } else { format!("rate({n} {name}s)") };
            let schedule: Schedule = expr.parse().unwrap();
            prop_assert_eq!(schedule.effective_interval(from()), Some(Duration::from_secs(n * secs)));
            // Display normalises to the largest whole unit, and parses back.
            let again: Schedule = schedule.to_string().parse().unwrap();
            prop_assert_eq!(again.effective_interval(from()), Some(Duration::from_secs(n * secs)));
        }

        #[test]
        fn generated_crons_parse_and_are_bounded((expr, min_gap) in cron_expr(), day_offset in 0i64..3_000) {
            let start = from() + chrono::Duration::days(day_offset);
            let schedule: Schedule = expr.parse().map_err(|e| TestCaseError::fail(format!("{expr}: {e}")))?;
            let secs = schedule.effective_interval(start).unwrap().as_secs();
            prop_assert!(secs >= u64::from(min_gap.min(86_400)), "{} → {}s < {}", expr, secs, min_gap);
            // Every generated day pattern fires at least twice a year.
            prop_assert!(secs <= 366 * DAY, "{} → {}s", expr, secs);
        }

        #[test]
        fn day_walk_agrees_with_croner((expr, _) in cron_expr(), day_offset in 0i64..3_000, minute in 0i64..1_440) {
            let start = from() + chrono::Duration::days(day_offset) + chrono::Duration::minutes(minute);
            let Schedule::Cron(cron) = expr.parse::<Schedule>().unwrap() else {
                return Err(TestCaseError::fail("not a cron"));
            };
            let reference = full_croner(&cron);
            prop_assume!(reference.is_some());
            let reference = reference.unwrap();
            // The next firing is the one croner finds.
            let ours = cron.next_after(start);
            let theirs = reference.find_next_occurrence(&start, false).ok();
            prop_assert_eq!(ours, theirs, "{}", expr);
            // No gap among croner's next 300 firings exceeds our interval.
            let interval = cron.effective_interval(start).unwrap().as_secs() as i64;
            let firings: Vec<_> = reference.iter_after(start).take(300).collect();
            for pair in firings.windows(2) {
                let gap = (pair[1] - pair[0]).num_seconds();
                prop_assert!(gap <= interval, "{}: gap {} > interval {}", expr, gap, interval);
            }
        }

        #[test]
        fn parser_never_panics(s in "\\PC{0,80}") {
            if let Ok(schedule) = s.parse::<Schedule>() {
                let _ = schedule.effective_interval(from());
                let _ = schedule.next_after(from());
            }
        }

        #[test]
        fn cron_shaped_garbage_never_panics(fields in proptest::collection::vec("[0-9A-Z*?/,#LW-]{1,6}", 5..8)) {
            let expr = format!("cron({})", fields.join(" "));
            if let Ok(schedule) = expr.parse::<Schedule>() {
                let _ = schedule.effective_interval(from());
                let _ = schedule.next_after(from());
            }
        }
    }
}
