//! `toX()` and `convertsToX()`: conversions between System types.

use std::borrow::Cow;

use rust_decimal::Decimal;

use crate::value::{CalendarUnit, Precision, Quantity, Temporal, Value};

/// The conversion targets.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Target {
    Boolean,
    Integer,
    Decimal,
    String,
    Date,
    DateTime,
    Time,
    Quantity,
}

fn is_integer_text(text: &str) -> bool {
    let digits = text.strip_prefix(['+', '-']).unwrap_or(text);
    !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit())
}

fn is_decimal_text(text: &str) -> bool {
    let unsigned = text.strip_prefix(['+', '-']).unwrap_or(text);
    match unsigned.split_once('.') {
        Some((whole, fraction)) => {
            is_integer_text(whole) && is_integer_text(fraction) && !fraction.starts_with(['+', '-'])
        }
        None => is_integer_text(unsigned),
    }
}

/// Parses `'4 days'`, `"1 'wk'"`, `'1.5'` as a quantity. A bare UCUM code without quotes is
/// not a quantity (`'1 wk'`), only a calendar word is.
pub(crate) fn parse_quantity(text: &str) -> Option<Quantity> {
    let text = text.trim();
    let (number, unit) = match text.split_once(' ') {
        Some((number, unit)) => (number, unit.trim()),
        None => (text, ""),
    };
    if !is_decimal_text(number) {
        return None;
    }
    let value: Decimal = number.parse().ok()?;
    let unit = if unit.is_empty() {
        "1".to_owned()
    } else if let Some(quoted) = unit.strip_prefix('\'').and_then(|u| u.strip_suffix('\'')) {
        quoted.to_owned()
    } else if CalendarUnit::from_word(unit).is_some() {
        unit.to_owned()
    } else {
        return None;
    };
    Some(Quantity::new(value, unit))
}

fn decimal_text(value: Decimal) -> String {
    value.to_string()
}

/// Converts one System value (primitive nodes already turned into System values).
pub(crate) fn convert<'a>(value: &Value<'a>, target: Target) -> Option<Value<'a>> {
    Some(match (target, value) {
        (Target::Boolean, Value::Boolean(b)) => Value::Boolean(*b),
        (Target::Boolean, Value::Integer(1)) => Value::Boolean(true),
        (Target::Boolean, Value::Integer(0)) => Value::Boolean(false),
        (Target::Boolean, Value::Decimal(d)) if *d == Decimal::ONE => Value::Boolean(true),
        (Target::Boolean, Value::Decimal(d)) if d.is_zero() => Value::Boolean(false),
        (Target::Boolean, Value::String(text)) => match text.to_lowercase().as_str() {
            "true" | "t" | "yes" | "y" | "1" | "1.0" => Value::Boolean(true),
            "false" | "f" | "no" | "n" | "0" | "0.0" => Value::Boolean(false),
            _ => return None,
        },
        (Target::Integer, Value::Integer(i)) => Value::Integer(*i),
        (Target::Integer, Value::Boolean(b)) => Value::Integer(i64::from(*b)),
        (Target::Integer, Value::String(text)) if is_integer_text(text) => {
            Value::Integer(text.parse().ok()?)
        }
        (Target::Decimal, Value::Integer(i)) => Value::Decimal(Decimal::from(*i)),
        (Target::Decimal, Value::Decimal(d)) => Value::Decimal(*d),
        (Target::Decimal, Value::Boolean(b)) => Value::Decimal(if *b {
            Decimal::new(10, 1)
        } else {
            Decimal::new(0, 1)
        }),
        (Target::Decimal, Value::String(text)) if is_decimal_text(text) => {
            Value::Decimal(text.parse().ok()?)
        }
        (Target::String, other) => Value::String(Cow::Owned(to_text(other)?)),
        (Target::Date, Value::Date(t)) => Value::Date(*t),
        (Target::Date, Value::DateTime(t)) => {
            let mut date = *t;
            date.precision = date.precision.min(Precision::Day);
            date.offset_minutes = None;
            Value::Date(date)
        }
        (Target::Date, Value::String(text)) => match Temporal::parse_date(text) {
            Some(date) => Value::Date(date),
            None => {
                return convert(
                    &Value::DateTime(Temporal::parse_date_time(text)?),
                    Target::Date,
                );
            }
        },
        (Target::DateTime, Value::DateTime(t) | Value::Date(t)) => Value::DateTime(*t),
        (Target::DateTime, Value::String(text)) => {
            Value::DateTime(Temporal::parse_date_time(text)?)
        }
        (Target::Time, Value::Time(t)) => Value::Time(*t),
        (Target::Time, Value::String(text)) => Value::Time(Temporal::parse_time(text)?),
        (Target::Quantity, Value::Quantity(q)) => Value::Quantity(q.clone()),
        (Target::Quantity, Value::Integer(i)) => {
            Value::Quantity(Box::new(Quantity::new(Decimal::from(*i), "1")))
        }
        (Target::Quantity, Value::Decimal(d)) => Value::Quantity(Box::new(Quantity::new(*d, "1"))),
        (Target::Quantity, Value::Boolean(b)) => Value::Quantity(Box::new(Quantity::new(
            if *b {
                Decimal::new(10, 1)
            } else {
                Decimal::new(0, 1)
            },
            "1",
        ))),
        (Target::Quantity, Value::String(text)) => Value::Quantity(Box::new(parse_quantity(text)?)),
        _ => return None,
    })
}

/// The `toString()` text of a value.
pub(crate) fn to_text(value: &Value<'_>) -> Option<String> {
    Some(match value {
        Value::Boolean(b) => b.to_string(),
        Value::Integer(i) => i.to_string(),
        Value::Decimal(d) => decimal_text(*d),
        Value::String(text) => text.to_string(),
        Value::Date(t) => t.display_date().to_string(),
        Value::DateTime(t) => t.display_date_time().to_string(),
        Value::Time(t) => t.display_time().to_string(),
        Value::Quantity(q) => q.to_string(),
        Value::Node(_) | Value::TypeInfo(_) => return None,
    })
}
