//! What the LOINC, ICD-10-CM and RxNorm loaders share: finding a release's files by name
//! whatever their case ([`ReleaseFolder`]), reading a text file line by line through one
//! reused buffer with the line number kept for errors ([`LineReader`]), and opening a CSV file
//! whose columns are found by header name ([`CsvColumns`]).
//!
//! Every error names the file, and the line where there is one ([`Error::ReleaseLine`]).

use std::fs::File;
use std::io::{BufRead, BufReader, Read};
use std::path::{Path, PathBuf};

use crate::Error;

/// Deepest folder level searched for release files: releases nest their files two or three
/// folders down (`Loinc_2.77/AccessoryFiles/PartFile/Part.csv`), and the folder given may be
/// one above the release.
const MAX_FOLDER_DEPTH: usize = 6;

/// The files under a release folder, listed once.
#[derive(Debug)]
pub(crate) struct ReleaseFolder {
    dir: PathBuf,
    files: Vec<PathBuf>,
}

impl ReleaseFolder {
    /// Lists the files under `dir` (sorted, so ties are reported in a stable order).
    pub(crate) fn list(dir: &Path) -> Result<ReleaseFolder, Error> {
        let mut files = Vec::new();
        list_files(dir, 0, &mut files)?;
        files.sort();
        Ok(ReleaseFolder {
            dir: dir.to_owned(),
            files,
        })
    }

    /// The one file at one of `places` (paths relative to some folder of the release, `/`
    /// separated, compared without regard to case), tried in order; failing those, the one
    /// file anywhere with a place's file name, tried in the same order. `None` if there is
    /// none.
    ///
    /// # Errors
    ///
    /// [`Error::ReleaseAmbiguousFile`] if more than one file matches the same place.
    pub(crate) fn find(
        &self,
        kind: &'static str,
        places: &[&str],
    ) -> Result<Option<PathBuf>, Error> {
        for place in places {
            let wanted: Vec<String> = place.split('/').map(str::to_lowercase).collect();
            let found = self.matching(|path| ends_with_components(path, &wanted));
            if let Some(found) = self.single(kind, found)? {
                return Ok(Some(found));
            }
        }
        for place in places {
            let name = place.rsplit('/').next().unwrap_or(place).to_lowercase();
            let found = self.matching(|path| file_name_lowercase(path).as_deref() == Some(&*name));
            if let Some(found) = self.single(kind, found)? {
                return Ok(Some(found));
            }
        }
        Ok(None)
    }

    /// Like [`ReleaseFolder::find`], but the file must be there.
    ///
    /// # Errors
    ///
    /// [`Error::ReleaseMissingFile`] if it is not; [`Error::ReleaseAmbiguousFile`].
    pub(crate) fn require(&self, kind: &'static str, places: &[&str]) -> Result<PathBuf, Error> {
        self.find(kind, places)?
            .ok_or_else(|| Error::ReleaseMissingFile {
                dir: self.dir.clone(),
                kind,
                expected: places.join(" or "),
            })
    }

    /// The files whose name (lowercased) satisfies `test`.
    pub(crate) fn with_name(&self, test: impl Fn(&str) -> bool) -> Vec<PathBuf> {
        self.matching(|path| file_name_lowercase(path).is_some_and(|name| test(&name)))
    }

    /// At most one of `found`.
    ///
    /// # Errors
    ///
    /// [`Error::ReleaseAmbiguousFile`] for more than one.
    pub(crate) fn single(
        &self,
        kind: &'static str,
        mut found: Vec<PathBuf>,
    ) -> Result<Option<PathBuf>, Error> {
        match found.len() {
            0 => Ok(None),
            1 => Ok(found.pop()),
            _ => Err(Error::ReleaseAmbiguousFile {
                dir: self.dir.clone(),
                kind,
                files: found
                    .iter()
                    .map(|path| path.display().to_string())
                    .collect::<Vec<_>>()
                    .join(", "),
            }),
        }
    }

    fn matching(&self, test: impl Fn(&Path) -> bool) -> Vec<PathBuf> {
        self.files
            .iter()
            .filter(|path| test(path))
            .cloned()
            .collect()
    }
}

fn file_name_lowercase(path: &Path) -> Option<String> {
    path.file_name()
        .and_then(|name| name.to_str())
        .map(str::to_lowercase)
}

/// Whether the last components of `path` are `wanted` (lowercase), compared without case.
fn ends_with_components(path: &Path, wanted: &[String]) -> bool {
    let mut components = path.components().rev();
    wanted.iter().rev().all(|wanted| {
        components
            .next()
            .and_then(|component| component.as_os_str().to_str())
            .is_some_and(|component| component.to_lowercase() == *wanted)
    })
}

/// Every file below `dir`, at most [`MAX_FOLDER_DEPTH`] folders deep.
pub(crate) fn list_files(dir: &Path, depth: usize, found: &mut Vec<PathBuf>) -> Result<(), Error> {
    let listing_error = |path: &Path| {
        let path = path.to_owned();
        move |source| Error::Io {
            action: "list",
            path,
            source,
        }
    };
    for entry in std::fs::read_dir(dir).map_err(listing_error(dir))? {
        let entry = entry.map_err(listing_error(dir))?;
        let path = entry.path();
        let file_type = entry.file_type().map_err(listing_error(&path))?;
        if file_type.is_dir() {
            if depth < MAX_FOLDER_DEPTH {
                list_files(&path, depth + 1, found)?;
            }
        } else {
            found.push(path);
        }
    }
    Ok(())
}

/// Reads a text file line by line through one reused buffer.
pub(crate) struct LineReader {
    path: PathBuf,
    reader: BufReader<File>,
    buffer: Vec<u8>,
    line: u64,
}

impl LineReader {
    /// Opens `path`.
    pub(crate) fn open(path: &Path) -> Result<LineReader, Error> {
        Ok(LineReader {
            path: path.to_owned(),
            reader: BufReader::with_capacity(1 << 20, open(path)?),
            buffer: Vec::with_capacity(1024),
            line: 0,
        })
    }

    /// Reads the next line that is not blank into the buffer, without its line ending;
    /// `false` at the end of the file.
    pub(crate) fn next_line(&mut self) -> Result<bool, Error> {
        loop {
            self.buffer.clear();
            let read = self
                .reader
                .read_until(b'\n', &mut self.buffer)
                .map_err(|source| Error::Io {
                    action: "read",
                    path: self.path.clone(),
                    source,
                })?;
            if read == 0 {
                return Ok(false);
            }
            self.line += 1;
            while matches!(self.buffer.last(), Some(b'\n' | b'\r')) {
                self.buffer.pop();
            }
            if self.line == 1 && self.buffer.starts_with("\u{feff}".as_bytes()) {
                self.buffer.drain(..3);
            }
            if !self.buffer.iter().all(u8::is_ascii_whitespace) {
                return Ok(true);
            }
        }
    }

    /// The current line's bytes.
    pub(crate) fn bytes(&self) -> &[u8] {
        &self.buffer
    }

    /// The file read.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// The number of the current line (1 for the first).
    pub(crate) fn line(&self) -> u64 {
        self.line
    }

    /// The current line as text.
    pub(crate) fn text(&self) -> Result<&str, Error> {
        std::str::from_utf8(&self.buffer)
            .map_err(|error| self.error(format!("is not UTF-8: {error}")))
    }

    /// An error about the current line.
    pub(crate) fn error(&self, reason: String) -> Error {
        line_error(&self.path, self.line, reason)
    }
}

/// Opens `path` for reading.
pub(crate) fn open(path: &Path) -> Result<File, Error> {
    File::open(path).map_err(|source| Error::Io {
        action: "open",
        path: path.to_owned(),
        source,
    })
}

/// An error about line `line` of `file`.
pub(crate) fn line_error(file: &Path, line: u64, reason: String) -> Error {
    Error::ReleaseLine {
        file: file.to_owned(),
        line,
        reason,
    }
}

/// A CSV file with a header row, read record by record into one reused record, its columns
/// found by name.
pub(crate) struct CsvColumns {
    path: PathBuf,
    reader: csv::Reader<WithoutCarriageReturns<BufReader<File>>>,
    header: Vec<String>,
    record: csv::StringRecord,
}

impl CsvColumns {
    /// Opens `path` and reads its header row. Rows may have fewer or more fields than the
    /// header ([`CsvColumns::get`] gives `""` for a missing one): LOINC's files have grown
    /// columns over the years, and the loaders ask only for the ones they use.
    pub(crate) fn open(path: &Path) -> Result<CsvColumns, Error> {
        let mut reader = csv::ReaderBuilder::new()
            .has_headers(true)
            .flexible(true)
            .from_reader(WithoutCarriageReturns(BufReader::with_capacity(
                1 << 20,
                open(path)?,
            )));
        let header = reader
            .headers()
            .map_err(|error| csv_error(path, &error))?
            .iter()
            .map(|name| name.trim_start_matches('\u{feff}').trim().to_owned())
            .collect();
        Ok(CsvColumns {
            path: path.to_owned(),
            reader,
            header,
            record: csv::StringRecord::new(),
        })
    }

    /// The index of the column named `name` (compared without case).
    ///
    /// # Errors
    ///
    /// [`Error::ReleaseLine`] on line 1 if the header has no such column.
    pub(crate) fn column(&self, name: &str) -> Result<usize, Error> {
        self.optional_column(name).ok_or_else(|| {
            line_error(
                &self.path,
                1,
                format!(
                    "the header has no column '{name}' (it has: {})",
                    self.header.join(", ")
                ),
            )
        })
    }

    /// The index of the column named `name`, if there is one.
    pub(crate) fn optional_column(&self, name: &str) -> Option<usize> {
        self.header
            .iter()
            .position(|column| column.eq_ignore_ascii_case(name))
    }

    /// Reads the next record; `false` at the end of the file.
    pub(crate) fn next_record(&mut self) -> Result<bool, Error> {
        self.reader
            .read_record(&mut self.record)
            .map_err(|error| csv_error(&self.path, &error))
    }

    /// The current record's field in `column`, trimmed; `""` if the row is short.
    pub(crate) fn get(&self, column: usize) -> &str {
        self.record.get(column).map_or("", str::trim)
    }

    /// The current record's field in an optional column.
    pub(crate) fn get_optional(&self, column: Option<usize>) -> &str {
        column.map_or("", |column| self.get(column))
    }

    /// The 1-based line the current record starts on.
    pub(crate) fn line(&self) -> u64 {
        self.record.position().map_or(0, csv::Position::line)
    }

    /// An error about the current record.
    pub(crate) fn error(&self, reason: String) -> Error {
        line_error(&self.path, self.line(), reason)
    }
}

/// A reader that drops every carriage return. The csv crate counts a CRLF's line feed
/// towards the next record, so with CRLF line endings (LOINC's) every record's line number
/// would be one short; without the carriage returns they are exact. A carriage return inside
/// a quoted field is lost too, which no loader minds: fields are names and codes.
struct WithoutCarriageReturns<R>(R);

impl<R: Read> Read for WithoutCarriageReturns<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        loop {
            let read = self.0.read(buffer)?;
            if read == 0 {
                return Ok(0);
            }
            let mut kept = 0;
            for index in 0..read {
                let byte = buffer.get(index).copied().unwrap_or(b'\r');
                if byte != b'\r' {
                    if let Some(slot) = buffer.get_mut(kept) {
                        *slot = byte;
                    }
                    kept += 1;
                }
            }
            // Zero would read as the end of the input: read on past a run of carriage returns.
            if kept > 0 {
                return Ok(kept);
            }
        }
    }
}

fn csv_error(path: &Path, error: &csv::Error) -> Error {
    let line = error.position().map_or(0, csv::Position::line);
    let reason = match error.kind() {
        csv::ErrorKind::Utf8 { err, .. } => format!("is not UTF-8: {err}"),
        _ => error.to_string(),
    };
    line_error(path, line, reason)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, relative: &str, text: &str) -> PathBuf {
        let path = dir.join(relative);
        std::fs::create_dir_all(path.parent().expect("a parent")).expect("create folder");
        std::fs::write(&path, text).expect("write file");
        path
    }

    #[test]
    fn files_are_found_by_place_without_case_then_by_name() {
        let temp = tempfile::tempdir().unwrap();
        let table = write(temp.path(), "Loinc_2.77/LOINCTABLE/loinc.CSV", "x");
        let part = write(temp.path(), "Loinc_2.77/elsewhere/Part.csv", "x");
        let folder = ReleaseFolder::list(temp.path()).unwrap();
        assert_eq!(
            folder.find("table", &["LoincTable/Loinc.csv"]).unwrap(),
            Some(table)
        );
        assert_eq!(
            folder
                .find("parts", &["AccessoryFiles/PartFile/Part.csv"])
                .unwrap(),
            Some(part)
        );
        assert_eq!(folder.find("none", &["Nothing.csv"]).unwrap(), None);
        let missing = folder
            .require("hierarchy", &["A/B.csv", "C.csv"])
            .unwrap_err();
        assert_eq!(
            missing.to_string(),
            format!(
                "no hierarchy file (A/B.csv or C.csv) under {}",
                temp.path().display()
            )
        );
    }

    #[test]
    fn two_files_at_one_place_are_an_error() {
        let temp = tempfile::tempdir().unwrap();
        write(temp.path(), "a/Part.csv", "x");
        write(temp.path(), "b/part.csv", "x");
        let folder = ReleaseFolder::list(temp.path()).unwrap();
        let error = folder.find("parts", &["Part.csv"]).unwrap_err().to_string();
        assert!(
            error.starts_with("more than one parts file under "),
            "{error}"
        );
    }

    #[test]
    fn csv_columns_are_found_by_name_and_errors_give_the_line() {
        let temp = tempfile::tempdir().unwrap();
        let path = write(
            temp.path(),
            "t.csv",
            "\u{feff}\"A\",\"b\"\r\n\"1\",\"two\nlines\"\r\n\"3\"\r\n\"bad\"x,\"y\"\r\n",
        );
        let mut csv = CsvColumns::open(&path).unwrap();
        let a = csv.column("a").unwrap();
        let b = csv.column("B").unwrap();
        assert_eq!(csv.optional_column("c"), None);
        let error = csv.column("c").unwrap_err().to_string();
        assert!(
            error.ends_with(":1: the header has no column 'c' (it has: A, b)"),
            "{error}"
        );
        assert!(csv.next_record().unwrap());
        assert_eq!((csv.get(a), csv.get(b), csv.line()), ("1", "two\nlines", 2));
        assert!(csv.next_record().unwrap());
        assert_eq!((csv.get(a), csv.get(b), csv.line()), ("3", "", 4));
        // The csv crate reads a stray character after a closing quote as part of the field.
        assert!(csv.next_record().unwrap());
        assert_eq!((csv.get(a), csv.line()), ("badx", 5));
        assert!(!csv.next_record().unwrap());
    }

    #[test]
    fn lines_skip_blanks_and_count_them() {
        let temp = tempfile::tempdir().unwrap();
        let path = temp.path().join("t.txt");
        std::fs::write(&path, b"\xef\xbb\xbfone\r\n\r\n  \ntwo\n\xff\n").unwrap();
        let mut reader = LineReader::open(&path).unwrap();
        assert!(reader.next_line().unwrap());
        assert_eq!(reader.text().unwrap(), "one");
        assert!(reader.next_line().unwrap());
        assert_eq!(reader.text().unwrap(), "two");
        assert!(reader.next_line().unwrap());
        let error = reader.text().unwrap_err().to_string();
        assert!(error.contains("t.txt:5: is not UTF-8"), "{error}");
        assert!(!reader.next_line().unwrap());
    }
}
