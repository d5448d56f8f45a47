//! The journal in front of the ledger: reads that wait for it, segment rotation, back-pressure,
//! and crash recovery. Crashes are real: the test binary runs itself as a child process that
//! appends records and then aborts, so no clean-shutdown code runs.

use medulla_audit::{
    Action, AgentKind, AuditLog, AuditOptions, AuditQuery, AuditRecord, Category, Error, Outcome,
    verify,
};
use rusqlite::Connection;
use serde_json::Value;
use std::io::{Seek as _, SeekFrom, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::Duration;

/// Set in the child process: the audit directory to crash in.
const CHILD_DIR: &str = "MEDULLA_AUDIT_CRASH_DIR";
/// Set in the child process: the first record to append (records are numbered from 1 in a
/// new ledger, so the first is also the sequence number expected for it).
const CHILD_FIRST: &str = "MEDULLA_AUDIT_CRASH_FIRST";
/// Set in the child process: the last record to append before aborting.
const CHILD_LAST: &str = "MEDULLA_AUDIT_CRASH_LAST";
/// Set in the child process: after which record to wait for the ledger (0: never).
const CHILD_FLUSH_AFTER: &str = "MEDULLA_AUDIT_CRASH_FLUSH_AFTER";

/// A read of `Observation/<n>` by alice, so that each record can be recognised.
fn read_record(n: u64) -> AuditRecord {
    let mut record = AuditRecord::new(
        Category::Rest,
        "read",
        Action::Read,
        Outcome::Success,
        "alice",
        AgentKind::User,
    );
    record.patient = Some(format!("p{}", n % 7));
    record.entities = vec![format!("Observation/{n}")];
    record
}

/// Options whose ledger thread commits only when asked (by a read or a flush) or at close.
fn lazy_ledger() -> AuditOptions {
    AuditOptions {
        checkpoint_every: 10,
        ledger_commit_interval: Duration::from_secs(3600),
        ..AuditOptions::default()
    }
}

/// Not a test of its own: the child process of the crash tests (it returns at once unless
/// started by [`crash`]). Opens the ledger (replaying what an earlier crash left), appends
/// records `first..=last` (each acknowledged, so durable in the journal), lets the ledger catch
/// up after one of them, and aborts.
#[test]
fn crash_child() {
    let Ok(dir) = std::env::var(CHILD_DIR) else {
        return;
    };
    let number = |name: &str| -> u64 {
        std::env::var(name)
            .expect("set by the parent")
            .parse()
            .expect("a number")
    };
    let (first, last) = (number(CHILD_FIRST), number(CHILD_LAST));
    let flush_after = number(CHILD_FLUSH_AFTER);
    let log = AuditLog::open_with(Path::new(&dir), lazy_ledger()).expect("open");
    for n in first..=last {
        let seq = log.append_blocking(read_record(n)).expect("acknowledged");
        assert_eq!(seq, n);
        if n == flush_after {
            log.flush().expect("flushed");
        }
    }
    std::process::abort();
}

/// Runs [`crash_child`] in a child process on `dir` and checks that it got to the abort.
fn crash(dir: &Path, records: std::ops::RangeInclusive<u64>, flush_after: u64) {
    let status = Command::new(std::env::current_exe().expect("test binary"))
        .args(["crash_child", "--exact", "--test-threads=1"])
        .env(CHILD_DIR, dir)
        .env(CHILD_FIRST, records.start().to_string())
        .env(CHILD_LAST, records.end().to_string())
        .env(CHILD_FLUSH_AFTER, flush_after.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("child runs");
    #[cfg(unix)]
    {
        use std::os::unix::process::ExitStatusExt as _;
        assert_eq!(status.signal(), Some(6), "the child aborts: {status}");
    }
    #[cfg(not(unix))]
    assert!(!status.success(), "the child aborts: {status}");
}

/// The journal segments in `dir`, in name order.
fn segments(dir: &Path) -> Vec<PathBuf> {
    let mut found: Vec<PathBuf> = std::fs::read_dir(dir)
        .expect("list")
        .map(|entry| entry.expect("entry").path())
        .filter(|path| {
            path.file_name()
                .and_then(|name| name.to_str())
                .is_some_and(|name| name.starts_with("journal-") && name.ends_with(".seg"))
        })
        .collect();
    found.sort();
    found
}

/// The documented segment layout, read independently of the crate: a 16-byte header, then
/// entries of `length: u32 LE | seq: u64 LE | record | check: 8 bytes` up to a zero length.
/// Returns the segment holding entries and the offsets where each entry starts and where the
/// last one ends.
fn journal_entries(dir: &Path) -> (PathBuf, Vec<usize>, usize) {
    for path in segments(dir) {
        let bytes = std::fs::read(&path).expect("read segment");
        assert!(bytes.starts_with(b"medulla-audit-j1"));
        let mut offset = 16;
        let mut starts = Vec::new();
        while let Some(length) = bytes.get(offset..offset + 4) {
            let length = u32::from_le_bytes(length.try_into().expect("4 bytes")) as usize;
            if length == 0 {
                break;
            }
            starts.push(offset);
            offset += 4 + 8 + length + 8;
        }
        if !starts.is_empty() {
            return (path, starts, offset);
        }
    }
    panic!("no journal segment holds entries");
}

/// Every record's `(seq, n)`, where `n` is the number in its `Observation/<n>` entity.
fn ledger_contents(log: &AuditLog) -> Vec<(u64, u64)> {
    let mut found: Vec<(u64, u64)> = log
        .search(&AuditQuery {
            count: Some(1000),
            ..AuditQuery::default()
        })
        .expect("search")
        .into_iter()
        .map(|(seq, event)| {
            let event: Value = serde_json::from_slice(&event).expect("JSON");
            let n = event["entity"]
                .as_array()
                .expect("entities")
                .iter()
                .find_map(|entity| {
                    entity["what"]["reference"]
                        .as_str()?
                        .strip_prefix("Observation/")?
                        .parse()
                        .ok()
                })
                .expect("an observation");
            (seq, n)
        })
        .collect();
    found.sort_unstable();
    found
}

/// Makes bytes to write after the last entry, from the segment and its first entry's offset.
type MakeGarbage = fn(&[u8], usize) -> Vec<u8>;

fn numbered(range: std::ops::RangeInclusive<u64>) -> Vec<(u64, u64)> {
    range.map(|n| (n, n)).collect()
}

#[test]
fn reads_wait_for_acknowledged_records_and_verify_sees_them_after_a_flush() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = AuditLog::open_with(dir.path(), lazy_ledger()).expect("open");
    for n in 1..=3 {
        log.append_blocking(read_record(n)).expect("appended");
    }
    // Acknowledged means durable in the journal; the ledger file takes them only when asked.
    let report = verify(dir.path()).expect("verify");
    assert_eq!((report.records, report.journal_records), (0, 3));
    // A search asks, and waits.
    assert_eq!(ledger_contents(&log), numbered(1..=3));
    log.append_blocking(read_record(4)).expect("appended");
    log.flush().expect("flushed");
    let report = verify(dir.path()).expect("verify");
    assert_eq!((report.records, report.problem), (4, None));
    assert_eq!(log.last_seq().expect("last"), 4);
    drop(log);
    assert_eq!(segments(dir.path()), Vec::<PathBuf>::new());
    let report = verify(dir.path()).expect("verify");
    assert_eq!((report.records, report.unsigned_records), (4, 0));
}

#[test]
fn a_crash_before_the_ledger_caught_up_loses_no_acknowledged_record() {
    let dir = tempfile::tempdir().expect("temp dir");
    // 40 acknowledged records; the ledger took the first 15 (with a checkpoint at 10).
    crash(dir.path(), 1..=40, 15);
    let before = verify(dir.path()).expect("verify");
    assert_eq!(before.problem, None, "{before}");
    assert_eq!((before.records, before.last_checkpoint_seq), (15, Some(10)));
    assert!(!segments(dir.path()).is_empty());

    let log = AuditLog::open_with(
        dir.path(),
        AuditOptions {
            checkpoint_every: 10,
            ..AuditOptions::default()
        },
    )
    .expect("reopen replays the journal");
    // Every acknowledged record exactly once, in its place, and the chain intact.
    assert_eq!(log.count().expect("count"), 40);
    assert_eq!(ledger_contents(&log), numbered(1..=40));
    let report = verify(dir.path()).expect("verify");
    assert_eq!(report.problem, None, "{report}");
    assert_eq!(
        (report.last_checkpoint_seq, report.journal_records),
        (Some(40), 0)
    );
    // The replayed segments are gone; the new session has its own.
    assert_eq!(segments(dir.path()).len(), 1);
    assert_eq!(log.append_blocking(read_record(41)).expect("appended"), 41);
    drop(log);
    let report = verify(dir.path()).expect("verify");
    assert_eq!(report.problem, None, "{report}");
    assert_eq!((report.records, report.unsigned_records), (41, 0));
    assert_eq!(segments(dir.path()), Vec::<PathBuf>::new());
}

#[test]
fn crashing_again_after_a_recovery_replays_nothing_twice() {
    let dir = tempfile::tempdir().expect("temp dir");
    crash(dir.path(), 1..=12, 0);
    // The second child replays 1..=12 when it opens, appends 13..=20 and crashes too.
    crash(dir.path(), 13..=20, 0);
    let report = verify(dir.path()).expect("verify");
    assert_eq!((report.records, report.problem), (12, None));
    let log = AuditLog::open(dir.path()).expect("reopen");
    assert_eq!(ledger_contents(&log), numbered(1..=20));
    drop(log);
    let report = verify(dir.path()).expect("verify");
    assert_eq!((report.records, report.problem), (20, None));
}

#[test]
fn a_torn_tail_is_ignored_and_numbering_continues_after_the_last_acknowledged_record() {
    let garbage: [(&str, MakeGarbage); 3] = [
        // Half of an entry: the first half of the first one, copied to the end.
        ("half entry", |bytes, first| {
            let length = u32::from_le_bytes(bytes[first..first + 4].try_into().expect("4"));
            bytes[first..first + (length as usize) / 2].to_vec()
        }),
        // A length that runs past the end of the segment.
        ("impossible length", |_, _| {
            let mut entry = u32::MAX.to_le_bytes().to_vec();
            entry.extend_from_slice(&[7; 30]);
            entry
        }),
        // Noise.
        ("noise", |_, _| (0..200u8).map(|byte| byte | 1).collect()),
    ];
    for (what, make) in garbage {
        let dir = tempfile::tempdir().expect("temp dir");
        crash(dir.path(), 1..=12, 0);
        let (path, starts, end) = journal_entries(dir.path());
        assert_eq!(starts.len(), 12, "{what}");
        let bytes = std::fs::read(&path).expect("read");
        let tail = make(&bytes, starts[0]);
        let mut file = std::fs::OpenOptions::new()
            .write(true)
            .open(&path)
            .expect("open segment");
        file.seek(SeekFrom::Start(end as u64)).expect("seek");
        file.write_all(&tail).expect("write");
        drop(file);

        let log = AuditLog::open(dir.path()).expect("reopen");
        assert_eq!(ledger_contents(&log), numbered(1..=12), "{what}");
        assert_eq!(
            log.append_blocking(read_record(13)).expect("appended"),
            13,
            "{what}"
        );
        drop(log);
        let report = verify(dir.path()).expect("verify");
        assert_eq!((report.records, report.problem), (13, None), "{what}");
    }
}

#[test]
fn a_bad_check_ends_the_journal_there() {
    let dir = tempfile::tempdir().expect("temp dir");
    crash(dir.path(), 1..=12, 0);
    let (path, starts, end) = journal_entries(dir.path());
    // One bit of the last entry's check flipped, as if the last batch had been torn.
    let mut bytes = std::fs::read(&path).expect("read");
    bytes[end - 1] ^= 1;
    std::fs::write(&path, &bytes).expect("write");
    assert_eq!(starts.len(), 12);

    let log = AuditLog::open(dir.path()).expect("reopen");
    assert_eq!(ledger_contents(&log), numbered(1..=11));
    // Number 12 was never in the ledger, so it is given again.
    assert_eq!(log.append_blocking(read_record(12)).expect("appended"), 12);
    drop(log);
    let report = verify(dir.path()).expect("verify");
    assert_eq!((report.records, report.problem), (12, None));
}

#[test]
fn segments_rotate_and_are_deleted_once_their_records_are_in_the_ledger() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = AuditLog::open_with(
        dir.path(),
        AuditOptions {
            // The smallest allowed: about 250 records each.
            journal_segment_size: 64 * 1024,
            checkpoint_every: 100,
            ..AuditOptions::default()
        },
    )
    .expect("open");
    let tickets: Vec<_> = (1..=2000).map(|n| log.record(read_record(n))).collect();
    for (n, ticket) in (1..).zip(tickets) {
        assert_eq!(ticket.blocking_wait().expect("appended"), n);
    }
    // A record larger than a segment gets a segment of its own.
    let mut large = read_record(2001);
    large.query = Some("x".repeat(100_000));
    assert_eq!(log.append_blocking(large).expect("appended"), 2001);
    log.flush().expect("flushed");
    // The synced commit that took the last records let every older segment go: what is left
    // is the segment being written, and perhaps the next one, prepared.
    let left = segments(dir.path()).len();
    assert!((1..=2).contains(&left), "{left} segments left");
    let event: Value =
        serde_json::from_slice(&log.read(2001).expect("read").expect("present")).expect("JSON");
    assert_eq!(
        event["entity"][2]["query"].as_str().map(str::len),
        Some(133_336)
    );
    drop(log);
    assert_eq!(segments(dir.path()), Vec::<PathBuf>::new());
    let report = verify(dir.path()).expect("verify");
    assert_eq!((report.records, report.problem), (2001, None));
}

#[test]
fn a_failing_ledger_too_far_behind_refuses_new_records_until_it_recovers() {
    let dir = tempfile::tempdir().expect("temp dir");
    let log = AuditLog::open_with(
        dir.path(),
        AuditOptions {
            max_ledger_lag: 3,
            ..lazy_ledger()
        },
    )
    .expect("open");
    let conn = Connection::open(dir.path().join("ledger.sqlite")).expect("open ledger file");
    conn.execute_batch(
        "CREATE TRIGGER refuse BEFORE INSERT ON ledger \
         BEGIN SELECT RAISE(ABORT, 'simulated write failure'); END;",
    )
    .expect("create trigger");
    for n in 1..=3 {
        assert_eq!(log.append_blocking(read_record(n)).expect("journaled"), n);
    }
    // Three records wait for a ledger that fails: the fourth is refused, not queued.
    match log.append_blocking(read_record(4)) {
        Err(Error::CommitFailed(message)) => {
            assert!(message.contains("too far behind"), "{message}");
            assert!(message.contains("simulated write failure"), "{message}");
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    conn.execute_batch("DROP TRIGGER refuse;")
        .expect("drop trigger");
    // The refused record took no number.
    assert_eq!(log.append_blocking(read_record(4)).expect("appended"), 4);
    assert_eq!(ledger_contents(&log), numbered(1..=4));
    drop(log);
    let report = verify(dir.path()).expect("verify");
    assert_eq!((report.records, report.problem), (4, None));
}

#[test]
fn a_journal_entry_that_cannot_be_decoded_stops_the_open() {
    let dir = tempfile::tempdir().expect("temp dir");
    crash(dir.path(), 1..=3, 0);
    let (path, starts, _) = journal_entries(dir.path());
    // Rewrite entry 2 with a record byte the decoder rejects and a matching check, as a build
    // with another record layout would have written it.
    let mut bytes = std::fs::read(&path).expect("read");
    let start = starts[1];
    let length = u32::from_le_bytes(bytes[start..start + 4].try_into().expect("4")) as usize;
    bytes[start + 12 + 8] = 200;
    let mut hasher = <sha2::Sha256 as sha2::Digest>::new();
    sha2::Digest::update(&mut hasher, b"medulla-audit-journal-v1");
    sha2::Digest::update(&mut hasher, &bytes[start..start + 12 + length]);
    let check = sha2::Digest::finalize(hasher);
    bytes[start + 12 + length..start + 20 + length].copy_from_slice(&check[..8]);
    std::fs::write(&path, &bytes).expect("write");

    match AuditLog::open(dir.path()) {
        Err(Error::JournalRecord { seq, .. }) => assert_eq!(seq, 2),
        other => panic!("expected a journal error, got {other:?}"),
    }
    // Nothing was dropped: the journal is still there.
    assert!(segments(dir.path()).contains(&path));
}
