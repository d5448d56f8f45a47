//! The values that cross the store boundary.

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

/// Search-index rows extracted from one resource.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct IndexRows {
    /// Token values (system, code) per search parameter code.
    pub tokens: Vec<TokenRow>,
}

/// One token value of a resource.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenRow {
    /// The search parameter code, e.g. `identifier`.
    pub param: String,
    /// The code system, if the value had one.
    pub system: Option<String>,
    /// The code (or identifier value).
    pub code: String,
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

/// A bound on a timestamp: `min <= t < max_exclusive`, optionally negated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeBound {
    /// Inclusive lower bound.
    pub min: Option<Timestamp>,
    /// Exclusive upper bound.
    pub max_exclusive: Option<Timestamp>,
    /// Match values outside the range instead.
    pub negate: bool,
}

/// How a token's system is matched.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TokenSystem {
    /// `code`: any system.
    Any,
    /// `|code`: no system.
    None,
    /// `system|code` or `system|`.
    Is(String),
}

/// One token to match (`system|code` and its variants).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TokenMatch {
    /// How to match the system.
    pub system: TokenSystem,
    /// The code, or `None` for `system|` (any code in the system).
    pub code: Option<String>,
}

/// One AND-ed condition of a search; values inside it are OR-ed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Clause {
    /// `_id` is one of these.
    Ids(Vec<String>),
    /// `_lastUpdated` satisfies one of these bounds.
    LastUpdated(Vec<TimeBound>),
    /// A token parameter matches one of these values.
    Token {
        /// Search parameter code.
        param: String,
        /// Values, OR-ed.
        values: Vec<TokenMatch>,
    },
}

/// A search over current, non-deleted resources of one type.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchQuery {
    /// The resource type.
    pub resource_type: String,
    /// Conditions, AND-ed.
    pub clauses: Vec<Clause>,
    /// Page size (0 returns no resources, only a total if asked).
    pub count: usize,
    /// Continue after this storage key (keyset paging).
    pub after_key: Option<i64>,
    /// Count all matches too.
    pub total: bool,
}

/// One page of search results.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SearchPage {
    /// Matches on this page, in storage order.
    pub resources: Vec<StoredResource>,
    /// The `after_key` of the next page, if there is one.
    pub next_after_key: Option<i64>,
    /// Number of matches in all, when asked for.
    pub total: Option<u64>,
}

/// Row counts.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct StoreStats {
    /// Resources (current versions, deleted included).
    pub resources: u64,
    /// Versions of all resources.
    pub versions: u64,
    /// Token index rows.
    pub token_rows: u64,
}
