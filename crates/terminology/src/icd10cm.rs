//! The ICD-10-CM loader: [`read_order_file`] reads the CMS order file into a [`CodeSystem`]
//! (URL [`ICD_10_CM`]).
//!
//! File: `icd10cm_order_YYYY.txt` (or `icd10cm-order-YYYY.txt`, as recent releases name it),
//! found by name without regard to case anywhere under the folder given. It is fixed-width
//! text, one code a line:
//!
//! | columns (1-based) | field |
//! | --- | --- |
//! | 1–5 | order number (digits) |
//! | 7–13 | code without its dot, left-aligned, padded with spaces |
//! | 15 | `1` if the code is valid for claims, `0` for a header (a category or subcategory with codes below it) |
//! | 17–76 | short description, padded with spaces |
//! | 78– | long description |
//!
//! What becomes of it:
//! - Codes are presented as FHIR and CMS write them, with the dot after the third character
//!   (`E119` → `E11.9`); three-character categories have none. Only that form is a code of the
//!   code system: undotted codes are a different string, as in FHIR, and callers that receive
//!   them (HL7 v2 feeds, claims files) convert with [`to_dotted_code`].
//! - The display is the long description; the short description, where it differs, is a
//!   designation (language `en`).
//! - Header rows (flag `0`) are abstract (`notSelectable`, so `$validate-code` and expansions
//!   that exclude abstract codes see them as not for use); every code has the `notSelectable`
//!   boolean property (`true` for headers, `false` for codes valid for claims), so
//!   `notSelectable = false` selects the billable codes.
//! - The hierarchy: a code's parent is its longest proper prefix that is also a code in the
//!   file (`E11.65` → `E11.6` → `E11`). Categories have no parent: the chapters and blocks are
//!   in the tabular XML file, which is not read.
//!
//! The version is the file name's year (`2024`), unless [`Icd10CmOptions::version`] gives one.
//! The file is read line by line through one reused buffer.

use std::path::{Path, PathBuf};

use crate::Error;
use crate::builder::{CodeSystemBuilder, ConceptId};
use crate::code_system::CodeSystem;
use crate::definitions::{
    CodeSystemContent, CodeSystemInfo, HierarchyMeaning, PropertyDefinition, PropertyType,
    PropertyValue,
};
use crate::release::{LineReader, ReleaseFolder};

/// The ICD-10-CM code system URL.
pub const ICD_10_CM: &str = "http://hl7.org/fhir/sid/icd-10-cm";

/// Byte ranges of the order file's fields.
const ORDER_NUMBER: std::ops::Range<usize> = 0..5;
const CODE: std::ops::Range<usize> = 6..13;
const HEADER_FLAG: usize = 14;
const SHORT_DESCRIPTION: std::ops::Range<usize> = 16..76;
const LONG_DESCRIPTION: usize = 77;

/// Choices for [`read_order_file`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Icd10CmOptions {
    /// The version to give the code system, instead of the file name's year.
    pub version: Option<String>,
}

/// What [`read_order_file`] read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Icd10CmStats {
    /// Lines read (blank lines aside): one code each.
    pub rows: usize,
    /// Concepts in the code system.
    pub concepts: usize,
    /// Header codes (flag `0`): not valid for claims, abstract.
    pub header_codes: usize,
    /// Codes valid for claims (flag `1`).
    pub billable_codes: usize,
    /// Codes without a parent (the three-character categories).
    pub top_level_codes: usize,
    /// Direct parent links.
    pub parent_links: usize,
    /// (concept, ancestor) pairs in the transitive closure.
    pub closure_size: usize,
    /// The file read.
    pub files: Vec<PathBuf>,
}

/// `E119` → `E11.9`; codes of three characters or fewer, and codes with a dot already, are
/// returned as they are.
pub fn to_dotted_code(code: &str) -> String {
    match (code.contains('.'), code.get(..3), code.get(3..)) {
        (false, Some(category), Some(rest)) if !rest.is_empty() => format!("{category}.{rest}"),
        _ => code.to_owned(),
    }
}

/// Reads the ICD-10-CM order file under `dir` into a code system (URL [`ICD_10_CM`]) with its
/// closure and word index. See the module documentation for the format and what becomes of it.
///
/// # Errors
///
/// [`Error::ReleaseMissingFile`] if there is no order file, [`Error::ReleaseAmbiguousFile`]
/// if there are several; [`Error::ReleaseLine`], naming file and line, for a line that is too
/// short, not UTF-8, has a separator that is not a space, an order number that is not digits,
/// a code that is not three to seven letters and digits, a flag that is not `0` or `1`, or a
/// code listed twice; [`Error::Io`] if the file cannot be read.
pub fn read_order_file(
    dir: &Path,
    options: &Icd10CmOptions,
) -> Result<(CodeSystem, Icd10CmStats), Error> {
    let folder = ReleaseFolder::list(dir)?;
    let found = folder.with_name(|name| order_file_year(name).is_some());
    let path =
        folder
            .single("ICD-10-CM order", found)?
            .ok_or_else(|| Error::ReleaseMissingFile {
                dir: dir.to_owned(),
                kind: "ICD-10-CM order",
                expected: "icd10cm_order_YYYY.txt".to_owned(),
            })?;
    let year = path
        .file_name()
        .and_then(|name| name.to_str())
        .and_then(|name| order_file_year(&name.to_lowercase()));
    let mut stats = Icd10CmStats {
        files: vec![path.clone()],
        ..Icd10CmStats::default()
    };
    let mut info = icd10cm_info();
    info.version = options.version.clone().or(year);
    let mut builder = CodeSystemBuilder::new(info);
    let selectable = PropertyValue::Boolean(false);
    let not_selectable = PropertyValue::Boolean(true);
    // Undotted codes in file order, for finding parents once every code is known.
    let mut codes: Vec<Box<str>> = Vec::new();

    let mut reader = LineReader::open(&path)?;
    while reader.next_line()? {
        stats.rows += 1;
        let row = OrderRow::parse(reader.text()?).map_err(|reason| reader.error(reason))?;
        let dotted = to_dotted_code(row.code);
        if builder.concept_id(&dotted).is_some() {
            return Err(reader.error(format!("code {dotted} appears twice")));
        }
        let concept = builder.add_concept(&dotted)?;
        let display = if row.long.is_empty() {
            row.short
        } else {
            row.long
        };
        builder.set_display(concept, display)?;
        if !row.short.is_empty() && row.short != display {
            builder.add_designation(concept, Some("en"), None, row.short)?;
        }
        if row.is_header {
            builder.set_abstract(concept, true);
            builder.add_property(concept, "notSelectable", &not_selectable)?;
            stats.header_codes += 1;
        } else {
            builder.add_property(concept, "notSelectable", &selectable)?;
            stats.billable_codes += 1;
        }
        codes.push(row.code.into());
    }

    for (code, ordinal) in codes.iter().zip(0u32..) {
        let parent = (3..code.len())
            .rev()
            .filter_map(|length| code.get(..length))
            .find_map(|prefix| builder.concept_id(&to_dotted_code(prefix)));
        match parent {
            Some(parent) => {
                builder.add_parent(ConceptId::from_ordinal(ordinal), parent);
            }
            None => stats.top_level_codes += 1,
        }
    }
    drop(codes);
    let system = builder.build()?;
    stats.concepts = system.len();
    (stats.parent_links, stats.closure_size) = system.hierarchy_size();
    Ok((system, stats))
}

fn icd10cm_info() -> CodeSystemInfo {
    CodeSystemInfo {
        url: ICD_10_CM.to_owned(),
        version: None,
        name: Some("ICD10CM".to_owned()),
        title: Some(
            "International Classification of Diseases, Tenth Revision, Clinical \
                     Modification (ICD-10-CM)"
                .to_owned(),
        ),
        status: Some("active".to_owned()),
        content: CodeSystemContent::Complete,
        hierarchy_meaning: Some(HierarchyMeaning::IsA),
        case_sensitive: Some(true),
        properties: vec![PropertyDefinition {
            code: "notSelectable".to_owned(),
            uri: Some("http://hl7.org/fhir/concept-properties#notSelectable".to_owned()),
            kind: PropertyType::Boolean,
            description: Some(
                "A header code: not valid for claims (the order file's flag 0)".to_owned(),
            ),
        }],
    }
}

/// The year of an order file's (lowercased) name: `icd10cm_order_2024.txt` → `2024`.
fn order_file_year(name: &str) -> Option<String> {
    let rest = name
        .strip_prefix("icd10cm")?
        .strip_prefix(['_', '-'])?
        .strip_prefix("order")?
        .strip_prefix(['_', '-'])?;
    let year = rest.strip_suffix(".txt")?;
    (year.len() == 4 && year.bytes().all(|byte| byte.is_ascii_digit())).then(|| year.to_owned())
}

/// One line of the order file.
#[derive(Debug, PartialEq, Eq)]
struct OrderRow<'a> {
    code: &'a str,
    is_header: bool,
    short: &'a str,
    long: &'a str,
}

impl<'a> OrderRow<'a> {
    fn parse(line: &'a str) -> Result<OrderRow<'a>, String> {
        let field = |range: std::ops::Range<usize>| -> Result<&'a str, String> {
            // Trailing spaces may have been trimmed off: a field past the end is empty.
            if range.start >= line.len() {
                return Ok("");
            }
            let end = range.end.min(line.len());
            line.get(range.start..end).ok_or_else(|| {
                format!(
                    "is not in the order file's fixed columns (at byte {})",
                    range.start
                )
            })
        };
        if line.len() <= HEADER_FLAG {
            return Err(format!(
                "has {} characters, too short for an order file line (order number, code, flag)",
                line.len()
            ));
        }
        let order = field(ORDER_NUMBER)?;
        if !order.bytes().all(|byte| byte.is_ascii_digit()) {
            return Err(format!("order number '{order}' is not 5 digits"));
        }
        for separator in [5, 13, 15, 76] {
            if line
                .as_bytes()
                .get(separator)
                .is_some_and(|&byte| byte != b' ')
            {
                return Err(format!(
                    "column {} should be a space between fields: the line is not in the order \
                     file's fixed-width layout",
                    separator + 1
                ));
            }
        }
        let code = field(CODE)?.trim_end();
        let is_code_character = |byte: u8| byte.is_ascii_uppercase() || byte.is_ascii_digit();
        if !(3..=7).contains(&code.len())
            || !code.bytes().all(is_code_character)
            || !code.as_bytes().first().is_some_and(u8::is_ascii_uppercase)
        {
            return Err(format!(
                "code '{code}' is not an ICD-10-CM code (a letter, then 2 to 6 letters or digits)"
            ));
        }
        let is_header = match line.as_bytes().get(HEADER_FLAG) {
            Some(b'0') => true,
            Some(b'1') => false,
            _ => {
                return Err(format!(
                    "header flag '{}' is not 0 or 1",
                    field(HEADER_FLAG..HEADER_FLAG + 1)?
                ));
            }
        };
        let short = field(SHORT_DESCRIPTION)?.trim();
        let long = line.get(LONG_DESCRIPTION..).unwrap_or("").trim();
        if short.is_empty() && long.is_empty() {
            return Err(format!("code {code} has no description"));
        }
        Ok(OrderRow {
            code,
            is_header,
            short,
            long,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(order: u32, code: &str, flag: char, short: &str, long: &str) -> String {
        format!("{order:05} {code:<7} {flag} {short:<60} {long}")
    }

    #[test]
    fn fixed_columns_are_read() {
        let text = line(
            1,
            "E119",
            '1',
            "Type 2 diabetes mellitus w/o complications",
            "Type 2",
        );
        assert_eq!(
            OrderRow::parse(&text),
            Ok(OrderRow {
                code: "E119",
                is_header: false,
                short: "Type 2 diabetes mellitus w/o complications",
                long: "Type 2",
            })
        );
        let header = line(2, "E11", '0', "Type 2 diabetes mellitus", "");
        let row = OrderRow::parse(header.trim_end()).unwrap();
        assert!(row.is_header);
        assert_eq!((row.short, row.long), ("Type 2 diabetes mellitus", ""));
    }

    #[test]
    fn malformed_lines_say_what_is_wrong() {
        let reason = |text: &str| OrderRow::parse(text).unwrap_err();
        assert_eq!(
            reason("00001 E11"),
            "has 9 characters, too short for an order file line (order number, code, flag)"
        );
        assert_eq!(
            reason(&line(1, "E11", '2', "x", "y")),
            "header flag '2' is not 0 or 1"
        );
        assert_eq!(
            reason(&line(1, "e11", '1', "x", "y")),
            "code 'e11' is not an ICD-10-CM code (a letter, then 2 to 6 letters or digits)"
        );
        assert_eq!(
            reason(&format!("0000A{}", &line(1, "E11", '1', "x", "y")[5..])),
            "order number '0000A' is not 5 digits"
        );
        assert!(reason("00001\tE11     1 x").starts_with("column 6 should be a space"));
    }

    #[test]
    fn codes_get_their_dot_and_file_names_their_year() {
        assert_eq!(to_dotted_code("E119"), "E11.9");
        assert_eq!(to_dotted_code("S72001A"), "S72.001A");
        assert_eq!(to_dotted_code("E11"), "E11");
        assert_eq!(to_dotted_code("E11.9"), "E11.9");
        assert_eq!(
            order_file_year("icd10cm_order_2024.txt").as_deref(),
            Some("2024")
        );
        assert_eq!(
            order_file_year("icd10cm-order-2025.txt").as_deref(),
            Some("2025")
        );
        assert_eq!(order_file_year("icd10cm_order_addenda_2024.txt"), None);
        assert_eq!(order_file_year("icd10cm_codes_2024.txt"), None);
    }
}
