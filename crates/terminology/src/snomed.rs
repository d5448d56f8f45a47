//! The SNOMED CT RF2 loader: [`read_snapshot`] reads a release's Snapshot files into a
//! [`CodeSystem`].
//!
//! Files (found by name anywhere under the folder given, as in a release's
//! `Snapshot/Terminology`, `Snapshot/Refset/Language` and `Snapshot/Refset/Content`):
//!
//! | file | prefix | used for |
//! | --- | --- | --- |
//! | concepts | `sct2_Concept_Snapshot` | codes, active flags, `moduleId`, `sufficientlyDefined` |
//! | descriptions | `sct2_Description_Snapshot` | designations: fully specified names and synonyms |
//! | language refsets | `der2_cRefset_LanguageSnapshot` | which synonym is the preferred term (the display) |
//! | relationships (inferred) | `sct2_Relationship_Snapshot` | the is-a hierarchy (`typeId` 116680003); every other type: attribute relationships (source, type, destination, group) for ECL refinements and `$lookup` properties |
//! | text definitions (optional) | `sct2_TextDefinition_Snapshot` | definitions |
//! | simple refsets (optional) | `der2_Refset_SimpleSnapshot` | reference set members, for ECL `^` and `?fhir_vs=refset/…` |
//!
//! Not read: the stated relationships, concrete values (`sct2_RelationshipConcreteValues…`),
//! OWL axioms, and reference sets of other patterns (association, attribute value, map).
//!
//! Inactive concepts are kept and marked inactive; inactive descriptions, relationships and
//! refset rows are skipped. Simple refset rows whose referenced component is a description or a
//! relationship are skipped too: ECL member of selects concepts. A concept's display is its preferred synonym in the
//! chosen language refset (US English by default), else in any language refset, else its fully
//! specified name, else any synonym.
//!
//! Each file is read line by line through one reused buffer; what is kept is the code system
//! being built plus, while it is read, the map of concept ids to ordinals and the sorted ids of
//! preferred descriptions (16 bytes each), so memory is bounded by the result, not by the
//! files: the 400,000-concept benchmark release (415 MB of files, 500,000 attribute
//! relationships) loads with a peak of about 250 MiB resident, of which 164 MiB is the finished
//! code system (15 MiB of it the attribute relationships, indexed both ways).

use std::collections::HashMap;
use std::path::{Path, PathBuf};

use crate::Error;
use crate::builder::{CodeSystemBuilder, ConceptId};
use crate::code_index::FastBuildHasher;
use crate::code_system::{CodeSystem, NO_TEXT};
use crate::definitions::{
    CodeSystemContent, CodeSystemInfo, Coding, HierarchyMeaning, PropertyDefinition, PropertyType,
    PropertyValue,
};
use crate::release::LineReader;

/// The SNOMED CT code system URL.
pub const SNOMED_CT: &str = "http://snomed.info/sct";

/// `116680003 |Is a|`: the relationship type of the hierarchy.
pub const IS_A: u64 = 116_680_003;
/// `900000000000003001 |Fully specified name|`.
pub const FULLY_SPECIFIED_NAME: u64 = 900_000_000_000_003_001;
/// `900000000000013009 |Synonym|`.
pub const SYNONYM: u64 = 900_000_000_000_013_009;
/// `900000000000550004 |Definition|`: the type of text definitions.
pub const DEFINITION: u64 = 900_000_000_000_550_004;
/// `900000000000548007 |Preferred|`: acceptability in a language refset.
pub const PREFERRED: u64 = 900_000_000_000_548_007;
/// `900000000000509007 |United States of America English language reference set|`.
pub const US_ENGLISH: u64 = 900_000_000_000_509_007;
/// `900000000000073002 |Defined|`: a concept's definition status when it is fully defined.
pub const DEFINED: u64 = 900_000_000_000_073_002;
/// `900000000000207008 |SNOMED CT core module|`: the International Edition's module.
pub const INTERNATIONAL_EDITION: u64 = 900_000_000_000_207_008;

const CONCEPT_HEADER: &str = "id effectiveTime active moduleId definitionStatusId";
const DESCRIPTION_HEADER: &str =
    "id effectiveTime active moduleId conceptId languageCode typeId term caseSignificanceId";
const RELATIONSHIP_HEADER: &str = "id effectiveTime active moduleId sourceId destinationId \
                                   relationshipGroup typeId characteristicTypeId modifierId";
const LANGUAGE_HEADER: &str =
    "id effectiveTime active moduleId refsetId referencedComponentId acceptabilityId";
const SIMPLE_REFSET_HEADER: &str =
    "id effectiveTime active moduleId refsetId referencedComponentId";

/// Choices for [`read_snapshot`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SnomedOptions {
    /// The edition's module id, for the version URI
    /// `http://snomed.info/sct/{edition}/version/{date}`.
    pub edition: u64,
    /// The language reference set whose preferred synonyms become displays.
    pub language_refset: u64,
}

impl Default for SnomedOptions {
    fn default() -> Self {
        SnomedOptions {
            edition: INTERNATIONAL_EDITION,
            language_refset: US_ENGLISH,
        }
    }
}

/// What [`read_snapshot`] read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rf2Stats {
    /// Concepts (active and inactive).
    pub concepts: usize,
    /// Of which inactive.
    pub inactive_concepts: usize,
    /// Active descriptions kept as designations.
    pub descriptions: usize,
    /// Inactive descriptions skipped.
    pub inactive_descriptions: usize,
    /// Relationship rows read.
    pub relationships: usize,
    /// Active is-a relationships: the hierarchy's edges.
    pub is_a_relationships: usize,
    /// Active relationships of other types: the attribute relationships kept for ECL
    /// refinements and `$lookup`.
    pub attribute_relationships: usize,
    /// Inactive relationship rows skipped.
    pub inactive_relationships: usize,
    /// Language refset rows read.
    pub language_rows: usize,
    /// Simple refset rows read (0 without a simple refset file).
    pub refset_rows: usize,
    /// Active simple refset rows whose member is a concept: the members kept.
    pub refset_members: usize,
    /// Reference sets with at least one member kept.
    pub refsets: usize,
    /// Concepts whose display is a preferred synonym (the rest fall back).
    pub preferred_terms: usize,
    /// Concepts given a text definition.
    pub text_definitions: usize,
    /// (concept, ancestor) pairs in the transitive closure.
    pub closure_size: usize,
    /// The files read.
    pub files: Vec<PathBuf>,
}

/// Reads an RF2 Snapshot release under `dir` into a code system (URL
/// [`SNOMED_CT`], version from the concept file's date), with its closure and word index.
///
/// # Errors
///
/// [`Error::Rf2MissingFile`] or [`Error::Rf2AmbiguousFile`] if the files are not there once
/// each; [`Error::Rf2Header`] for a file whose header is not its kind's; [`Error::Rf2Line`],
/// naming file and line, for a row with the wrong number of columns, an id that is not an
/// SCTID, an active flag that is not 0 or 1, a concept listed twice, or a description or
/// relationship naming a concept the concept file does not have; [`Error::Io`] if a file cannot
/// be read.
pub fn read_snapshot(dir: &Path, options: &SnomedOptions) -> Result<(CodeSystem, Rf2Stats), Error> {
    let files = ReleaseFiles::find(dir)?;
    let mut stats = Rf2Stats {
        files: files.all(),
        ..Rf2Stats::default()
    };
    let version = release_date(&files.concept)
        .map(|date| format!("{SNOMED_CT}/{}/version/{date}", options.edition));
    let mut builder = CodeSystemBuilder::new(snomed_info(version));

    let ids = read_concepts(&files.concept, &mut builder, &mut stats)?;
    let preferred = read_language_refsets(&files.language_refsets, options, &mut stats)?;
    let mut best: Vec<(u8, u32)> = vec![(u8::MAX, NO_TEXT); ids.len()];
    for path in &files.descriptions {
        read_descriptions(path, &ids, &preferred, &mut builder, &mut best, &mut stats)?;
    }
    drop(preferred);
    for path in &files.text_definitions {
        read_text_definitions(path, &ids, &mut builder, &mut stats)?;
    }
    read_relationships(&files.relationship, &ids, &mut builder, &mut stats)?;
    for path in &files.simple_refsets {
        read_simple_refset(path, &ids, &mut builder, &mut stats)?;
    }
    drop(ids);

    for (ordinal, &(rank, text)) in best.iter().enumerate() {
        if text == NO_TEXT {
            continue;
        }
        if rank <= 1 {
            stats.preferred_terms += 1;
        }
        if let Ok(ordinal) = u32::try_from(ordinal) {
            builder.set_display_text(ConceptId::from_ordinal(ordinal), text);
        }
    }
    drop(best);
    let system = builder.build()?;
    stats.closure_size = system.hierarchy_size().1;
    stats.refsets = system.refset_size().0;
    Ok((system, stats))
}

fn snomed_info(version: Option<String>) -> CodeSystemInfo {
    let property =
        |code: &str, kind: PropertyType, uri: &str, description: &str| PropertyDefinition {
            code: code.to_owned(),
            uri: Some(uri.to_owned()),
            kind,
            description: Some(description.to_owned()),
        };
    CodeSystemInfo {
        url: SNOMED_CT.to_owned(),
        version,
        name: Some("SNOMED_CT".to_owned()),
        title: Some("SNOMED CT".to_owned()),
        status: Some("active".to_owned()),
        content: CodeSystemContent::Complete,
        hierarchy_meaning: Some(HierarchyMeaning::IsA),
        case_sensitive: Some(false),
        properties: vec![
            property(
                "moduleId",
                PropertyType::Code,
                "http://snomed.info/field/Concept.moduleId",
                "The module the concept belongs to",
            ),
            property(
                "sufficientlyDefined",
                PropertyType::Boolean,
                "http://snomed.info/field/Concept.definitionStatusId",
                "Whether the concept is fully defined",
            ),
        ],
    }
}

/// The release files, found by name prefix.
struct ReleaseFiles {
    concept: PathBuf,
    descriptions: Vec<PathBuf>,
    text_definitions: Vec<PathBuf>,
    relationship: PathBuf,
    language_refsets: Vec<PathBuf>,
    simple_refsets: Vec<PathBuf>,
}

impl ReleaseFiles {
    fn find(dir: &Path) -> Result<ReleaseFiles, Error> {
        let mut found: Vec<PathBuf> = Vec::new();
        crate::release::list_files(dir, 0, &mut found)?;
        found.sort();
        let with_prefix = |prefix: &str| -> Vec<PathBuf> {
            found
                .iter()
                .filter(|path| {
                    path.file_name()
                        .and_then(|name| name.to_str())
                        .is_some_and(|name| name.starts_with(prefix) && name.ends_with(".txt"))
                })
                .cloned()
                .collect()
        };
        let required = |kind: &'static str, pattern: &'static str| -> Result<Vec<PathBuf>, Error> {
            let files = with_prefix(pattern);
            if files.is_empty() {
                return Err(Error::Rf2MissingFile {
                    dir: dir.to_owned(),
                    kind,
                    pattern,
                });
            }
            Ok(files)
        };
        let single = |kind: &'static str, pattern: &'static str| -> Result<PathBuf, Error> {
            let mut files = required(kind, pattern)?;
            if files.len() > 1 {
                return Err(Error::Rf2AmbiguousFile {
                    dir: dir.to_owned(),
                    kind,
                    files: files
                        .iter()
                        .map(|path| path.display().to_string())
                        .collect::<Vec<_>>()
                        .join(", "),
                });
            }
            Ok(files.remove(0))
        };
        Ok(ReleaseFiles {
            concept: single("concept", "sct2_Concept_Snapshot")?,
            descriptions: required("description", "sct2_Description_Snapshot")?,
            text_definitions: with_prefix("sct2_TextDefinition_Snapshot"),
            relationship: single("relationship", "sct2_Relationship_Snapshot")?,
            language_refsets: required("language refset", "der2_cRefset_LanguageSnapshot")?,
            simple_refsets: with_prefix("der2_Refset_SimpleSnapshot"),
        })
    }

    fn all(&self) -> Vec<PathBuf> {
        let mut files = vec![self.concept.clone()];
        files.extend(self.descriptions.iter().cloned());
        files.extend(self.text_definitions.iter().cloned());
        files.push(self.relationship.clone());
        files.extend(self.language_refsets.iter().cloned());
        files.extend(self.simple_refsets.iter().cloned());
        files
    }
}

/// The release date at the end of an RF2 file name: `sct2_Concept_Snapshot_INT_20240101.txt`.
fn release_date(path: &Path) -> Option<String> {
    let stem = path.file_stem()?.to_str()?;
    let date = stem.rsplit('_').next()?;
    (date.len() == 8 && date.bytes().all(|byte| byte.is_ascii_digit())).then(|| date.to_owned())
}

/// Reads one RF2 file row by row.
struct Rf2Reader {
    lines: LineReader,
}

impl Rf2Reader {
    /// Opens `path` and checks its header against `header` (column names, space-separated).
    fn open(path: &Path, header: &'static str) -> Result<Rf2Reader, Error> {
        let mut reader = Rf2Reader {
            lines: LineReader::open(path)?,
        };
        let found = if reader.next_line()? {
            reader.text()?.to_owned()
        } else {
            String::new()
        };
        if !found.split('\t').eq(header.split(' ')) {
            return Err(Error::Rf2Header {
                file: path.to_owned(),
                expected: header,
                found: found.replace('\t', " ").chars().take(200).collect(),
            });
        }
        Ok(reader)
    }

    /// Reads the next non-blank line, without its line ending (a byte order mark before the
    /// header is dropped).
    fn next_line(&mut self) -> Result<bool, Error> {
        self.lines.next_line()
    }

    fn text(&self) -> Result<&str, Error> {
        std::str::from_utf8(self.lines.bytes())
            .map_err(|error| self.error(format!("is not UTF-8: {error}")))
    }

    /// The current line's `N` tab-separated columns.
    fn columns<const N: usize>(&self) -> Result<[&str; N], Error> {
        let text = self.text()?;
        let mut columns = [""; N];
        let mut count = 0;
        for column in text.split('\t') {
            if let Some(slot) = columns.get_mut(count) {
                *slot = column;
            }
            count += 1;
        }
        if count != N {
            return Err(self.error(format!("has {count} columns, expected {N}")));
        }
        Ok(columns)
    }

    fn error(&self, reason: String) -> Error {
        Error::Rf2Line {
            file: self.lines.path().to_owned(),
            line: self.lines.line(),
            reason,
        }
    }

    /// An SCTID column: 6 to 18 digits.
    fn id(&self, name: &str, value: &str) -> Result<u64, Error> {
        if !(6..=18).contains(&value.len()) || !value.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(self.error(format!("{name} '{value}' is not an SCTID")));
        }
        value
            .parse()
            .map_err(|_| self.error(format!("{name} '{value}' is not an SCTID")))
    }

    fn active(&self, value: &str) -> Result<bool, Error> {
        match value {
            "1" => Ok(true),
            "0" => Ok(false),
            _ => Err(self.error(format!("active is '{value}', not 0 or 1"))),
        }
    }

    fn concept(
        &self,
        ids: &HashMap<u64, ConceptId, FastBuildHasher>,
        name: &str,
        value: &str,
    ) -> Result<ConceptId, Error> {
        let id = self.id(name, value)?;
        ids.get(&id)
            .copied()
            .ok_or_else(|| self.error(format!("{name} {id} is not in the concept file")))
    }
}

fn read_concepts(
    path: &Path,
    builder: &mut CodeSystemBuilder,
    stats: &mut Rf2Stats,
) -> Result<HashMap<u64, ConceptId, FastBuildHasher>, Error> {
    let mut reader = Rf2Reader::open(path, CONCEPT_HEADER)?;
    let mut ids: HashMap<u64, ConceptId, FastBuildHasher> = HashMap::default();
    let defined = PropertyValue::Boolean(true);
    let primitive = PropertyValue::Boolean(false);
    let mut module_values: HashMap<u64, PropertyValue, FastBuildHasher> = HashMap::default();
    while reader.next_line()? {
        let [id, _effective_time, active, module, definition_status] = reader.columns::<5>()?;
        let code = id;
        let id = reader.id("id", id)?;
        let active = reader.active(active)?;
        let module_id = reader.id("moduleId", module)?;
        let status = reader.id("definitionStatusId", definition_status)?;
        if ids.contains_key(&id) {
            return Err(reader.error(format!("concept {id} appears twice")));
        }
        let concept = builder.add_concept(code)?;
        ids.insert(id, concept);
        stats.concepts += 1;
        if !active {
            builder.set_inactive(concept, true);
            stats.inactive_concepts += 1;
        }
        let module_value = module_values
            .entry(module_id)
            .or_insert_with(|| PropertyValue::Code(module.to_owned()));
        builder.add_property(concept, "moduleId", module_value)?;
        let sufficiently_defined = if status == DEFINED {
            &defined
        } else {
            &primitive
        };
        builder.add_property(concept, "sufficientlyDefined", sufficiently_defined)?;
    }
    Ok(ids)
}

/// Ids of descriptions that are preferred in a language refset, sorted, with 0 for the chosen
/// refset and 1 for any other.
fn read_language_refsets(
    paths: &[PathBuf],
    options: &SnomedOptions,
    stats: &mut Rf2Stats,
) -> Result<Vec<(u64, u8)>, Error> {
    let mut preferred: Vec<(u64, u8)> = Vec::new();
    for path in paths {
        let mut reader = Rf2Reader::open(path, LANGUAGE_HEADER)?;
        while reader.next_line()? {
            let [
                _id,
                _effective_time,
                active,
                _module,
                refset,
                description,
                acceptability,
            ] = reader.columns::<7>()?;
            stats.language_rows += 1;
            if !reader.active(active)? {
                continue;
            }
            let refset = reader.id("refsetId", refset)?;
            let description = reader.id("referencedComponentId", description)?;
            let acceptability = reader.id("acceptabilityId", acceptability)?;
            if acceptability == PREFERRED {
                let rank = u8::from(refset != options.language_refset);
                preferred.push((description, rank));
            }
        }
    }
    preferred.sort_unstable();
    preferred.dedup_by_key(|(description, _)| *description);
    preferred.shrink_to_fit();
    Ok(preferred)
}

fn read_descriptions(
    path: &Path,
    ids: &HashMap<u64, ConceptId, FastBuildHasher>,
    preferred: &[(u64, u8)],
    builder: &mut CodeSystemBuilder,
    best: &mut [(u8, u32)],
    stats: &mut Rf2Stats,
) -> Result<(), Error> {
    let mut reader = Rf2Reader::open(path, DESCRIPTION_HEADER)?;
    let fsn = designation_use(FULLY_SPECIFIED_NAME, "Fully specified name");
    let synonym = designation_use(SYNONYM, "Synonym");
    let mut other_uses: HashMap<u64, Coding, FastBuildHasher> = HashMap::default();
    while reader.next_line()? {
        let [
            id,
            _effective_time,
            active,
            _module,
            concept,
            language,
            kind,
            term,
            _case,
        ] = reader.columns::<9>()?;
        let id = reader.id("id", id)?;
        if !reader.active(active)? {
            stats.inactive_descriptions += 1;
            continue;
        }
        let concept = reader.concept(ids, "conceptId", concept)?;
        let kind = reader.id("typeId", kind)?;
        let usage = match kind {
            FULLY_SPECIFIED_NAME => &fsn,
            SYNONYM => &synonym,
            other => other_uses
                .entry(other)
                .or_insert_with(|| designation_use(other, "")),
        };
        let text = builder.add_designation_text(concept, Some(language), Some(usage), term)?;
        stats.descriptions += 1;
        let preference = preferred
            .binary_search_by_key(&id, |&(description, _)| description)
            .ok()
            .and_then(|index| preferred.get(index))
            .map(|&(_, rank)| rank);
        let rank = match (kind, preference) {
            (SYNONYM, Some(rank)) => rank,
            (FULLY_SPECIFIED_NAME, _) => 2,
            (SYNONYM, None) => 3,
            _ => continue,
        };
        if let Some(slot) = best.get_mut(concept.ordinal() as usize)
            && rank < slot.0
        {
            *slot = (rank, text);
        }
    }
    Ok(())
}

fn designation_use(type_id: u64, display: &str) -> Coding {
    Coding {
        system: Some(SNOMED_CT.to_owned()),
        code: type_id.to_string(),
        display: (!display.is_empty()).then(|| display.to_owned()),
    }
}

fn read_text_definitions(
    path: &Path,
    ids: &HashMap<u64, ConceptId, FastBuildHasher>,
    builder: &mut CodeSystemBuilder,
    stats: &mut Rf2Stats,
) -> Result<(), Error> {
    let mut reader = Rf2Reader::open(path, DESCRIPTION_HEADER)?;
    while reader.next_line()? {
        let [
            _id,
            _effective_time,
            active,
            _module,
            concept,
            _language,
            _kind,
            term,
            _case,
        ] = reader.columns::<9>()?;
        if !reader.active(active)? {
            continue;
        }
        let concept = reader.concept(ids, "conceptId", concept)?;
        builder.set_definition(concept, term)?;
        stats.text_definitions += 1;
    }
    Ok(())
}

fn read_relationships(
    path: &Path,
    ids: &HashMap<u64, ConceptId, FastBuildHasher>,
    builder: &mut CodeSystemBuilder,
    stats: &mut Rf2Stats,
) -> Result<(), Error> {
    let mut reader = Rf2Reader::open(path, RELATIONSHIP_HEADER)?;
    while reader.next_line()? {
        let [
            _id,
            _effective_time,
            active,
            _module,
            source,
            destination,
            group,
            kind,
            _,
            _,
        ] = reader.columns::<10>()?;
        stats.relationships += 1;
        if !reader.active(active)? {
            stats.inactive_relationships += 1;
            continue;
        }
        let source = reader.concept(ids, "sourceId", source)?;
        let destination = reader.concept(ids, "destinationId", destination)?;
        if reader.id("typeId", kind)? == IS_A {
            builder.add_parent(source, destination);
            stats.is_a_relationships += 1;
            continue;
        }
        let kind = reader.concept(ids, "typeId", kind)?;
        let group: u32 = group.parse().map_err(|_| {
            reader.error(format!(
                "relationshipGroup '{group}' is not a number from 0 to {}",
                u32::MAX
            ))
        })?;
        builder.add_relationship(source, kind, destination, group);
        stats.attribute_relationships += 1;
    }
    Ok(())
}

/// A simple reference set file: active rows whose referenced component is a concept become
/// members. Rows naming a description or relationship (the SCTID's partition says which) are
/// read and skipped: ECL's member of selects concepts.
fn read_simple_refset(
    path: &Path,
    ids: &HashMap<u64, ConceptId, FastBuildHasher>,
    builder: &mut CodeSystemBuilder,
    stats: &mut Rf2Stats,
) -> Result<(), Error> {
    let mut reader = Rf2Reader::open(path, SIMPLE_REFSET_HEADER)?;
    while reader.next_line()? {
        let [_id, _effective_time, active, _module, refset, component] = reader.columns::<6>()?;
        stats.refset_rows += 1;
        if !reader.active(active)? {
            continue;
        }
        let refset = reader.concept(ids, "refsetId", refset)?;
        let component_id = reader.id("referencedComponentId", component)?;
        // The partition identifier is the two digits before the check digit; its second digit
        // is the component type: 0 concept, 1 description, 2 relationship.
        if (component_id / 10) % 10 != 0 {
            continue;
        }
        let member = reader.concept(ids, "referencedComponentId", component)?;
        builder.add_refset_member(refset, member);
        stats.refset_members += 1;
    }
    Ok(())
}
