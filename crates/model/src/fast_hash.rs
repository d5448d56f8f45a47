//! A small, fast hasher for the definitions' name tables.
//!
//! The tables are built once from the embedded definitions and only looked up afterwards, so
//! hash flooding is not a concern: input can only probe them, not grow them. SipHash, the
//! standard default, spends most of a property lookup on hashing short names; this multiply-
//! rotate hash (the one rustc uses, "FxHash") is several times faster on such keys.

use std::collections::HashMap;
use std::hash::{BuildHasherDefault, Hasher};

/// A `HashMap` using [`NameHasher`].
pub(crate) type NameMap<K, V> = HashMap<K, V, BuildHasherDefault<NameHasher>>;

const SEED: u64 = 0x51_7c_c1_b7_27_22_0a_95;

/// FxHash over 8-byte words.
#[derive(Default, Clone, Copy)]
pub(crate) struct NameHasher {
    hash: u64,
}

impl NameHasher {
    fn add(&mut self, word: u64) {
        self.hash = (self.hash.rotate_left(5) ^ word).wrapping_mul(SEED);
    }
}

impl Hasher for NameHasher {
    fn write(&mut self, bytes: &[u8]) {
        let mut chunks = bytes.chunks_exact(8);
        for chunk in &mut chunks {
            let mut word = [0_u8; 8];
            word.copy_from_slice(chunk);
            self.add(u64::from_le_bytes(word));
        }
        let rest = chunks.remainder();
        if !rest.is_empty() {
            let mut word = [0_u8; 8];
            word[..rest.len()].copy_from_slice(rest);
            self.add(u64::from_le_bytes(word));
        }
    }

    fn write_u8(&mut self, byte: u8) {
        self.add(u64::from(byte));
    }

    fn write_usize(&mut self, value: usize) {
        self.add(value as u64);
    }

    fn finish(&self) -> u64 {
        self.hash
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_hash_apart_and_look_up() {
        let mut map: NameMap<String, usize> = NameMap::default();
        for (index, name) in ["value", "valueQuantity", "valueString", "", "v"]
            .iter()
            .enumerate()
        {
            map.insert((*name).to_owned(), index);
        }
        assert_eq!(map.get("valueString"), Some(&2));
        assert_eq!(map.get(""), Some(&3));
        assert_eq!(map.get("valueStrin"), None);
        let hash = |text: &str| {
            let mut hasher = NameHasher::default();
            hasher.write(text.as_bytes());
            hasher.finish()
        };
        assert_ne!(hash("valueQuantity"), hash("valueQuantitz"));
    }
}
