//! Set-like operations on collections by FHIRPath equality: union, distinct, intersect,
//! exclude. Simple items are bucketed by a hash key so large collections stay near linear.

use std::collections::HashSet;

use rust_decimal::Decimal;

use crate::error::Result;
use crate::eval::{MAX_COLLECTION, too_large};
use crate::value::{Collection, Value, items_equal};

/// A hashable stand-in for items whose equality is plain value equality.
#[derive(PartialEq, Eq, Hash)]
enum Key<'k> {
    Boolean(bool),
    Number(Decimal),
    String(&'k str),
}

fn key<'k>(value: &'k Value<'_>) -> Option<Key<'k>> {
    if let Some(text) = value.as_str() {
        return Some(Key::String(text));
    }
    match value {
        Value::Boolean(b) => Some(Key::Boolean(*b)),
        Value::Integer(i) => Some(Key::Number(Decimal::from(*i).normalize())),
        Value::Decimal(d) => Some(Key::Number(d.normalize())),
        _ => None,
    }
}

/// Tracks the distinct items seen so far.
struct Seen<'s, 'a> {
    keys: HashSet<Key<'s>>,
    others: Vec<&'s Value<'a>>,
}

impl<'s, 'a> Seen<'s, 'a> {
    fn new() -> Self {
        Seen {
            keys: HashSet::new(),
            others: Vec::new(),
        }
    }

    fn contains(&self, value: &'s Value<'a>) -> bool {
        match key(value) {
            Some(key) => self.keys.contains(&key),
            None => self
                .others
                .iter()
                .any(|other| items_equal(other, value) == Some(true)),
        }
    }

    /// Adds `value`; false if an equal item was there already.
    fn insert(&mut self, value: &'s Value<'a>) -> bool {
        match key(value) {
            Some(key) => self.keys.insert(key),
            None => {
                if self.contains(value) {
                    false
                } else {
                    self.others.push(value);
                    true
                }
            }
        }
    }
}

pub(crate) fn distinct<'a>(items: &[Value<'a>]) -> Collection<'a> {
    let mut seen = Seen::new();
    items
        .iter()
        .filter(|item| seen.insert(item))
        .cloned()
        .collect()
}

pub(crate) fn is_distinct(items: &[Value<'_>]) -> bool {
    let mut seen = Seen::new();
    items.iter().all(|item| seen.insert(item))
}

pub(crate) fn union<'a>(left: Collection<'a>, right: Collection<'a>) -> Result<Collection<'a>> {
    if left.len() + right.len() > MAX_COLLECTION {
        return Err(too_large("|"));
    }
    let mut all = left;
    all.extend(right);
    if all.len() <= 1 {
        return Ok(all);
    }
    Ok(distinct(&all))
}

pub(crate) fn intersect<'a>(left: &[Value<'a>], right: &[Value<'a>]) -> Collection<'a> {
    let mut in_right = Seen::new();
    for item in right {
        in_right.insert(item);
    }
    let mut emitted = Seen::new();
    left.iter()
        .filter(|item| in_right.contains(item) && emitted.insert(item))
        .cloned()
        .collect()
}

pub(crate) fn exclude<'a>(left: &[Value<'a>], right: &[Value<'a>]) -> Collection<'a> {
    let mut in_right = Seen::new();
    for item in right {
        in_right.insert(item);
    }
    left.iter()
        .filter(|item| !in_right.contains(item))
        .cloned()
        .collect()
}

/// Whether every item of `subset` equals some item of `superset`.
pub(crate) fn is_subset(subset: &[Value<'_>], superset: &[Value<'_>]) -> bool {
    let mut in_superset = Seen::new();
    for item in superset {
        in_superset.insert(item);
    }
    subset.iter().all(|item| in_superset.contains(item))
}
