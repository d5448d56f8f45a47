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
/// anything else (the validator reports malformed values; plausibility skips them). The
/// parsing is search's (`medulla_search::time::parse_range`), widened to whole seconds.
pub(crate) fn parse_time_range(text: &str) -> Option<TimeRange> {
    const MICROS: i64 = 1_000_000;
    let (start, end) = medulla_search::time::parse_range(text)?;
    Some(TimeRange {
        start: start.micros().div_euclid(MICROS),
        end: (end.micros() + MICROS - 1).div_euclid(MICROS),
    })
}

/// Seconds since 1970 as a calendar moment in UTC (`None` out of the `time` crate's range).
fn date_time(seconds: i64) -> Option<time::OffsetDateTime> {
    time::OffsetDateTime::from_unix_timestamp(seconds).ok()
}

/// Seconds since 1970 as a FHIR instant: `2024-05-01T12:00:00Z`.
pub(crate) fn format_instant(seconds: i64) -> String {
    match date_time(seconds) {
        Some(moment) => format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}Z",
            moment.year(),
            u8::from(moment.month()),
            moment.day(),
            moment.hour(),
            moment.minute(),
            moment.second()
        ),
        None => seconds.to_string(),
    }
}

/// The same calendar moment `years` earlier (29 February becomes 1 March in common years).
pub(crate) fn years_before(seconds: i64, years: i64) -> i64 {
    let Some(moment) = date_time(seconds) else {
        return seconds;
    };
    let Some(year) = i32::try_from(years)
        .ok()
        .and_then(|years| moment.year().checked_sub(years))
    else {
        return i64::MIN;
    };
    let earlier = moment.replace_year(year).or_else(|_| {
        moment
            .replace_day(1)
            .and_then(|first| first.replace_month(time::Month::March))
            .and_then(|march| march.replace_year(year))
    });
    earlier.map_or(i64::MIN, time::OffsetDateTime::unix_timestamp)
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
        let leap_day = parse_time_range("2024-02-29T10:00:00Z")
            .expect("valid")
            .start;
        assert_eq!(
            format_instant(years_before(leap_day, 1)),
            "2023-03-01T10:00:00Z"
        );
        assert_eq!(
            format_instant(years_before(leap_day, 4)),
            "2020-02-29T10:00:00Z"
        );
    }
}
