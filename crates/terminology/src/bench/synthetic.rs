//! A synthetic SNOMED CT RF2 Snapshot release, for benchmarks and size tests:
//! [`write_synthetic_release`].
//!
//! The shape follows the International Edition's: a root, 19 top-level hierarchies of equal
//! size, each a random recursive tree (a concept's first parent is a random earlier concept of
//! its hierarchy, giving depths around ten), a quarter of the concepts with a second parent,
//! 1% inactive concepts (their is-a rows inactive), three descriptions a concept (fully
//! specified name, preferred synonym, acceptable synonym) made of pseudo-words with a skewed
//! frequency, a US English language refset row for each, and attribute relationships to fill
//! the relationship count: `363698007 |Finding site|` and `116676008 |Associated morphology|`
//! (both concepts are in the release, under the model component hierarchy), their values body
//! structures; four in five are pairs of the two in one relationship group (groups 1 to 3), the
//! rest single ungrouped finding sites. Ids are valid SCTIDs (partition and Verhoeff check
//! digit). The same seed gives the same files.

use std::fs::File;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use crate::Error;
use crate::snomed::{
    DEFINED, FULLY_SPECIFIED_NAME, INTERNATIONAL_EDITION, IS_A, PREFERRED, SYNONYM, US_ENGLISH,
};

/// `900000000000074008 |Primitive|`.
const PRIMITIVE: u64 = 900_000_000_000_074_008;
/// `900000000000549004 |Acceptable|`.
const ACCEPTABLE: u64 = 900_000_000_000_549_004;
/// `363698007 |Finding site|`.
pub const FINDING_SITE: u64 = 363_698_007;
/// `116676008 |Associated morphology|`.
pub const ASSOCIATED_MORPHOLOGY: u64 = 116_676_008;
/// The attribute concepts, at the ordinals right after the top-level concepts.
const ATTRIBUTES: [(u64, &str); 2] = [
    (FINDING_SITE, "Finding site"),
    (ASSOCIATED_MORPHOLOGY, "Associated morphology"),
];
/// Index of the model component hierarchy in [`TOP_LEVEL_NAMES`], where the attributes go.
const MODEL_COMPONENT: usize = TOP_LEVEL_COUNT - 1;
/// Index of the body structure hierarchy in [`TOP_LEVEL_NAMES`], where attribute values come
/// from.
pub const BODY_STRUCTURE: usize = 3;
/// `900000000000011006 |Inferred relationship|`.
const INFERRED: u64 = 900_000_000_000_011_006;
/// `900000000000451002 |Existential restriction modifier|`.
const EXISTENTIAL: u64 = 900_000_000_000_451_002;
/// `900000000000448009 |Entire term case insensitive|`.
const CASE_INSENSITIVE: u64 = 900_000_000_000_448_009;
/// `138875005 |SNOMED CT Concept|`, the root.
pub const ROOT: u64 = 138_875_005;
/// The release date in file names and `effectiveTime`.
const RELEASE_DATE: &str = "20250101";
/// Top-level hierarchies under the root, as in the International Edition.
pub const TOP_LEVEL_COUNT: usize = 19;

const TOP_LEVEL_NAMES: [(&str, &str); TOP_LEVEL_COUNT] = [
    ("Clinical finding", "finding"),
    ("Procedure", "procedure"),
    ("Observable entity", "observable entity"),
    ("Body structure", "body structure"),
    ("Organism", "organism"),
    ("Substance", "substance"),
    ("Pharmaceutical / biologic product", "product"),
    ("Specimen", "specimen"),
    ("Special concept", "special concept"),
    ("Physical object", "physical object"),
    ("Physical force", "physical force"),
    ("Event", "event"),
    (
        "Environment or geographical location",
        "environment / location",
    ),
    ("Social context", "social concept"),
    ("Situation with explicit context", "situation"),
    ("Staging and scales", "staging scale"),
    ("Qualifier value", "qualifier value"),
    ("Record artifact", "record artifact"),
    ("SNOMED CT Model Component", "metadata"),
];

/// How big a release to write.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SyntheticSize {
    /// Concepts, the root and top-level concepts included.
    pub concepts: usize,
    /// Descriptions (three per concept at most are made; fewer are written if asked).
    pub descriptions: usize,
    /// Relationship rows, is-a and attribute, active and inactive.
    pub relationships: usize,
    /// Generator seed.
    pub seed: u64,
}

impl Default for SyntheticSize {
    /// The issue's benchmark size: 400,000 concepts, 1.2 M descriptions, 1 M relationships.
    fn default() -> Self {
        SyntheticSize {
            concepts: 400_000,
            descriptions: 1_200_000,
            relationships: 1_000_000,
            seed: 1,
        }
    }
}

/// What [`write_synthetic_release`] wrote.
#[derive(Debug, Clone)]
pub struct SyntheticRelease {
    /// The Snapshot folder.
    pub dir: PathBuf,
    /// Concept rows.
    pub concepts: usize,
    /// Description rows.
    pub descriptions: usize,
    /// Relationship rows.
    pub relationships: usize,
    /// Active is-a relationship rows.
    pub is_a: usize,
    /// Language refset rows.
    pub language_rows: usize,
    /// Bytes written.
    pub bytes: u64,
    /// The codes of the top-level concepts.
    pub top_level: Vec<String>,
    /// The pseudo-words of displays, most frequent first (for picking text filters).
    pub words: Vec<String>,
}

/// Writes a synthetic RF2 Snapshot release into `dir` (created if needed), in
/// `Terminology/` and `Refset/Language/` as a real release lays them out.
///
/// # Errors
///
/// [`Error::Io`] if a folder or file cannot be written.
pub fn write_synthetic_release(
    dir: &Path,
    size: &SyntheticSize,
) -> Result<SyntheticRelease, Error> {
    let mut random = fastrand::Rng::with_seed(size.seed);
    let words = vocabulary(&mut random, 8000);
    let plan = Plan::new(size.concepts.max(TOP_LEVEL_COUNT + 1), &mut random);
    let terminology = dir.join("Terminology");
    let language = dir.join("Refset").join("Language");
    for folder in [&terminology, &language] {
        std::fs::create_dir_all(folder).map_err(|source| Error::Io {
            action: "create",
            path: folder.clone(),
            source,
        })?;
    }
    let mut bytes = plan.write_concepts(&terminology)?;
    let (descriptions, written) =
        plan.write_descriptions(&terminology, &language, &words, size, &mut random)?;
    bytes += written;
    let (relationships, is_a, written) =
        plan.write_relationships(&terminology, size, &mut random)?;
    bytes += written;
    Ok(SyntheticRelease {
        dir: dir.to_owned(),
        concepts: plan.ids.len(),
        descriptions,
        relationships,
        is_a,
        language_rows: descriptions,
        bytes,
        top_level: plan
            .ids
            .iter()
            .skip(1)
            .take(TOP_LEVEL_COUNT)
            .map(u64::to_string)
            .collect(),
        words,
    })
}

/// The concepts and their hierarchy, decided before any file is written.
struct Plan {
    /// SCTIDs by ordinal; ordinal 0 is the root, 1..=19 the top-level concepts.
    ids: Vec<u64>,
    inactive: Vec<bool>,
    first_parent: Vec<usize>,
    /// Top-level hierarchy (0..19) of each concept.
    branch_of: Vec<usize>,
    /// The active concepts of each top-level hierarchy, in ordinal order.
    branch_members: Vec<Vec<usize>>,
}

impl Plan {
    fn new(concept_count: usize, random: &mut fastrand::Rng) -> Plan {
        let mut first_parent = vec![0_usize; concept_count];
        let mut branch_members: Vec<Vec<usize>> =
            (1..=TOP_LEVEL_COUNT).map(|top| vec![top]).collect();
        let mut branch_of = vec![0_usize; concept_count];
        for (top, slot) in branch_of
            .iter_mut()
            .enumerate()
            .take(TOP_LEVEL_COUNT + 1)
            .skip(1)
        {
            *slot = top - 1;
        }
        let inactive: Vec<bool> = (0..concept_count)
            .map(|ordinal| ordinal > TOP_LEVEL_COUNT + ATTRIBUTES.len() && random.u8(..100) == 0)
            .collect();
        for ordinal in TOP_LEVEL_COUNT + 1..concept_count {
            if Plan::attribute(ordinal).is_some() {
                // Attributes sit right under the model component concept.
                first_parent[ordinal] = MODEL_COMPONENT + 1;
                branch_of[ordinal] = MODEL_COMPONENT;
                branch_members[MODEL_COMPONENT].push(ordinal);
                continue;
            }
            let branch = ordinal % TOP_LEVEL_COUNT;
            let members = &mut branch_members[branch];
            first_parent[ordinal] = members[random.usize(..members.len())];
            // Inactive concepts keep their (inactive) is-a row but have no children.
            if !inactive[ordinal] {
                members.push(ordinal);
            }
            branch_of[ordinal] = branch;
        }
        let ids = (0..concept_count)
            .map(|ordinal| match (ordinal, Plan::attribute(ordinal)) {
                (0, _) => ROOT,
                (_, Some((id, _))) => id,
                _ => sctid(1_000_000 + ordinal as u64, 0),
            })
            .collect();
        Plan {
            ids,
            inactive,
            first_parent,
            branch_of,
            branch_members,
        }
    }

    /// The attribute concept at `ordinal`, if it is one: its id and name.
    fn attribute(ordinal: usize) -> Option<(u64, &'static str)> {
        ordinal
            .checked_sub(TOP_LEVEL_COUNT + 1)
            .and_then(|index| ATTRIBUTES.get(index))
            .copied()
    }

    fn write_concepts(&self, folder: &Path) -> Result<u64, Error> {
        let path = folder.join(format!("sct2_Concept_Snapshot_INT_{RELEASE_DATE}.txt"));
        let mut out = Rf2Writer::create(&path)?;
        out.line("id\teffectiveTime\tactive\tmoduleId\tdefinitionStatusId")?;
        for (ordinal, id) in self.ids.iter().enumerate() {
            let status = if ordinal % 7 == 0 { DEFINED } else { PRIMITIVE };
            out.line(&format!(
                "{id}\t{RELEASE_DATE}\t{}\t{INTERNATIONAL_EDITION}\t{status}",
                u8::from(!self.inactive[ordinal])
            ))?;
        }
        out.finish()
    }

    /// Descriptions and their language refset rows; returns (descriptions, bytes).
    fn write_descriptions(
        &self,
        folder: &Path,
        refset_folder: &Path,
        words: &[String],
        size: &SyntheticSize,
        random: &mut fastrand::Rng,
    ) -> Result<(usize, u64), Error> {
        let mut descriptions = Rf2Writer::create(&folder.join(format!(
            "sct2_Description_Snapshot-en_INT_{RELEASE_DATE}.txt"
        )))?;
        let mut refset = Rf2Writer::create(&refset_folder.join(format!(
            "der2_cRefset_LanguageSnapshot-en_INT_{RELEASE_DATE}.txt"
        )))?;
        descriptions.line(
            "id\teffectiveTime\tactive\tmoduleId\tconceptId\tlanguageCode\ttypeId\tterm\tcaseSignificanceId",
        )?;
        refset.line(
            "id\teffectiveTime\tactive\tmoduleId\trefsetId\treferencedComponentId\tacceptabilityId",
        )?;
        let per_concept = size.descriptions.div_ceil(self.ids.len()).clamp(1, 3);
        let mut count = 0_usize;
        let mut next_description = 1_000_000_u64;
        for (ordinal, id) in self.ids.iter().enumerate() {
            if count >= size.descriptions {
                break;
            }
            let (term, tag) = match ordinal {
                0 => ("SNOMED CT Concept".to_owned(), "SNOMED RT+CTV3"),
                top if top <= TOP_LEVEL_COUNT => {
                    let (name, tag) = TOP_LEVEL_NAMES[top - 1];
                    (name.to_owned(), tag)
                }
                attribute if Plan::attribute(attribute).is_some() => {
                    let name = Plan::attribute(attribute).map_or("", |(_, name)| name);
                    (name.to_owned(), "attribute")
                }
                _ => (
                    phrase(random, words, 2, 5),
                    TOP_LEVEL_NAMES[self.branch_of[ordinal]].1,
                ),
            };
            let synonym = phrase(random, words, 2, 4);
            let rows = [
                (FULLY_SPECIFIED_NAME, format!("{term} ({tag})"), PREFERRED),
                (SYNONYM, term, PREFERRED),
                (SYNONYM, synonym, ACCEPTABLE),
            ];
            for (kind, text, acceptability) in rows.into_iter().take(per_concept) {
                if count >= size.descriptions {
                    break;
                }
                let description_id = sctid(next_description, 1);
                next_description += 1;
                descriptions.line(&format!(
                    "{description_id}\t{RELEASE_DATE}\t1\t{INTERNATIONAL_EDITION}\t{id}\ten\t{kind}\t{text}\t{CASE_INSENSITIVE}"
                ))?;
                refset.line(&format!(
                    "{}\t{RELEASE_DATE}\t1\t{INTERNATIONAL_EDITION}\t{US_ENGLISH}\t{description_id}\t{acceptability}",
                    uuid_like(random)
                ))?;
                count += 1;
            }
        }
        Ok((count, descriptions.finish()? + refset.finish()?))
    }

    /// Every concept's first is-a (inactive for inactive concepts), second parents for a
    /// quarter, then attribute relationships of active concepts to the requested count: grouped
    /// finding site and morphology pairs, and single ungrouped finding sites; returns (rows,
    /// active is-a, bytes).
    fn write_relationships(
        &self,
        folder: &Path,
        size: &SyntheticSize,
        random: &mut fastrand::Rng,
    ) -> Result<(usize, usize, u64), Error> {
        let path = folder.join(format!("sct2_Relationship_Snapshot_INT_{RELEASE_DATE}.txt"));
        let mut out = Rf2Writer::create(&path)?;
        out.line("id\teffectiveTime\tactive\tmoduleId\tsourceId\tdestinationId\trelationshipGroup\ttypeId\tcharacteristicTypeId\tmodifierId")?;
        let mut next_relationship = 1_000_000_u64;
        let mut count = 0_usize;
        let mut is_a = 0_usize;
        let mut row = |out: &mut Rf2Writer,
                       active: bool,
                       source: usize,
                       destination: usize,
                       group: u8,
                       kind: u64|
         -> Result<(), Error> {
            let id = sctid(next_relationship, 2);
            next_relationship += 1;
            out.line(&format!(
                "{id}\t{RELEASE_DATE}\t{}\t{INTERNATIONAL_EDITION}\t{}\t{}\t{group}\t{kind}\t{INFERRED}\t{EXISTENTIAL}",
                u8::from(active),
                self.ids[source],
                self.ids[destination],
            ))
        };
        let concept_count = self.ids.len();
        for ordinal in 1..concept_count {
            if count >= size.relationships {
                break;
            }
            let active = !self.inactive[ordinal];
            row(
                &mut out,
                active,
                ordinal,
                self.first_parent[ordinal],
                0,
                IS_A,
            )?;
            count += 1;
            is_a += usize::from(active);
        }
        for ordinal in TOP_LEVEL_COUNT + 1..concept_count {
            if count >= size.relationships {
                break;
            }
            if self.inactive[ordinal] || Plan::attribute(ordinal).is_some() || random.u8(..4) != 0 {
                continue;
            }
            let members = &self.branch_members[self.branch_of[ordinal]];
            // A second parent among the concepts before this one in its hierarchy keeps it a
            // DAG.
            let position = members.partition_point(|&member| member < ordinal);
            if position < 2 {
                continue;
            }
            let parent = members[random.usize(..position)];
            if parent == self.first_parent[ordinal] {
                continue;
            }
            row(&mut out, true, ordinal, parent, 0, IS_A)?;
            count += 1;
            is_a += 1;
        }
        let body_structures = &self.branch_members[BODY_STRUCTURE];
        let first_ordinary = TOP_LEVEL_COUNT + 1 + ATTRIBUTES.len();
        while count < size.relationships && concept_count > first_ordinary {
            let source = first_ordinary + random.usize(..concept_count - first_ordinary);
            if self.inactive[source] {
                continue;
            }
            let site = body_structures[random.usize(..body_structures.len())];
            if random.u8(..5) == 0 || count + 1 == size.relationships {
                row(&mut out, true, source, site, 0, FINDING_SITE)?;
                count += 1;
                continue;
            }
            let group = 1 + random.u8(..3);
            let abnormality = body_structures[random.usize(..body_structures.len())];
            row(&mut out, true, source, site, group, FINDING_SITE)?;
            row(
                &mut out,
                true,
                source,
                abnormality,
                group,
                ASSOCIATED_MORPHOLOGY,
            )?;
            count += 2;
        }
        Ok((count, is_a, out.finish()?))
    }
}

/// Buffered writer of CRLF-terminated lines (RF2's line ending).
struct Rf2Writer {
    path: PathBuf,
    out: BufWriter<File>,
    bytes: u64,
}

impl Rf2Writer {
    fn create(path: &Path) -> Result<Rf2Writer, Error> {
        let file = File::create(path).map_err(|source| Error::Io {
            action: "create",
            path: path.to_owned(),
            source,
        })?;
        Ok(Rf2Writer {
            path: path.to_owned(),
            out: BufWriter::with_capacity(1 << 20, file),
            bytes: 0,
        })
    }

    fn line(&mut self, text: &str) -> Result<(), Error> {
        self.bytes += text.len() as u64 + 2;
        self.out
            .write_all(text.as_bytes())
            .and_then(|()| self.out.write_all(b"\r\n"))
            .map_err(|source| Error::Io {
                action: "write",
                path: self.path.clone(),
                source,
            })
    }

    fn finish(mut self) -> Result<u64, Error> {
        self.out.flush().map_err(|source| Error::Io {
            action: "write",
            path: self.path.clone(),
            source,
        })?;
        Ok(self.bytes)
    }
}

/// `count` distinct pseudo-words of two to four syllables.
fn vocabulary(random: &mut fastrand::Rng, count: usize) -> Vec<String> {
    const ONSETS: [&str; 20] = [
        "b", "c", "d", "f", "g", "h", "l", "m", "n", "p", "r", "s", "t", "v", "ch", "gl", "pr",
        "st", "tr", "th",
    ];
    const VOWELS: [&str; 8] = ["a", "e", "i", "o", "u", "ae", "io", "y"];
    const CODAS: [&str; 8] = ["", "", "n", "r", "s", "l", "x", "m"];
    let mut seen = std::collections::HashSet::new();
    let mut words = Vec::with_capacity(count);
    while words.len() < count {
        let syllables = 2 + random.usize(..3);
        let mut word = String::new();
        for _ in 0..syllables {
            word.push_str(ONSETS[random.usize(..ONSETS.len())]);
            word.push_str(VOWELS[random.usize(..VOWELS.len())]);
        }
        word.push_str(CODAS[random.usize(..CODAS.len())]);
        if seen.insert(word.clone()) {
            words.push(word);
        }
    }
    words
}

/// `min..=max` words, frequent words likelier (squared uniform index), first one capitalised.
fn phrase(random: &mut fastrand::Rng, words: &[String], min: usize, max: usize) -> String {
    let length = random.usize(min..=max);
    let mut text = String::new();
    for position in 0..length {
        let pick = random.f64();
        let index = ((pick * pick) * words.len() as f64) as usize;
        let word = &words[index.min(words.len() - 1)];
        if position > 0 {
            text.push(' ');
            text.push_str(word);
        } else {
            let mut chars = word.chars();
            if let Some(first) = chars.next() {
                text.extend(first.to_uppercase());
                text.push_str(chars.as_str());
            }
        }
    }
    text
}

fn uuid_like(random: &mut fastrand::Rng) -> String {
    let (a, b) = (random.u64(..), random.u64(..));
    format!(
        "{:08x}-{:04x}-4{:03x}-8{:03x}-{:012x}",
        a >> 32,
        (a >> 16) & 0xffff,
        a & 0xfff,
        b >> 52,
        b & 0xffff_ffff_ffff
    )
}

/// An SCTID: item identifier, partition (`0` concept, `1` description, `2` relationship, as
/// the two digits `0p`), Verhoeff check digit.
pub fn sctid(item: u64, partition: u8) -> u64 {
    let without_check = item * 100 + u64::from(partition);
    without_check * 10 + u64::from(verhoeff_check_digit(without_check))
}

fn verhoeff_check_digit(number: u64) -> u8 {
    const D: [[u8; 10]; 10] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 2, 3, 4, 0, 6, 7, 8, 9, 5],
        [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
        [3, 4, 0, 1, 2, 8, 9, 5, 6, 7],
        [4, 0, 1, 2, 3, 9, 5, 6, 7, 8],
        [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
        [6, 5, 9, 8, 7, 1, 0, 4, 3, 2],
        [7, 6, 5, 9, 8, 2, 1, 0, 4, 3],
        [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
        [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
    ];
    const P: [[u8; 10]; 8] = [
        [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
        [1, 5, 7, 6, 2, 8, 3, 0, 9, 4],
        [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
        [8, 9, 1, 6, 0, 4, 3, 5, 2, 7],
        [9, 4, 5, 3, 1, 2, 6, 8, 7, 0],
        [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
        [2, 7, 9, 3, 8, 0, 6, 4, 1, 5],
        [7, 0, 4, 6, 9, 1, 3, 2, 5, 8],
    ];
    const INV: [u8; 10] = [0, 4, 3, 2, 1, 5, 6, 7, 8, 9];
    let mut check = 0_u8;
    let mut rest = number;
    let mut position = 0_usize;
    loop {
        let digit = (rest % 10) as usize;
        check = D[check as usize][P[(position + 1) % 8][digit] as usize];
        rest /= 10;
        position += 1;
        if rest == 0 {
            break;
        }
    }
    INV[check as usize]
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sctids_carry_a_valid_verhoeff_check_digit() {
        // Real SNOMED CT ids: 138875005 (root), 73211009, 116680003.
        for real in [
            138_875_005_u64,
            73_211_009,
            116_680_003,
            900_000_000_000_003_001,
        ] {
            assert_eq!(
                u64::from(verhoeff_check_digit(real / 10)),
                real % 10,
                "{real}"
            );
        }
        assert_eq!(sctid(1_000_001, 0) / 10 % 100, 0);
        assert_eq!(sctid(1_000_001, 1) / 10 % 100, 1);
    }
}
