//! The journal: the durable queue in front of the ledger, as files.
//!
//! The journal is a sequence of segment files `journal-<number>.seg` in the audit directory,
//! numbered upwards. Each segment is preallocated before use (a header, then zeros up to its
//! size, synced together with the directory), so that appending never changes the file's size
//! and the per-batch `sync_data` writes data blocks only, not a metadata journal commit.
//!
//! Layout of a segment (integers little-endian):
//!
//! ```text
//! header  "medulla-audit-j1"                              16 bytes
//! entry   length: u32 | seq: u64 | record: length bytes | check: 8 bytes
//! entry   …
//! zeros   up to the segment's size
//! ```
//!
//! `check` is the first 8 bytes of `SHA-256("medulla-audit-journal-v1" ‖ length ‖ seq ‖
//! record)`. A length of zero ends the entries (the preallocated zeros). The record is the
//! compact encoding of [`AuditRecord`] written by [`encode_record`]; the ledger's AuditEvent JSON
//! is built from it later, so the journal stays about a fifth of the ledger's size.
//!
//! Reading stops at the first entry whose length runs past the segment or whose check fails:
//! the torn tail of a batch that was being written when the process or the machine stopped. No
//! such entry was ever acknowledged (acknowledgements wait for `sync_data`), so nothing after it
//! is either.

use crate::{Action, AgentKind, AuditRecord, Category, Outcome};
use sha2::{Digest, Sha256};
use std::fs::{File, OpenOptions};
use std::io;
use std::path::{Path, PathBuf};

/// The first bytes of every segment.
pub(crate) const MAGIC: &[u8; 16] = b"medulla-audit-j1";

/// Separates entry checks from any other SHA-256 use of the same bytes.
const CHECK_TAG: &[u8] = b"medulla-audit-journal-v1";

/// Bytes of an entry besides its record: length, seq and check.
pub(crate) const ENTRY_OVERHEAD: usize = 4 + 8 + 8;

/// The smallest segment size accepted; smaller settings are raised to it.
pub(crate) const MIN_SEGMENT_SIZE: u64 = 64 * 1024;

/// Zeros are written in chunks of this size while preallocating.
const ZERO_CHUNK: usize = 1024 * 1024;

/// The file name of segment `number`.
pub(crate) fn segment_name(number: u64) -> String {
    format!("journal-{number:010}.seg")
}

/// The segment number in a file name written by [`segment_name`].
fn segment_number(file_name: &str) -> Option<u64> {
    file_name
        .strip_prefix("journal-")?
        .strip_suffix(".seg")?
        .parse()
        .ok()
}

/// The segments in `dir`, as `(number, path)` in number order.
pub(crate) fn list_segments(dir: &Path) -> io::Result<Vec<(u64, PathBuf)>> {
    let mut segments = Vec::new();
    for entry in std::fs::read_dir(dir)? {
        let entry = entry?;
        if let Some(number) = entry.file_name().to_str().and_then(segment_number) {
            segments.push((number, entry.path()));
        }
    }
    segments.sort_unstable();
    Ok(segments)
}

/// How many entries of the segments in `dir` have a sequence number above `seq`, reading up to
/// the first torn entry. A report, so a segment that cannot be read (or vanishes while being
/// read, as an open log deletes them) counts as empty.
pub(crate) fn count_after(dir: &Path, seq: u64) -> u64 {
    let mut count = 0;
    for (_, path) in list_segments(dir).unwrap_or_default() {
        let Ok(bytes) = std::fs::read(&path) else {
            continue;
        };
        let found = scan(&bytes);
        count += found
            .entries
            .iter()
            .filter(|(entry_seq, _)| *entry_seq > seq)
            .count() as u64;
        if found.torn.is_some() {
            break;
        }
    }
    count
}

/// An open, preallocated segment and where its next entry goes.
#[derive(Debug)]
pub(crate) struct Segment {
    pub(crate) file: File,
    pub(crate) path: PathBuf,
    /// The preallocated size: entries must end at or before it.
    pub(crate) size: u64,
    /// Where the next entry is written.
    pub(crate) position: u64,
    /// The newest entry's sequence number, if the segment holds any.
    pub(crate) last_seq: Option<u64>,
}

impl Segment {
    /// Creates segment `number` in `dir` with `size` bytes (header, then zeros), synced together
    /// with the directory entry. Never overwrites an existing file; removes its partial file when
    /// it fails (a full disk).
    pub(crate) fn create(dir: &Path, number: u64, size: u64) -> io::Result<Segment> {
        let path = dir.join(segment_name(number));
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&path)?;
        match preallocate(&file, size).and_then(|()| sync_directory(dir)) {
            Ok(()) => Ok(Segment {
                file,
                path,
                size,
                position: MAGIC.len() as u64,
                last_seq: None,
            }),
            Err(error) => {
                drop(file);
                let _ = std::fs::remove_file(&path);
                Err(error)
            }
        }
    }

    /// Room left for entries.
    pub(crate) fn room(&self) -> u64 {
        self.size.saturating_sub(self.position)
    }
}

/// Writes all of `bytes` at `offset`, with one positioned write where the platform allows.
pub(crate) fn write_all_at(file: &File, bytes: &[u8], offset: u64) -> io::Result<()> {
    #[cfg(unix)]
    {
        std::os::unix::fs::FileExt::write_all_at(file, bytes, offset)
    }
    #[cfg(windows)]
    {
        let mut written = 0;
        while let Some(rest) = bytes.get(written..).filter(|rest| !rest.is_empty()) {
            let count =
                std::os::windows::fs::FileExt::seek_write(file, rest, offset + written as u64)?;
            if count == 0 {
                return Err(io::ErrorKind::WriteZero.into());
            }
            written += count;
        }
        Ok(())
    }
}

/// Writes the header and zeros up to `size`, then syncs data and size.
fn preallocate(file: &File, size: u64) -> io::Result<()> {
    write_all_at(file, MAGIC, 0)?;
    let zeros = vec![0u8; ZERO_CHUNK];
    let mut offset = MAGIC.len() as u64;
    while offset < size {
        let chunk = usize::try_from(size - offset).map_or(ZERO_CHUNK, |left| left.min(ZERO_CHUNK));
        write_all_at(file, &zeros[..chunk], offset)?;
        offset += chunk as u64;
    }
    file.sync_all()
}

/// Makes a file's creation or removal in `dir` durable. (Windows has no directory handles to
/// sync; its file system journals directory entries itself.)
pub(crate) fn sync_directory(dir: &Path) -> io::Result<()> {
    #[cfg(unix)]
    {
        File::open(dir)?.sync_all()
    }
    #[cfg(not(unix))]
    {
        let _ = dir;
        Ok(())
    }
}

/// Appends one entry for `record` under `seq` to `out`.
pub(crate) fn encode_entry(out: &mut Vec<u8>, seq: u64, record: &AuditRecord) {
    let start = out.len();
    out.extend_from_slice(&[0; 4]);
    out.extend_from_slice(&seq.to_le_bytes());
    encode_record(out, record);
    let length = out.len() - start - 12;
    // A record of 4 GiB cannot come from a request; saturating keeps the entry unreadable
    // rather than misread if one ever did.
    let length = u32::try_from(length).unwrap_or(u32::MAX);
    out[start..start + 4].copy_from_slice(&length.to_le_bytes());
    let check = entry_check(
        &out[start..start + 4],
        &out[start + 4..start + 12],
        &out[start + 12..],
    );
    out.extend_from_slice(&check);
}

fn entry_check(length: &[u8], seq: &[u8], record: &[u8]) -> [u8; 8] {
    let digest = Sha256::new()
        .chain_update(CHECK_TAG)
        .chain_update(length)
        .chain_update(seq)
        .chain_update(record)
        .finalize();
    let mut check = [0; 8];
    check.copy_from_slice(&digest[..8]);
    check
}

/// What reading a segment found.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Scan<'a> {
    /// The entries in order, as `(seq, record bytes)`.
    pub(crate) entries: Vec<(u64, &'a [u8])>,
    /// The offset just after the last good entry.
    pub(crate) end: usize,
    /// Why reading stopped before the zeros, if it did: a torn or corrupt entry at `end`.
    pub(crate) torn: Option<&'static str>,
}

/// Reads the entries of one segment's bytes. A file without the header has no entries.
pub(crate) fn scan(bytes: &[u8]) -> Scan<'_> {
    let mut found = Scan {
        entries: Vec::new(),
        end: 0,
        torn: None,
    };
    let Some(mut rest) = bytes.strip_prefix(MAGIC.as_slice()) else {
        found.torn = (!bytes.iter().all(|&byte| byte == 0)).then_some("no segment header");
        return found;
    };
    found.end = MAGIC.len();
    while let Some((length, _)) = rest.split_first_chunk::<4>() {
        let length = u32::from_le_bytes(*length);
        if length == 0 {
            break;
        }
        let entry = usize::try_from(length)
            .ok()
            .and_then(|length| length.checked_add(ENTRY_OVERHEAD))
            .and_then(|size| rest.split_at_checked(size));
        let Some((entry, after)) = entry else {
            found.torn = Some("an entry runs past the end of the segment");
            break;
        };
        let Some((parts, check)) = entry.split_last_chunk::<8>() else {
            break;
        };
        let Some((head, record)) = parts.split_first_chunk::<12>() else {
            break;
        };
        let (length_bytes, seq) = head.split_at(4);
        if entry_check(length_bytes, seq, record) != *check {
            found.torn = Some("an entry's check does not match its bytes");
            break;
        }
        let seq = u64::from_le_bytes(seq.try_into().unwrap_or_default());
        found.entries.push((seq, record));
        found.end += entry.len();
        rest = after;
    }
    found
}

// The compact record encoding: fixed fields, then strings as u32 length + UTF-8, optional
// strings behind a 0/1 byte, lists behind a u32 count.

/// Appends the compact encoding of `record` to `out`.
pub(crate) fn encode_record(out: &mut Vec<u8>, record: &AuditRecord) {
    out.extend_from_slice(&record.recorded.to_le_bytes());
    out.push(position(&Category::ALL, &record.category));
    out.push(position(&Action::ALL, &record.action));
    out.push(position(&Outcome::ALL, &record.outcome));
    out.push(match record.agent_kind {
        AgentKind::User => 0,
        AgentKind::Client => 1,
        AgentKind::Anonymous => 2,
    });
    put_str(out, &record.interaction);
    put_str(out, &record.agent);
    put_option(out, record.outcome_desc.as_deref());
    put_option(out, record.network_address.as_deref());
    put_list(out, &record.purpose_of_use);
    put_option(out, record.patient.as_deref());
    put_list(out, &record.entities);
    put_option(out, record.query.as_deref());
    put_option(out, record.detail.as_deref());
}

/// Decodes what [`encode_record`] wrote; `None` when the bytes are not such an encoding.
pub(crate) fn decode_record(bytes: &[u8]) -> Option<AuditRecord> {
    let mut reader = Reader { rest: bytes };
    let recorded = i64::from_le_bytes(reader.array()?);
    let category = *Category::ALL.get(usize::from(reader.byte()?))?;
    let action = *Action::ALL.get(usize::from(reader.byte()?))?;
    let outcome = *Outcome::ALL.get(usize::from(reader.byte()?))?;
    let agent_kind = match reader.byte()? {
        0 => AgentKind::User,
        1 => AgentKind::Client,
        2 => AgentKind::Anonymous,
        _ => return None,
    };
    let record = AuditRecord {
        recorded,
        category,
        action,
        outcome,
        agent_kind,
        interaction: reader.string()?,
        agent: reader.string()?,
        outcome_desc: reader.option()?,
        network_address: reader.option()?,
        purpose_of_use: reader.list()?,
        patient: reader.option()?,
        entities: reader.list()?,
        query: reader.option()?,
        detail: reader.option()?,
    };
    reader.rest.is_empty().then_some(record)
}

fn position<T: PartialEq>(all: &[T], value: &T) -> u8 {
    all.iter()
        .position(|candidate| candidate == value)
        .and_then(|index| u8::try_from(index).ok())
        .unwrap_or(u8::MAX)
}

fn put_str(out: &mut Vec<u8>, text: &str) {
    // Strings come from requests already bounded far below 4 GiB.
    let length = u32::try_from(text.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&length.to_le_bytes());
    out.extend_from_slice(text.as_bytes());
}

fn put_option(out: &mut Vec<u8>, text: Option<&str>) {
    match text {
        None => out.push(0),
        Some(text) => {
            out.push(1);
            put_str(out, text);
        }
    }
}

fn put_list(out: &mut Vec<u8>, items: &[String]) {
    let count = u32::try_from(items.len()).unwrap_or(u32::MAX);
    out.extend_from_slice(&count.to_le_bytes());
    for item in items {
        put_str(out, item);
    }
}

struct Reader<'a> {
    rest: &'a [u8],
}

impl Reader<'_> {
    fn take(&mut self, count: usize) -> Option<&[u8]> {
        let (taken, rest) = self.rest.split_at_checked(count)?;
        self.rest = rest;
        Some(taken)
    }

    fn array<const N: usize>(&mut self) -> Option<[u8; N]> {
        self.take(N)?.try_into().ok()
    }

    fn byte(&mut self) -> Option<u8> {
        Some(self.array::<1>()?[0])
    }

    fn length(&mut self) -> Option<usize> {
        usize::try_from(u32::from_le_bytes(self.array()?)).ok()
    }

    fn string(&mut self) -> Option<String> {
        let length = self.length()?;
        String::from_utf8(self.take(length)?.to_vec()).ok()
    }

    fn option(&mut self) -> Option<Option<String>> {
        match self.byte()? {
            0 => Some(None),
            1 => Some(Some(self.string()?)),
            _ => None,
        }
    }

    fn list(&mut self) -> Option<Vec<String>> {
        let count = self.length()?;
        // Each item takes at least its 4-byte length, which bounds the allocation by the input.
        let mut items = Vec::with_capacity(count.min(self.rest.len() / 4));
        for _ in 0..count {
            items.push(self.string()?);
        }
        Some(items)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn full_record() -> AuditRecord {
        let mut record = AuditRecord::new(
            Category::BreakGlass,
            "search-type",
            Action::Read,
            Outcome::MinorFailure,
            "dr-who",
            AgentKind::Client,
        );
        record.recorded = -5;
        record.outcome_desc = Some("refused".into());
        record.network_address = Some("10.0.0.1".into());
        record.purpose_of_use = vec!["BTG".into(), "ETREAT".into()];
        record.patient = Some("Patient/p1".into());
        record.entities = vec!["Observation/1".into(), "Ärztin/ü".into()];
        record.query = Some("Observation?patient=p1".into());
        record.detail = Some(String::new());
        record
    }

    fn segment_bytes(entries: &[(u64, &AuditRecord)], zeros: usize) -> Vec<u8> {
        let mut bytes = MAGIC.to_vec();
        for (seq, record) in entries {
            encode_entry(&mut bytes, *seq, record);
        }
        bytes.resize(bytes.len() + zeros, 0);
        bytes
    }

    #[test]
    fn records_round_trip_through_the_compact_encoding() {
        let minimal = AuditRecord::new(
            Category::Rest,
            "",
            Action::Execute,
            Outcome::Success,
            "",
            AgentKind::Anonymous,
        );
        for record in [full_record(), minimal] {
            let mut bytes = Vec::new();
            encode_record(&mut bytes, &record);
            assert_eq!(decode_record(&bytes), Some(record));
        }
    }

    #[test]
    fn malformed_record_bytes_decode_to_none() {
        let mut bytes = Vec::new();
        encode_record(&mut bytes, &full_record());
        for cut in 0..bytes.len() {
            assert_eq!(decode_record(&bytes[..cut]), None, "cut at {cut}");
        }
        let mut longer = bytes.clone();
        longer.push(0);
        assert_eq!(decode_record(&longer), None);
        let mut bad_category = bytes;
        bad_category[8] = 200;
        assert_eq!(decode_record(&bad_category), None);
    }

    #[test]
    fn a_segment_reads_back_its_entries_up_to_the_zeros() {
        let record = full_record();
        let bytes = segment_bytes(&[(7, &record), (8, &record)], 100);
        let found = scan(&bytes);
        assert_eq!(found.torn, None);
        assert_eq!(found.entries.len(), 2);
        assert_eq!(found.entries[1].0, 8);
        assert_eq!(decode_record(found.entries[0].1), Some(record));
        assert_eq!(found.end, bytes.len() - 100);
        // Exactly full, with no zeros after the last entry.
        assert_eq!(scan(&bytes[..found.end]).entries.len(), 2);
    }

    #[test]
    fn reading_stops_at_a_torn_or_corrupt_entry() {
        let record = full_record();
        let bytes = segment_bytes(&[(1, &record), (2, &record)], 64);
        let second = scan(&bytes).entries[0].1.len() + ENTRY_OVERHEAD + MAGIC.len();
        // Half of the second entry written: its length runs past the end.
        let half = &bytes[..second + 30];
        let found = scan(half);
        assert_eq!(found.entries.len(), 1);
        assert_eq!(found.end, second);
        assert_eq!(
            found.torn,
            Some("an entry runs past the end of the segment")
        );
        // One flipped bit in the second entry's record.
        let mut flipped = bytes.clone();
        flipped[second + 20] ^= 1;
        let found = scan(&flipped);
        assert_eq!(found.entries.len(), 1);
        assert_eq!(
            found.torn,
            Some("an entry's check does not match its bytes")
        );
        // Garbage after the entries.
        let mut garbage = bytes[..scan(&bytes).end].to_vec();
        garbage.extend_from_slice(&[0xff; 40]);
        let found = scan(&garbage);
        assert_eq!(found.entries.len(), 2);
        assert!(found.torn.is_some());
    }

    #[test]
    fn files_without_the_header_have_no_entries() {
        assert_eq!(scan(&[0; 100]).entries, Vec::new());
        assert_eq!(scan(&[0; 100]).torn, None);
        assert_eq!(scan(b"not a journal").torn, Some("no segment header"));
        assert_eq!(scan(&[]).torn, None);
    }

    #[test]
    fn created_segments_are_preallocated_and_never_overwritten() {
        let dir = tempfile::tempdir().expect("temp dir");
        let segment = Segment::create(dir.path(), 3, 200_000).expect("created");
        assert_eq!(segment.path, dir.path().join("journal-0000000003.seg"));
        assert_eq!(segment.position, 16);
        assert_eq!(segment.room(), 200_000 - 16);
        let bytes = std::fs::read(&segment.path).expect("read");
        assert_eq!(bytes.len(), 200_000);
        assert!(bytes.starts_with(MAGIC));
        assert!(bytes[16..].iter().all(|&byte| byte == 0));
        let again = Segment::create(dir.path(), 3, 200_000);
        assert_eq!(
            again.map(|_| ()).map_err(|error| error.kind()),
            Err(io::ErrorKind::AlreadyExists)
        );
        std::fs::write(dir.path().join("journal-x.seg"), b"").expect("write");
        std::fs::write(dir.path().join("other.seg"), b"").expect("write");
        Segment::create(dir.path(), 12, MIN_SEGMENT_SIZE).expect("created");
        let numbers: Vec<u64> = list_segments(dir.path())
            .expect("listed")
            .into_iter()
            .map(|(number, _)| number)
            .collect();
        assert_eq!(numbers, [3, 12]);
    }
}
