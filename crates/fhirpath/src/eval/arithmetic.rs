//! `+ - * / div mod &` and unary minus, including date arithmetic with calendar durations.

use std::borrow::Cow;

use rust_decimal::Decimal;
use rust_decimal::prelude::ToPrimitive;

use crate::error::{Error, Result};
use crate::eval::singleton;
use crate::syntax::ast::BinaryOperator;
use crate::value::{CalendarUnit, Collection, Quantity, Temporal, Value};

fn incompatible(operator: &str, left: &Value<'_>, right: &Value<'_>) -> Error {
    Error::evaluation(
        operator,
        format!(
            "cannot apply '{operator}' to {} and {}",
            left.type_name(),
            right.type_name()
        ),
    )
}

pub(crate) fn negate<'a>(operand: &[Value<'a>]) -> Result<Collection<'a>> {
    let Some(item) = singleton(operand, "-")? else {
        return Ok(Vec::new());
    };
    Ok(match item.to_system().as_ref() {
        Value::Integer(value) => value
            .checked_neg()
            .map(Value::Integer)
            .into_iter()
            .collect(),
        Value::Decimal(value) => vec![Value::Decimal(-*value)],
        Value::Quantity(quantity) => vec![Value::Quantity(Box::new(Quantity::new(
            -quantity.value,
            quantity.unit.clone(),
        )))],
        other => {
            return Err(Error::evaluation(
                "-",
                format!("cannot negate {}", other.type_name()),
            ));
        }
    })
}

fn as_decimal(value: &Value<'_>) -> Option<Decimal> {
    match value {
        Value::Integer(integer) => Some(Decimal::from(*integer)),
        Value::Decimal(decimal) => Some(*decimal),
        _ => None,
    }
}

pub(crate) fn binary<'a>(
    operator: BinaryOperator,
    left: &[Value<'a>],
    right: &[Value<'a>],
) -> Result<Collection<'a>> {
    let symbol = operator.symbol();
    if operator == BinaryOperator::Concatenate {
        let text = |collection: &[Value<'a>]| -> Result<String> {
            Ok(match singleton(collection, symbol)? {
                None => String::new(),
                Some(item) => item
                    .as_str()
                    .ok_or_else(|| {
                        Error::evaluation(
                            symbol,
                            format!("'&' needs strings, got {}", item.type_name()),
                        )
                    })?
                    .to_owned(),
            })
        };
        let joined = text(left)? + &text(right)?;
        return Ok(vec![Value::String(Cow::Owned(joined))]);
    }
    let (Some(left), Some(right)) = (singleton(left, symbol)?, singleton(right, symbol)?) else {
        return Ok(Vec::new());
    };
    let (a, b) = (left.to_system(), right.to_system());
    let result = compute(operator, a.as_ref(), b.as_ref())?;
    Ok(result.into_iter().collect())
}

fn compute<'a>(
    operator: BinaryOperator,
    left: &Value<'a>,
    right: &Value<'a>,
) -> Result<Option<Value<'a>>> {
    use BinaryOperator as Op;
    let symbol = operator.symbol();
    Ok(match (operator, left, right) {
        (Op::Add, Value::String(a), Value::String(b)) => {
            Some(Value::String(Cow::Owned(format!("{a}{b}"))))
        }
        (_, Value::Integer(a), Value::Integer(b)) => match operator {
            Op::Add => a.checked_add(*b).map(Value::Integer),
            Op::Subtract => a.checked_sub(*b).map(Value::Integer),
            Op::Multiply => a.checked_mul(*b).map(Value::Integer),
            Op::Divide => Decimal::from(*a)
                .checked_div(Decimal::from(*b))
                .map(Value::Decimal),
            Op::Div => a.checked_div(*b).map(Value::Integer),
            Op::Mod => a.checked_rem(*b).map(Value::Integer),
            _ => return Err(incompatible(symbol, left, right)),
        },
        (_, Value::Integer(_) | Value::Decimal(_), Value::Integer(_) | Value::Decimal(_)) => {
            let (Some(a), Some(b)) = (as_decimal(left), as_decimal(right)) else {
                return Ok(None);
            };
            match operator {
                Op::Add => a.checked_add(b).map(Value::Decimal),
                Op::Subtract => a.checked_sub(b).map(Value::Decimal),
                Op::Multiply => a.checked_mul(b).map(Value::Decimal),
                Op::Divide => a.checked_div(b).map(Value::Decimal),
                Op::Div => a
                    .checked_div(b)
                    .and_then(|quotient| quotient.trunc().to_i64())
                    .map(Value::Integer),
                Op::Mod => a.checked_rem(b).map(Value::Decimal),
                _ => return Err(incompatible(symbol, left, right)),
            }
        }
        (Op::Add | Op::Subtract, Value::Quantity(a), Value::Quantity(b)) => {
            let Some(converted) = b.convert_to(&a.unit) else {
                return Ok(None);
            };
            let value = if operator == Op::Add {
                a.value.checked_add(converted.value)
            } else {
                a.value.checked_sub(converted.value)
            };
            value.map(|value| Value::Quantity(Box::new(Quantity::new(value, a.unit.clone()))))
        }
        (Op::Multiply, Value::Quantity(a), Value::Quantity(b)) => {
            a.multiply(b).map(|q| Value::Quantity(Box::new(q)))
        }
        (Op::Divide, Value::Quantity(a), Value::Quantity(b)) => {
            a.divide(b).map(|q| Value::Quantity(Box::new(q)))
        }
        (Op::Multiply, Value::Quantity(q), number @ (Value::Integer(_) | Value::Decimal(_)))
        | (Op::Multiply, number @ (Value::Integer(_) | Value::Decimal(_)), Value::Quantity(q)) => {
            as_decimal(number)
                .and_then(|n| q.value.checked_mul(n))
                .map(|value| Value::Quantity(Box::new(Quantity::new(value, q.unit.clone()))))
        }
        (Op::Divide, Value::Quantity(q), number @ (Value::Integer(_) | Value::Decimal(_))) => {
            as_decimal(number)
                .and_then(|n| q.value.checked_div(n))
                .map(|value| Value::Quantity(Box::new(Quantity::new(value, q.unit.clone()))))
        }
        (Op::Add | Op::Subtract, Value::Date(t), Value::Quantity(q)) => Some(Value::Date(shift(
            *t,
            q,
            operator == Op::Subtract,
            Kind::Date,
        )?)),
        (Op::Add | Op::Subtract, Value::DateTime(t), Value::Quantity(q)) => Some(Value::DateTime(
            shift(*t, q, operator == Op::Subtract, Kind::DateTime)?,
        )),
        (Op::Add | Op::Subtract, Value::Time(t), Value::Quantity(q)) => Some(Value::Time(shift(
            *t,
            q,
            operator == Op::Subtract,
            Kind::Time,
        )?)),
        _ => return Err(incompatible(symbol, left, right)),
    })
}

#[derive(PartialEq, Eq, Clone, Copy)]
enum Kind {
    Date,
    DateTime,
    Time,
}

/// The calendar unit a quantity can shift a date by: calendar words, and the UCUM codes of
/// definite durations. UCUM `a` and `mo` are averages and are refused, as the spec says.
fn shift_unit(quantity: &Quantity) -> Option<CalendarUnit> {
    quantity.calendar_unit().or(match quantity.unit.as_str() {
        "wk" => Some(CalendarUnit::Week),
        "d" => Some(CalendarUnit::Day),
        "h" => Some(CalendarUnit::Hour),
        "min" => Some(CalendarUnit::Minute),
        "s" => Some(CalendarUnit::Second),
        "ms" => Some(CalendarUnit::Millisecond),
        _ => None,
    })
}

fn shift(value: Temporal, quantity: &Quantity, subtract: bool, kind: Kind) -> Result<Temporal> {
    let unit = shift_unit(quantity).ok_or_else(|| {
        Error::evaluation(
            if subtract { "-" } else { "+" },
            format!(
                "cannot add '{}' to a date or time; use a calendar duration such as 'day' or 'month'",
                quantity.unit
            ),
        )
    })?;
    let overflow = || Error::evaluation("+", "date arithmetic out of range");
    // Decimal amounts are truncated to whole units of the quantity, as the spec says.
    let mut amount = quantity.value.trunc().to_i64().ok_or_else(overflow)?;
    if subtract {
        amount = amount.checked_neg().ok_or_else(overflow)?;
    }
    let milliseconds = |per_unit: i64| amount.checked_mul(per_unit).ok_or_else(overflow);
    Ok(match unit {
        CalendarUnit::Year if kind != Kind::Time => value
            .add_months(amount.checked_mul(12).ok_or_else(overflow)?)
            .ok_or_else(overflow)?,
        CalendarUnit::Month if kind != Kind::Time => {
            value.add_months(amount).ok_or_else(overflow)?
        }
        CalendarUnit::Week if kind != Kind::Time => value.add_days(milliseconds(7)?),
        CalendarUnit::Day if kind != Kind::Time => value.add_days(amount),
        CalendarUnit::Year | CalendarUnit::Month | CalendarUnit::Week | CalendarUnit::Day => value,
        CalendarUnit::Hour
        | CalendarUnit::Minute
        | CalendarUnit::Second
        | CalendarUnit::Millisecond => {
            let per_unit = match unit {
                CalendarUnit::Hour => 3_600_000,
                CalendarUnit::Minute => 60_000,
                CalendarUnit::Second => 1000,
                _ => 1,
            };
            let total = milliseconds(per_unit)?;
            if value.has_time() {
                value.add_milliseconds(total, kind == Kind::Time)
            } else {
                value.add_days(total / 86_400_000)
            }
        }
    })
}
