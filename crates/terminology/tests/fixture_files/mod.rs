//! Copies of the release fixtures under `tests/data`, for the loader tests to break, and the
//! expansions they check.

#![allow(dead_code)] // Each test file uses some of these.

use std::path::{Path, PathBuf};

use medulla_terminology::{
    Compose, ConceptSet, ExpandOptions, Filter, FilterOperator, Terminology, ValueSet,
};

/// `tests/data/{relative}`.
pub fn fixture(relative: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("tests/data")
        .join(relative)
}

/// A copy of `tests/data/{relative}` in a temporary folder, as `{temp}/{name}`.
pub fn fixture_copy(relative: &str, name: &str) -> (tempfile::TempDir, PathBuf) {
    let temp = tempfile::tempdir().expect("temp dir");
    let target = temp.path().join(name);
    copy_dir(&fixture(relative), &target);
    (temp, target)
}

fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("create folder");
    for entry in std::fs::read_dir(from).expect("list fixture") {
        let entry = entry.expect("list fixture");
        let target = to.join(entry.file_name());
        if entry.file_type().expect("file type").is_dir() {
            copy_dir(&entry.path(), &target);
        } else {
            std::fs::copy(entry.path(), target).expect("copy fixture file");
        }
    }
}

/// Replaces the first line of `path` that contains `find` with `line` (line endings kept).
pub fn replace_line(path: &Path, find: &str, line: &str) {
    let text = std::fs::read_to_string(path).expect("read fixture file");
    let ending = if text.contains("\r\n") { "\r\n" } else { "\n" };
    let mut replaced = false;
    let lines: Vec<&str> = text
        .split(ending)
        .map(|old| {
            if !replaced && old.contains(find) {
                replaced = true;
                line
            } else {
                old
            }
        })
        .collect();
    assert!(replaced, "no line of {} contains {find}", path.display());
    std::fs::write(path, lines.join(ending)).expect("write fixture file");
}

/// Replaces `from` with `to` in the first line of `path` that contains `find`.
pub fn edit_line(path: &Path, find: &str, from: &str, to: &str) {
    let text = std::fs::read_to_string(path).expect("read fixture file");
    let line = text
        .lines()
        .find(|line| line.contains(find))
        .expect("the line is there");
    assert!(line.contains(from), "{line} has no {from}");
    replace_line(path, find, &line.replacen(from, to, 1));
}

/// The 1-based number of the first line of `path` containing `find`.
pub fn line_of(path: &Path, find: &str) -> usize {
    std::fs::read_to_string(path)
        .expect("read fixture file")
        .lines()
        .position(|line| line.contains(find))
        .expect("the line is there")
        + 1
}

/// The sorted codes of `system` meeting `filters`, expanded through a value set.
pub fn expand_codes(terminology: &Terminology, system: &str, filters: Vec<Filter>) -> Vec<String> {
    let value_set = ValueSet::new(
        "http://example.org/fhir/ValueSet/loader-test",
        Compose {
            inactive: None,
            include: vec![ConceptSet {
                filters,
                ..ConceptSet::system(system)
            }],
            exclude: Vec::new(),
        },
    );
    let expansion = terminology
        .expand_definition(&value_set, &ExpandOptions::default())
        .expect("the value set expands");
    let mut codes: Vec<String> = expansion
        .contains
        .into_iter()
        .map(|contains| contains.code)
        .collect();
    codes.sort();
    codes
}

/// A compose filter.
pub fn filter(property: &str, op: FilterOperator, value: &str) -> Filter {
    Filter {
        property: property.to_owned(),
        op,
        value: value.to_owned(),
    }
}
