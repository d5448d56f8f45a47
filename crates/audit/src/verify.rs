//! Proving the ledger intact, or naming the first record that is not.

use crate::chain::{GENESIS, is_checkpoint_signed, record_hash, to_hex};
use crate::event::claimed_seq;
use crate::log::LEDGER_FILE;
use crate::{Error, journal, schema};
use ed25519_dalek::VerifyingKey;
use rusqlite::{Connection, OptionalExtension};
use std::collections::HashMap;
use std::path::Path;

/// What verification found wrong, at the first place it went wrong.
///
/// Tampering can look alike from the inside of a chain; when it does, the variant is chosen as
/// follows (and documented per variant): a gap in the numbers is a deletion; a record whose own
/// hash holds at another number was moved (up: records were inserted before it; down: records
/// before it were deleted, unless the record that belongs here sits in its place, which is a
/// swap); a record that breaks the chain while the next one links past it was inserted; any
/// other record whose bytes do not hash to its stored hash was edited.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Tamper {
    /// Record `seq` was changed in place: its bytes no longer hash to its stored hash (or, when
    /// the record's hash was recomputed too, the next record no longer links to it; then the
    /// earlier record is named). A record appended at the end with the right link but a made-up
    /// hash is also reported as edited.
    Edited {
        /// The altered record.
        seq: u64,
    },
    /// Records `first_missing_seq..=last_missing_seq` were removed: the numbers jump, or the
    /// following records were renumbered down to close the gap.
    Deleted {
        /// The first missing record.
        first_missing_seq: u64,
        /// The last missing record.
        last_missing_seq: u64,
    },
    /// A record that the server did not write sits at `seq`: the next record links past it, or
    /// the later records were renumbered up to make room, or it was appended at the end with a
    /// link that matches nothing.
    Inserted {
        /// The forged record's position.
        seq: u64,
    },
    /// Records `seq` and `with_seq` were swapped (their numbers or their bytes exchanged).
    Reordered {
        /// The earlier position.
        seq: u64,
        /// The position whose record is now at `seq`.
        with_seq: u64,
    },
    /// A row has a sequence number the server never writes (zero or negative).
    OutOfRange {
        /// The impossible number.
        seq: i64,
    },
    /// The ledger ends at `last_seq` but a signed checkpoint covers records up to
    /// `checkpoint_seq`: records were deleted from the end.
    TailTruncated {
        /// The newest checkpoint.
        checkpoint_seq: u64,
        /// The newest record left.
        last_seq: u64,
    },
    /// The checkpoint at `seq` is not validly signed by a key in the ledger: it was altered or
    /// forged.
    BadCheckpointSignature {
        /// The checkpoint's record.
        seq: u64,
    },
    /// The chain is consistent but its hash at `seq` is not the one the checkpoint signed: the
    /// records after `since_seq` (the previous matching checkpoint, 0 for none) up to `seq` were
    /// rewritten and re-hashed. The chain alone cannot tell which of them changed first.
    CheckpointMismatch {
        /// The checkpoint's record.
        seq: u64,
        /// The newest earlier checkpoint that matched (0 if none).
        since_seq: u64,
    },
}

impl Tamper {
    /// The first record the problem concerns: for a truncation the first deleted one, for a
    /// checkpoint mismatch the first record after the previous matching checkpoint, and 0 for a
    /// row numbered out of range.
    pub fn first_bad_seq(&self) -> u64 {
        match *self {
            Tamper::Edited { seq }
            | Tamper::Inserted { seq }
            | Tamper::Reordered { seq, .. }
            | Tamper::BadCheckpointSignature { seq } => seq,
            Tamper::Deleted {
                first_missing_seq, ..
            } => first_missing_seq,
            Tamper::OutOfRange { .. } => 0,
            Tamper::TailTruncated { last_seq, .. } => last_seq + 1,
            Tamper::CheckpointMismatch { since_seq, .. } => since_seq + 1,
        }
    }
}

impl std::fmt::Display for Tamper {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match *self {
            Tamper::Edited { seq } => write!(
                f,
                "record #{seq} was altered: its contents no longer match the hash chain"
            ),
            Tamper::Deleted {
                first_missing_seq,
                last_missing_seq,
            } if first_missing_seq == last_missing_seq => write!(
                f,
                "record #{first_missing_seq} was deleted: it is missing from the hash chain"
            ),
            Tamper::Deleted {
                first_missing_seq,
                last_missing_seq,
            } => write!(
                f,
                "records #{first_missing_seq} to #{last_missing_seq} were deleted: they are \
                 missing from the hash chain"
            ),
            Tamper::Inserted { seq } => write!(
                f,
                "a forged record was inserted at #{seq}: it is not part of the hash chain"
            ),
            Tamper::Reordered { seq, with_seq } => write!(
                f,
                "records #{seq} and #{with_seq} were swapped: each sits in the other's place in \
                 the hash chain"
            ),
            Tamper::OutOfRange { seq } => write!(
                f,
                "a forged record with the impossible sequence number {seq} was inserted"
            ),
            Tamper::TailTruncated {
                checkpoint_seq,
                last_seq,
            } => write!(
                f,
                "records after #{last_seq} were deleted: the ledger ends at #{last_seq} but a \
                 signed checkpoint covers records up to #{checkpoint_seq}"
            ),
            Tamper::BadCheckpointSignature { seq } => write!(
                f,
                "the checkpoint at record #{seq} has an invalid signature: it was altered or forged"
            ),
            Tamper::CheckpointMismatch { seq, since_seq } => write!(
                f,
                "records between #{} and #{seq} were rewritten: the chain is consistent but its \
                 hash at #{seq} differs from the signed checkpoint",
                since_seq + 1
            ),
        }
    }
}

/// The result of [`verify`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct VerifyReport {
    /// Rows in the ledger.
    pub records: u64,
    /// Rows in the checkpoint table.
    pub checkpoints: u64,
    /// The highest sequence number present (0 when empty).
    pub last_seq: u64,
    /// The stored hash of that record, as hex (empty when the ledger is empty).
    pub last_hash_hex: String,
    /// The newest checkpoint's record, if any.
    pub last_checkpoint_seq: Option<u64>,
    /// Records after the newest checkpoint. Nothing but the chain vouches for them: a record
    /// appended there with a correctly computed hash cannot be told from a genuine one. After a
    /// clean shutdown this is 0; after a crash, the records of the last seconds.
    pub unsigned_records: u64,
    /// Acknowledged records that are in the journal but not (yet) in the ledger: after a crash,
    /// or while an [`crate::AuditLog`] is open and its ledger thread has not taken them yet. The
    /// next open appends them to the chain; until then nothing here verifies them.
    pub journal_records: u64,
    /// Every public key that signed checkpoints, as hex. Someone who can write the ledger file
    /// can add a key of their own, so compare these with the key noted when the ledger was created
    /// ([`crate::AuditLog::public_key_hex`]).
    pub public_keys_hex: Vec<String>,
    /// The first problem found, or `None` when the ledger is intact.
    pub problem: Option<Tamper>,
}

impl VerifyReport {
    /// Whether no problem was found.
    pub fn is_intact(&self) -> bool {
        self.problem.is_none()
    }
}

impl std::fmt::Display for VerifyReport {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match &self.problem {
            Some(problem) => write!(f, "audit ledger TAMPERED: {problem}"),
            None => write!(
                f,
                "audit ledger intact: {} records (last #{}, hash {}), {} signed checkpoints, \
                 {} records after the last checkpoint",
                self.records,
                self.last_seq,
                if self.last_hash_hex.is_empty() {
                    "none"
                } else {
                    &self.last_hash_hex
                },
                self.checkpoints,
                self.unsigned_records
            )
            .and_then(|()| match self.journal_records {
                0 => Ok(()),
                waiting => write!(
                    f,
                    ", {waiting} acknowledged records in the journal, appended at the next open"
                ),
            }),
        }
    }
}

/// Verifies the ledger in `dir`, read-only; works whether or not an [`crate::AuditLog`] has it
/// open (everything is read from one snapshot).
///
/// Walks every record in sequence order and checks that the numbers run 1, 2, 3… without gaps,
/// that each `prev` equals the previous record's hash, and that each hash recomputes from the
/// record's bytes; checks each checkpoint's signature against the stored public keys and its hash
/// against the chain's at its record; and checks that no checkpoint lies beyond the last record.
/// Stops at the first problem. Does not need the private key. Also counts the acknowledged
/// records still only in the journal ([`VerifyReport::journal_records`]), without verifying
/// them.
///
/// # Errors
/// [`Error::NoLedger`] when `dir` has no ledger, otherwise only database failures: tampering is
/// reported in [`VerifyReport::problem`].
pub fn verify(dir: &Path) -> Result<VerifyReport, Error> {
    let mut conn = schema::open_reader(&dir.join(LEDGER_FILE))?;
    // A deferred transaction: every read below sees the same snapshot, so checkpoints the writer
    // adds meanwhile cannot appear to lie beyond the records read.
    let snapshot = conn.transaction()?;
    let keys = read_keys(&snapshot)?;
    let checkpoints = read_checkpoints(&snapshot)?;
    let (records, last_seq): (i64, Option<i64>) =
        snapshot.query_row("SELECT count(*), max(seq) FROM ledger", [], |row| {
            Ok((row.get(0)?, row.get(1)?))
        })?;
    let last_hash: Option<Vec<u8>> = snapshot
        .query_row(
            "SELECT hash FROM ledger ORDER BY seq DESC LIMIT 1",
            [],
            |row| row.get(0),
        )
        .optional()?;
    let problem = walk(&snapshot, &keys, &checkpoints)?;
    drop(snapshot);

    let last_seq = last_seq
        .and_then(|seq| u64::try_from(seq).ok())
        .unwrap_or(0);
    let last_checkpoint_seq = checkpoints
        .last()
        .and_then(|checkpoint| u64::try_from(checkpoint.seq).ok());
    let mut public_keys_hex: Vec<String> =
        keys.values().map(|key| to_hex(key.as_bytes())).collect();
    public_keys_hex.sort();
    Ok(VerifyReport {
        records: u64::try_from(records).unwrap_or(0),
        checkpoints: u64::try_from(checkpoints.len()).unwrap_or(u64::MAX),
        last_seq,
        last_hash_hex: last_hash.as_deref().map(to_hex).unwrap_or_default(),
        last_checkpoint_seq,
        unsigned_records: last_seq.saturating_sub(last_checkpoint_seq.unwrap_or(0)),
        journal_records: journal::count_after(dir, last_seq),
        public_keys_hex,
        problem,
    })
}

/// One ledger row as stored.
struct Row {
    seq: i64,
    prev: Vec<u8>,
    hash: Vec<u8>,
    event: Vec<u8>,
}

impl Row {
    /// Whether the row's hash recomputes from its own `prev` and bytes at position `seq`.
    fn hashes_at(&self, seq: u64) -> bool {
        record_hash(&self.prev, seq, &self.event)[..] == self.hash[..]
    }

    fn from_sql(row: &rusqlite::Row<'_>) -> rusqlite::Result<Row> {
        Ok(Row {
            seq: row.get(0)?,
            prev: row.get(1)?,
            hash: row.get(2)?,
            event: row.get(3)?,
        })
    }
}

/// One checkpoint row as stored.
struct Checkpoint {
    seq: i64,
    hash: Vec<u8>,
    signed_at: i64,
    key_id: i64,
    signature: Vec<u8>,
}

impl Checkpoint {
    fn seq(&self) -> u64 {
        u64::try_from(self.seq).unwrap_or(0)
    }

    fn is_signed(&self, keys: &HashMap<i64, VerifyingKey>) -> bool {
        match (keys.get(&self.key_id), u64::try_from(self.seq)) {
            (Some(key), Ok(seq)) => {
                is_checkpoint_signed(key, seq, &self.hash, self.signed_at, &self.signature)
            }
            _ => false,
        }
    }
}

fn read_keys(conn: &Connection) -> Result<HashMap<i64, VerifyingKey>, Error> {
    let mut statement = conn.prepare("SELECT key_id, public_key FROM keys")?;
    let rows = statement.query_map([], |row| {
        Ok((row.get::<_, i64>(0)?, row.get::<_, Vec<u8>>(1)?))
    })?;
    let mut keys = HashMap::new();
    for row in rows {
        let (key_id, bytes) = row?;
        // A malformed key verifies nothing; its checkpoints are reported as badly signed.
        if let Some(key) = <[u8; 32]>::try_from(bytes.as_slice())
            .ok()
            .and_then(|bytes| VerifyingKey::from_bytes(&bytes).ok())
        {
            keys.insert(key_id, key);
        }
    }
    Ok(keys)
}

fn read_checkpoints(conn: &Connection) -> Result<Vec<Checkpoint>, Error> {
    let mut statement = conn
        .prepare("SELECT seq, hash, signed_at, key_id, signature FROM checkpoints ORDER BY seq")?;
    let rows = statement.query_map([], |row| {
        Ok(Checkpoint {
            seq: row.get(0)?,
            hash: row.get(1)?,
            signed_at: row.get(2)?,
            key_id: row.get(3)?,
            signature: row.get(4)?,
        })
    })?;
    Ok(rows.collect::<Result<_, _>>()?)
}

/// Walks the chain and the checkpoints together, in sequence order; returns the first problem.
fn walk(
    conn: &Connection,
    keys: &HashMap<i64, VerifyingKey>,
    checkpoints: &[Checkpoint],
) -> Result<Option<Tamper>, Error> {
    let mut statement = conn.prepare("SELECT seq, prev, hash, event FROM ledger ORDER BY seq")?;
    let mut rows = statement.query([])?;
    let mut next = rows.next()?.map(Row::from_sql).transpose()?;
    let mut chain = Chain {
        expected: 1,
        previous_hash: GENESIS.to_vec(),
        hash_before_previous: None,
    };
    let mut checkpoints = checkpoints.iter().peekable();
    let mut last_matching_checkpoint = 0;
    while let Some(row) = next.take() {
        next = rows.next()?.map(Row::from_sql).transpose()?;
        // Checkpoints whose record is missing: a forged one is the first problem; a genuine one
        // is explained by the deletion the row check is about to report.
        while let Some(checkpoint) = checkpoints.next_if(|checkpoint| checkpoint.seq < row.seq) {
            if !checkpoint.is_signed(keys) {
                return Ok(Some(Tamper::BadCheckpointSignature {
                    seq: checkpoint.seq(),
                }));
            }
        }
        if let Some(problem) = chain.check(conn, &row, next.as_ref())? {
            return Ok(Some(problem));
        }
        while let Some(checkpoint) = checkpoints.next_if(|checkpoint| checkpoint.seq == row.seq) {
            if !checkpoint.is_signed(keys) {
                return Ok(Some(Tamper::BadCheckpointSignature {
                    seq: checkpoint.seq(),
                }));
            }
            if checkpoint.hash != row.hash {
                return Ok(Some(Tamper::CheckpointMismatch {
                    seq: checkpoint.seq(),
                    since_seq: last_matching_checkpoint,
                }));
            }
            last_matching_checkpoint = checkpoint.seq();
        }
        chain.advance(row.hash);
    }
    let beyond: Vec<&Checkpoint> = checkpoints.collect();
    if let Some(forged) = beyond.iter().find(|checkpoint| !checkpoint.is_signed(keys)) {
        return Ok(Some(Tamper::BadCheckpointSignature { seq: forged.seq() }));
    }
    Ok(beyond.last().map(|checkpoint| Tamper::TailTruncated {
        checkpoint_seq: checkpoint.seq(),
        last_seq: chain.expected - 1,
    }))
}

/// The verifier's position in the chain.
struct Chain {
    /// The sequence number the next row must have.
    expected: u64,
    /// The stored hash of the previous row (zeros before record 1).
    previous_hash: Vec<u8>,
    /// The stored hash of the row before that.
    hash_before_previous: Option<Vec<u8>>,
}

impl Chain {
    fn advance(&mut self, hash: Vec<u8>) {
        self.hash_before_previous = Some(std::mem::replace(&mut self.previous_hash, hash));
        self.expected += 1;
    }

    /// Checks one row; `next` is the row after it, for telling insertions from edits.
    fn check(
        &self,
        conn: &Connection,
        row: &Row,
        next: Option<&Row>,
    ) -> Result<Option<Tamper>, Error> {
        let seq = match u64::try_from(row.seq) {
            Ok(seq) if seq > 0 => seq,
            _ => return Ok(Some(Tamper::OutOfRange { seq: row.seq })),
        };
        if seq > self.expected {
            return Ok(Some(Tamper::Deleted {
                first_missing_seq: self.expected,
                last_missing_seq: seq - 1,
            }));
        }
        let is_hash_valid = row.hashes_at(seq);
        let is_linked = row.prev == self.previous_hash;
        if is_hash_valid && is_linked {
            return Ok(None);
        }
        if is_hash_valid {
            // The row is sound but does not link to the previous one, so the previous one was
            // replaced by a record with a recomputed hash (or, if this row links to the one
            // before, inserted).
            if self.hash_before_previous.as_ref() == Some(&row.prev) {
                return Ok(Some(Tamper::Inserted { seq: seq - 1 }));
            }
            return Ok(Some(Tamper::Edited {
                seq: seq.saturating_sub(1).max(1),
            }));
        }
        if let Some(problem) = self.moved(conn, row, seq)? {
            return Ok(Some(problem));
        }
        if next.is_some_and(|next| next.prev == self.previous_hash) {
            // The next record links past this one: this one was slipped in.
            return Ok(Some(Tamper::Inserted { seq }));
        }
        if !is_linked && next.is_none() {
            // At the end and linked to nothing: appended by someone else.
            return Ok(Some(Tamper::Inserted { seq }));
        }
        Ok(Some(Tamper::Edited { seq }))
    }

    /// Explains a row whose hash fails at `seq` by its bytes belonging elsewhere: the position
    /// its `id` claims.
    fn moved(&self, conn: &Connection, row: &Row, seq: u64) -> Result<Option<Tamper>, Error> {
        let Some(claimed) = claimed_seq(&row.event).filter(|&claimed| claimed != seq) else {
            return Ok(None);
        };
        if row.hashes_at(claimed) {
            if claimed < seq {
                // Its own record, renumbered up: forged records were put in before it.
                return Ok(Some(Tamper::Inserted { seq: claimed }));
            }
            // Renumbered down: either swapped with the record at `claimed`, or records before it
            // were deleted and the rest moved down to close the gap.
            let swapped = fetch(conn, claimed)?.is_some_and(|other| {
                claimed_seq(&other.event) == Some(seq) && other.hashes_at(seq)
            });
            return Ok(Some(if swapped {
                Tamper::Reordered {
                    seq,
                    with_seq: claimed,
                }
            } else {
                Tamper::Deleted {
                    first_missing_seq: seq,
                    last_missing_seq: claimed - 1,
                }
            }));
        }
        // The chain columns stayed but the bytes came from record `claimed`: if that record's
        // bytes hash here, the two exchanged their bytes.
        let exchanged = fetch(conn, claimed)?
            .is_some_and(|other| record_hash(&row.prev, seq, &other.event)[..] == row.hash[..]);
        Ok(exchanged.then_some(Tamper::Reordered {
            seq,
            with_seq: claimed,
        }))
    }
}

fn fetch(conn: &Connection, seq: u64) -> Result<Option<Row>, Error> {
    let Ok(seq) = i64::try_from(seq) else {
        return Ok(None);
    };
    Ok(conn
        .prepare_cached("SELECT seq, prev, hash, event FROM ledger WHERE seq = ?1")?
        .query_row([seq], Row::from_sql)
        .optional()?)
}
