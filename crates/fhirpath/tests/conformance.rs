//! The HL7 FHIRPath R4 suite (`tests/data/hl7-r4/`), run in-process with the comparison rules
//! of the shared `run_medulla.py`. Prints `N passed, M failed` and the failing ids, and fails
//! if a case outside `known-failures.txt` fails or a listed case passes.

#![allow(
    clippy::unwrap_used,
    reason = "a malformed test file should fail the test loudly"
)]

use std::collections::BTreeSet;
use std::path::Path;

use regex::Regex;
use rust_decimal::Decimal;
use serde_json::Value as Json;

fn data_dir() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/hl7-r4"))
}

fn decimal(text: &str) -> Option<Decimal> {
    let text = text.trim();
    if text.contains(['e', 'E']) {
        Decimal::from_scientific(text).ok()
    } else {
        text.parse().ok()
    }
}

fn decimal_equal(a: &str, b: &str) -> bool {
    matches!((decimal(a), decimal(b)), (Some(a), Some(b)) if a == b)
}

struct Rules {
    number: Regex,
    quantity: Regex,
    instant: Regex,
    seconds: Regex,
}

impl Rules {
    fn new() -> Rules {
        Rules {
            number: Regex::new(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$").unwrap(),
            quantity: Regex::new(r"^\s*([+-]?\d+(?:\.\d+)?)\s*(?:'([^']*)'|([A-Za-z]+))?\s*$")
                .unwrap(),
            instant: Regex::new(
                r"^(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2})(?::(\d{2})\.(\d+))?([+-])(\d{2}):(\d{2})$",
            )
            .unwrap(),
            seconds: Regex::new(r"(\d{2}:\d{2}:\d{2})(\.\d+)?(([+-]\d{2}:\d{2})?)$").unwrap(),
        }
    }

    fn normalize_temporal(&self, text: &str) -> String {
        let mut s = text.trim();
        s = s.strip_prefix('@').unwrap_or(s);
        s = s.strip_prefix('T').unwrap_or(s);
        s = s.strip_suffix('T').unwrap_or(s);
        let mut s = match s.strip_suffix('Z') {
            Some(rest) => format!("{rest}+00:00"),
            None => s.to_owned(),
        };
        if let Some(captures) = self.seconds.captures(&s.clone()) {
            let whole = captures.get(0).unwrap();
            let fraction = captures.get(2).map_or("", |m| &m.as_str()[1..]);
            let fraction = format!("{fraction}000");
            let replaced = format!(
                "{}.{}{}",
                &captures[1],
                &fraction[..3],
                captures.get(3).map_or("", |m| m.as_str())
            );
            s.replace_range(whole.range(), &replaced);
        }
        s
    }

    fn temporal_key(&self, text: &str) -> String {
        let n = self.normalize_temporal(text);
        let Some(c) = self.instant.captures(&n) else {
            return format!("S:{n}");
        };
        let int = |i: usize| c.get(i).map_or(0, |m| m.as_str().parse::<i64>().unwrap());
        let (y, mo, d, h, mi) = (int(1), int(2), int(3), int(4), int(5));
        let sec = int(6);
        let ms = c
            .get(7)
            .map_or(0, |m| m.as_str()[..3.min(m.len())].parse::<i64>().unwrap());
        let days = days_from_civil(y, mo, d);
        let epoch_ms = (((days * 24 + h) * 60 + mi) * 60 + sec) * 1000 + ms;
        let sign = if &c[8] == "-" { -1 } else { 1 };
        let offset = sign * (int(9) * 60 + int(10)) * 60_000;
        let precision = if c.get(6).is_some() { "sec" } else { "min" };
        format!("I:{precision}:{}", epoch_ms - offset)
    }

    fn infer_type(&self, value: &str) -> &'static str {
        if value == "true" || value == "false" {
            "boolean"
        } else if value.starts_with("@T") {
            "time"
        } else if value.starts_with('@') {
            if value.contains('T') {
                "dateTime"
            } else {
                "date"
            }
        } else if self.number.is_match(value.trim()) {
            "decimal"
        } else if self.quantity.is_match(value) {
            "Quantity"
        } else {
            "string"
        }
    }

    fn parse_quantity(&self, item: &Json) -> Option<(String, Vec<String>)> {
        match item {
            Json::String(text) => {
                let c = self.quantity.captures(text)?;
                let unit = c
                    .get(2)
                    .or(c.get(3))
                    .map_or(String::new(), |m| m.as_str().to_owned());
                Some((c[1].to_owned(), vec![unit]))
            }
            Json::Object(object) => {
                let value = match object.get("value")? {
                    Json::Number(n) => n.as_str().to_owned(),
                    Json::String(s) if self.number.is_match(s) => s.clone(),
                    _ => return None,
                };
                let mut units = Vec::new();
                if let Some(code) = object.get("code") {
                    units.push(json_text(code));
                }
                if let Some(unit) = object.get("unit") {
                    let unit = json_text(unit);
                    let unit = unit
                        .strip_prefix('\'')
                        .and_then(|u| u.strip_suffix('\''))
                        .map_or(unit.clone(), str::to_owned);
                    units.push(unit);
                }
                if units.is_empty() {
                    units.push(String::new());
                }
                Some((value, units))
            }
            _ => None,
        }
    }

    fn matches(&self, expected: &Json, item: &Json) -> bool {
        let expected_value = expected["value"].as_str().unwrap();
        let kind = expected["type"]
            .as_str()
            .unwrap_or_else(|| self.infer_type(expected_value));
        let (value, wrapped) = unwrap(item);
        if kind == "Quantity" {
            let mut candidate = value;
            if let Some(inner) = candidate.get("value").filter(|v| v.is_object()) {
                candidate = inner;
            }
            let actual = self
                .parse_quantity(candidate)
                .or_else(|| self.parse_quantity(item));
            let wanted = self.parse_quantity(&Json::String(expected_value.to_owned()));
            return match (actual, wanted) {
                (Some(a), Some(e)) => decimal_equal(&a.0, &e.0) && a.1.contains(&e.1[0]),
                _ => false,
            };
        }
        match kind {
            "boolean" => {
                value.as_bool().map(|b| b.to_string()) == Some(expected_value.trim().to_owned())
            }
            "integer" | "decimal" | "unsignedInt" | "positiveInt" | "integer64" => match value {
                Json::Number(n) => decimal_equal(n.as_str(), expected_value),
                Json::String(s) if wrapped && self.number.is_match(s.trim()) => {
                    decimal_equal(s, expected_value)
                }
                _ => false,
            },
            "date" | "dateTime" | "time" | "instant" => value
                .as_str()
                .is_some_and(|s| self.temporal_key(s) == self.temporal_key(expected_value)),
            _ => value.as_str() == Some(expected_value),
        }
    }

    /// `None` when the result matches, else why not.
    fn compare(&self, case: &Json, actual: &[Json]) -> Option<String> {
        let mut actual = actual.to_vec();
        if case["predicate"] == Json::Bool(true) {
            let value = match actual.as_slice() {
                [] => false,
                [one] => unwrap(one).0.as_bool().unwrap_or(true),
                _ => true,
            };
            actual = vec![Json::Bool(value)];
        }
        let expected = case["expected"].as_array().unwrap();
        if expected.len() != actual.len() {
            return Some(format!(
                "expected {} item(s), got {}: {}",
                expected.len(),
                actual.len(),
                Json::Array(actual.clone())
            ));
        }
        if case["ordered"] != Json::Bool(false) {
            for (index, (e, a)) in expected.iter().zip(&actual).enumerate() {
                if !self.matches(e, a) {
                    return Some(format!("item {index}: expected {e}, got {a}"));
                }
            }
            return None;
        }
        let mut used = vec![false; actual.len()];
        for e in expected {
            let found = (0..actual.len()).find(|&k| !used[k] && self.matches(e, &actual[k]));
            match found {
                Some(k) => used[k] = true,
                None => return Some(format!("no match for {e} in {}", Json::Array(actual))),
            }
        }
        None
    }
}

fn json_text(value: &Json) -> String {
    match value {
        Json::String(s) => s.clone(),
        other => other.to_string(),
    }
}

fn unwrap(item: &Json) -> (&Json, bool) {
    match item {
        Json::Object(object)
            if object.contains_key("type") && object.contains_key("value") && object.len() <= 3 =>
        {
            (&object["value"], true)
        }
        other => (other, false),
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date.
fn days_from_civil(year: i64, month: i64, day: i64) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let mp = (month + 9) % 12;
    let doy = (153 * mp + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn run_case(rules: &Rules, case: &Json) -> Result<(), String> {
    let expression = case["expression"].as_str().unwrap();
    let input = match case["inputfile"].as_str() {
        Some(file) => {
            let text = std::fs::read_to_string(data_dir().join("inputs").join(file)).unwrap();
            Some(serde_json::from_str::<Json>(&text).unwrap())
        }
        None => None,
    };
    let result = medulla_fhirpath::evaluate_to_json(expression, input.as_ref(), true);
    let is_invalid = case["invalid"].as_str().is_some();
    match (result, is_invalid) {
        (Err(_), true) => Ok(()),
        (Ok(value), true) => Err(format!("expected an error, got {value}")),
        (Err(error), false) => Err(format!("error: {error}")),
        (Ok(Json::Array(items)), false) => match rules.compare(case, &items) {
            None => Ok(()),
            Some(why) => Err(why),
        },
        (Ok(other), false) => Err(format!("not an array: {other}")),
    }
}

#[test]
fn hl7_fhirpath_r4_suite() {
    let cases: Vec<Json> =
        serde_json::from_str(&std::fs::read_to_string(data_dir().join("cases.json")).unwrap())
            .unwrap();
    let known_text = std::fs::read_to_string(data_dir().join("known-failures.txt")).unwrap();
    let known: BTreeSet<&str> = known_text
        .lines()
        .map(|line| line.split('#').next().unwrap_or("").trim())
        .filter(|id| !id.is_empty())
        .collect();
    let rules = Rules::new();
    let verbose = std::env::var_os("FHIRPATH_VERBOSE").is_some();
    let (mut passed, mut failed) = (0, 0);
    let mut unexpected = Vec::new();
    let mut now_passing = Vec::new();
    for case in &cases {
        let id = case["id"].as_str().unwrap();
        // Panics are failures too, not aborts of the whole suite.
        let outcome = std::panic::catch_unwind(|| run_case(&rules, case))
            .unwrap_or_else(|_| Err("panicked".to_owned()));
        match outcome {
            Ok(()) => {
                passed += 1;
                if known.contains(id) {
                    now_passing.push(id.to_owned());
                }
            }
            Err(why) => {
                failed += 1;
                if verbose || !known.contains(id) {
                    println!(
                        "FAIL {id}: {}\n     {why}",
                        case["expression"].as_str().unwrap_or("")
                    );
                }
                if !known.contains(id) {
                    unexpected.push(id.to_owned());
                }
            }
        }
    }
    println!("{passed} passed, {failed} failed");
    assert!(
        unexpected.is_empty(),
        "cases failing that are not in known-failures.txt: {unexpected:?}"
    );
    assert!(
        now_passing.is_empty(),
        "cases in known-failures.txt that now pass (remove them): {now_passing:?}"
    );
}
