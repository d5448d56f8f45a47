//! FHIR date, dateTime and instant values as time ranges, and instants as text.

use medulla_store::Timestamp;
use time::{Date, Month, OffsetDateTime, PrimitiveDateTime, Time, UtcOffset};

/// Formats a timestamp as a FHIR `instant` in UTC with millisecond precision.
///
/// Written digit by digit: every write formats its commit time, on the writer thread.
pub fn format_instant(timestamp: Timestamp) -> String {
    let datetime = to_datetime(timestamp);
    let Ok(year) = u32::try_from(datetime.year()) else {
        return format!(
            "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
            datetime.year(),
            u8::from(datetime.month()),
            datetime.day(),
            datetime.hour(),
            datetime.minute(),
            datetime.second(),
            datetime.millisecond()
        );
    };
    let mut text = String::with_capacity(24);
    let mut push = |value: u32, digits: u32, separator: Option<char>| {
        for place in (0..digits).rev() {
            let digit = value / 10_u32.pow(place) % 10;
            text.push(char::from(b'0' + u8::try_from(digit).unwrap_or(0)));
        }
        if let Some(separator) = separator {
            text.push(separator);
        }
    };
    // Years past 9999 keep every digit, like `{:04}`.
    let year_digits = year.checked_ilog10().map_or(1, |log| log + 1).max(4);
    push(year, year_digits, Some('-'));
    push(u32::from(u8::from(datetime.month())), 2, Some('-'));
    push(u32::from(datetime.day()), 2, Some('T'));
    push(u32::from(datetime.hour()), 2, Some(':'));
    push(u32::from(datetime.minute()), 2, Some(':'));
    push(u32::from(datetime.second()), 2, Some('.'));
    push(u32::from(datetime.millisecond()), 3, Some('Z'));
    text
}

/// The timestamp as a date-time in UTC.
pub fn to_datetime(timestamp: Timestamp) -> OffsetDateTime {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(timestamp.0) * 1000)
        .unwrap_or(OffsetDateTime::UNIX_EPOCH)
}

/// Seconds since the epoch, for HTTP dates.
pub fn to_system_time(timestamp: Timestamp) -> std::time::SystemTime {
    let micros = u64::try_from(timestamp.0).unwrap_or(0);
    std::time::UNIX_EPOCH + std::time::Duration::from_micros(micros)
}

fn micros(datetime: OffsetDateTime) -> i64 {
    i64::try_from(datetime.unix_timestamp_nanos() / 1000).unwrap_or(i64::MAX)
}

fn number(text: &str) -> Option<u32> {
    if text.is_empty() || !text.bytes().all(|b| b.is_ascii_digit()) {
        return None;
    }
    text.parse().ok()
}

/// The half-open range `[start, end)` a FHIR date, dateTime or instant covers, at its own
/// precision: `2020` covers the whole year, `2020-03-01T10:00:00Z` one second. Values without a
/// time zone are taken as UTC.
pub fn parse_range(text: &str) -> Option<(Timestamp, Timestamp)> {
    let (date_part, time_part) = match text.split_once('T') {
        Some((date, time)) => (date, Some(time)),
        None => (text, None),
    };
    let mut pieces = date_part.split('-');
    let year_text = pieces.next()?;
    if year_text.len() != 4 {
        return None;
    }
    let year = i32::try_from(number(year_text)?).ok()?;
    let month_text = pieces.next();
    let day_text = pieces.next();
    if pieces.next().is_some() {
        return None;
    }
    let month = match month_text {
        Some(m) if m.len() == 2 => Some(Month::try_from(u8::try_from(number(m)?).ok()?).ok()?),
        Some(_) => return None,
        None => None,
    };
    let day = match day_text {
        Some(d) if d.len() == 2 => Some(u8::try_from(number(d)?).ok()?),
        Some(_) => return None,
        None => None,
    };
    let utc = |date: Date| PrimitiveDateTime::new(date, Time::MIDNIGHT).assume_utc();
    match (month, day, time_part) {
        (None, None, None) => {
            let start = utc(Date::from_calendar_date(year, Month::January, 1).ok()?);
            let end = utc(Date::from_calendar_date(year.checked_add(1)?, Month::January, 1).ok()?);
            Some((Timestamp(micros(start)), Timestamp(micros(end))))
        }
        (Some(month), None, None) => {
            let start_date = Date::from_calendar_date(year, month, 1).ok()?;
            let (next_year, next_month) = if month == Month::December {
                (year.checked_add(1)?, Month::January)
            } else {
                (year, month.next())
            };
            let end_date = Date::from_calendar_date(next_year, next_month, 1).ok()?;
            Some((
                Timestamp(micros(utc(start_date))),
                Timestamp(micros(utc(end_date))),
            ))
        }
        (Some(month), Some(day), None) => {
            let date = Date::from_calendar_date(year, month, day).ok()?;
            let start = utc(date);
            Some((
                Timestamp(micros(start)),
                Timestamp(micros(start) + 86_400_000_000),
            ))
        }
        (Some(month), Some(day), Some(time_text)) => {
            let date = Date::from_calendar_date(year, month, day).ok()?;
            parse_time_range(date, time_text)
        }
        _ => None,
    }
}

fn parse_time_range(date: Date, text: &str) -> Option<(Timestamp, Timestamp)> {
    // Split off the zone: `Z`, `+hh:mm` or `-hh:mm`.
    let (clock, offset) = if let Some(clock) = text.strip_suffix('Z') {
        (clock, UtcOffset::UTC)
    } else if let Some(position) = text.rfind(['+', '-']) {
        let (clock, zone) = text.split_at(position);
        let sign: i8 = if zone.starts_with('-') { -1 } else { 1 };
        let (hours, minutes) = zone.get(1..)?.split_once(':')?;
        if hours.len() != 2 || minutes.len() != 2 {
            return None;
        }
        let hours = i8::try_from(number(hours)?).ok()?;
        let minutes = i8::try_from(number(minutes)?).ok()?;
        (
            clock,
            UtcOffset::from_hms(sign * hours, sign * minutes, 0).ok()?,
        )
    } else {
        (text, UtcOffset::UTC)
    };
    let mut parts = clock.split(':');
    let hour = u8::try_from(number(parts.next()?)?).ok()?;
    let minute = u8::try_from(number(parts.next()?)?).ok()?;
    let (second, fraction, width) = match parts.next() {
        Some(seconds) => {
            let (whole, fraction) = match seconds.split_once('.') {
                Some((whole, fraction)) => (whole, Some(fraction)),
                None => (seconds, None),
            };
            if whole.len() != 2 {
                return None;
            }
            let second = u8::try_from(number(whole)?).ok()?.min(59);
            match fraction {
                Some(digits) => {
                    let digits = &digits[..digits.len().min(6)];
                    let value = number(digits)?;
                    let scale = 10_u32.pow(6 - u32::try_from(digits.len()).ok()?);
                    (second, value * scale, i64::from(scale))
                }
                None => (second, 0, 1_000_000),
            }
        }
        None => (0, 0, 60_000_000),
    };
    if parts.next().is_some() {
        return None;
    }
    let time = Time::from_hms_micro(hour, minute, second, fraction).ok()?;
    let start = PrimitiveDateTime::new(date, time).assume_offset(offset);
    let start = micros(start);
    Some((Timestamp(start), Timestamp(start + width)))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn range(text: &str) -> Option<(String, String)> {
        parse_range(text).map(|(a, b)| (format_instant(a), format_instant(b)))
    }

    #[test]
    fn instants_are_formatted_like_format_would() {
        let reference = |timestamp: Timestamp| {
            let d = to_datetime(timestamp);
            format!(
                "{:04}-{:02}-{:02}T{:02}:{:02}:{:02}.{:03}Z",
                d.year(),
                u8::from(d.month()),
                d.day(),
                d.hour(),
                d.minute(),
                d.second(),
                d.millisecond()
            )
        };
        // From year 1 to about 9860, in uneven steps that reach every field's range.
        let first = -62_135_596_800_000_000_i64;
        let step = 7_777_777_777_777_i64;
        for k in 0..40_000 {
            let timestamp = Timestamp(first + k * step + k % 1000 * 1000);
            assert_eq!(format_instant(timestamp), reference(timestamp));
        }
        assert_eq!(format_instant(Timestamp(0)), "1970-01-01T00:00:00.000Z");
    }

    #[test]
    fn precision_sets_the_range() {
        assert_eq!(
            range("2020"),
            Some((
                "2020-01-01T00:00:00.000Z".into(),
                "2021-01-01T00:00:00.000Z".into()
            ))
        );
        assert_eq!(
            range("2020-12"),
            Some((
                "2020-12-01T00:00:00.000Z".into(),
                "2021-01-01T00:00:00.000Z".into()
            ))
        );
        assert_eq!(
            range("2020-02-29"),
            Some((
                "2020-02-29T00:00:00.000Z".into(),
                "2020-03-01T00:00:00.000Z".into()
            ))
        );
        assert_eq!(
            range("2020-02-29T10:00:00+02:00"),
            Some((
                "2020-02-29T08:00:00.000Z".into(),
                "2020-02-29T08:00:01.000Z".into()
            ))
        );
        assert_eq!(
            range("2020-02-29T10:00:00.5Z"),
            Some((
                "2020-02-29T10:00:00.500Z".into(),
                "2020-02-29T10:00:00.600Z".into()
            ))
        );
    }

    #[test]
    fn nonsense_is_rejected() {
        for bad in [
            "",
            "20",
            "2020-13",
            "2019-02-29",
            "2020-01-01T25:00:00Z",
            "abcd",
            "2020-1-01",
            "2020-01-01T10:00:00+5",
        ] {
            assert_eq!(parse_range(bad), None, "{bad}");
        }
    }
}
