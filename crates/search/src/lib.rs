//! FHIR R4 search: from request parameters to a typed store plan, and from resources to the
//! index rows that plan queries.
//!
//! This crate owns the meaning of search parameters: [`parse_search`] turns `name=value` pairs
//! into a [`medulla_store::SearchQuery`] using the R4 SearchParameter definitions (types,
//! modifiers, prefixes, chains, `_has`, `_sort`, `_include`), and [`cursor`] signs the keyset
//! positions that paging links carry. String normalization ([`text`]) and unit canonicalization
//! ([`ucum`]) live here so that indexing and searching agree.
//!
//! Does not: run SQL (the store turns the plan into SQL), speak HTTP, or hold result sets.
//!
//! ```
//! use medulla_search::{parse_search, Handling, SearchOptions};
//! let custom = medulla_search::CustomParams::default();
//! let options = SearchOptions { base_url: "http://localhost/fhir", handling: Handling::Strict, cursor_key: b"k", custom: &custom, code_sets: None };
//! let params = vec![("name".to_owned(), "Müller".to_owned())];
//! let request = parse_search(&["Patient".to_owned()], &params, &options).expect("valid search");
//! assert_eq!(request.query.clauses.len(), 1);
//! ```

pub mod cursor;
mod custom;
mod derived;
mod parse;
pub mod text;
pub mod time;
pub mod ucum;

pub use parse::{
    CodeSets, DEFAULT_COUNT, Handling, IncludeDirective, MAX_COUNT, MAX_MODIFIER_CODES,
    SearchOptions, SearchRequest, parse_search, split_or,
};

/// A search request could not be understood.
#[derive(Debug, thiserror::Error, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Error {
    /// A parameter is malformed, unsupported or unknown (strict handling).
    #[error("{param}: {message}")]
    Invalid {
        /// The parameter as the client wrote it.
        param: String,
        /// What is wrong, quoting the value.
        message: String,
    },
}

mod indexer;
pub use custom::CustomParams;
pub use derived::param_aliases;
pub use indexer::{
    index_resource, index_resource_with_placeholders, localize_references, reference_targets,
    rewrite_references, warm_up,
};
