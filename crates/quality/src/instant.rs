//! FHIR `date`, `dateTime` and `instant` values as ranges of UTC seconds: [`TimeRange`].
//!
//! A partial date stands for every moment it could mean (`1974` is the whole year), so rules
//! compare the side of the range that makes a finding certain: a birth date is in the future
//! only if it *starts* after now, death comes before birth only if the death range *ends*
//! before the birth range starts. A value without a time zone is read as UTC; the clock skew
//! allowed by the future rule covers the difference.

/// Seconds in a day.
pub(crate) const DAY_SECONDS: i64 = 86_400;

/// The moments a FHIR date, dateTime or instant value may mean, in seconds since 1970 UTC:
/// `start` inclusive, `end` exclusive.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct TimeRange {
    pub(crate) start: i64,
    pub(crate) end: i64,
}

/// Reads `YYYY`, `YYYY-MM`, `YYYY-MM-DD` or `YYYY-MM-DDThh:mm[:ss[.fff]](Z|±hh:mm)`; `None` for
/// anything else (the validator reports malformed values; plausibility skips them).
pub(crate) fn parse_time_range(text: &str) -> Option<TimeRange> {
    let (date, time) = match text.split_once('T') {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let mut parts = date.split('-');
    let year: i64 = parse_digits(parts.next()?, 4)?;
    let month = match parts.next() {
        Some(part) => Some(parse_digits(part, 2)?),
        None => None,
    };
    let day = match parts.next() {
        Some(part) => Some(parse_digits(part, 2)?),
        None => None,
    };
    if parts.next().is_some() {
        return None;
    }
    if month.is_some_and(|month| !(1..=12).contains(&month)) {
        return None;
    }
    match (month, day, time) {
        (None, None, None) => {
            let start = days_from_civil(year, 1, 1) * DAY_SECONDS;
            let end = days_from_civil(year + 1, 1, 1) * DAY_SECONDS;
            Some(TimeRange { start, end })
        }
        (Some(month), None, None) => {
            let start = days_from_civil(year, month, 1) * DAY_SECONDS;
            let (next_year, next_month) = if month == 12 {
                (year + 1, 1)
            } else {
                (year, month + 1)
            };
            let end = days_from_civil(next_year, next_month, 1) * DAY_SECONDS;
            Some(TimeRange { start, end })
        }
        (Some(month), Some(day), time) => {
            if !(1..=days_in_month(year, month)).contains(&day) {
                return None;
            }
            let midnight = days_from_civil(year, month, day) * DAY_SECONDS;
            match time {
                None => Some(TimeRange {
                    start: midnight,
                    end: midnight + DAY_SECONDS,
                }),
                Some(time) => {
                    let second = midnight + parse_time_of_day(time)?;
                    Some(TimeRange {
                        start: second,
                        end: second + 1,
                    })
                }
            }
        }
        _ => None,
    }
}

/// `hh:mm[:ss[.fff]](Z|±hh:mm)` → seconds after midnight UTC (may be negative or past a day).
fn parse_time_of_day(time: &str) -> Option<i64> {
    let (clock, offset) = if let Some(clock) = time.strip_suffix('Z') {
        (clock, 0)
    } else if let Some(at) = time.rfind(['+', '-']) {
        let (clock, zone) = time.split_at(at);
        let sign = if zone.starts_with('-') { -1 } else { 1 };
        let (hours, minutes) = zone.get(1..)?.split_once(':')?;
        let offset = parse_digits(hours, 2)? * 3600 + parse_digits(minutes, 2)? * 60;
        (clock, sign * offset)
    } else {
        // FHIR requires a zone when a time is given; read a missing one as UTC.
        (time, 0)
    };
    let mut fields = clock.split(':');
    let hours = parse_digits(fields.next()?, 2)?;
    let minutes = parse_digits(fields.next()?, 2)?;
    let seconds = match fields.next() {
        Some(seconds) => {
            let whole = seconds.split_once('.').map_or(seconds, |(whole, _)| whole);
            parse_digits(whole, 2)?
        }
        None => 0,
    };
    if fields.next().is_some() || hours > 24 || minutes > 59 || seconds > 60 {
        return None;
    }
    Some(hours * 3600 + minutes * 60 + seconds - offset)
}

/// Exactly `width` ASCII digits as a number.
fn parse_digits(text: &str, width: usize) -> Option<i64> {
    if text.len() != width || !text.bytes().all(|byte| byte.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

fn is_leap_year(year: i64) -> bool {
    (year % 4 == 0 && year % 100 != 0) || year % 400 == 0
}

fn days_in_month(year: i64, month: i64) -> i64 {
    match month {
        2 if is_leap_year(year) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (Howard Hinnant's `days_from_civil`).
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let year = if month <= 2 { year - 1 } else { year };
    let era = year.div_euclid(400);
    let year_of_era = year - era * 400;
    let month_index = (month + 9) % 12;
    let day_of_year = (153 * month_index + 2) / 5 + day - 1;
    let day_of_era = year_of_era * 365 + year_of_era / 4 - year_of_era / 100 + day_of_year;
    era * 146_097 + day_of_era - 719_468
}

/// The inverse of [`days_from_civil`]: (year, month, day).
fn civil_from_days(days: i64) -> (i64, i64, i64) {
    let days = days + 719_468;
    let era = days.div_euclid(146_097);
    let day_of_era = days - era * 146_097;
    let year_of_era =
        (day_of_era - day_of_era / 1460 + day_of_era / 36_524 - day_of_era / 146_096) / 365;
    let day_of_year = day_of_era - (365 * year_of_era + year_of_era / 4 - year_of_era / 100);
    let month_index = (5 * day_of_year + 2) / 153;
    let day = day_of_year - (153 * month_index + 2) / 5 + 1;
    let month = if month_index < 10 {
        month_index + 3
    } else {
        month_index - 9
    };
    let year = year_of_era + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// Seconds since 1970 as a FHIR instant: `2024-05-01T12:00:00Z`.
pub(crate) fn format_instant(seconds: i64) -> String {
    let days = seconds.div_euclid(DAY_SECONDS);
    let second_of_day = seconds.rem_euclid(DAY_SECONDS);
    let (year, month, day) = civil_from_days(days);
    format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z",
        second_of_day / 3600,
        second_of_day % 3600 / 60,
        second_of_day % 60
    )
}

/// The same calendar moment `years` earlier (29 February becomes 1 March in common years).
pub(crate) fn years_before(seconds: i64, years: i64) -> i64 {
    let days = seconds.div_euclid(DAY_SECONDS);
    let second_of_day = seconds.rem_euclid(DAY_SECONDS);
    let (year, month, day) = civil_from_days(days);
    days_from_civil(year - years, month, day) * DAY_SECONDS + second_of_day
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(text: &str) -> (String, String) {
        let range = parse_time_range(text).expect(text);
        (format_instant(range.start), format_instant(range.end))
    }

    #[test]
    fn partial_dates_cover_every_moment_they_may_mean() {
        assert_eq!(
            range("1974"),
            ("1974-01-01T00:00:00Z".into(), "1975-01-01T00:00:00Z".into())
        );
        assert_eq!(
            range("2024-02"),
            ("2024-02-01T00:00:00Z".into(), "2024-03-01T00:00:00Z".into())
        );
        assert_eq!(
            range("2023-12-31"),
            ("2023-12-31T00:00:00Z".into(), "2024-01-01T00:00:00Z".into())
        );
        assert_eq!(
            range("2024-03-01T01:30:00.250+02:00"),
            ("2024-02-29T23:30:00Z".into(), "2024-02-29T23:30:01Z".into())
        );
        assert_eq!(range("1969-12-31T23:59:59Z").0, "1969-12-31T23:59:59Z");
    }

    #[test]
    fn malformed_values_give_no_range() {
        for text in [
            "",
            "74",
            "1974-13",
            "1974-02-30",
            "2023-02-29",
            "1974-1-01",
            "1974-01-01T25:00Z",
            "abcd",
            "1974-01-01-01",
            "2024-01-01T10:00:00+5",
        ] {
            assert_eq!(parse_time_range(text), None, "{text}");
        }
        assert!(parse_time_range("2024-02-29").is_some());
    }

    #[test]
    fn years_before_keeps_the_calendar_day() {
        let now = parse_time_range("2025-06-15T08:00:00Z")
            .expect("valid")
            .start;
        assert_eq!(
            format_instant(years_before(now, 125)),
            "1900-06-15T08:00:00Z"
        );
    }
}
