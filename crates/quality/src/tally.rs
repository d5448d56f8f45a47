//! Bounded counting: [`Tally`] (occurrences, affected resources, a few examples) and
//! [`Tallies`] (tallies by key, with a cap on the number of keys).
//!
//! Memory grows with the number of distinct keys, never with the number of resources: each
//! tally keeps at most `max_examples` references, and keys past `max_keys` are only counted.

use std::collections::HashMap;
use std::hash::Hash;

/// Longest resource id kept in an example; FHIR ids have at most 64 characters, so longer
/// ones are cut rather than stored whole.
const MAX_ID_CHARS: usize = 64;

/// The resource being looked at: its position in the stream (to count each resource once per
/// tally) and its `Type/id` reference for examples.
#[derive(Debug, Clone)]
pub(crate) struct Subject {
    pub(crate) sequence: u64,
    pub(crate) reference: Option<String>,
}

impl Subject {
    /// `Type/id`, with the id cut to [`MAX_ID_CHARS`]; `None` when the resource has no id.
    pub(crate) fn new(sequence: u64, resource_type: &str, id: Option<&str>) -> Subject {
        let reference = id.filter(|id| !id.is_empty()).map(|id| {
            let id: String = id.chars().take(MAX_ID_CHARS).collect();
            format!("{resource_type}/{id}")
        });
        Subject {
            sequence,
            reference,
        }
    }
}

/// How often something was found, in how many resources, and where (a few examples).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Tally {
    /// Occurrences (a resource may have several).
    pub count: u64,
    /// Resources with at least one occurrence.
    pub resources: u64,
    /// Up to the configured number of `Type/id` references, the first ones found.
    pub examples: Vec<String>,
    last_sequence: Option<u64>,
}

impl Tally {
    /// Counts one occurrence in `subject`.
    pub(crate) fn record(&mut self, subject: &Subject, max_examples: usize) {
        self.count += 1;
        if self.last_sequence == Some(subject.sequence) {
            return;
        }
        self.last_sequence = Some(subject.sequence);
        self.resources += 1;
        if self.examples.len() < max_examples
            && let Some(reference) = &subject.reference
        {
            self.examples.push(reference.clone());
        }
    }
}

/// Tallies by key, at most `max_keys` of them; occurrences under further keys are counted in
/// [`Tallies::omitted`] only.
#[derive(Debug, Clone)]
pub(crate) struct Tallies<K> {
    pub(crate) by_key: HashMap<K, Tally>,
    pub(crate) omitted: u64,
    max_keys: usize,
    max_examples: usize,
}

impl<K: Eq + Hash> Tallies<K> {
    pub(crate) fn new(max_keys: usize, max_examples: usize) -> Tallies<K> {
        Tallies {
            by_key: HashMap::new(),
            omitted: 0,
            max_keys,
            max_examples,
        }
    }

    /// Counts one occurrence of `key` in `subject`.
    pub(crate) fn record(&mut self, key: K, subject: &Subject) {
        let max_examples = self.max_examples;
        if let Some(tally) = self.by_key.get_mut(&key) {
            tally.record(subject, max_examples);
        } else if self.by_key.len() < self.max_keys {
            self.by_key
                .entry(key)
                .or_default()
                .record(subject, max_examples);
        } else {
            self.omitted += 1;
        }
    }

    /// The tallies, most occurrences first, then by key.
    pub(crate) fn sorted(&self) -> Vec<(&K, &Tally)>
    where
        K: Ord,
    {
        let mut sorted: Vec<(&K, &Tally)> = self.by_key.iter().collect();
        sorted.sort_by(|(key_a, a), (key_b, b)| b.count.cmp(&a.count).then(key_a.cmp(key_b)));
        sorted
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn examples_are_bounded_and_resources_counted_once() {
        let mut tallies = Tallies::new(2, 3);
        for sequence in 0..10 {
            let subject = Subject::new(sequence, "Patient", Some(&format!("p{sequence}")));
            tallies.record("a", &subject);
            tallies.record("a", &subject);
        }
        let tally = &tallies.by_key["a"];
        assert_eq!((tally.count, tally.resources), (20, 10));
        assert_eq!(tally.examples, ["Patient/p0", "Patient/p1", "Patient/p2"]);
    }

    #[test]
    fn keys_past_the_cap_are_only_counted() {
        let mut tallies = Tallies::new(2, 1);
        let subject = Subject::new(0, "Observation", None);
        for key in ["a", "b", "c", "d", "a"] {
            tallies.record(key, &subject);
        }
        assert_eq!(tallies.by_key.len(), 2);
        assert_eq!(tallies.omitted, 2);
        assert_eq!(tallies.by_key["a"].count, 2);
        assert_eq!(tallies.by_key["a"].examples, Vec::<String>::new());
        let order: Vec<&&str> = tallies.sorted().into_iter().map(|(key, _)| key).collect();
        assert_eq!(order, [&"a", &"b"]);
    }

    #[test]
    fn long_ids_are_cut() {
        let id = "x".repeat(500);
        let subject = Subject::new(0, "Patient", Some(&id));
        assert_eq!(
            subject.reference.map(|reference| reference.len()),
            Some("Patient/".len() + MAX_ID_CHARS)
        );
    }
}
