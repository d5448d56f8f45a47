//! The hasher of the definitions' name tables.
//!
//! The tables are built once from the embedded definitions and only looked up afterwards, so
//! hash flooding is not a concern: input can only probe them, not grow them. SipHash, the
//! standard default, spends most of a property lookup on hashing short names; rustc's
//! multiply-rotate hash (`rustc-hash`) is several times faster on such keys.

use std::collections::HashMap;

/// A `HashMap` with rustc's fast hasher.
pub(crate) type NameMap<K, V> = HashMap<K, V, rustc_hash::FxBuildHasher>;
