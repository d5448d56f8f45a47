//! The search plan: a closed, typed description of a query that the store turns into SQL with
//! every value bound. Built by `medulla-search` from request parameters.

use crate::Timestamp;

/// A search over current, non-deleted resources.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct SearchQuery {
    /// The types searched; empty means every type (system-level search).
    pub resource_types: Vec<String>,
    /// Conditions, all of which must hold.
    pub clauses: Vec<Clause>,
    /// Sort keys, most significant first; storage order breaks ties.
    pub sort: Vec<SortKey>,
    /// Page size (0 returns no resources, only a total if asked).
    pub count: usize,
    /// Continue after this position (keyset paging).
    pub after: Option<PageKey>,
    /// Count all matches too.
    pub total: bool,
}

/// One AND-ed condition: any of its predicates may hold (FHIR's comma OR).
#[derive(Debug, Clone, PartialEq)]
pub struct Clause(pub Vec<Predicate>);

/// How a date, number or quantity value compares (FHIR search prefixes).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Prefix {
    /// `eq` (default): the resource's value lies within the search value's range.
    Eq,
    /// `ne`.
    Ne,
    /// `gt`.
    Gt,
    /// `lt`.
    Lt,
    /// `ge`.
    Ge,
    /// `le`.
    Le,
    /// `sa`: starts after.
    Sa,
    /// `eb`: ends before.
    Eb,
    /// `ap`: approximately (the range is already widened by the caller).
    Ap,
}

/// How a string is matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StringMatch {
    /// Normalized prefix (the default).
    Prefix,
    /// Exact, case- and accent-sensitive (`:exact`).
    Exact,
    /// Normalized substring (`:contains`).
    Contains,
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

/// Codes of one code system, in [`Predicate::TokenIn`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodesOfSystem {
    /// The code system URL.
    pub system: String,
    /// The codes.
    pub codes: Vec<String>,
}

/// How a uri is matched.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum UriMatch {
    /// Equal.
    Exact,
    /// The stored uri is a prefix of the search value (`:above`).
    Above,
    /// The search value is a prefix of the stored uri (`:below`).
    Below,
}

/// Which index table a parameter lives in (for `:missing` and sorting).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum IndexKind {
    /// `string`.
    String,
    /// `token`.
    Token,
    /// `date`.
    Date,
    /// `number`.
    Number,
    /// `quantity`.
    Quantity,
    /// `reference`.
    Reference,
    /// `uri`.
    Uri,
    /// `composite`.
    Composite,
}

/// A quantity's unit as searched: canonical when convertible, else as written.
#[derive(Debug, Clone, PartialEq)]
pub enum QuantityUnit {
    /// No unit given: any unit.
    Any,
    /// Compare canonical values in this canonical unit.
    Canonical(String),
    /// Compare written values with this system (optional) and code.
    Written {
        /// Unit system, if given.
        system: Option<String>,
        /// Unit code.
        code: String,
    },
}

/// The second component of a composite search.
#[derive(Debug, Clone, PartialEq)]
pub enum CompositeMatch {
    /// A token.
    Token {
        /// System match.
        system: TokenSystem,
        /// Code.
        code: Option<String>,
    },
    /// A quantity.
    Quantity {
        /// Comparison.
        prefix: Prefix,
        /// Range of the search value, `[low, high)`.
        low: f64,
        /// Exclusive end.
        high: f64,
        /// Unit.
        unit: QuantityUnit,
    },
    /// A date.
    Date {
        /// Comparison.
        prefix: Prefix,
        /// Inclusive start.
        low: i64,
        /// Exclusive end.
        high: i64,
    },
    /// A string prefix (normalized).
    String(String),
}

/// One test a resource must pass.
#[derive(Debug, Clone, PartialEq)]
pub enum Predicate {
    /// `_id`.
    Id(String),
    /// `_lastUpdated`, as a date range comparison on the version's timestamp.
    LastUpdated {
        /// Comparison.
        prefix: Prefix,
        /// Inclusive start of the search value's range.
        low: Timestamp,
        /// Exclusive end.
        high: Timestamp,
    },
    /// A string parameter.
    String {
        /// Parameter code.
        param: String,
        /// Normalized value, or exact for [`StringMatch::Exact`].
        value: String,
        /// How to match.
        mode: StringMatch,
    },
    /// A token parameter.
    Token {
        /// Parameter code.
        param: String,
        /// System match.
        system: TokenSystem,
        /// The code, or `None` for `system|`.
        code: Option<String>,
    },
    /// A token parameter whose coding is one of a set (`:in`, `:below`, `:above`, whose value
    /// sets and hierarchies the search layer expands). An empty set matches nothing.
    TokenIn {
        /// Parameter code.
        param: String,
        /// The codes allowed, grouped by code system.
        systems: Vec<CodesOfSystem>,
    },
    /// A token parameter's display/text, normalized prefix (`:text`).
    TokenText {
        /// Parameter code.
        param: String,
        /// Normalized text.
        text: String,
    },
    /// A date parameter.
    Date {
        /// Parameter code.
        param: String,
        /// Comparison.
        prefix: Prefix,
        /// Inclusive start of the search value's range.
        low: i64,
        /// Exclusive end.
        high: i64,
    },
    /// A number parameter; `[low, high)` is the search value's implicit precision range.
    Number {
        /// Parameter code.
        param: String,
        /// Comparison.
        prefix: Prefix,
        /// The search value.
        value: f64,
        /// Inclusive start of its precision range.
        low: f64,
        /// Exclusive end.
        high: f64,
    },
    /// A quantity parameter.
    Quantity {
        /// Parameter code.
        param: String,
        /// Comparison.
        prefix: Prefix,
        /// The search value (canonical when the unit is).
        value: f64,
        /// Inclusive start of its precision range.
        low: f64,
        /// Exclusive end.
        high: f64,
        /// Unit.
        unit: QuantityUnit,
    },
    /// A reference parameter.
    Reference {
        /// Parameter code.
        param: String,
        /// Required target type, if known.
        target_type: Option<String>,
        /// Target id (local references).
        target_id: Option<String>,
        /// Target version, when the search names one.
        target_version: Option<String>,
        /// An absolute URL or canonical to match instead of a local id.
        url: Option<String>,
    },
    /// A uri parameter.
    Uri {
        /// Parameter code.
        param: String,
        /// The value.
        value: String,
        /// How to match.
        mode: UriMatch,
    },
    /// A composite parameter: a token and a second value in the same element.
    Composite {
        /// Parameter code.
        param: String,
        /// First component's system.
        system: TokenSystem,
        /// First component's code.
        code: Option<String>,
        /// Second component.
        value: CompositeMatch,
    },
    /// `:missing=true|false`.
    Missing {
        /// Parameter code.
        param: String,
        /// Which table holds its values.
        kind: IndexKind,
        /// True to find resources without a value.
        missing: bool,
    },
    /// Negation (`:not`, `ne`): resources for which the inner predicate does not hold.
    Not(Box<Predicate>),
    /// Chained search: the reference `param` points at a resource matching `query`.
    Chain {
        /// The reference parameter.
        param: String,
        /// The inner search (its types are the chain's target types).
        query: Box<SearchQuery>,
    },
    /// Reverse chain (`_has`): some resource matching `query` refers to this one through its
    /// reference parameter `param`.
    Has {
        /// The reference parameter on the referring type.
        param: String,
        /// The referring resources' search.
        query: Box<SearchQuery>,
    },
    /// Full-text search over narrative (`_text`) or all content (`_content`).
    FullText {
        /// `false` for `_text`, `true` for `_content`.
        content: bool,
        /// Words, all of which must occur (as prefixes).
        words: Vec<String>,
    },
    /// Members of a List (`_list`).
    InList(String),
}

/// One sort key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SortKey {
    /// Parameter code (`_id` and `_lastUpdated` are columns, not index rows).
    pub param: String,
    /// Which table holds its values.
    pub kind: SortKind,
    /// Descending order.
    pub descending: bool,
}

/// What a sort key sorts by.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SortKind {
    /// The logical id.
    Id,
    /// The last update time.
    LastUpdated,
    /// An index table.
    Index(IndexKind),
}

/// A sort value captured in a page key.
#[derive(Debug, Clone, PartialEq)]
pub enum SortValue {
    /// No value (sorts last).
    Null,
    /// An integer.
    Integer(i64),
    /// A real.
    Real(f64),
    /// Text.
    Text(String),
}

/// Where a page ends: the sort values of its last resource and its storage key.
#[derive(Debug, Clone, PartialEq)]
pub struct PageKey {
    /// One value per sort key.
    pub values: Vec<SortValue>,
    /// Storage key of the last resource (the final tie-breaker).
    pub key: i64,
}

/// One page of search results.
#[derive(Debug, Clone, PartialEq)]
pub struct SearchPage {
    /// Matches on this page, in order.
    pub resources: Vec<crate::StoredResource>,
    /// Storage keys of `resources`, for includes.
    pub keys: Vec<i64>,
    /// Where the next page starts, if there is one.
    pub next: Option<PageKey>,
    /// Number of matches in all, when asked for.
    pub total: Option<u64>,
}

/// `_include`: resources that matches refer to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Include {
    /// The referring type (`Observation` in `Observation:subject`).
    pub source_type: String,
    /// The reference parameter, or `None` for `*`.
    pub param: Option<String>,
    /// Only targets of this type (`Observation:subject:Patient`).
    pub target_type: Option<String>,
}

/// Search parameters with no index rows of their own, each standing for others of its type:
/// a union (`combo-code` = `code` or `component-code`) or a reference restricted to one target
/// type (`patient` = `subject` pointing at a Patient). The caller that decides which rows are
/// written (the indexer) declares them with [`crate::Store::set_param_aliases`]; every search
/// then looks their members' rows up instead, so the same values are not stored twice.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ParamAliases {
    by_type: std::collections::HashMap<String, std::collections::HashMap<String, Vec<AliasMember>>>,
}

/// One parameter an alias stands for.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct AliasMember {
    /// The member parameter's code (it has index rows).
    pub code: String,
    /// For reference parameters: only rows pointing at this resource type count.
    pub target_type: Option<String>,
}

impl ParamAliases {
    /// Declares `code` of `resource_type` an alias of `members`.
    pub fn insert(&mut self, resource_type: &str, code: &str, members: Vec<AliasMember>) {
        self.by_type
            .entry(resource_type.to_owned())
            .or_default()
            .insert(code.to_owned(), members);
    }

    /// The members `code` of `resource_type` stands for, if it is an alias.
    pub fn members(&self, resource_type: &str, code: &str) -> Option<&[AliasMember]> {
        self.by_type
            .get(resource_type)
            .and_then(|codes| codes.get(code))
            .map(Vec::as_slice)
    }

    /// The types for which `code` is an alias.
    pub fn types_aliasing<'a>(&'a self, code: &'a str) -> impl Iterator<Item = &'a str> + 'a {
        self.by_type
            .iter()
            .filter(move |(_, codes)| codes.contains_key(code))
            .map(|(resource_type, _)| resource_type.as_str())
    }

    /// True when no alias is declared.
    pub fn is_empty(&self) -> bool {
        self.by_type.is_empty()
    }
}
