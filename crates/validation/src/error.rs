//! The one error type of this crate: [`Error`], for StructureDefinitions that cannot be used.
//!
//! Problems in the resources being validated are never errors: they are [`crate::Issue`]s.

/// Why a StructureDefinition could not be added to [`crate::Structures`].
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Error {
    /// The JSON is not a StructureDefinition resource.
    #[error("not a StructureDefinition: resourceType is '{found}'")]
    NotAStructureDefinition {
        /// The `resourceType` found, or empty when there was none.
        found: String,
    },
    /// A field validation needs is missing or has the wrong JSON type.
    #[error("StructureDefinition '{url}': missing or invalid '{field}'")]
    InvalidField {
        /// The StructureDefinition's URL (empty when that is what is missing).
        url: String,
        /// The field: `url`, `type`, `snapshot.element[3].path`.
        field: String,
    },
    /// The profile has only a differential; this crate does not generate snapshots.
    #[error("profile '{url}' has no snapshot; only profiles with a snapshot can be used")]
    NoSnapshot {
        /// The profile's URL.
        url: String,
    },
    /// An element the profile defines cannot be compiled: a regex too large or invalid, a
    /// slice with no slicing entry, a content reference to nothing.
    #[error("profile '{url}', element '{element}': {message}")]
    InvalidElement {
        /// The profile's URL.
        url: String,
        /// The element id.
        element: String,
        /// What is wrong, quoting the input.
        message: String,
    },
    /// The profile has more elements than this crate accepts in one snapshot.
    #[error("profile '{url}' has {count} snapshot elements, more than the limit of {limit}")]
    TooManyElements {
        /// The profile's URL.
        url: String,
        /// Elements in the snapshot.
        count: usize,
        /// The limit.
        limit: usize,
    },
}
