//! Building a [`CodeSystem`] concept by concept: [`CodeSystemBuilder`].
//!
//! Every source goes through here: the embedded FHIR content and CodeSystem resources
//! ([`crate::fhir_json`]), the SNOMED CT loader, and code systems read back from the
//! terminology file. [`CodeSystemBuilder::build`] groups designations and properties by concept,
//! resolves parents named by code, computes the closure and the word index, and indexes
//! attribute relationships and reference set members (SNOMED CT) both ways.

use std::collections::HashMap;

use crate::Error;
use crate::code_index::{CodeIndex, FastBuildHasher};
use crate::code_system::{
    CODING_SEPARATOR, CodeSystem, DesignationRecord, FLAG_ABSTRACT, FLAG_INACTIVE, NO_TEXT,
    PropertyRecord, UsageRecord,
};
use crate::definitions::{CodeSystemInfo, Coding, PropertyValue};
use crate::hierarchy::{Hierarchy, HierarchyError};
use crate::relationships::{Refsets, RelationshipRecord, Relationships};
use crate::strings::{ArenaFull, Interner, StrArena};
use crate::text_index::TextIndex;

/// A concept added to a [`CodeSystemBuilder`], to attach designations, properties and parents
/// to.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct ConceptId(u32);

impl ConceptId {
    pub(crate) fn ordinal(self) -> u32 {
        self.0
    }

    pub(crate) fn from_ordinal(ordinal: u32) -> ConceptId {
        ConceptId(ordinal)
    }
}

/// Collects the concepts of one code system, then builds its indexes.
///
/// ```
/// use medulla_terminology::{CodeSystemBuilder, CodeSystemInfo, Subsumption};
///
/// let mut builder = CodeSystemBuilder::new(CodeSystemInfo::new("http://example.org/shapes"));
/// let shape = builder.add_concept("shape")?;
/// let square = builder.add_concept("square")?;
/// builder.set_display(square, "Square")?;
/// builder.add_parent(square, shape);
/// let shapes = builder.build()?;
/// assert_eq!(shapes.subsumes("shape", "square")?, Subsumption::Subsumes);
/// # Ok::<(), medulla_terminology::Error>(())
/// ```
#[derive(Debug)]
pub struct CodeSystemBuilder {
    info: CodeSystemInfo,
    codes: StrArena,
    code_index: CodeIndex,
    texts: StrArena,
    displays: Vec<u32>,
    definitions: Vec<u32>,
    flags: Vec<u8>,
    designations: Vec<(u32, DesignationRecord)>,
    labels: Interner,
    usages: Vec<UsageRecord>,
    usage_ids: HashMap<UsageRecord, u32, FastBuildHasher>,
    properties: Vec<(u32, PropertyRecord)>,
    edges: Vec<(u32, u32)>,
    /// (child, parent code) for parents named before they may exist.
    parent_codes: Vec<(u32, Box<str>)>,
    /// (parent, child code), from FHIR's `child` property.
    child_codes: Vec<(u32, Box<str>)>,
    /// (source, record with the destination) of attribute relationships.
    relationships: Vec<(u32, RelationshipRecord)>,
    /// (reference set, member).
    refset_members: Vec<(u32, u32)>,
}

impl CodeSystemBuilder {
    /// An empty code system with this metadata.
    pub fn new(info: CodeSystemInfo) -> CodeSystemBuilder {
        CodeSystemBuilder {
            info,
            codes: StrArena::default(),
            code_index: CodeIndex::default(),
            texts: StrArena::default(),
            displays: Vec::new(),
            definitions: Vec::new(),
            flags: Vec::new(),
            designations: Vec::new(),
            labels: Interner::default(),
            // Usage 0 is "no use".
            usages: vec![UsageRecord::default()],
            usage_ids: HashMap::default(),
            properties: Vec::new(),
            edges: Vec::new(),
            parent_codes: Vec::new(),
            child_codes: Vec::new(),
            relationships: Vec::new(),
            refset_members: Vec::new(),
        }
    }

    /// The metadata given to [`CodeSystemBuilder::new`].
    pub fn info(&self) -> &CodeSystemInfo {
        &self.info
    }

    /// The metadata, to complete while loading (a version found in the files, property
    /// definitions named by the rows).
    pub(crate) fn info_mut(&mut self) -> &mut CodeSystemInfo {
        &mut self.info
    }

    /// Reserves room for `concepts` more concepts.
    pub fn reserve(&mut self, concepts: usize) {
        self.displays.reserve(concepts);
        self.definitions.reserve(concepts);
        self.flags.reserve(concepts);
    }

    /// Adds a concept; active, not abstract, without display.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCodeSystem`] if the code is empty or already added.
    pub fn add_concept(&mut self, code: &str) -> Result<ConceptId, Error> {
        if code.trim().is_empty() {
            return Err(self.invalid("a concept has an empty code".to_owned()));
        }
        if self.code_index.get(&self.codes, code).is_some() {
            return Err(self.invalid(format!("code '{code}' appears more than once")));
        }
        let ordinal = self
            .codes
            .push(code)
            .map_err(|_| self.too_large("concepts"))?;
        if self.code_index.insert(&self.codes, ordinal).is_err() {
            return Err(self.invalid(format!("code '{code}' appears more than once")));
        }
        self.displays.push(NO_TEXT);
        self.definitions.push(NO_TEXT);
        self.flags.push(0);
        Ok(ConceptId(ordinal))
    }

    /// The concept added with this code.
    pub fn concept_id(&self, code: &str) -> Option<ConceptId> {
        self.code_index.get(&self.codes, code).map(ConceptId)
    }

    /// How many concepts were added.
    pub fn len(&self) -> usize {
        self.codes.len()
    }

    /// Whether no concept was added.
    pub fn is_empty(&self) -> bool {
        self.codes.len() == 0
    }

    /// Sets the concept's display.
    ///
    /// # Errors
    ///
    /// [`Error::TooLarge`] if the code system's text passes 4 GiB.
    pub fn set_display(&mut self, concept: ConceptId, display: &str) -> Result<(), Error> {
        let id = self.push_text(display)?;
        self.set_display_text(concept, id);
        Ok(())
    }

    /// Sets the concept's definition.
    ///
    /// # Errors
    ///
    /// [`Error::TooLarge`] if the code system's text passes 4 GiB.
    pub fn set_definition(&mut self, concept: ConceptId, definition: &str) -> Result<(), Error> {
        let id = self.push_text(definition)?;
        if let Some(slot) = self.definitions.get_mut(concept.0 as usize) {
            *slot = id;
        }
        Ok(())
    }

    /// Marks the concept inactive (or active again).
    pub fn set_inactive(&mut self, concept: ConceptId, inactive: bool) {
        self.set_flag(concept, FLAG_INACTIVE, inactive);
    }

    /// Marks the concept abstract (`notSelectable`), or not.
    pub fn set_abstract(&mut self, concept: ConceptId, is_abstract: bool) {
        self.set_flag(concept, FLAG_ABSTRACT, is_abstract);
    }

    /// Adds a designation.
    ///
    /// # Errors
    ///
    /// [`Error::TooLarge`] if the code system's text passes 4 GiB.
    pub fn add_designation(
        &mut self,
        concept: ConceptId,
        language: Option<&str>,
        usage: Option<&Coding>,
        value: &str,
    ) -> Result<(), Error> {
        self.add_designation_text(concept, language, usage, value)
            .map(|_| ())
    }

    /// Adds a property value.
    ///
    /// # Errors
    ///
    /// [`Error::TooLarge`] if the code system's labels pass 4 GiB.
    pub fn add_property(
        &mut self,
        concept: ConceptId,
        code: &str,
        value: &PropertyValue,
    ) -> Result<(), Error> {
        let text = match value {
            PropertyValue::Coding(coding) => format!(
                "{}{CODING_SEPARATOR}{}{CODING_SEPARATOR}{}",
                coding.system.as_deref().unwrap_or(""),
                coding.code,
                coding.display.as_deref().unwrap_or("")
            ),
            other => other.to_string(),
        };
        let record = PropertyRecord {
            code: self.intern(code)?,
            value: self.intern(&text)?,
            kind: value.kind(),
        };
        self.properties.push((concept.0, record));
        Ok(())
    }

    /// Makes `parent` a direct parent of `child`.
    pub fn add_parent(&mut self, child: ConceptId, parent: ConceptId) {
        self.edges.push((child.0, parent.0));
    }

    /// Makes the concept with code `parent` a direct parent of `child`; the parent may be added
    /// later. [`CodeSystemBuilder::build`] fails if it never is.
    pub fn add_parent_code(&mut self, child: ConceptId, parent: &str) {
        self.parent_codes.push((child.0, parent.into()));
    }

    /// Makes the concept with code `child` a direct child of `parent` (FHIR's `child`
    /// property); the child may be added later.
    pub fn add_child_code(&mut self, parent: ConceptId, child: &str) {
        self.child_codes.push((parent.0, child.into()));
    }

    /// Adds an attribute relationship (not is-a: that is [`CodeSystemBuilder::add_parent`]):
    /// `source` has attribute `kind` with value `destination`, in relationship group `group`
    /// (0 for ungrouped).
    pub(crate) fn add_relationship(
        &mut self,
        source: ConceptId,
        kind: ConceptId,
        destination: ConceptId,
        group: u32,
    ) {
        self.relationships.push((
            source.0,
            RelationshipRecord {
                group,
                kind: kind.0,
                other: destination.0,
            },
        ));
    }

    /// Makes `member` a member of reference set `refset`.
    pub(crate) fn add_refset_member(&mut self, refset: ConceptId, member: ConceptId) {
        self.refset_members.push((refset.0, member.0));
    }

    /// Groups designations and properties by concept, resolves parents named by code, and
    /// builds the closure, the word index and the relationship and reference set indexes.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidCodeSystem`] if a parent or child code is not in the code system or the
    /// hierarchy has a cycle; [`Error::TooLarge`] if the closure passes 4 Gi entries.
    pub fn build(mut self) -> Result<CodeSystem, Error> {
        let concept_count = self.codes.len();
        for (child, parent_code) in std::mem::take(&mut self.parent_codes) {
            let parent = self.resolve(child, &parent_code, "parent")?;
            self.edges.push((child, parent));
        }
        for (parent, child_code) in std::mem::take(&mut self.child_codes) {
            let child = self.resolve(parent, &child_code, "child")?;
            self.edges.push((child, parent));
        }

        let (designation_starts, designations) =
            group_by_concept(concept_count, std::mem::take(&mut self.designations))
                .map_err(|_| self.too_large("designations"))?;
        let (property_starts, properties) =
            group_by_concept(concept_count, std::mem::take(&mut self.properties))
                .map_err(|_| self.too_large("properties"))?;

        let hierarchy = match Hierarchy::build(concept_count, std::mem::take(&mut self.edges)) {
            Ok(hierarchy) => hierarchy,
            Err(HierarchyError::Cycle(ordinal)) => {
                let code = self.codes.get(ordinal).to_owned();
                return Err(self.invalid(format!("the hierarchy has a cycle through '{code}'")));
            }
            Err(HierarchyError::TooLarge) => return Err(self.too_large("ancestor entries")),
        };

        let text_index = {
            let texts = &self.texts;
            let displays = &self.displays;
            TextIndex::build(concept_count, |ordinal, add| {
                if let Some(&id) = displays.get(ordinal as usize)
                    && id != NO_TEXT
                {
                    add(texts.get(id));
                }
                let index = ordinal as usize;
                if let (Some(&start), Some(&end)) = (
                    designation_starts.get(index),
                    designation_starts.get(index + 1),
                ) {
                    for record in designations
                        .get(start as usize..end as usize)
                        .unwrap_or(&[])
                    {
                        add(texts.get(record.text));
                    }
                }
            })
            .map_err(|_| self.too_large("words"))?
        };
        let relationships =
            Relationships::build(concept_count, std::mem::take(&mut self.relationships))
                .map_err(|_| self.too_large("relationships"))?;
        let refsets = Refsets::build(std::mem::take(&mut self.refset_members))
            .map_err(|_| self.too_large("reference set members"))?;

        let code_index = self.code_index;
        let mut codes = self.codes;
        codes.shrink_to_fit();
        let mut texts = self.texts;
        texts.shrink_to_fit();
        let mut usages = self.usages;
        usages.shrink_to_fit();
        Ok(CodeSystem {
            info: self.info,
            codes,
            code_index,
            texts,
            displays: shrunk(self.displays),
            definitions: shrunk(self.definitions),
            flags: shrunk(self.flags),
            designation_starts,
            designations,
            labels: self.labels.into_arena(),
            usages,
            property_starts,
            properties,
            hierarchy,
            text_index,
            relationships,
            refsets,
        })
    }

    /// Adds a designation and returns the id of its text, so a loader can make the same text
    /// the display without storing it twice.
    pub(crate) fn add_designation_text(
        &mut self,
        concept: ConceptId,
        language: Option<&str>,
        usage: Option<&Coding>,
        value: &str,
    ) -> Result<u32, Error> {
        let text = self.push_text(value)?;
        let language = self.intern(language.unwrap_or(""))?;
        let usage = match usage {
            None => 0,
            Some(coding) => {
                let record = UsageRecord {
                    system: self.intern(coding.system.as_deref().unwrap_or(""))?,
                    code: self.intern(&coding.code)?,
                    display: self.intern(coding.display.as_deref().unwrap_or(""))?,
                };
                match self.usage_ids.get(&record) {
                    Some(&id) => id,
                    None => {
                        let id = u32::try_from(self.usages.len())
                            .map_err(|_| self.too_large("designation uses"))?;
                        self.usages.push(record);
                        self.usage_ids.insert(record, id);
                        id
                    }
                }
            }
        };
        self.designations.push((
            concept.0,
            DesignationRecord {
                text,
                language,
                usage,
            },
        ));
        Ok(text)
    }

    /// Makes the text `id` (from [`CodeSystemBuilder::add_designation_text`]) the display.
    pub(crate) fn set_display_text(&mut self, concept: ConceptId, id: u32) {
        if let Some(slot) = self.displays.get_mut(concept.0 as usize) {
            *slot = id;
        }
    }

    fn set_flag(&mut self, concept: ConceptId, flag: u8, on: bool) {
        if let Some(flags) = self.flags.get_mut(concept.0 as usize) {
            if on {
                *flags |= flag;
            } else {
                *flags &= !flag;
            }
        }
    }

    fn push_text(&mut self, text: &str) -> Result<u32, Error> {
        self.texts
            .push(text)
            .map_err(|_| self.too_large("bytes of text"))
    }

    fn intern(&mut self, label: &str) -> Result<u32, Error> {
        self.labels
            .intern(label)
            .map_err(|_| self.too_large("bytes of labels"))
    }

    fn resolve(&self, from: u32, code: &str, role: &str) -> Result<u32, Error> {
        self.code_index.get(&self.codes, code).ok_or_else(|| {
            self.invalid(format!(
                "concept '{}' names {role} '{code}', which is not in the code system",
                self.codes.get(from)
            ))
        })
    }

    fn invalid(&self, reason: String) -> Error {
        Error::InvalidCodeSystem {
            url: self.info.url.clone(),
            reason,
        }
    }

    fn too_large(&self, what: &'static str) -> Error {
        Error::TooLarge {
            system: self.info.url.clone(),
            what,
        }
    }
}

fn shrunk<T>(mut values: Vec<T>) -> Vec<T> {
    values.shrink_to_fit();
    values
}

/// CSR arrays from `(concept, record)` pairs: records grouped by concept, in the order they
/// were added within each concept.
fn group_by_concept<T: Copy>(
    concept_count: usize,
    mut pairs: Vec<(u32, T)>,
) -> Result<(Vec<u32>, Vec<T>), ArenaFull> {
    if !pairs.is_sorted_by_key(|&(concept, _)| concept) {
        pairs.sort_by_key(|&(concept, _)| concept);
    }
    let mut starts = Vec::with_capacity(concept_count + 1);
    starts.push(0_u32);
    let mut records = Vec::with_capacity(pairs.len());
    let mut concept = 0_usize;
    for (owner, record) in pairs {
        while concept < owner as usize {
            starts.push(u32::try_from(records.len()).map_err(|_| ArenaFull)?);
            concept += 1;
        }
        records.push(record);
    }
    let end = u32::try_from(records.len()).map_err(|_| ArenaFull)?;
    while starts.len() < concept_count + 1 {
        starts.push(end);
    }
    Ok((starts, records))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::definitions::Subsumption;

    fn builder() -> CodeSystemBuilder {
        CodeSystemBuilder::new(CodeSystemInfo::new("http://example.org/cs"))
    }

    #[test]
    fn builds_concepts_with_designations_properties_and_parents_by_code() {
        let mut builder = builder();
        let child = builder.add_concept("child").unwrap();
        builder.add_parent_code(child, "root");
        let root = builder.add_concept("root").unwrap();
        builder.set_display(root, "Root concept").unwrap();
        builder
            .add_designation(child, Some("nl"), None, "Kind")
            .unwrap();
        builder
            .add_property(root, "status", &PropertyValue::Code("retired".into()))
            .unwrap();
        builder.add_child_code(root, "other");
        let other = builder.add_concept("other").unwrap();
        builder.set_inactive(other, true);
        let system = builder.build().unwrap();

        assert_eq!(system.len(), 3);
        assert_eq!(
            system.subsumes("root", "child").unwrap(),
            Subsumption::Subsumes
        );
        assert_eq!(
            system.subsumes("other", "root").unwrap(),
            Subsumption::SubsumedBy
        );
        assert_eq!(
            system.subsumes("other", "child").unwrap(),
            Subsumption::NotSubsumed
        );
        let root = system.concept("root").unwrap();
        assert_eq!(root.display(), Some("Root concept"));
        assert_eq!(
            root.properties()[0].value,
            PropertyValue::Code("retired".into())
        );
        let child = system.concept("child").unwrap();
        assert_eq!(child.designations()[0].value, "Kind");
        assert_eq!(child.designations()[0].language.as_deref(), Some("nl"));
        assert!(!system.concept("other").unwrap().is_active());
        assert!(child.is_a(&root));
    }

    #[test]
    fn duplicate_codes_and_unknown_parents_are_errors() {
        let mut duplicate = builder();
        duplicate.add_concept("a").unwrap();
        let error = duplicate.add_concept("a").unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid code system 'http://example.org/cs': code 'a' appears more than once"
        );

        let mut dangling = builder();
        let a = dangling.add_concept("a").unwrap();
        dangling.add_parent_code(a, "missing");
        let error = dangling.build().unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid code system 'http://example.org/cs': concept 'a' names parent 'missing', \
             which is not in the code system"
        );
    }

    #[test]
    fn a_cycle_names_a_code_on_it() {
        let mut cyclic = builder();
        let a = cyclic.add_concept("a").unwrap();
        let b = cyclic.add_concept("b").unwrap();
        cyclic.add_parent(a, b);
        cyclic.add_parent(b, a);
        let error = cyclic.build().unwrap_err().to_string();
        assert!(
            error.contains("the hierarchy has a cycle through '"),
            "{error}"
        );
    }

    #[test]
    fn coding_properties_round_trip() {
        let mut builder = builder();
        let a = builder.add_concept("a").unwrap();
        let coding = Coding {
            system: Some("http://snomed.info/sct".into()),
            code: "123".into(),
            display: Some("Thing".into()),
        };
        builder
            .add_property(a, "focus", &PropertyValue::Coding(coding.clone()))
            .unwrap();
        builder
            .add_property(a, "rank", &PropertyValue::Integer(3))
            .unwrap();
        let system = builder.build().unwrap();
        let properties = system.concept("a").unwrap().properties();
        assert_eq!(properties[0].value, PropertyValue::Coding(coding));
        assert_eq!(properties[1].value, PropertyValue::Integer(3));
        assert_eq!(
            system.property_texts(0, "focus").collect::<Vec<_>>(),
            ["123"]
        );
    }
}
