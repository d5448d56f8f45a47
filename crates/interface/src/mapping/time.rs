//! HL7 v2 times (TS/DTM `YYYY[MM[DD[HH[MM[SS[.S+]]]]]][+/-ZZZZ]`, DT `YYYY[MM[DD]]`, TM
//! `HH[MM[SS]]`) read and written as FHIR `dateTime`, `date`, `instant` and `time`.
//!
//! Reduced precision is kept (`202401` → `2024-01`) as far as FHIR can say it: a time of day
//! needs minutes, seconds and an offset in FHIR, so `2024010203` becomes
//! `2024-01-02T03:00:00` plus the offset.

use time::{Date, Duration, Month, PrimitiveDateTime, Time};

/// A UTC offset, in minutes east of UTC.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Offset {
    minutes: i32,
}

impl Offset {
    /// UTC.
    pub const UTC: Offset = Offset { minutes: 0 };

    /// `+HHMM`/`-HHMM` (or `+HH`); `None` when malformed or beyond ±14:00.
    fn parse(text: &str) -> Option<Offset> {
        let (sign, digits) = match text.as_bytes().first()? {
            b'+' => (1, &text[1..]),
            b'-' => (-1, &text[1..]),
            _ => return None,
        };
        if !(digits.len() == 2 || digits.len() == 4) || !digits.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        let hours: i32 = digits[..2].parse().ok()?;
        let minutes: i32 = digits
            .get(2..)
            .filter(|m| !m.is_empty())
            .map_or(Some(0), |m| m.parse().ok())?;
        let valid = minutes < 60 && (hours < 14 || (hours == 14 && minutes == 0));
        valid.then_some(Offset {
            minutes: sign * (hours * 60 + minutes),
        })
    }

    /// `+01:00`, as FHIR writes it.
    fn render(self) -> String {
        let sign = if self.minutes < 0 { '-' } else { '+' };
        let total = self.minutes.abs();
        format!("{sign}{:02}:{:02}", total / 60, total % 60)
    }
}

/// A TS/DTM value, with the precision it was sent with.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Timestamp {
    year: i32,
    month: Option<u8>,
    day: Option<u8>,
    hour: Option<u8>,
    minute: Option<u8>,
    second: Option<u8>,
    /// Digits after the decimal point of the seconds.
    fraction: Option<String>,
    offset: Option<Offset>,
}

impl Timestamp {
    /// Reads `YYYY[MM[DD[HH[MM[SS[.S+]]]]]][+/-ZZZZ]`; `None` when malformed or not a real
    /// date or time (month 13, 30 February, hour 24).
    pub fn parse(text: &str) -> Option<Timestamp> {
        let text = text.trim();
        let (body, offset) = match text.find(['+', '-']) {
            Some(at) => (&text[..at], Some(Offset::parse(&text[at..])?)),
            None => (text, None),
        };
        let (digits, fraction) = match body.split_once('.') {
            Some((digits, fraction)) => (digits, Some(fraction)),
            None => (body, None),
        };
        if !digits.bytes().all(|b| b.is_ascii_digit())
            || ![4, 6, 8, 10, 12, 14].contains(&digits.len())
        {
            return None;
        }
        if let Some(fraction) = fraction {
            let digits_only = !fraction.is_empty() && fraction.bytes().all(|b| b.is_ascii_digit());
            if digits.len() != 14 || !digits_only {
                return None;
            }
        }
        let number = |at: usize| -> Option<u8> { digits.get(at..at + 2)?.parse().ok() };
        let year: i32 = digits[..4].parse().ok()?;
        let timestamp = Timestamp {
            year,
            month: number(4),
            day: number(6),
            hour: number(8),
            minute: number(10),
            second: number(12),
            fraction: fraction.map(str::to_owned),
            offset,
        };
        timestamp.is_real().then_some(timestamp)
    }

    fn is_real(&self) -> bool {
        if self.year < 1 {
            return false;
        }
        let month_ok = self.month.is_none_or(|month| (1..=12).contains(&month));
        let day_ok = match (self.month, self.day) {
            (Some(month), Some(day)) => Month::try_from(month)
                .ok()
                .and_then(|month| Date::from_calendar_date(self.year, month, day).ok())
                .is_some(),
            _ => true,
        };
        month_ok
            && day_ok
            && self.hour.is_none_or(|hour| hour < 24)
            && self.minute.is_none_or(|minute| minute < 60)
            && self.second.is_none_or(|second| second < 60)
    }

    /// The offset the value was sent with.
    pub fn offset(&self) -> Option<Offset> {
        self.offset
    }

    /// True when the value has a time of day.
    pub fn has_time(&self) -> bool {
        self.hour.is_some()
    }

    /// The date part: `2024`, `2024-01` or `2024-01-02`.
    pub fn date(&self) -> String {
        let mut out = format!("{:04}", self.year);
        if let Some(month) = self.month {
            out.push_str(&format!("-{month:02}"));
            if let Some(day) = self.day {
                out.push_str(&format!("-{day:02}"));
            }
        }
        out
    }

    /// As a FHIR dateTime; a time of day gets `default` when it was sent without an offset.
    pub fn date_time(&self, default: Offset) -> String {
        let Some(hour) = self.hour else {
            return self.date();
        };
        let mut out = format!(
            "{}T{hour:02}:{:02}:{:02}",
            self.date(),
            self.minute.unwrap_or(0),
            self.second.unwrap_or(0)
        );
        if let Some(fraction) = &self.fraction {
            out.push('.');
            out.push_str(fraction);
        }
        out.push_str(&self.offset.unwrap_or(default).render());
        out
    }

    /// As a FHIR instant, which must be exact to the second: only when at least the minute
    /// was sent.
    pub fn instant(&self, default: Offset) -> Option<String> {
        self.minute.map(|_| self.date_time(default))
    }

    /// The time `minutes` later, at least to the minute; `None` without a time of day.
    pub fn plus_minutes(&self, minutes: i64) -> Option<Timestamp> {
        let month = Month::try_from(self.month?).ok()?;
        let date = Date::from_calendar_date(self.year, month, self.day?).ok()?;
        let time = Time::from_hms(
            self.hour?,
            self.minute.unwrap_or(0),
            self.second.unwrap_or(0),
        )
        .ok()?;
        let later = PrimitiveDateTime::new(date, time).checked_add(Duration::minutes(minutes))?;
        Some(Timestamp {
            year: later.year(),
            month: Some(u8::from(later.month())),
            day: Some(later.day()),
            hour: Some(later.hour()),
            minute: Some(later.minute()),
            second: self.second.map(|_| later.second()),
            fraction: self.fraction.clone(),
            offset: self.offset,
        })
    }
}

/// A TM (`HH[MM[SS[.S+]]]`, offset ignored) as a FHIR time `HH:MM:SS`.
pub(crate) fn time_of_day(text: &str) -> Option<String> {
    let text = text.trim();
    let body = text.split(['+', '-']).next().unwrap_or("");
    let (digits, fraction) = match body.split_once('.') {
        Some((digits, fraction)) => (digits, Some(fraction)),
        None => (body, None),
    };
    if !digits.bytes().all(|b| b.is_ascii_digit()) || ![2, 4, 6].contains(&digits.len()) {
        return None;
    }
    let number =
        |at: usize| -> Option<u8> { digits.get(at..at + 2).map_or(Some(0), |d| d.parse().ok()) };
    let (hour, minute, second) = (number(0)?, number(2)?, number(4)?);
    if hour > 23 || minute > 59 || second > 59 {
        return None;
    }
    let mut out = format!("{hour:02}:{minute:02}:{second:02}");
    if let Some(fraction) = fraction {
        if digits.len() != 6 || fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit())
        {
            return None;
        }
        out.push('.');
        out.push_str(fraction);
    }
    Some(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn date_time(text: &str) -> Option<String> {
        Timestamp::parse(text).map(|ts| ts.date_time(Offset::UTC))
    }

    #[test]
    fn full_precision_with_offsets() {
        assert_eq!(
            date_time("20240102030405+0100").as_deref(),
            Some("2024-01-02T03:04:05+01:00")
        );
        assert_eq!(
            date_time("20240102030405-0530").as_deref(),
            Some("2024-01-02T03:04:05-05:30")
        );
        assert_eq!(
            date_time("20240102030405.123+0000").as_deref(),
            Some("2024-01-02T03:04:05.123+00:00")
        );
        assert_eq!(
            date_time("20240102030405").as_deref(),
            Some("2024-01-02T03:04:05+00:00")
        );
        let minus_five = Offset::parse("-0500").unwrap();
        assert_eq!(
            Timestamp::parse("20240102030405")
                .unwrap()
                .date_time(minus_five),
            "2024-01-02T03:04:05-05:00"
        );
        // The value's own offset wins over the default.
        assert_eq!(
            Timestamp::parse("20240102030405+0200")
                .unwrap()
                .date_time(minus_five),
            "2024-01-02T03:04:05+02:00"
        );
    }

    #[test]
    fn reduced_precision_is_kept() {
        assert_eq!(date_time("2024").as_deref(), Some("2024"));
        assert_eq!(date_time("202401").as_deref(), Some("2024-01"));
        assert_eq!(date_time("20240102").as_deref(), Some("2024-01-02"));
        assert_eq!(date_time("20240102+0100").as_deref(), Some("2024-01-02"));
        assert_eq!(
            date_time("2024010203").as_deref(),
            Some("2024-01-02T03:00:00+00:00")
        );
        assert_eq!(
            date_time("202401020304").as_deref(),
            Some("2024-01-02T03:04:00+00:00")
        );
        assert_eq!(
            Timestamp::parse("20240102").unwrap().instant(Offset::UTC),
            None
        );
        assert_eq!(
            Timestamp::parse("202401020304")
                .unwrap()
                .instant(Offset::UTC)
                .as_deref(),
            Some("2024-01-02T03:04:00+00:00")
        );
        assert_eq!(
            Timestamp::parse("20240102030405+0100").unwrap().date(),
            "2024-01-02"
        );
    }

    #[test]
    fn malformed_or_impossible_values_are_refused() {
        for bad in [
            "",
            "24",
            "20241",
            "2024013",
            "20241301",
            "20240230",
            "2024010224",
            "202401020360",
            "20240102030460",
            "2024-01-02",
            "20240102T0304",
            "20240102030405+1500",
            "20240102030405+0160",
            "2024010203.5",
            "20240102030405.",
            "00000101",
            "abcd",
        ] {
            assert_eq!(date_time(bad), None, "{bad:?}");
        }
        // An hour-only offset is read as whole hours.
        assert_eq!(
            date_time("20240102030405+01").as_deref(),
            Some("2024-01-02T03:04:05+01:00")
        );
        assert_eq!(date_time("20240229").as_deref(), Some("2024-02-29"));
        assert_eq!(date_time("20230229"), None);
    }

    #[test]
    fn adding_minutes_crosses_days_and_keeps_the_offset() {
        let start = Timestamp::parse("202412312345-0500").unwrap();
        let end = start.plus_minutes(30).unwrap();
        assert_eq!(end.date_time(Offset::UTC), "2025-01-01T00:15:00-05:00");
        assert_eq!(Timestamp::parse("20241231").unwrap().plus_minutes(30), None);
    }

    #[test]
    fn times_of_day() {
        assert_eq!(time_of_day("0930").as_deref(), Some("09:30:00"));
        assert_eq!(time_of_day("093015.5").as_deref(), Some("09:30:15.5"));
        assert_eq!(time_of_day("09").as_deref(), Some("09:00:00"));
        assert_eq!(time_of_day("2460"), None);
        assert_eq!(time_of_day("9:30"), None);
    }
}
