//! The RxNorm loader: [`read_release`] reads an RxNorm release's RRF files into a
//! [`CodeSystem`] (URL [`RXNORM`]), one concept per RXCUI.
//!
//! Files (found without regard to case in the release's `rrf` folder, else by name anywhere
//! under the folder given), pipe-separated with a trailing `|`, no header:
//!
//! | file | columns | rows used |
//! | --- | --- | --- |
//! | `RXNCONSO.RRF` | `RXCUI\|LAT\|TS\|LUI\|STT\|SUI\|ISPREF\|RXAUI\|SAUI\|SCUI\|SDUI\|SAB\|TTY\|CODE\|STR\|SRL\|SUPPRESS\|CVF\|` | `SAB` = `RXNORM`: `RXCUI`, `TTY`, `STR`, `SUPPRESS` |
//! | `RXNREL.RRF` | `RXCUI1\|RXAUI1\|STYPE1\|REL\|RXCUI2\|RXAUI2\|STYPE2\|RELA\|RUI\|SRUI\|SAB\|SL\|DIR\|RG\|SUPPRESS\|CVF\|` | `SAB` = `RXNORM` with a `RELA`: `RXCUI1`, `RELA`, `RXCUI2` |
//!
//! Rows of other sources (`SAB` ≠ `RXNORM`) are counted and skipped. `RXNSAT.RRF` is not read.
//!
//! What becomes of them:
//! - Every `RXNORM` string of a concept is a designation (language `en`, `use` a Coding of
//!   system [`RXNORM`] whose code is the term type, `TTY`), and each distinct `TTY` is a `TTY`
//!   property, so `TTY = SCD` and `TTY in IN,PIN` filters work.
//! - The display is the string of the most preferred term type, in the order of
//!   [`DISPLAY_PREFERENCE`]: the normalized names (clinical and branded drugs, packs, their
//!   components, forms and groups, ingredients, brand names, dose forms) before the prescribable
//!   name (`PSN`), synonyms (`SY`, `TMSY`) and entry terms (`ET`), then any other. Suppressed
//!   strings are chosen only when a concept has no other.
//! - `SUPPRESS`: RxNorm suppresses strings, not concepts: `O` (obsolete), `Y` (suppressed by
//!   RxNorm) and `E` (suppressible by end users) all count as suppressed, `N` as not. A concept
//!   whose `RXNORM` strings are all suppressed is inactive; its strings stay designations.
//! - Relationships: an RRF row reads "`RXCUI2` has `RELA` `RXCUI1`" (the UMLS convention: the
//!   relationship is of the second concept to the first). So the row
//!   `RXCUI1 = 1191 (aspirin) | RELA = has_ingredient | RXCUI2 = 1001473 (aspirin 81 MG oral
//!   tablet… )` gives the concept `RXCUI2` a property `has_ingredient` whose value is the code
//!   `RXCUI1`. Each `RELA` seen is declared as a property of type `code`. Rows whose RXCUIs
//!   have no `RXNORM` string are skipped, and so are repeats of the same (concept, `RELA`,
//!   value).
//! - `RELA` = `isa` (`RXCUI2` is a `RXCUI1`) makes `RXCUI1` a parent of `RXCUI2`, and
//!   `inverse_isa` the reverse; these are the hierarchy, not properties.
//!
//! The version is the date in the release folder's name (`RxNorm_full_01022024` →
//! `01022024`, as NLM writes it), unless [`RxNormOptions::version`] gives one.
//!
//! Each file is read line by line through one reused buffer; besides the code system being
//! built, what is kept is one (rank, text) pair per concept for the display, and the set of
//! relationship triples seen (12 bytes each) for dropping repeats.

use std::collections::HashSet;
use std::path::{Path, PathBuf};

use crate::Error;
use crate::builder::{CodeSystemBuilder, ConceptId};
use crate::code_index::FastBuildHasher;
use crate::code_system::{CodeSystem, NO_TEXT};
use crate::definitions::{
    CodeSystemContent, CodeSystemInfo, Coding, HierarchyMeaning, PropertyDefinition, PropertyType,
    PropertyValue,
};
use crate::release::{LineReader, ReleaseFolder};

/// The RxNorm code system URL.
pub const RXNORM: &str = "http://www.nlm.nih.gov/research/umls/rxnorm";

/// The source abbreviation of RxNorm's own rows.
const RXNORM_SAB: &str = "RXNORM";

/// Term types in the order they are preferred for a concept's display; a concept normally has
/// one of the normalized forms before `PSN`, and the synonyms only besides it.
pub const DISPLAY_PREFERENCE: [&str; 23] = [
    "SCD", "SBD", "GPCK", "BPCK", "SCDC", "SBDC", "SCDF", "SBDF", "SCDFP", "SBDFP", "SCDG", "SBDG",
    "SCDGP", "IN", "PIN", "MIN", "BN", "DF", "DFG", "PSN", "SY", "TMSY", "ET",
];

/// Added to a suppressed string's rank, so any string that is not suppressed wins.
const SUPPRESSED_RANK: u8 = 64;

/// Choices for [`read_release`].
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RxNormOptions {
    /// The version to give the code system, instead of the date in the folder name.
    pub version: Option<String>,
}

/// What [`read_release`] read.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct RxNormStats {
    /// Lines read from `RXNCONSO.RRF`.
    pub conso_rows: usize,
    /// Of which from other sources than RxNorm, skipped.
    pub other_source_strings: usize,
    /// Of which suppressed (`SUPPRESS` `O`, `Y` or `E`).
    pub suppressed_strings: usize,
    /// Lines read from `RXNREL.RRF`.
    pub relationship_rows: usize,
    /// Of which from other sources, or without a `RELA`, skipped.
    pub other_relationships: usize,
    /// Of which naming an RXCUI without an RxNorm string, skipped.
    pub unknown_concept_relationships: usize,
    /// Of which repeating a (concept, `RELA`, value) already read, skipped.
    pub repeated_relationships: usize,
    /// Relationship properties added.
    pub relationship_properties: usize,
    /// Concepts (RXCUIs with an RxNorm string).
    pub concepts: usize,
    /// Of which inactive (every string suppressed).
    pub inactive_concepts: usize,
    /// Distinct `isa` parent links.
    pub parent_links: usize,
    /// (concept, ancestor) pairs in the transitive closure.
    pub closure_size: usize,
    /// The files read.
    pub files: Vec<PathBuf>,
}

/// Reads the RxNorm release under `dir` into a code system (URL [`RXNORM`]) with its closure
/// and word index. See the module documentation for the files and what becomes of them.
///
/// # Errors
///
/// [`Error::ReleaseMissingFile`] if `RXNCONSO.RRF` or `RXNREL.RRF` is not there,
/// [`Error::ReleaseAmbiguousFile`] if one is there twice; [`Error::ReleaseLine`], naming file
/// and line, for a row with the wrong number of fields or no trailing `|`, an RXCUI that is
/// not digits, an RxNorm row without `TTY` or `STR`, or text that is not UTF-8;
/// [`Error::InvalidCodeSystem`] for a cycle of `isa` rows; [`Error::Io`] if a file cannot be
/// read.
pub fn read_release(
    dir: &Path,
    options: &RxNormOptions,
) -> Result<(CodeSystem, RxNormStats), Error> {
    let folder = ReleaseFolder::list(dir)?;
    let conso = folder.require("RXNCONSO", &["rrf/RXNCONSO.RRF"])?;
    let relationships = folder.require("RXNREL", &["rrf/RXNREL.RRF"])?;
    let mut stats = RxNormStats {
        files: vec![conso.clone(), relationships.clone()],
        ..RxNormStats::default()
    };
    let mut info = rxnorm_info();
    info.version = options
        .version
        .clone()
        .or_else(|| version_from_folders(&conso));
    let mut builder = CodeSystemBuilder::new(info);
    read_conso(&conso, &mut builder, &mut stats)?;
    read_relationships(&relationships, &mut builder, &mut stats)?;
    let system = builder.build()?;
    stats.concepts = system.len();
    (stats.parent_links, stats.closure_size) = system.hierarchy_size();
    Ok((system, stats))
}

fn rxnorm_info() -> CodeSystemInfo {
    CodeSystemInfo {
        url: RXNORM.to_owned(),
        version: None,
        name: Some("RxNorm".to_owned()),
        title: Some("RxNorm".to_owned()),
        status: Some("active".to_owned()),
        content: CodeSystemContent::Complete,
        hierarchy_meaning: Some(HierarchyMeaning::IsA),
        case_sensitive: Some(false),
        properties: vec![PropertyDefinition {
            code: "TTY".to_owned(),
            uri: None,
            kind: PropertyType::Code,
            description: Some("A term type of the concept's RxNorm strings".to_owned()),
        }],
    }
}

/// The date in the name of a folder above `file`: `RxNorm_full_01022024` → `01022024`.
fn version_from_folders(file: &Path) -> Option<String> {
    file.ancestors().skip(1).find_map(|folder| {
        let name = folder.file_name()?.to_str()?;
        if !name.to_lowercase().starts_with("rxnorm") {
            return None;
        }
        let date = name.rsplit('_').next()?;
        (date.len() == 8 && date.bytes().all(|byte| byte.is_ascii_digit())).then(|| date.to_owned())
    })
}

/// The current line's `N` fields, checking the trailing `|` RRF puts after the last.
fn rrf_fields<const N: usize>(reader: &LineReader) -> Result<[&str; N], Error> {
    let text = reader.text()?;
    let Some(body) = text.strip_suffix('|') else {
        return Err(reader.error(format!(
            "does not end with '|': an RRF row has {N} fields, each followed by '|'"
        )));
    };
    let mut fields = [""; N];
    let mut count = 0;
    for field in body.split('|') {
        if let Some(slot) = fields.get_mut(count) {
            *slot = field;
        }
        count += 1;
    }
    if count != N {
        return Err(reader.error(format!("has {count} fields, expected {N}")));
    }
    Ok(fields)
}

fn check_rxcui(reader: &LineReader, name: &str, value: &str) -> Result<(), Error> {
    if value.is_empty() || value.len() > 10 || !value.bytes().all(|byte| byte.is_ascii_digit()) {
        return Err(reader.error(format!("{name} '{value}' is not an RXCUI (digits)")));
    }
    Ok(())
}

fn read_conso(
    path: &Path,
    builder: &mut CodeSystemBuilder,
    stats: &mut RxNormStats,
) -> Result<(), Error> {
    let mut reader = LineReader::open(path)?;
    // Per concept ordinal: the best (rank, text) for the display, and whether any string is
    // not suppressed.
    let mut best: Vec<(u8, u32)> = Vec::new();
    let mut has_unsuppressed: Vec<bool> = Vec::new();
    let mut term_types: Vec<(Box<str>, Coding, PropertyValue)> = Vec::new();
    let mut concept_term_types: HashSet<(u32, u16), FastBuildHasher> = HashSet::default();
    while reader.next_line()? {
        stats.conso_rows += 1;
        let [
            rxcui,
            _lat,
            _ts,
            _lui,
            _stt,
            _sui,
            _ispref,
            _rxaui,
            _saui,
            _scui,
            _sdui,
            sab,
            tty,
            _code,
            text,
            _srl,
            suppress,
            _cvf,
        ] = rrf_fields::<18>(&reader)?;
        check_rxcui(&reader, "RXCUI", rxcui)?;
        if sab != RXNORM_SAB {
            stats.other_source_strings += 1;
            continue;
        }
        if tty.is_empty() || text.is_empty() {
            return Err(reader.error(format!(
                "RXCUI {rxcui} has an RxNorm row without TTY or STR"
            )));
        }
        let concept = match builder.concept_id(rxcui) {
            Some(concept) => concept,
            None => {
                best.push((u8::MAX, NO_TEXT));
                has_unsuppressed.push(false);
                builder.add_concept(rxcui)?
            }
        };
        let ordinal = concept.ordinal();
        let type_index = match term_types.iter().position(|(known, _, _)| **known == *tty) {
            Some(index) => index,
            None => {
                let usage = Coding {
                    system: Some(RXNORM.to_owned()),
                    code: tty.to_owned(),
                    display: None,
                };
                term_types.push((tty.into(), usage, PropertyValue::Code(tty.to_owned())));
                term_types.len() - 1
            }
        };
        let type_id = u16::try_from(type_index)
            .map_err(|_| reader.error("more than 65,535 term types".to_owned()))?;
        let Some((_, usage, property)) = term_types.get(type_index) else {
            continue;
        };
        let text_id = builder.add_designation_text(concept, Some("en"), Some(usage), text)?;
        if concept_term_types.insert((ordinal, type_id)) {
            builder.add_property(concept, "TTY", property)?;
        }
        let suppressed = !matches!(suppress, "N" | "");
        let preference = DISPLAY_PREFERENCE
            .iter()
            .position(|preferred| *preferred == tty)
            .unwrap_or(DISPLAY_PREFERENCE.len());
        let mut rank = u8::try_from(preference).unwrap_or(u8::MAX / 2);
        if suppressed {
            stats.suppressed_strings += 1;
            rank = rank.saturating_add(SUPPRESSED_RANK);
        }
        if let Some(slot) = best.get_mut(ordinal as usize)
            && rank < slot.0
        {
            *slot = (rank, text_id);
        }
        if !suppressed && let Some(flag) = has_unsuppressed.get_mut(ordinal as usize) {
            *flag = true;
        }
    }
    for ((ordinal, &(_, text)), &active) in (0u32..).zip(&best).zip(&has_unsuppressed) {
        let concept = ConceptId::from_ordinal(ordinal);
        if text != NO_TEXT {
            builder.set_display_text(concept, text);
        }
        if !active {
            builder.set_inactive(concept, true);
            stats.inactive_concepts += 1;
        }
    }
    Ok(())
}

fn read_relationships(
    path: &Path,
    builder: &mut CodeSystemBuilder,
    stats: &mut RxNormStats,
) -> Result<(), Error> {
    let mut reader = LineReader::open(path)?;
    // Each RELA once, with its index for the repeat set.
    let mut relations: Vec<Box<str>> = Vec::new();
    let mut seen: HashSet<(u32, u32, u32), FastBuildHasher> = HashSet::default();
    while reader.next_line()? {
        stats.relationship_rows += 1;
        let [
            rxcui1,
            _rxaui1,
            _stype1,
            _rel,
            rxcui2,
            _rxaui2,
            _stype2,
            rela,
            _rui,
            _srui,
            sab,
            _sl,
            _dir,
            _rg,
            _suppress,
            _cvf,
        ] = rrf_fields::<16>(&reader)?;
        if sab != RXNORM_SAB || rela.is_empty() {
            stats.other_relationships += 1;
            continue;
        }
        check_rxcui(&reader, "RXCUI1", rxcui1)?;
        check_rxcui(&reader, "RXCUI2", rxcui2)?;
        // The row says: RXCUI2 has RELA RXCUI1.
        let (Some(object), Some(subject)) =
            (builder.concept_id(rxcui1), builder.concept_id(rxcui2))
        else {
            stats.unknown_concept_relationships += 1;
            continue;
        };
        match rela {
            "isa" => {
                builder.add_parent(subject, object);
                continue;
            }
            "inverse_isa" => {
                builder.add_parent(object, subject);
                continue;
            }
            _ => {}
        }
        let relation = match relations.iter().position(|known| **known == *rela) {
            Some(index) => index,
            None => {
                relations.push(rela.into());
                builder.info_mut().properties.push(PropertyDefinition {
                    code: rela.to_owned(),
                    uri: None,
                    kind: PropertyType::Code,
                    description: Some(format!("RxNorm relationship '{rela}' (RXNREL RELA)")),
                });
                relations.len() - 1
            }
        };
        let relation = u32::try_from(relation)
            .map_err(|_| reader.error("too many relationship kinds".to_owned()))?;
        if !seen.insert((subject.ordinal(), relation, object.ordinal())) {
            stats.repeated_relationships += 1;
            continue;
        }
        builder.add_property(subject, rela, &PropertyValue::Code(rxcui1.to_owned()))?;
        stats.relationship_properties += 1;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn versions_come_from_the_release_folder() {
        let path = Path::new("/r/RxNorm_full_01022024/rrf/RXNCONSO.RRF");
        assert_eq!(version_from_folders(path).as_deref(), Some("01022024"));
        let path = Path::new("/r/RxNorm_full_prescribe_01022024/rrf/RXNCONSO.RRF");
        assert_eq!(version_from_folders(path).as_deref(), Some("01022024"));
        assert_eq!(version_from_folders(Path::new("/r/rrf/RXNCONSO.RRF")), None);
    }
}
