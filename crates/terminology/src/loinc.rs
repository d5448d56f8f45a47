//! The LOINC loader: [`read_release`] reads a LOINC release folder into a [`CodeSystem`]
//! (URL [`LOINC`]) whose concepts are the LOINC terms and the LOINC parts (LP codes), with the
//! component hierarchy as the is-a hierarchy, so `$subsumes` and `is-a` filters run from parts
//! down to terms.
//!
//! Files (found without regard to case at these places under the folder given, else by file
//! name anywhere under it), each a quoted CSV with a header row; columns are found by header
//! name, so column order and added columns do not matter:
//!
//! | file | place | columns read |
//! | --- | --- | --- |
//! | terms | `LoincTable/Loinc.csv` | `LOINC_NUM`, `LONG_COMMON_NAME`, `STATUS`, `COMPONENT`, `PROPERTY`, `TIME_ASPCT`, `SYSTEM`, `SCALE_TYP`, `METHOD_TYP`, `CLASS`; if present `SHORTNAME`, `DisplayName`, `DefinitionDescription`, `CLASSTYPE`, `ORDER_OBS`, `VersionFirstReleased`, `VersionLastChanged`, `EXAMPLE_UCUM_UNITS`, `UNITSREQUIRED`, `PanelType` |
//! | parts | `AccessoryFiles/PartFile/Part.csv` | `PartNumber`, `PartTypeName`, `PartName`, `PartDisplayName`, `Status` |
//! | hierarchy | `AccessoryFiles/ComponentHierarchyBySystem/ComponentHierarchyBySystem.csv`, or `AccessoryFiles/MultiAxialHierarchy/MultiAxialHierarchy.csv` in older releases | `IMMEDIATE_PARENT`, `CODE`, `CODE_TEXT` |
//! | primary part links (optional) | `AccessoryFiles/PartFile/LoincPartLink_Primary.csv` | `LoincNumber`, `PartNumber`, `PartName`, `Property` |
//!
//! What becomes of them:
//! - A term's display is `LONG_COMMON_NAME` (else `DisplayName`, else `SHORTNAME`, else the
//!   fully specified name: the six axes joined by colons); `LONG_COMMON_NAME`, `SHORTNAME` and `DisplayName` are also designations (language
//!   `en-US`, `use` a Coding of system `http://loinc.org` whose code is the column name);
//!   `DefinitionDescription` is the definition.
//! - Properties are named as in the FHIR LOINC guidance. `COMPONENT`, `PROPERTY`, `TIME_ASPCT`,
//!   `SYSTEM`, `SCALE_TYP` and `METHOD_TYP` are Codings of the part (`LP…`) when the primary
//!   part link file is there, so `COMPONENT = LP14635-4` filters by part; without it they are
//!   the part names from `Loinc.csv` as strings (`SCALE_TYP = Qn`). `STATUS`, `CLASS`,
//!   `CLASSTYPE`, `ORDER_OBS`, `VersionFirstReleased`, `VersionLastChanged`,
//!   `EXAMPLE_UCUM_UNITS`, `UNITSREQUIRED` and `PanelType` are strings, as written; empty
//!   values are left out.
//! - `STATUS` `DEPRECATED` makes a term inactive; `DISCOURAGED` and `TRIAL` terms stay active
//!   (LOINC still defines them) and keep their status in the `STATUS` property. Parts: `Status`
//!   `DEPRECATED` likewise makes the part inactive.
//! - A part's display is `PartDisplayName` (else `PartName`); it has `PartTypeName` and
//!   `STATUS` properties.
//! - Each hierarchy row makes `IMMEDIATE_PARENT` a parent of `CODE`; a code appears under
//!   several parents (a term under each of its component and system nodes), so concepts have
//!   several parents. A hierarchy code that is neither a term nor a part (some grouping nodes)
//!   is added as a concept with `CODE_TEXT` as its display.
//!
//! The version is, in order: [`LoincOptions::version`]; the number in the name of a folder
//! holding `Loinc.csv` (`Loinc_2.77` → `2.77`); the highest `VersionLastChanged` in `Loinc.csv`
//! (each release changes some terms, so this is the release's version).
//!
//! Each file is read record by record through one reused record; what is kept is the code
//! system being built and the hierarchy rows whose parent is not yet known.

use std::path::{Path, PathBuf};

use crate::Error;
use crate::builder::{CodeSystemBuilder, ConceptId};
use crate::code_system::CodeSystem;
use crate::definitions::{
    CodeSystemContent, CodeSystemInfo, Coding, HierarchyMeaning, PropertyDefinition, PropertyType,
    PropertyValue,
};
use crate::release::{CsvColumns, ReleaseFolder, line_error};

/// The LOINC code system URL.
pub const LOINC: &str = "http://loinc.org";

/// The language of LOINC's own (English) names.
const ENGLISH: &str = "en-US";

/// The six axes of a LOINC term, as `Loinc.csv` and the FHIR property codes name them.
const AXES: [&str; 6] = [
    "COMPONENT",
    "PROPERTY",
    "TIME_ASPCT",
    "SYSTEM",
    "SCALE_TYP",
    "METHOD_TYP",
];

/// `Loinc.csv` columns kept as string properties under their own names, if the file has them.
const STRING_PROPERTIES: [&str; 8] = [
    "CLASS",
    "CLASSTYPE",
    "ORDER_OBS",
    "VersionFirstReleased",
    "VersionLastChanged",
    "EXAMPLE_UCUM_UNITS",
    "UNITSREQUIRED",
    "PanelType",
];

/// `Loinc.csv` columns that become designations, in the order they are added.
const DESIGNATION_COLUMNS: [&str; 3] = ["LONG_COMMON_NAME", "SHORTNAME", "DisplayName"];

const TABLE_PLACES: [&str; 1] = ["LoincTable/Loinc.csv"];
const PART_PLACES: [&str; 1] = ["AccessoryFiles/PartFile/Part.csv"];
const LINK_PLACES: [&str; 1] = ["AccessoryFiles/PartFile/LoincPartLink_Primary.csv"];
const HIERARCHY_PLACES: [&str; 2] = [
    "AccessoryFiles/ComponentHierarchyBySystem/ComponentHierarchyBySystem.csv",
    "AccessoryFiles/MultiAxialHierarchy/MultiAxialHierarchy.csv",
];

/// Choices for [`read_release`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoincOptions {
    /// The version to give the code system (`2.77`), instead of the one found from the folder
    /// name or the terms.
    pub version: Option<String>,
}

/// What [`read_release`] read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct LoincStats {
    /// Records read from `Loinc.csv`: one LOINC term each.
    pub term_rows: usize,
    /// Terms whose `STATUS` is `DEPRECATED` (inactive).
    pub deprecated_terms: usize,
    /// Terms whose `STATUS` is `DISCOURAGED` (active, with that status).
    pub discouraged_terms: usize,
    /// Records read from `Part.csv`: one part each.
    pub part_rows: usize,
    /// Parts whose `Status` is `DEPRECATED` (inactive).
    pub deprecated_parts: usize,
    /// Records read from the primary part link file (0 without one).
    pub part_link_rows: usize,
    /// Records read from the hierarchy file.
    pub hierarchy_rows: usize,
    /// Hierarchy codes that are neither terms nor parts, added as concepts.
    pub hierarchy_only_codes: usize,
    /// Rows read but not used: part links naming a term or part that is not in the release,
    /// part rows repeating a term's code.
    pub skipped_rows: usize,
    /// Concepts in the code system (terms, parts and hierarchy-only codes).
    pub concepts: usize,
    /// Of which inactive.
    pub inactive_concepts: usize,
    /// Distinct parent links in the hierarchy.
    pub parent_links: usize,
    /// (concept, ancestor) pairs in the transitive closure.
    pub closure_size: usize,
    /// The files read.
    pub files: Vec<PathBuf>,
}

/// The release files, found by place.
struct LoincFiles {
    table: PathBuf,
    parts: PathBuf,
    hierarchy: PathBuf,
    links: Option<PathBuf>,
}

impl LoincFiles {
    fn find(dir: &Path) -> Result<LoincFiles, Error> {
        let folder = ReleaseFolder::list(dir)?;
        Ok(LoincFiles {
            table: folder.require("Loinc.csv", &TABLE_PLACES)?,
            parts: folder.require("Part.csv", &PART_PLACES)?,
            hierarchy: folder.require("component hierarchy", &HIERARCHY_PLACES)?,
            links: folder.find("primary part link", &LINK_PLACES)?,
        })
    }

    fn all(&self) -> Vec<PathBuf> {
        let mut files = vec![self.table.clone(), self.parts.clone()];
        files.extend(self.links.iter().cloned());
        files.push(self.hierarchy.clone());
        files
    }
}

/// Reads the LOINC release under `dir` into a code system (URL [`LOINC`]) with its closure
/// and word index. See the module documentation for the files and what becomes of them.
///
/// # Errors
///
/// [`Error::ReleaseMissingFile`] if `Loinc.csv`, `Part.csv` or the hierarchy file is not
/// there, [`Error::ReleaseAmbiguousFile`] if one is there twice; [`Error::ReleaseLine`], naming
/// file and line, for a header without a needed column, a record that is not CSV or not
/// UTF-8, a LOINC number that is malformed or fails its check digit, a code listed twice, an
/// empty part number or hierarchy code, or a hierarchy parent that is nowhere in the release;
/// [`Error::InvalidCodeSystem`] for a cycle in the hierarchy; [`Error::Io`] if a file cannot
/// be read.
pub fn read_release(dir: &Path, options: &LoincOptions) -> Result<(CodeSystem, LoincStats), Error> {
    let files = LoincFiles::find(dir)?;
    let mut stats = LoincStats {
        files: files.all(),
        ..LoincStats::default()
    };
    let mut builder = CodeSystemBuilder::new(loinc_info(files.links.is_some()));
    let highest_change = read_terms(
        &files.table,
        files.links.is_none(),
        &mut builder,
        &mut stats,
    )?;
    read_parts(&files.parts, &mut builder, &mut stats)?;
    if let Some(links) = &files.links {
        read_part_links(links, &mut builder, &mut stats)?;
    }
    read_hierarchy(&files.hierarchy, &mut builder, &mut stats)?;

    builder.info_mut().version = options
        .version
        .clone()
        .or_else(|| version_from_folders(&files.table))
        .or(highest_change.map(|(major, minor)| format!("{major}.{minor}")));
    let system = builder.build()?;
    stats.concepts = system.len();
    stats.inactive_concepts = system.concepts().filter(|c| !c.is_active()).count();
    (stats.parent_links, stats.closure_size) = system.hierarchy_size();
    Ok((system, stats))
}

fn loinc_info(has_part_links: bool) -> CodeSystemInfo {
    let property = |code: &str, kind: PropertyType, description: &str| PropertyDefinition {
        code: code.to_owned(),
        uri: Some(format!("{LOINC}/property/{code}")),
        kind,
        description: Some(description.to_owned()),
    };
    let axis_type = if has_part_links {
        PropertyType::Coding
    } else {
        PropertyType::String
    };
    let mut properties = vec![property(
        "STATUS",
        PropertyType::String,
        "Status of the term or part: ACTIVE, TRIAL, DISCOURAGED, DEPRECATED",
    )];
    for axis in AXES {
        properties.push(property(
            axis,
            axis_type,
            "One of the six axes of a LOINC term",
        ));
    }
    for column in STRING_PROPERTIES {
        properties.push(property(
            column,
            PropertyType::String,
            "The Loinc.csv column of this name",
        ));
    }
    properties.push(property(
        "PartTypeName",
        PropertyType::String,
        "The kind of a part (COMPONENT, SYSTEM, CLASS, ...)",
    ));
    CodeSystemInfo {
        url: LOINC.to_owned(),
        version: None,
        name: Some("LOINC".to_owned()),
        title: Some("LOINC Code System".to_owned()),
        status: Some("active".to_owned()),
        content: CodeSystemContent::Complete,
        hierarchy_meaning: Some(HierarchyMeaning::IsA),
        case_sensitive: Some(false),
        properties,
    }
}

/// Reads `Loinc.csv`; returns the highest `VersionLastChanged`.
fn read_terms(
    path: &Path,
    axes_as_strings: bool,
    builder: &mut CodeSystemBuilder,
    stats: &mut LoincStats,
) -> Result<Option<(u32, u32)>, Error> {
    let mut csv = CsvColumns::open(path)?;
    let code_column = csv.column("LOINC_NUM")?;
    let status_column = csv.column("STATUS")?;
    csv.column("LONG_COMMON_NAME")?;
    let mut axis_columns = [0; AXES.len()];
    for (slot, axis) in axis_columns.iter_mut().zip(AXES) {
        *slot = csv.column(axis)?;
    }
    csv.column("CLASS")?;
    let designation_columns = DESIGNATION_COLUMNS.map(|name| csv.optional_column(name));
    let string_columns = STRING_PROPERTIES.map(|name| csv.optional_column(name));
    let definition_column = csv.optional_column("DefinitionDescription");
    let changed_column = csv.optional_column("VersionLastChanged");
    let usages = DESIGNATION_COLUMNS.map(|name| Coding {
        system: Some(LOINC.to_owned()),
        code: name.to_owned(),
        display: None,
    });
    let mut highest_change: Option<(u32, u32)> = None;

    while csv.next_record()? {
        stats.term_rows += 1;
        let code = csv.get(code_column);
        check_loinc_number(code).map_err(|reason| csv.error(reason))?;
        if builder.concept_id(code).is_some() {
            return Err(csv.error(format!("LOINC_NUM {code} appears twice")));
        }
        let concept = builder.add_concept(code)?;

        let mut display = None;
        for ((column, usage), name) in designation_columns
            .iter()
            .zip(&usages)
            .zip(DESIGNATION_COLUMNS)
        {
            let value = csv.get_optional(*column);
            if value.is_empty() {
                continue;
            }
            let text = builder.add_designation_text(concept, Some(ENGLISH), Some(usage), value)?;
            // LONG_COMMON_NAME first, then DisplayName, then SHORTNAME.
            let rank = match name {
                "LONG_COMMON_NAME" => 0,
                "DisplayName" => 1,
                _ => 2,
            };
            if display.is_none_or(|(best, _)| rank < best) {
                display = Some((rank, text));
            }
        }
        match display {
            Some((_, text)) => builder.set_display_text(concept, text),
            // No name at all: the fully specified name, the six axes joined by colons.
            None => {
                let axes = axis_columns.map(|column| csv.get(column));
                builder.set_display(concept, axes.join(":").trim_end_matches(':'))?;
            }
        }

        let status = csv.get(status_column);
        match status {
            "DEPRECATED" => {
                builder.set_inactive(concept, true);
                stats.deprecated_terms += 1;
            }
            "DISCOURAGED" => stats.discouraged_terms += 1,
            _ => {}
        }
        add_string(builder, concept, "STATUS", status)?;
        if axes_as_strings {
            for (axis, column) in AXES.iter().zip(axis_columns) {
                add_string(builder, concept, axis, csv.get(column))?;
            }
        }
        for (name, column) in STRING_PROPERTIES.iter().zip(string_columns) {
            add_string(builder, concept, name, csv.get_optional(column))?;
        }
        let definition = csv.get_optional(definition_column);
        if !definition.is_empty() {
            builder.set_definition(concept, definition)?;
        }
        if let Some(changed) = parse_version(csv.get_optional(changed_column)) {
            highest_change = highest_change.max(Some(changed));
        }
    }
    Ok(highest_change)
}

fn add_string(
    builder: &mut CodeSystemBuilder,
    concept: ConceptId,
    code: &str,
    value: &str,
) -> Result<(), Error> {
    if value.is_empty() {
        return Ok(());
    }
    builder.add_property(concept, code, &PropertyValue::String(value.to_owned()))
}

/// Checks a LOINC number: one to seven digits, a hyphen and the mod-10 check digit.
fn check_loinc_number(code: &str) -> Result<(), String> {
    let malformed =
        || format!("LOINC_NUM '{code}' is not a LOINC number (digits, '-', check digit)");
    let Some((number, check)) = code.split_once('-') else {
        return Err(malformed());
    };
    let digits_only = |text: &str| !text.is_empty() && text.bytes().all(|b| b.is_ascii_digit());
    if !digits_only(number) || number.len() > 7 || check.len() != 1 || !digits_only(check) {
        return Err(malformed());
    }
    let expected = loinc_check_digit(number);
    if check.bytes().next() != Some(b'0' + expected) {
        return Err(format!(
            "LOINC_NUM '{code}' has check digit {check}, but {number} gives {expected}"
        ));
    }
    Ok(())
}

/// LOINC's mod-10 check digit of the digits before the hyphen (the Luhn algorithm: from the
/// right, every other digit doubled, starting with the last).
pub fn loinc_check_digit(number: &str) -> u8 {
    let sum: u32 = number
        .bytes()
        .rev()
        .filter(u8::is_ascii_digit)
        .enumerate()
        .map(|(position, byte)| {
            let digit = u32::from(byte - b'0');
            if position % 2 == 0 {
                let doubled = digit * 2;
                doubled / 10 + doubled % 10
            } else {
                digit
            }
        })
        .sum();
    // The sum mod 10 is below 10, so the cast cannot truncate.
    ((10 - sum % 10) % 10) as u8
}

/// `2.77` → (2, 77); `None` for anything else.
fn parse_version(text: &str) -> Option<(u32, u32)> {
    let (major, minor) = text.split_once('.')?;
    Some((major.parse().ok()?, minor.parse().ok()?))
}

/// The version in the name of a folder above `table` (`Loinc_2.77`, `loinc-2.77`,
/// `LOINC 2.77 Text`).
fn version_from_folders(table: &Path) -> Option<String> {
    table.ancestors().skip(1).find_map(|folder| {
        let name = folder.file_name()?.to_str()?.to_lowercase();
        let rest = name.strip_prefix("loinc")?;
        let rest = rest.trim_start_matches(['_', '-', ' ', 'v']);
        let end = rest
            .find(|c: char| !(c.is_ascii_digit() || c == '.'))
            .unwrap_or(rest.len());
        let version = rest.get(..end)?.trim_end_matches('.');
        parse_version(version).map(|_| version.to_owned())
    })
}

fn read_parts(
    path: &Path,
    builder: &mut CodeSystemBuilder,
    stats: &mut LoincStats,
) -> Result<(), Error> {
    let mut csv = CsvColumns::open(path)?;
    let code_column = csv.column("PartNumber")?;
    let type_column = csv.column("PartTypeName")?;
    let name_column = csv.column("PartName")?;
    let display_column = csv.optional_column("PartDisplayName");
    let status_column = csv.optional_column("Status");
    while csv.next_record()? {
        stats.part_rows += 1;
        let code = csv.get(code_column);
        if code.is_empty() {
            return Err(csv.error("PartNumber is empty".to_owned()));
        }
        if builder.concept_id(code).is_some() {
            return Err(csv.error(format!("PartNumber {code} appears twice")));
        }
        let concept = builder.add_concept(code)?;
        let name = csv.get(name_column);
        let display = match csv.get_optional(display_column) {
            "" => name,
            display => display,
        };
        if !display.is_empty() {
            builder.set_display(concept, display)?;
        }
        if !name.is_empty() && name != display {
            builder.add_designation(concept, Some(ENGLISH), None, name)?;
        }
        add_string(builder, concept, "PartTypeName", csv.get(type_column))?;
        let status = csv.get_optional(status_column);
        add_string(builder, concept, "STATUS", status)?;
        if status == "DEPRECATED" {
            builder.set_inactive(concept, true);
            stats.deprecated_parts += 1;
        }
    }
    Ok(())
}

fn read_part_links(
    path: &Path,
    builder: &mut CodeSystemBuilder,
    stats: &mut LoincStats,
) -> Result<(), Error> {
    let mut csv = CsvColumns::open(path)?;
    let term_column = csv.column("LoincNumber")?;
    let part_column = csv.column("PartNumber")?;
    let name_column = csv.column("PartName")?;
    let property_column = csv.column("Property")?;
    while csv.next_record()? {
        stats.part_link_rows += 1;
        // `http://loinc.org/property/COMPONENT` → `COMPONENT`.
        let property = csv
            .get(property_column)
            .rsplit('/')
            .next()
            .unwrap_or_default();
        if property.is_empty() {
            return Err(csv.error("Property is empty".to_owned()));
        }
        let part = csv.get(part_column);
        let (Some(term), Some(_)) = (
            builder.concept_id(csv.get(term_column)),
            builder.concept_id(part),
        ) else {
            stats.skipped_rows += 1;
            continue;
        };
        let name = csv.get(name_column);
        let coding = Coding {
            system: Some(LOINC.to_owned()),
            code: part.to_owned(),
            display: (!name.is_empty()).then(|| name.to_owned()),
        };
        builder.add_property(term, property, &PropertyValue::Coding(coding))?;
    }
    Ok(())
}

fn read_hierarchy(
    path: &Path,
    builder: &mut CodeSystemBuilder,
    stats: &mut LoincStats,
) -> Result<(), Error> {
    let mut csv = CsvColumns::open(path)?;
    let parent_column = csv.column("IMMEDIATE_PARENT")?;
    let code_column = csv.column("CODE")?;
    let text_column = csv.column("CODE_TEXT")?;
    // A parent may first appear as a code further down the file, so links to parents not
    // yet known wait for the end.
    let mut pending: Vec<(ConceptId, Box<str>, u64)> = Vec::new();
    while csv.next_record()? {
        stats.hierarchy_rows += 1;
        let code = csv.get(code_column);
        if code.is_empty() {
            return Err(csv.error("CODE is empty".to_owned()));
        }
        let concept = match builder.concept_id(code) {
            Some(concept) => concept,
            None => {
                let concept = builder.add_concept(code)?;
                let text = csv.get(text_column);
                if !text.is_empty() {
                    builder.set_display(concept, text)?;
                }
                stats.hierarchy_only_codes += 1;
                concept
            }
        };
        let parent = csv.get(parent_column);
        if parent.is_empty() {
            continue;
        }
        match builder.concept_id(parent) {
            Some(parent) => builder.add_parent(concept, parent),
            None => pending.push((concept, parent.into(), csv.line())),
        }
    }
    for (concept, parent, line) in pending {
        let Some(parent) = builder.concept_id(&parent) else {
            return Err(line_error(
                path,
                line,
                format!(
                    "IMMEDIATE_PARENT {parent} is not a term, a part or a hierarchy code of the \
                     release"
                ),
            ));
        };
        builder.add_parent(concept, parent);
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn check_digits_are_loincs_mod_10() {
        // Well-known codes: glucose, hemoglobin A1c, body weight.
        assert_eq!(loinc_check_digit("2345"), 7);
        assert_eq!(loinc_check_digit("4548"), 4);
        assert_eq!(loinc_check_digit("29463"), 7);
        assert_eq!(check_loinc_number("2345-7"), Ok(()));
        assert_eq!(
            check_loinc_number("2345-8"),
            Err("LOINC_NUM '2345-8' has check digit 8, but 2345 gives 7".to_owned())
        );
        assert!(check_loinc_number("2345").is_err());
        assert!(check_loinc_number("LP1234-5").is_err());
        assert!(check_loinc_number("12345678-9").is_err());
    }

    #[test]
    fn versions_come_from_folder_names() {
        let path = Path::new("/releases/Loinc_2.77/LoincTable/Loinc.csv");
        assert_eq!(version_from_folders(path).as_deref(), Some("2.77"));
        let path = Path::new("/x/LOINC 2.80 Text/LoincTable/Loinc.csv");
        assert_eq!(version_from_folders(path).as_deref(), Some("2.80"));
        assert_eq!(
            version_from_folders(Path::new("/x/LoincTable/Loinc.csv")),
            None
        );
        assert_eq!(parse_version("2.9"), Some((2, 9)));
        assert!(parse_version("2.9") < parse_version("2.10"));
    }
}
