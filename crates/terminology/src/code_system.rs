//! One loaded code system with its in-memory indexes: [`CodeSystem`], and [`Concept`], a view of
//! one of its concepts.
//!
//! Concepts are dense ordinals `0..len()` in the order they were added. Every column is a flat
//! array indexed by ordinal, strings live in arenas ([`crate::strings`]), designations and
//! properties are CSR lists (`starts[o]..starts[o + 1]`), and the hierarchy keeps each concept's
//! sorted ancestors ([`crate::hierarchy`]); attribute relationships and reference set members
//! (SNOMED CT) are indexed in [`crate::relationships`]. A code system is immutable once built, so it is
//! shared between threads as an `Arc<CodeSystem>` without locks.

use std::fmt;

use crate::Error;
use crate::code_index::CodeIndex;
use crate::definitions::{
    CodeSystemInfo, Coding, ConceptProperty, Designation, PropertyType, PropertyValue, Subsumption,
};
use crate::hierarchy::Hierarchy;
use crate::relationships::{Refsets, Relationships};
use crate::strings::StrArena;
use crate::text_index::TextIndex;

/// A text id meaning "no text" (no display, no definition).
pub(crate) const NO_TEXT: u32 = u32::MAX;

/// Concept flag: the concept is inactive (retired, or inactive in SNOMED CT).
pub(crate) const FLAG_INACTIVE: u8 = 1;
/// Concept flag: the concept is abstract (`notSelectable`): it groups others but is not for use.
pub(crate) const FLAG_ABSTRACT: u8 = 2;

/// Separates the parts of a Coding property value stored as one string.
pub(crate) const CODING_SEPARATOR: char = '\u{1f}';

/// One designation: ids of its text (in `texts`), language and use (in `labels`/`usages`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct DesignationRecord {
    pub(crate) text: u32,
    pub(crate) language: u32,
    pub(crate) usage: u32,
}

/// A designation's use: label ids of the Coding's system, code and display; all 0 is "none".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default)]
pub(crate) struct UsageRecord {
    pub(crate) system: u32,
    pub(crate) code: u32,
    pub(crate) display: u32,
}

/// One property value: label ids of its code and value text.
#[derive(Debug, Clone, Copy)]
pub(crate) struct PropertyRecord {
    pub(crate) code: u32,
    pub(crate) value: u32,
    pub(crate) kind: PropertyType,
}

/// A code system's concepts with their designations, properties and is-a hierarchy, indexed
/// for lookups by code (hash), subsumption (sorted ancestor lists) and text search (inverted
/// word lists). Build one with [`crate::CodeSystemBuilder`], [`CodeSystem::from_json`] or
/// [`crate::snomed::read_snapshot`].
pub struct CodeSystem {
    pub(crate) info: CodeSystemInfo,
    pub(crate) codes: StrArena,
    pub(crate) code_index: CodeIndex,
    /// Displays, definitions and designation values.
    pub(crate) texts: StrArena,
    pub(crate) displays: Vec<u32>,
    pub(crate) definitions: Vec<u32>,
    pub(crate) flags: Vec<u8>,
    pub(crate) designation_starts: Vec<u32>,
    pub(crate) designations: Vec<DesignationRecord>,
    /// Interned short strings: languages, designation uses, property codes and values.
    pub(crate) labels: StrArena,
    pub(crate) usages: Vec<UsageRecord>,
    pub(crate) property_starts: Vec<u32>,
    pub(crate) properties: Vec<PropertyRecord>,
    pub(crate) hierarchy: Hierarchy,
    pub(crate) text_index: TextIndex,
    /// Attribute relationships (SNOMED CT), by source and by destination.
    pub(crate) relationships: Relationships,
    /// Reference set members (SNOMED CT simple reference sets).
    pub(crate) refsets: Refsets,
}

/// Names the code system and its size, not its (possibly million) entries.
impl fmt::Debug for CodeSystem {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("CodeSystem")
            .field("url", &self.info.url)
            .field("version", &self.info.version)
            .field("concepts", &self.codes.len())
            .finish_non_exhaustive()
    }
}

impl CodeSystem {
    /// The metadata: URL, version, name, content, hierarchy meaning, property definitions.
    pub fn info(&self) -> &CodeSystemInfo {
        &self.info
    }

    /// The canonical URL.
    pub fn url(&self) -> &str {
        &self.info.url
    }

    /// The business version, if it has one.
    pub fn version(&self) -> Option<&str> {
        self.info.version.as_deref()
    }

    /// How many concepts it has.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Whether it has no concepts.
    pub fn is_empty(&self) -> bool {
        self.codes.len() == 0
    }

    /// The concept with this code (compared exactly).
    pub fn concept(&self, code: &str) -> Option<Concept<'_>> {
        self.ordinal(code).map(|ordinal| Concept {
            system: self,
            ordinal,
        })
    }

    /// Every concept, in the order they were added.
    pub fn concepts(&self) -> impl Iterator<Item = Concept<'_>> {
        (0..self.codes.len())
            .filter_map(|ordinal| u32::try_from(ordinal).ok())
            .map(|ordinal| Concept {
                system: self,
                ordinal,
            })
    }

    /// How the concept `code_a` relates to `code_b` in the is-a hierarchy: O(log k) for k
    /// ancestors.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownCode`] if either code is not in the code system.
    pub fn subsumes(&self, code_a: &str, code_b: &str) -> Result<Subsumption, Error> {
        let a = self.require(code_a)?;
        let b = self.require(code_b)?;
        Ok(if a == b {
            Subsumption::Equivalent
        } else {
            match self.hierarchy.relation(a, b) {
                Some(true) => Subsumption::Subsumes,
                Some(false) => Subsumption::SubsumedBy,
                None => Subsumption::NotSubsumed,
            }
        })
    }

    /// Direct is-a links and (concept, ancestor) pairs in the transitive closure.
    pub fn hierarchy_size(&self) -> (usize, usize) {
        (self.hierarchy.edge_count(), self.hierarchy.closure_size())
    }

    /// Attribute relationships (SNOMED CT: active relationships other than is-a).
    pub fn relationship_count(&self) -> usize {
        self.relationships.len()
    }

    /// Reference sets with members, and (reference set, member) pairs.
    pub fn refset_size(&self) -> (usize, usize) {
        (self.refsets.refsets().len(), self.refsets.member_count())
    }

    /// What the in-memory indexes take, by part.
    pub fn memory_usage(&self) -> MemoryUsage {
        let (hierarchy, closure) = self.hierarchy.heap_bytes();
        let (words, word_entries) = self.text_index.sizes();
        MemoryUsage {
            concepts: self.codes.heap_bytes()
                + self.code_index.heap_bytes()
                + (self.displays.capacity() + self.definitions.capacity()) * size_of::<u32>()
                + self.flags.capacity(),
            texts: self.texts.heap_bytes(),
            designations: self.designation_starts.capacity() * size_of::<u32>()
                + self.designations.capacity() * size_of::<DesignationRecord>()
                + self.labels.heap_bytes()
                + self.usages.capacity() * size_of::<UsageRecord>(),
            properties: self.property_starts.capacity() * size_of::<u32>()
                + self.properties.capacity() * size_of::<PropertyRecord>(),
            hierarchy,
            closure,
            relationships: self.relationships.heap_bytes() + self.refsets.heap_bytes(),
            text_index: self.text_index.heap_bytes(),
            words,
            word_entries,
        }
    }

    pub(crate) fn ordinal(&self, code: &str) -> Option<u32> {
        self.code_index.get(&self.codes, code)
    }

    pub(crate) fn require(&self, code: &str) -> Result<u32, Error> {
        self.ordinal(code).ok_or_else(|| Error::UnknownCode {
            system: self.info.url.clone(),
            code: code.to_owned(),
        })
    }

    pub(crate) fn concept_at(&self, ordinal: u32) -> Concept<'_> {
        Concept {
            system: self,
            ordinal,
        }
    }

    pub(crate) fn code_of(&self, ordinal: u32) -> &str {
        self.codes.get(ordinal)
    }

    pub(crate) fn display_of(&self, ordinal: u32) -> Option<&str> {
        self.text(self.displays.get(ordinal as usize).copied())
    }

    pub(crate) fn flags_of(&self, ordinal: u32) -> u8 {
        self.flags.get(ordinal as usize).copied().unwrap_or(0)
    }

    pub(crate) fn is_inactive(&self, ordinal: u32) -> bool {
        self.flags_of(ordinal) & FLAG_INACTIVE != 0
    }

    fn text(&self, id: Option<u32>) -> Option<&str> {
        match id {
            Some(id) if id != NO_TEXT => Some(self.texts.get(id)),
            _ => None,
        }
    }

    pub(crate) fn designation_records(&self, ordinal: u32) -> &[DesignationRecord] {
        csr_slice(&self.designation_starts, &self.designations, ordinal)
    }

    pub(crate) fn property_records(&self, ordinal: u32) -> &[PropertyRecord] {
        csr_slice(&self.property_starts, &self.properties, ordinal)
    }

    /// The display and every designation value of a concept: what text search and display
    /// validation compare against.
    pub(crate) fn texts_of(&self, ordinal: u32) -> impl Iterator<Item = &str> {
        self.display_of(ordinal).into_iter().chain(
            self.designation_records(ordinal)
                .iter()
                .map(|record| self.texts.get(record.text)),
        )
    }

    /// The text a compose filter compares for property `code` of a concept: each value's code
    /// (Codings) or text, then the destination codes of its attribute relationships of type
    /// `code` (SNOMED CT attributes are properties named by the attribute's id).
    pub(crate) fn property_texts<'a>(
        &'a self,
        ordinal: u32,
        code: &'a str,
    ) -> impl Iterator<Item = &'a str> + 'a {
        let stored = self
            .property_records(ordinal)
            .iter()
            .filter(move |record| self.labels.get(record.code) == code)
            .map(|record| {
                let text = self.labels.get(record.value);
                if record.kind == PropertyType::Coding {
                    text.split(CODING_SEPARATOR).nth(1).unwrap_or("")
                } else {
                    text
                }
            });
        let attributes = self
            .relationships
            .outgoing(ordinal)
            .iter()
            .filter(move |record| self.code_of(record.kind) == code)
            .map(|record| self.code_of(record.other));
        stored.chain(attributes)
    }

    fn designation(&self, record: &DesignationRecord) -> Designation {
        let label = |id: u32| {
            let text = self.labels.get(id);
            (!text.is_empty()).then(|| text.to_owned())
        };
        let usage = self
            .usages
            .get(record.usage as usize)
            .filter(|usage| **usage != UsageRecord::default())
            .map(|usage| Coding {
                system: label(usage.system),
                code: self.labels.get(usage.code).to_owned(),
                display: label(usage.display),
            });
        Designation {
            language: label(record.language),
            usage,
            value: self.texts.get(record.text).to_owned(),
        }
    }

    fn property(&self, record: &PropertyRecord) -> ConceptProperty {
        let text = self.labels.get(record.value);
        let value = match record.kind {
            PropertyType::Code => PropertyValue::Code(text.to_owned()),
            PropertyType::String => PropertyValue::String(text.to_owned()),
            PropertyType::DateTime => PropertyValue::DateTime(text.to_owned()),
            PropertyType::Decimal => PropertyValue::Decimal(text.to_owned()),
            PropertyType::Boolean => PropertyValue::Boolean(text == "true"),
            PropertyType::Integer => match text.parse() {
                Ok(value) => PropertyValue::Integer(value),
                Err(_) => PropertyValue::String(text.to_owned()),
            },
            PropertyType::Coding => {
                let mut parts = text.split(CODING_SEPARATOR);
                let system = parts.next().filter(|part| !part.is_empty());
                let code = parts.next().unwrap_or("");
                let display = parts.next().filter(|part| !part.is_empty());
                PropertyValue::Coding(Coding {
                    system: system.map(str::to_owned),
                    code: code.to_owned(),
                    display: display.map(str::to_owned),
                })
            }
        };
        ConceptProperty {
            code: self.labels.get(record.code).to_owned(),
            value,
        }
    }
}

fn csr_slice<'a, T>(starts: &[u32], values: &'a [T], ordinal: u32) -> &'a [T] {
    let index = ordinal as usize;
    match (starts.get(index), starts.get(index + 1)) {
        (Some(&start), Some(&end)) => values.get(start as usize..end as usize).unwrap_or(&[]),
        _ => &[],
    }
}

/// One concept of a [`CodeSystem`].
#[derive(Debug, Clone, Copy)]
pub struct Concept<'a> {
    system: &'a CodeSystem,
    ordinal: u32,
}

impl<'a> Concept<'a> {
    /// The code.
    pub fn code(&self) -> &'a str {
        self.system.code_of(self.ordinal)
    }

    /// The display (for SNOMED CT, the preferred term).
    pub fn display(&self) -> Option<&'a str> {
        self.system.display_of(self.ordinal)
    }

    /// The definition.
    pub fn definition(&self) -> Option<&'a str> {
        self.system
            .text(self.system.definitions.get(self.ordinal as usize).copied())
    }

    /// Whether the concept is active (not retired, not inactive).
    pub fn is_active(&self) -> bool {
        !self.system.is_inactive(self.ordinal)
    }

    /// Whether the concept is abstract (`notSelectable`).
    pub fn is_abstract(&self) -> bool {
        self.system.flags_of(self.ordinal) & FLAG_ABSTRACT != 0
    }

    /// The designations (translations, synonyms, fully specified names).
    pub fn designations(&self) -> Vec<Designation> {
        self.system
            .designation_records(self.ordinal)
            .iter()
            .map(|record| self.system.designation(record))
            .collect()
    }

    /// The stored properties (not the hierarchy: see [`Concept::parents`]).
    pub fn properties(&self) -> Vec<ConceptProperty> {
        self.system
            .property_records(self.ordinal)
            .iter()
            .map(|record| self.system.property(record))
            .collect()
    }

    /// The direct parents.
    pub fn parents(&self) -> impl Iterator<Item = Concept<'a>> + 'a {
        let system = self.system;
        system
            .hierarchy
            .parents(self.ordinal)
            .iter()
            .map(move |&ordinal| system.concept_at(ordinal))
    }

    /// The direct children.
    pub fn children(&self) -> impl Iterator<Item = Concept<'a>> + 'a {
        let system = self.system;
        system
            .hierarchy
            .children(self.ordinal)
            .iter()
            .map(move |&ordinal| system.concept_at(ordinal))
    }

    /// The attribute relationships (SNOMED CT: active, not is-a), ordered by group, then by
    /// the attribute's and the value's order in the code system.
    pub fn relationships(&self) -> impl Iterator<Item = Relationship<'a>> + 'a {
        let system = self.system;
        system
            .relationships
            .outgoing(self.ordinal)
            .iter()
            .map(move |record| Relationship {
                attribute: system.concept_at(record.kind),
                value: system.concept_at(record.other),
                group: record.group,
            })
    }

    /// Whether this concept is `other` or a descendant of it.
    pub fn is_a(&self, other: &Concept<'_>) -> bool {
        std::ptr::eq(self.system, other.system)
            && self.system.hierarchy.is_a(self.ordinal, other.ordinal)
    }
}

/// One attribute relationship of a concept: `attribute = value`, in relationship group `group`
/// (SNOMED CT `relationshipGroup`; 0 is ungrouped).
#[derive(Debug, Clone, Copy)]
pub struct Relationship<'a> {
    /// The attribute (`typeId`), e.g. `363698007 |Finding site|`.
    pub attribute: Concept<'a>,
    /// The value (`destinationId`).
    pub value: Concept<'a>,
    /// The relationship group.
    pub group: u32,
}

/// Heap bytes of one code system's in-memory indexes, by part.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct MemoryUsage {
    /// Codes, the code index, display and definition ids, flags.
    pub concepts: usize,
    /// Display, definition and designation text.
    pub texts: usize,
    /// Designation records, uses and languages.
    pub designations: usize,
    /// Property records.
    pub properties: usize,
    /// Direct parent and child lists.
    pub hierarchy: usize,
    /// The transitive closure (ancestor lists).
    pub closure: usize,
    /// Attribute relationships (both directions) and reference set members.
    pub relationships: usize,
    /// The word index.
    pub text_index: usize,
    /// Distinct words in the word index.
    pub words: usize,
    /// (word, concept) entries in the word index.
    pub word_entries: usize,
}

impl MemoryUsage {
    /// All parts together.
    pub fn total(&self) -> usize {
        self.concepts
            + self.texts
            + self.designations
            + self.properties
            + self.hierarchy
            + self.closure
            + self.relationships
            + self.text_index
    }
}

impl fmt::Display for MemoryUsage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mib = |bytes: usize| bytes as f64 / (1024.0 * 1024.0);
        write!(
            f,
            "{:.1} MiB (concepts {:.1}, text {:.1}, designations {:.1}, properties {:.1}, \
             hierarchy {:.1}, closure {:.1}, relationships {:.1}, word index {:.1}: {} words, \
             {} entries)",
            mib(self.total()),
            mib(self.concepts),
            mib(self.texts),
            mib(self.designations),
            mib(self.properties),
            mib(self.hierarchy),
            mib(self.closure),
            mib(self.relationships),
            mib(self.text_index),
            self.words,
            self.word_entries,
        )
    }
}
