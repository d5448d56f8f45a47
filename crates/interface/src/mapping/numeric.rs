//! Numbers: NM as a FHIR decimal (the digits kept as sent), units (CE) as Quantity units, SN
//! (structured numeric: `<^5`, `^1^-^2`, `^1^:^128`) as Quantity, Range or Ratio, and
//! reference ranges (`3.5-5.0`, `<5`, `>2`).

use super::datatypes::coding_system;
use super::segment::Parts;
use serde_json::{Number, Value, json};

const UCUM: &str = "http://unitsofmeasure.org";

/// An NM value as a FHIR decimal, keeping its digits (`5.0` stays `5.0`). HL7 allows a
/// leading `+`, leading zeros and a bare decimal point (`+007.`, `.5`), FHIR does not, so
/// those are normalized. `None` when it is not a number.
pub(crate) fn decimal(text: &str) -> Option<Number> {
    let text = text.trim();
    let (negative, unsigned) = match text.as_bytes().first()? {
        b'-' => (true, &text[1..]),
        b'+' => (false, &text[1..]),
        _ => (false, text),
    };
    let (integer, fraction) = unsigned.split_once('.').unwrap_or((unsigned, ""));
    let digits = |part: &str| part.bytes().all(|b| b.is_ascii_digit());
    if (integer.is_empty() && fraction.is_empty()) || !digits(integer) || !digits(fraction) {
        return None;
    }
    let integer = integer.trim_start_matches('0');
    let mut out = String::with_capacity(text.len() + 1);
    if negative {
        out.push('-');
    }
    out.push_str(if integer.is_empty() { "0" } else { integer });
    if !fraction.is_empty() {
        out.push('.');
        out.push_str(fraction);
    }
    out.parse().ok()
}

/// A unit of measure from a CE (OBX-6, RXA-7): the code, its display, and the code system.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Unit {
    /// Human-readable unit (the display, else the code).
    pub unit: Option<String>,
    /// Code system URI (UCUM when the sender names UCUM or no system at all).
    pub system: Option<String>,
    /// The unit code.
    pub code: Option<String>,
}

impl Unit {
    /// Reads a CE unit. Units without a coding system are taken as UCUM, which is what v2.5.1
    /// recommends for units and what senders of bare `mg/dL` mean.
    pub fn from_ce(ce: Option<&Parts<'_>>) -> Unit {
        let Some(ce) = ce else {
            return Unit::default();
        };
        let code = ce.part(1);
        let unit = ce.part(2).or_else(|| code.clone());
        let system = code.as_ref().map(|_| match ce.part(3) {
            None => UCUM.to_owned(),
            Some(system) => coding_system(&system),
        });
        Unit { unit, system, code }
    }
}

/// A Quantity of `value` in `unit`, with an optional comparator.
pub(crate) fn quantity(value: Number, unit: &Unit, comparator: Option<&str>) -> Value {
    json!({
        "value": Value::Number(value),
        "comparator": comparator,
        "unit": unit.unit,
        "system": unit.system,
        "code": unit.code,
    })
}

/// A structured numeric (SN) value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum StructuredNumeric {
    /// `<^5`, `^7`: a number, maybe with a comparator.
    Quantity {
        /// `<`, `<=`, `>=` or `>`.
        comparator: Option<&'static str>,
        /// The number.
        value: Number,
    },
    /// `^1^-^2`: a range.
    Range {
        /// Lower bound.
        low: Number,
        /// Upper bound.
        high: Number,
    },
    /// `^1^:^128` or `^1^/^2`: a ratio.
    Ratio {
        /// Numerator.
        numerator: Number,
        /// Denominator.
        denominator: Number,
    },
    /// What FHIR has no number for (`^2^+`, `<>^3`): the value as text.
    Text(String),
}

/// Reads SN components (comparator, num1, separator/suffix, num2). `None` when a number is
/// malformed or nothing is there.
pub(crate) fn structured_numeric(sn: &Parts<'_>) -> Option<StructuredNumeric> {
    let comparator = sn.part(1);
    let first = sn.part(2);
    let separator = sn.part(3);
    let second = sn.part(4);
    let number = |text: &Option<String>| text.as_deref().map(decimal);
    match (comparator.as_deref(), separator.as_deref(), second.as_ref()) {
        (comparator, None, None) => {
            let value = number(&first)??;
            let comparator = match comparator {
                None | Some("=") => None,
                Some("<") => Some("<"),
                Some(">") => Some(">"),
                Some("<=") => Some("<="),
                Some(">=") => Some(">="),
                Some(other) => return Some(StructuredNumeric::Text(format!("{other}{value}"))),
            };
            Some(StructuredNumeric::Quantity { comparator, value })
        }
        (None | Some("="), Some("-"), Some(_)) => Some(StructuredNumeric::Range {
            low: number(&first)??,
            high: number(&second)??,
        }),
        (None | Some("="), Some(":" | "/"), Some(_)) => Some(StructuredNumeric::Ratio {
            numerator: number(&first)??,
            denominator: number(&second)??,
        }),
        _ => {
            // The numbers must be numbers even when the whole is kept as text.
            if number(&first) == Some(None) || number(&second) == Some(None) {
                return None;
            }
            let text: String = [comparator, first, separator, second]
                .into_iter()
                .flatten()
                .collect();
            (!text.is_empty()).then_some(StructuredNumeric::Text(text))
        }
    }
}

/// An Observation.referenceRange from OBX-7: `3.5-5.0` → low and high, `<5`/`<=5` → high,
/// `>2`/`>=2` → low, in the result's unit; anything else as text.
pub(crate) fn reference_range(text: &str, unit: &Unit) -> Value {
    let text = text.trim();
    let bound = |number: Number| quantity(number, unit, None);
    for (prefix, is_high) in [("<=", true), (">=", false), ("<", true), (">", false)] {
        if let Some(number) = text.strip_prefix(prefix).and_then(decimal) {
            let side = if is_high { "high" } else { "low" };
            let mut range = serde_json::Map::new();
            range.insert(side.to_owned(), bound(number));
            return Value::Object(range);
        }
    }
    // The separating dash is not a leading minus sign.
    let split = text
        .char_indices()
        .skip(1)
        .filter(|(_, c)| *c == '-')
        .find_map(|(at, _)| Some((decimal(&text[..at])?, decimal(&text[at + 1..])?)));
    match split {
        Some((low, high)) => json!({"low": bound(low), "high": bound(high)}),
        None => json!({"text": text}),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::mapping::segment::Seg;
    use medulla_hl7v2::parse;

    fn sn(field: &str) -> Option<StructuredNumeric> {
        let text = format!("MSH|^~\\&|A|B|C|D|20240101||ORU^R01|1|P|2.5.1\rZZZ|{field}\r");
        let message = parse(text.as_bytes(), &Default::default()).unwrap();
        let segment = Seg::first(&message, "ZZZ").unwrap();
        structured_numeric(&segment.parts(1).unwrap())
    }

    fn n(text: &str) -> Number {
        text.parse().unwrap()
    }

    #[test]
    fn decimals_keep_their_digits() {
        for (sent, fhir) in [
            ("5.0", "5.0"),
            ("+007.50", "7.50"),
            (".5", "0.5"),
            ("-.5", "-0.5"),
            ("12.", "12"),
            ("0", "0"),
            ("-3", "-3"),
        ] {
            assert_eq!(
                decimal(sent).map(|d| d.to_string()).as_deref(),
                Some(fhir),
                "{sent}"
            );
        }
        for bad in ["", "-", ".", "1.2.3", "1e5", "five", "1,5", "--1"] {
            assert_eq!(decimal(bad), None, "{bad}");
        }
    }

    #[test]
    fn structured_numerics() {
        assert_eq!(
            sn("<^5"),
            Some(StructuredNumeric::Quantity {
                comparator: Some("<"),
                value: n("5")
            })
        );
        assert_eq!(
            sn(">=^10.5"),
            Some(StructuredNumeric::Quantity {
                comparator: Some(">="),
                value: n("10.5")
            })
        );
        assert_eq!(
            sn("^7"),
            Some(StructuredNumeric::Quantity {
                comparator: None,
                value: n("7")
            })
        );
        assert_eq!(
            sn("=^7"),
            Some(StructuredNumeric::Quantity {
                comparator: None,
                value: n("7")
            })
        );
        assert_eq!(
            sn("^1^-^2"),
            Some(StructuredNumeric::Range {
                low: n("1"),
                high: n("2")
            })
        );
        assert_eq!(
            sn("^1^:^128"),
            Some(StructuredNumeric::Ratio {
                numerator: n("1"),
                denominator: n("128")
            })
        );
        assert_eq!(
            sn("^1^/^2"),
            Some(StructuredNumeric::Ratio {
                numerator: n("1"),
                denominator: n("2")
            })
        );
        assert_eq!(sn("^2^+"), Some(StructuredNumeric::Text("2+".into())));
        assert_eq!(sn("<>^3"), Some(StructuredNumeric::Text("<>3".into())));
        assert_eq!(sn("<^abc"), None);
        assert_eq!(sn("^1^-^x"), None);
        assert_eq!(sn("^"), None);
    }

    #[test]
    fn units_and_reference_ranges() {
        let text = "MSH|^~\\&|A|B|C|D|20240101||ORU^R01|1|P|2.5.1\rZZZ|mmol/L^millimole per liter^UCUM|mg/dL|10*3/uL^^L\r";
        let message = parse(text.as_bytes(), &Default::default()).unwrap();
        let segment = Seg::first(&message, "ZZZ").unwrap();
        let ucum = Unit::from_ce(segment.parts(1).as_ref());
        assert_eq!(ucum.unit.as_deref(), Some("millimole per liter"));
        assert_eq!(
            (ucum.system.as_deref(), ucum.code.as_deref()),
            (Some(UCUM), Some("mmol/L"))
        );
        let bare = Unit::from_ce(segment.parts(2).as_ref());
        assert_eq!(
            (bare.unit.as_deref(), bare.system.as_deref()),
            (Some("mg/dL"), Some(UCUM))
        );
        let local = Unit::from_ce(segment.parts(3).as_ref());
        assert_eq!(local.system.as_deref(), Some("urn:id:L"));
        assert_eq!(Unit::from_ce(None), Unit::default());

        let range = reference_range("3.5-5.0", &ucum);
        assert_eq!(range["low"]["value"], json!(n("3.5")));
        assert_eq!(range["high"]["value"].to_string(), "5.0");
        assert_eq!(range["high"]["code"], "mmol/L");
        assert_eq!(
            reference_range("-1.5-2", &bare)["low"]["value"].to_string(),
            "-1.5"
        );
        assert_eq!(
            reference_range("<5", &bare)["high"]["value"].to_string(),
            "5"
        );
        assert!(reference_range("<5", &bare).get("low").is_none());
        assert_eq!(
            reference_range(">=2", &bare)["low"]["value"].to_string(),
            "2"
        );
        assert_eq!(
            reference_range("negative", &bare),
            json!({"text": "negative"})
        );
    }
}
