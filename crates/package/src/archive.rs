//! Walking a gzip-compressed tar archive within limits, refusing unsafe paths.
//!
//! Nothing is ever written to disk, so links and unsafe paths could do no harm here; they are
//! refused anyway because an archive that has them was not made by the FHIR package tools and
//! would be unsafe to unpack elsewhere.

use crate::Error;
use std::io::{BufRead, BufReader, Read};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

/// Bounds on what an archive may hold, so that a hostile or broken file (a gzip bomb, a
/// million empty entries) cannot exhaust memory or time.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Limits {
    /// The largest uncompressed entry, in bytes.
    pub max_entry_bytes: u64,
    /// The most entries (files, folders and links alike).
    pub max_entries: usize,
    /// The largest uncompressed total of all entries, in bytes.
    pub max_total_bytes: u64,
}

impl Default for Limits {
    /// 50 MiB per entry, 20,000 entries, 500 MiB in all: far above what implementation
    /// guides hold, far below what would strain the machine.
    fn default() -> Self {
        Limits {
            max_entry_bytes: 50 << 20,
            max_entries: 20_000,
            max_total_bytes: 500 << 20,
        }
    }
}

/// The gzip signature, RFC 1952 section 2.3.1.
const GZIP_MAGIC: [u8; 2] = [0x1f, 0x8b];

/// Reads the archive in `reader` entry by entry and hands `visit` the path components and the
/// contents of every regular file that `wanted` accepts (the others are decompressed only to
/// be skipped). Paths are split on `/`, without empty or `.` components.
pub(crate) fn walk(
    reader: impl Read,
    limits: &Limits,
    wanted: impl Fn(&[&str]) -> bool,
    mut visit: impl FnMut(&str, &[&str], Vec<u8>) -> Result<(), Error>,
) -> Result<(), Error> {
    let mut reader = BufReader::new(reader);
    let head = reader
        .fill_buf()
        .map_err(|source| Error::Archive { source })?;
    if !head.starts_with(&GZIP_MAGIC) {
        return Err(Error::NotGzip);
    }
    // The entry limits are checked on each entry the tar reader yields, but it reads some
    // entries whole on its own (GNU long names, pax headers) and a header may claim any size:
    // the decompressed stream itself is bounded too, with room for headers and padding.
    let budget = limits.max_total_bytes.saturating_add(
        u64::try_from(limits.max_entries)
            .unwrap_or(u64::MAX)
            .saturating_add(16)
            .saturating_mul(HEADER_ALLOWANCE),
    );
    let exceeded = Arc::new(AtomicBool::new(false));
    let bounded = Bounded {
        inner: flate2::bufread::GzDecoder::new(reader),
        remaining: budget,
        exceeded: Arc::clone(&exceeded),
    };
    let over_budget = |source: std::io::Error| {
        if exceeded.load(Ordering::Relaxed) {
            Error::DecompressedTooLarge { limit: budget }
        } else {
            Error::Archive { source }
        }
    };
    let mut archive = tar::Archive::new(bounded);
    let entries = archive.entries().map_err(over_budget)?;
    let (mut count, mut total) = (0usize, 0u64);
    for entry in entries {
        let entry = entry.map_err(over_budget)?;
        count += 1;
        if count > limits.max_entries {
            return Err(Error::TooManyEntries {
                limit: limits.max_entries,
            });
        }
        let path = String::from_utf8_lossy(&entry.path_bytes()).into_owned();
        let components = safe_components(&path)?;
        let size = entry.size();
        if size > limits.max_entry_bytes {
            return Err(Error::EntryTooLarge {
                entry: path,
                size,
                limit: limits.max_entry_bytes,
            });
        }
        total = total.saturating_add(size);
        if total > limits.max_total_bytes {
            return Err(Error::ArchiveTooLarge {
                entry: path,
                limit: limits.max_total_bytes,
            });
        }
        if !entry.header().entry_type().is_file() || !wanted(&components) {
            continue;
        }
        let mut contents = Vec::with_capacity(usize::try_from(size).unwrap_or(0));
        // The header's size was checked; `take` holds the read to it even if the header lied.
        entry
            .take(limits.max_entry_bytes)
            .read_to_end(&mut contents)
            .map_err(over_budget)?;
        visit(&path, &components, contents)?;
    }
    Ok(())
}

/// Decompressed bytes allowed per entry beyond its contents: a 512-byte header, up to 511
/// bytes of padding, and as much again for a long-name or pax header before it.
const HEADER_ALLOWANCE: u64 = 2048;

/// A reader that fails once more than `remaining` bytes have been read, and says so in
/// `exceeded` (the tar reader may wrap the error it returns).
struct Bounded<R> {
    inner: R,
    remaining: u64,
    exceeded: Arc<AtomicBool>,
}

impl<R: Read> Read for Bounded<R> {
    fn read(&mut self, buffer: &mut [u8]) -> std::io::Result<usize> {
        let read = self.inner.read(buffer)?;
        let read_u64 = u64::try_from(read).unwrap_or(u64::MAX);
        if read_u64 > self.remaining {
            self.exceeded.store(true, Ordering::Relaxed);
            return Err(std::io::Error::other(
                "the archive decompresses to more than its limit",
            ));
        }
        self.remaining -= read_u64;
        Ok(read)
    }
}

/// The path's components, refusing absolute paths and `..` anywhere. Backslashes count as
/// separators too, since an archive made on Windows may use them.
fn safe_components(path: &str) -> Result<Vec<&str>, Error> {
    let unsafe_path = || Error::UnsafePath {
        entry: path.to_owned(),
    };
    let is_drive = path.as_bytes().get(1) == Some(&b':');
    if path.starts_with(['/', '\\']) || is_drive {
        return Err(unsafe_path());
    }
    let components: Vec<&str> = path
        .split(['/', '\\'])
        .filter(|component| !component.is_empty() && *component != ".")
        .collect();
    if components.contains(&"..") {
        return Err(unsafe_path());
    }
    Ok(components)
}

#[cfg(test)]
mod tests {
    use super::safe_components;

    #[test]
    fn paths_are_split_and_unsafe_ones_refused() {
        assert_eq!(
            safe_components("package/a.json").ok(),
            Some(vec!["package", "a.json"])
        );
        assert_eq!(
            safe_components("./package//a.json").ok(),
            Some(vec!["package", "a.json"])
        );
        for path in [
            "/etc/passwd",
            "package/../../x.json",
            "..",
            "\\x",
            "C:/x",
            "package\\..\\x",
        ] {
            let message = safe_components(path).err().map(|error| error.to_string());
            assert_eq!(
                message,
                Some(format!(
                    "entry '{path}' has an unsafe path (absolute or with '..')"
                )),
                "{path}"
            );
        }
    }
}
