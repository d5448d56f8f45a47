//! System quantities: [`Quantity`], with UCUM-aware comparison and calendar durations.

use std::cmp::Ordering;
use std::fmt;

use rust_decimal::Decimal;

use crate::value::ucum::{self, Reduced};

/// A FHIRPath System.Quantity: a decimal value and a unit, which is a UCUM code (`mg`, `'1'`
/// for none) or a calendar duration word (`year`, `days`).
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Quantity {
    /// The number.
    pub value: Decimal,
    /// The unit as written, without quotes.
    pub unit: String,
}

/// The calendar duration units, by their singular word.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum CalendarUnit {
    Year,
    Month,
    Week,
    Day,
    Hour,
    Minute,
    Second,
    Millisecond,
}

impl CalendarUnit {
    pub(crate) fn from_word(word: &str) -> Option<CalendarUnit> {
        Some(match word.strip_suffix('s').unwrap_or(word) {
            "year" => Self::Year,
            "month" => Self::Month,
            "week" => Self::Week,
            "day" => Self::Day,
            "hour" => Self::Hour,
            "minute" => Self::Minute,
            "second" => Self::Second,
            "millisecond" => Self::Millisecond,
            _ => return None,
        })
    }

    /// The UCUM code with the same definite length (`None` for years and months, whose UCUM
    /// counterparts `a` and `mo` are averages, not calendar units).
    fn ucum_code(self) -> Option<&'static str> {
        Some(match self {
            Self::Year | Self::Month => return None,
            Self::Week => "wk",
            Self::Day => "d",
            Self::Hour => "h",
            Self::Minute => "min",
            Self::Second => "s",
            Self::Millisecond => "ms",
        })
    }
}

/// A quantity's unit ready for comparison.
enum Comparable {
    /// Calendar years and months, counted in months.
    CalendarMonths(Decimal),
    /// A UCUM unit reduced to base units: the value in those, and the dimensions.
    Ucum(Decimal, Reduced),
    /// A unit this engine cannot reduce: compared only with the same text.
    Opaque,
}

impl Quantity {
    /// Creates a quantity.
    pub fn new(value: Decimal, unit: impl Into<String>) -> Quantity {
        Quantity {
            value,
            unit: unit.into(),
        }
    }

    /// The calendar unit, when the unit is a calendar word (`week`, `days`).
    pub(crate) fn calendar_unit(&self) -> Option<CalendarUnit> {
        CalendarUnit::from_word(&self.unit)
    }

    fn comparable(&self) -> Comparable {
        let ucum_code = match self.calendar_unit() {
            Some(CalendarUnit::Year) => {
                return Comparable::CalendarMonths(self.value * Decimal::from(12));
            }
            Some(CalendarUnit::Month) => return Comparable::CalendarMonths(self.value),
            Some(other) => other.ucum_code().unwrap_or("1"),
            None => self.unit.as_str(),
        };
        match ucum::reduce(ucum_code) {
            Some(reduced) => match self.value.checked_mul(reduced.factor) {
                Some(value) => Comparable::Ucum(value, reduced),
                None => Comparable::Opaque,
            },
            None => Comparable::Opaque,
        }
    }

    /// Compares two quantities: `None` when their units cannot be compared (different
    /// dimensions, calendar years or months against UCUM units, unknown units that differ).
    pub fn compare(&self, other: &Quantity) -> Option<Ordering> {
        match (self.comparable(), other.comparable()) {
            (Comparable::CalendarMonths(a), Comparable::CalendarMonths(b)) => Some(a.cmp(&b)),
            (Comparable::Ucum(a, unit_a), Comparable::Ucum(b, unit_b)) => {
                (unit_a.dimensions == unit_b.dimensions).then(|| a.cmp(&b))
            }
            (Comparable::Opaque, Comparable::Opaque) if self.unit == other.unit => {
                Some(self.value.cmp(&other.value))
            }
            _ => None,
        }
    }

    /// `other` converted to this quantity's unit, when the two are commensurable.
    pub(crate) fn convert_to(&self, unit: &str) -> Option<Quantity> {
        if self.unit == unit {
            return Some(self.clone());
        }
        let target = Quantity::new(Decimal::ONE, unit);
        match (self.comparable(), target.comparable()) {
            (Comparable::CalendarMonths(a), Comparable::CalendarMonths(b)) => {
                Some(Quantity::new(a.checked_div(b)?, unit))
            }
            (Comparable::Ucum(a, unit_a), Comparable::Ucum(b, unit_b))
                if unit_a.dimensions == unit_b.dimensions =>
            {
                Some(Quantity::new(a.checked_div(b)?.normalize(), unit))
            }
            _ => None,
        }
    }

    /// Whether two quantities are equivalent (`~`): commensurable, and equal once `other` is in
    /// this unit and both are rounded to the coarser of the two scales.
    pub fn is_equivalent(&self, other: &Quantity) -> bool {
        let Some(converted) = other.convert_to(&self.unit) else {
            return false;
        };
        crate::value::decimal_equivalent(self.value, converted.value)
    }

    /// The unit written for `*` and `/` results: calendar words become their UCUM codes.
    fn ucum_unit(&self) -> Option<String> {
        match self.calendar_unit() {
            Some(calendar) => calendar.ucum_code().map(str::to_owned),
            None => Some(self.unit.clone()),
        }
    }

    /// `self * other`.
    pub(crate) fn multiply(&self, other: &Quantity) -> Option<Quantity> {
        let (left, right) = (self.ucum_unit()?, other.ucum_unit()?);
        let unit = match (left.as_str(), right.as_str()) {
            ("1", unit) | (unit, "1") => unit.to_owned(),
            (a, b) => format!("({a}).({b})"),
        };
        Some(Quantity::new(self.value.checked_mul(other.value)?, unit))
    }

    /// `self / other`.
    pub(crate) fn divide(&self, other: &Quantity) -> Option<Quantity> {
        let (left, right) = (self.ucum_unit()?, other.ucum_unit()?);
        let value = self.value.checked_div(other.value)?;
        let unit = if left == right {
            "1".to_owned()
        } else if right == "1" {
            left
        } else {
            format!("({left})/({right})")
        };
        Some(Quantity::new(value, unit))
    }
}

/// `4 'mg'`, or `4 days` for calendar words.
impl fmt::Display for Quantity {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        if self.calendar_unit().is_some() {
            write!(f, "{} {}", self.value, self.unit)
        } else {
            write!(f, "{} '{}'", self.value, self.unit)
        }
    }
}
