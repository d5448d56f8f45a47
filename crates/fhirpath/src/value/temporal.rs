//! Dates, date-times and times with partial precision: [`Temporal`], [`Precision`].

use std::cmp::Ordering;
use std::fmt;

/// How much of a date, date-time or time is known.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Precision {
    /// `2020`
    Year,
    /// `2020-01`
    Month,
    /// `2020-01-31`
    Day,
    /// `T10`
    Hour,
    /// `T10:30`
    Minute,
    /// `T10:30:15`
    Second,
    /// `T10:30:15.123`
    Millisecond,
}

impl Precision {
    /// Seconds and milliseconds count as one precision when comparing (the spec's rule that
    /// `10:30:00` equals `10:30:00.0`).
    fn comparison_level(self) -> Precision {
        if self == Precision::Millisecond {
            Precision::Second
        } else {
            self
        }
    }
}

/// A partial date, date-time or time. Which of the three it is lives in the enclosing
/// [`crate::Value`] variant; a time uses only the fields from `hour` on.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Temporal {
    /// Year (dates and date-times).
    pub year: i32,
    /// Month 1–12, 1 when not known.
    pub month: u8,
    /// Day 1–31, 1 when not known.
    pub day: u8,
    /// Hour 0–23.
    pub hour: u8,
    /// Minute 0–59.
    pub minute: u8,
    /// Second 0–59.
    pub second: u8,
    /// Millisecond 0–999.
    pub millisecond: u16,
    /// The most precise field known.
    pub precision: Precision,
    /// Zone offset in minutes east of UTC, when given.
    pub offset_minutes: Option<i16>,
}

fn two_digits(text: &str) -> Option<u8> {
    (text.len() == 2 && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

pub(crate) fn days_in_month(year: i32, month: u8) -> u8 {
    match month {
        4 | 6 | 9 | 11 => 30,
        2 if (year % 4 == 0 && year % 100 != 0) || year % 400 == 0 => 29,
        2 => 28,
        _ => 31,
    }
}

impl Temporal {
    const EMPTY: Temporal = Temporal {
        year: 0,
        month: 1,
        day: 1,
        hour: 0,
        minute: 0,
        second: 0,
        millisecond: 0,
        precision: Precision::Year,
        offset_minutes: None,
    };

    /// Parses `YYYY`, `YYYY-MM` or `YYYY-MM-DD`.
    pub fn parse_date(text: &str) -> Option<Temporal> {
        let mut value = Temporal::EMPTY;
        let mut parts = text.split('-');
        let year = parts.next()?;
        if year.len() != 4 || !year.bytes().all(|b| b.is_ascii_digit()) {
            return None;
        }
        value.year = year.parse().ok()?;
        if let Some(month) = parts.next() {
            value.month = two_digits(month).filter(|m| (1..=12).contains(m))?;
            value.precision = Precision::Month;
        }
        if let Some(day) = parts.next() {
            value.day = two_digits(day)
                .filter(|&d| d >= 1 && d <= days_in_month(value.year, value.month))?;
            value.precision = Precision::Day;
        }
        if parts.next().is_some() {
            return None;
        }
        Some(value)
    }

    /// Parses `HH`, `HH:MM`, `HH:MM:SS` or `HH:MM:SS.fff…` (any number of fraction digits, of
    /// which the first three are kept) into the time fields of `self`.
    fn parse_time_into(&mut self, text: &str) -> Option<()> {
        let mut parts = text.splitn(3, ':');
        self.hour = two_digits(parts.next()?).filter(|h| *h < 24)?;
        self.precision = Precision::Hour;
        if let Some(minute) = parts.next() {
            self.minute = two_digits(minute).filter(|m| *m < 60)?;
            self.precision = Precision::Minute;
        }
        if let Some(second) = parts.next() {
            let (whole, fraction) = match second.split_once('.') {
                Some((whole, fraction)) => (whole, Some(fraction)),
                None => (second, None),
            };
            self.second = two_digits(whole).filter(|s| *s < 60)?;
            self.precision = Precision::Second;
            if let Some(fraction) = fraction {
                if fraction.is_empty() || !fraction.bytes().all(|b| b.is_ascii_digit()) {
                    return None;
                }
                let mut millisecond = 0u16;
                for position in 0..3 {
                    let digit = fraction.as_bytes().get(position).map_or(0, |b| b - b'0');
                    millisecond = millisecond * 10 + u16::from(digit);
                }
                self.millisecond = millisecond;
                self.precision = Precision::Millisecond;
            }
        }
        Some(())
    }

    /// Parses a time without `T`: `10`, `10:30`, `10:30:00.123`.
    pub fn parse_time(text: &str) -> Option<Temporal> {
        let mut value = Temporal::EMPTY;
        value.parse_time_into(text)?;
        Some(value)
    }

    /// Parses a date-time: a date, optionally `T`, a time and a zone (`Z`, `+10:00`). A date
    /// alone, or followed by a bare `T`, is a date-time at that date's precision.
    pub fn parse_date_time(text: &str) -> Option<Temporal> {
        let (date, rest) = match text.split_once('T') {
            Some((date, rest)) => (date, rest),
            None => (text, ""),
        };
        let mut value = Temporal::parse_date(date)?;
        if rest.is_empty() {
            return Some(value);
        }
        if value.precision != Precision::Day {
            return None;
        }
        let (time, offset) = if let Some(time) = rest.strip_suffix('Z') {
            (time, Some(0))
        } else if let Some(position) = rest.rfind(['+', '-']) {
            let (time, zone) = rest.split_at(position);
            let sign: i16 = if zone.starts_with('-') { -1 } else { 1 };
            let (hours, minutes) = zone.get(1..)?.split_once(':')?;
            let hours = i16::from(two_digits(hours).filter(|h| *h <= 14)?);
            let minutes = i16::from(two_digits(minutes).filter(|m| *m < 60)?);
            (time, Some(sign * (hours * 60 + minutes)))
        } else {
            (rest, None)
        };
        value.parse_time_into(time)?;
        value.offset_minutes = offset;
        Some(value)
    }

    /// Whether the value has a time of day.
    pub fn has_time(&self) -> bool {
        self.precision >= Precision::Hour
    }

    /// Moves a date-time with a zone to UTC (the zone then reads `+00:00`).
    pub(crate) fn to_utc(self) -> Temporal {
        let Some(offset) = self.offset_minutes else {
            return self;
        };
        if offset == 0 || !self.has_time() {
            return self;
        }
        let mut result = self;
        let total = i64::from(self.hour) * 60 + i64::from(self.minute) - i64::from(offset);
        let day_shift = total.div_euclid(24 * 60);
        let minutes_of_day = total.rem_euclid(24 * 60);
        result.hour = u8::try_from(minutes_of_day / 60).unwrap_or(0);
        result.minute = u8::try_from(minutes_of_day % 60).unwrap_or(0);
        result = result.add_days(day_shift);
        result.offset_minutes = Some(0);
        result
    }

    /// Adds whole days to the date part, keeping precision.
    pub(crate) fn add_days(self, days: i64) -> Temporal {
        let Some(date) = self.to_time_date() else {
            return self;
        };
        let Some(shifted) = date.checked_add(time::Duration::days(days)) else {
            return self;
        };
        let mut result = self;
        result.year = shifted.year();
        result.month = u8::from(shifted.month());
        result.day = shifted.day();
        result
    }

    fn to_time_date(self) -> Option<time::Date> {
        let month = time::Month::try_from(self.month).ok()?;
        time::Date::from_calendar_date(self.year, month, self.day).ok()
    }

    /// Adds months, clamping the day to the end of the month (Jan 31 + 1 month = Feb 28).
    pub(crate) fn add_months(self, months: i64) -> Option<Temporal> {
        let total = i64::from(self.year) * 12 + i64::from(self.month) - 1 + months;
        let mut result = self;
        result.year = i32::try_from(total.div_euclid(12)).ok()?;
        result.month = u8::try_from(total.rem_euclid(12) + 1).ok()?;
        if !(1..=9999).contains(&result.year) {
            return None;
        }
        result.day = result.day.min(days_in_month(result.year, result.month));
        Some(result)
    }

    /// Adds milliseconds to a value with a time of day, carrying into the date for date-times
    /// (`wrap_days` false) or wrapping around midnight for times.
    pub(crate) fn add_milliseconds(self, milliseconds: i64, wrap_days: bool) -> Temporal {
        let of_day = ((i64::from(self.hour) * 60 + i64::from(self.minute)) * 60
            + i64::from(self.second))
            * 1000
            + i64::from(self.millisecond);
        let total = of_day.saturating_add(milliseconds);
        let day_shift = total.div_euclid(86_400_000);
        let within = total.rem_euclid(86_400_000);
        let mut result = self;
        result.hour = u8::try_from(within / 3_600_000).unwrap_or(0);
        result.minute = u8::try_from(within / 60_000 % 60).unwrap_or(0);
        result.second = u8::try_from(within / 1000 % 60).unwrap_or(0);
        result.millisecond = u16::try_from(within % 1000).unwrap_or(0);
        if wrap_days {
            result
        } else {
            result.add_days(day_shift)
        }
    }

    /// Compares two values of the same kind. `None` when the answer is unknown: they agree up
    /// to the coarser precision but their precisions differ, or only one has a zone.
    pub fn compare(&self, other: &Temporal) -> Option<Ordering> {
        let (left, right) = if self.has_time() && other.has_time() {
            match (self.offset_minutes, other.offset_minutes) {
                (Some(_), Some(_)) => (self.to_utc(), other.to_utc()),
                (None, None) => (*self, *other),
                _ => return None,
            }
        } else {
            (*self, *other)
        };
        let left_level = left.precision.comparison_level();
        let right_level = right.precision.comparison_level();
        let common = left_level.min(right_level);
        let fields = |t: &Temporal| {
            [
                i64::from(t.year),
                i64::from(t.month),
                i64::from(t.day),
                i64::from(t.hour),
                i64::from(t.minute),
                i64::from(t.second) * 1000 + i64::from(t.millisecond),
            ]
        };
        let levels = [
            Precision::Year,
            Precision::Month,
            Precision::Day,
            Precision::Hour,
            Precision::Minute,
            Precision::Second,
        ];
        let (left_fields, right_fields) = (fields(&left), fields(&right));
        for ((level, a), b) in levels.iter().zip(left_fields).zip(right_fields) {
            if *level > common {
                break;
            }
            match a.cmp(&b) {
                Ordering::Equal => {}
                unequal => return Some(unequal),
            }
        }
        (left_level == right_level).then_some(Ordering::Equal)
    }

    /// Compares two times (no dates involved).
    pub fn compare_time(&self, other: &Temporal) -> Option<Ordering> {
        let mut left = *self;
        let mut right = *other;
        for value in [&mut left, &mut right] {
            value.year = 2000;
            value.month = 1;
            value.day = 1;
            value.offset_minutes = None;
        }
        left.compare(&right)
    }

    /// Writes the date part at its precision.
    fn write_date(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:04}", self.year)?;
        if self.precision >= Precision::Month {
            write!(f, "-{:02}", self.month)?;
        }
        if self.precision >= Precision::Day {
            write!(f, "-{:02}", self.day)?;
        }
        Ok(())
    }

    fn write_time(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:02}", self.hour)?;
        if self.precision >= Precision::Minute {
            write!(f, ":{:02}", self.minute)?;
        }
        if self.precision >= Precision::Second {
            write!(f, ":{:02}", self.second)?;
        }
        if self.precision >= Precision::Millisecond {
            write!(f, ".{:03}", self.millisecond)?;
        }
        Ok(())
    }

    fn write_offset(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.offset_minutes {
            Some(0) => f.write_str("Z"),
            Some(offset) => {
                let sign = if offset < 0 { '-' } else { '+' };
                let offset = offset.unsigned_abs();
                write!(f, "{sign}{:02}:{:02}", offset / 60, offset % 60)
            }
            None => Ok(()),
        }
    }

    /// Displays as a date: `2020-01-31`.
    pub fn display_date(&self) -> impl fmt::Display + '_ {
        Shown(self, Kind::Date)
    }

    /// Displays as a date-time: `2020-01-31T10:00:00.000+10:00`; at date precision, the date.
    pub fn display_date_time(&self) -> impl fmt::Display + '_ {
        Shown(self, Kind::DateTime)
    }

    /// Displays as a time without `T`: `10:00:00.000`.
    pub fn display_time(&self) -> impl fmt::Display + '_ {
        Shown(self, Kind::Time)
    }
}

#[derive(Clone, Copy)]
enum Kind {
    Date,
    DateTime,
    Time,
}

struct Shown<'t>(&'t Temporal, Kind);

impl fmt::Display for Shown<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let value = self.0;
        match self.1 {
            Kind::Date => value.write_date(f),
            Kind::Time => value.write_time(f),
            Kind::DateTime => {
                value.write_date(f)?;
                if value.has_time() {
                    f.write_str("T")?;
                    value.write_time(f)?;
                    value.write_offset(f)?;
                }
                Ok(())
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints_at_precision() {
        let value = Temporal::parse_date_time("2015-02-04T14:34:28.1+10:00");
        assert_eq!(
            value.map(|v| v.display_date_time().to_string()),
            Some("2015-02-04T14:34:28.100+10:00".to_owned())
        );
        assert_eq!(Temporal::parse_date("2015-02-30"), None);
        assert_eq!(
            Temporal::parse_date_time("2015").map(|v| v.precision),
            Some(Precision::Year)
        );
    }

    #[test]
    fn differing_precision_compares_as_unknown() {
        let month = Temporal::parse_date("2018-03");
        let day = Temporal::parse_date("2018-03-01");
        let later = Temporal::parse_date("2018-04-01");
        assert_eq!(month.zip(day).and_then(|(a, b)| a.compare(&b)), None);
        assert_eq!(
            month.zip(later).and_then(|(a, b)| a.compare(&b)),
            Some(Ordering::Less)
        );
    }
}
