//! The values that cross the store boundary.

use crate::IndexRows;

/// Microseconds since the Unix epoch (UTC). The store's only notion of time.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The current wall-clock time.
    pub fn now() -> Timestamp {
        let micros = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| i64::try_from(d.as_micros()).unwrap_or(i64::MAX))
            .unwrap_or(0);
        Timestamp(micros)
    }

    /// Microseconds since the epoch.
    pub fn micros(self) -> i64 {
        self.0
    }
}

/// The HTTP verb that produced a version, as history reports it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Method {
    /// Created by POST.
    Post,
    /// Created or replaced by PUT.
    Put,
    /// Changed by PATCH.
    Patch,
    /// Deleted (a tombstone version).
    Delete,
}

impl Method {
    /// The verb as FHIR's `Bundle.entry.request.method` spells it.
    pub fn as_str(self) -> &'static str {
        match self {
            Method::Post => "POST",
            Method::Put => "PUT",
            Method::Patch => "PATCH",
            Method::Delete => "DELETE",
        }
    }

    pub(crate) fn code(self) -> i64 {
        match self {
            Method::Post => 0,
            Method::Put => 1,
            Method::Patch => 2,
            Method::Delete => 3,
        }
    }

    pub(crate) fn from_code(code: i64) -> Method {
        match code {
            0 => Method::Post,
            1 => Method::Put,
            2 => Method::Patch,
            _ => Method::Delete,
        }
    }
}

/// One stored version of a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResource {
    /// The resource type, e.g. `Patient`.
    pub resource_type: String,
    /// The logical id.
    pub id: String,
    /// The version number, starting at 1.
    pub version: u64,
    /// When this version was committed.
    pub last_updated: Timestamp,
    /// How this version came to be.
    pub method: Method,
    /// The resource JSON (with `meta.versionId`/`meta.lastUpdated` already set); `None` for a
    /// deletion tombstone.
    pub body: Option<Vec<u8>>,
    /// Global, monotonic position of this version (system history order).
    pub seq: i64,
}

impl StoredResource {
    /// True for a deletion tombstone.
    pub fn is_deleted(&self) -> bool {
        self.body.is_none()
    }
}

/// A version to store. `body == None` records a deletion.
#[derive(Debug, Clone, Copy)]
pub struct NewVersion<'a> {
    /// The resource type.
    pub resource_type: &'a str,
    /// The logical id.
    pub id: &'a str,
    /// Must be one more than the current version (1 for a new resource).
    pub version: u64,
    /// The commit time to record; normally [`crate::WriteTx::now`].
    pub last_updated: Timestamp,
    /// How the version came to be.
    pub method: Method,
    /// The resource JSON, or `None` for a deletion.
    pub body: Option<&'a [u8]>,
    /// Search-index rows for this version (ignored for deletions, which drop all rows).
    pub index: Option<&'a IndexRows>,
}

/// Which versions a history request covers.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum HistoryScope {
    /// Every resource.
    System,
    /// Every resource of one type.
    Type(String),
    /// One resource: type and id.
    Instance(String, String),
}

/// A history request.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryQuery {
    /// What to cover.
    pub scope: HistoryScope,
    /// Only versions committed at or after this time (`_since`).
    pub since: Option<Timestamp>,
    /// Only versions that were current at some point in `[start, end)` (`_at`).
    pub at: Option<(Timestamp, Timestamp)>,
    /// Page size.
    pub count: usize,
    /// Continue below this `seq` (keyset paging; history runs newest first).
    pub before_seq: Option<i64>,
}

/// One page of history, newest first.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct HistoryPage {
    /// The versions on this page.
    pub entries: Vec<StoredResource>,
    /// The `before_seq` of the next page, if there is one.
    pub next_before_seq: Option<i64>,
}

/// A keyed record kept beside the resources, written in the same transactions: what other
/// parts of Medulla need to remember atomically with the resources they write (the HL7 v2
/// message log, for one). The store does not interpret `value` or `data`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Record {
    /// Sequence number, assigned when the record is first written; stable across updates.
    pub seq: i64,
    /// What kind of record (`hl7v2-message`, …).
    pub kind: String,
    /// Unique within the kind.
    pub key: String,
    /// When it was last written.
    pub updated: Timestamp,
    /// The caller's value (JSON, usually).
    pub value: Vec<u8>,
    /// Optional bytes kept beside the value (a raw message, say).
    pub data: Option<Vec<u8>>,
}

/// Row counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStats {
    /// Resources (current versions, deleted included).
    pub resources: u64,
    /// Versions of all resources.
    pub versions: u64,
    /// Search-index rows of all kinds.
    pub index_rows: u64,
}

/// What the store needs to know of stored bodies to finish a bulk load that stored one
/// resource more than once (see [`crate::SqliteOptions::bulk_load_when_empty`]). The store keeps
/// bodies as opaque bytes; the layer that stamps versions into them (the engine) implements
/// this.
pub trait StampedBodies: Send + Sync + std::fmt::Debug {
    /// Whether `later` has the same content as `earlier`, their version stamps aside.
    fn same_content(&self, earlier: &[u8], later: &[u8]) -> bool;

    /// `body` stamped as version `version`, written at `last_updated`.
    ///
    /// # Errors
    /// A body that cannot be read (it is then left as it is and the load fails to finish).
    fn restamp(
        &self,
        body: &[u8],
        version: u64,
        last_updated: Timestamp,
    ) -> Result<Vec<u8>, String>;
}

/// What finishing a bulk load did besides building indexes.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct BulkLoadMerge {
    /// Copies of a resource with the same content as the copy before them, written since the
    /// store was opened: removed.
    pub unchanged: u64,
    /// The same, written before (by a load that stopped and went on): removed.
    pub unchanged_before: u64,
    /// Copies with other content: kept as later versions of the first copy's resource.
    pub versions: u64,
}
