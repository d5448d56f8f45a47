//! Simulated time: seconds since the Unix epoch (UTC), rendered as FHIR `date`, `dateTime` and
//! `instant` text in a patient's local offset.
//!
//! The population is simulated up to a fixed [`NOW`] rather than the wall clock, so that output
//! depends only on the seed.

use crate::json::push_padded;

/// 2025-01-01T00:00:00Z: the end of every simulated life history.
pub(crate) const NOW: i64 = 1_735_689_600;

pub(crate) const MINUTE: i64 = 60;
pub(crate) const HOUR: i64 = 60 * MINUTE;
pub(crate) const DAY: i64 = 24 * HOUR;
/// Mean Gregorian year in seconds.
pub(crate) const YEAR: i64 = 31_556_952;

/// Converts days since 1970-01-01 into a proleptic Gregorian (year, month, day).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    // Howard Hinnant's `civil_from_days` algorithm.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let day_of_era = z.rem_euclid(146_097);
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
    (year, month as u32, day as u32)
}

/// Calendar year of `time` in the given offset.
pub(crate) fn year_of(time: i64, offset_minutes: i32) -> i64 {
    let local = time + i64::from(offset_minutes) * MINUTE;
    civil_from_days(local.div_euclid(DAY)).0
}

fn push_local_date(buf: &mut String, local: i64) {
    let (year, month, day) = civil_from_days(local.div_euclid(DAY));
    push_padded(buf, year.max(0) as u64, 4);
    buf.push('-');
    push_padded(buf, u64::from(month), 2);
    buf.push('-');
    push_padded(buf, u64::from(day), 2);
}

/// Appends a FHIR `date` (`YYYY-MM-DD`) for `time` in the given offset.
pub(crate) fn push_date(buf: &mut String, time: i64, offset_minutes: i32) {
    push_local_date(buf, time + i64::from(offset_minutes) * MINUTE);
}

fn push_date_time_parts(buf: &mut String, time: i64, offset_minutes: i32, millis: bool) {
    let local = time + i64::from(offset_minutes) * MINUTE;
    push_local_date(buf, local);
    let seconds_of_day = local.rem_euclid(DAY) as u64;
    buf.push('T');
    push_padded(buf, seconds_of_day / 3600, 2);
    buf.push(':');
    push_padded(buf, seconds_of_day / 60 % 60, 2);
    buf.push(':');
    push_padded(buf, seconds_of_day % 60, 2);
    if millis {
        buf.push_str(".000");
    }
    buf.push(if offset_minutes < 0 { '-' } else { '+' });
    let offset = u64::from(offset_minutes.unsigned_abs());
    push_padded(buf, offset / 60, 2);
    buf.push(':');
    push_padded(buf, offset % 60, 2);
}

/// Appends a FHIR `dateTime` with seconds and offset, e.g. `2015-03-02T10:15:00-05:00`.
pub(crate) fn push_date_time(buf: &mut String, time: i64, offset_minutes: i32) {
    push_date_time_parts(buf, time, offset_minutes, false);
}

/// Appends a FHIR `instant` with milliseconds, e.g. `2015-03-02T10:15:00.000-05:00`.
pub(crate) fn push_instant(buf: &mut String, time: i64, offset_minutes: i32) {
    push_date_time_parts(buf, time, offset_minutes, true);
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn converts_known_days() {
        assert_eq!(civil_from_days(0), (1970, 1, 1));
        assert_eq!(civil_from_days(-1), (1969, 12, 31));
        assert_eq!(civil_from_days(NOW / DAY), (2025, 1, 1));
        assert_eq!(civil_from_days(11_016), (2000, 2, 29));
    }

    #[test]
    fn formats_date_time_with_offset() {
        // 2015-03-02T15:15:00Z
        let time = 1_425_309_300;
        let mut text = String::new();
        push_date_time(&mut text, time, -300);
        assert_eq!(text, "2015-03-02T10:15:00-05:00");
        text.clear();
        push_instant(&mut text, time, 330);
        assert_eq!(text, "2015-03-02T20:45:00.000+05:30");
        text.clear();
        push_date(&mut text, -1_000_000_000, -300);
        assert_eq!(text, "1938-04-24");
    }
}
