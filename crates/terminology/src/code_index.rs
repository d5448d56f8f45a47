//! Code → ordinal lookup for one code system: [`CodeIndex`], and the hasher it and the
//! crate's other tables use.
//!
//! The tables are built from loaded definitions and only probed by input afterwards, so hash
//! flooding is not a concern, and the multiply-rotate hash ("FxHash", the one rustc uses) is
//! several times faster than SipHash on short codes.

use std::hash::Hasher;

use crate::strings::StrArena;

/// `HashMap` hasher for the crate's lookup tables (rustc's multiply-rotate hash).
pub(crate) type FastBuildHasher = rustc_hash::FxBuildHasher;

/// The 64-bit hash of a code: FxHash of its bytes and length, then a final mix so both the low
/// bits (bucket) and the high bits (control byte) of the hash table get entropy.
pub(crate) fn hash_code(code: &str) -> u64 {
    let mut hasher = rustc_hash::FxHasher::default();
    hasher.write(code.as_bytes());
    hasher.write_u64(code.len() as u64);
    let mut hash = hasher.finish();
    // MurmurHash3's fmix64.
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xff51_afd7_ed55_8ccd);
    hash ^= hash >> 33;
    hash = hash.wrapping_mul(0xc4ce_b9fe_1a85_ec53);
    hash ^ (hash >> 33)
}

/// Largest share of slots in use before the table doubles: linear probing stays short (a hit
/// takes under three probes on average, in one or two cache lines).
const MAX_LOAD_PERCENT: usize = 80;

/// One slot: the high half of the code's hash, its ordinal, and the code itself: digits-only
/// codes (SNOMED CT's) as their number, others as where their text is in the arena. A probe
/// checks a numeric code without leaving the slot, and any other with one more memory access.
#[derive(Debug, Clone, Copy)]
struct Slot {
    tag: u32,
    ordinal: u32,
    /// The arena offset, or the number's high 32 bits.
    start: u32,
    /// The text length, or [`INLINE`] and the number's low 31 bits.
    len: u32,
}

/// An empty slot's ordinal.
const EMPTY: u32 = u32::MAX;

/// Marks a slot whose code is a number held in the slot.
const INLINE: u32 = 1 << 31;

const EMPTY_SLOT: Slot = Slot {
    tag: 0,
    ordinal: EMPTY,
    start: 0,
    len: 0,
};

/// The number a code stands for, if it is 1 to 18 digits without a leading zero (so the number
/// gives back exactly this code).
fn as_number(code: &str) -> Option<u64> {
    let bytes = code.as_bytes();
    if bytes.is_empty() || bytes.len() > 18 || bytes.first() == Some(&b'0') {
        return None;
    }
    let mut value = 0_u64;
    for &byte in bytes {
        if !byte.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u64::from(byte - b'0');
    }
    Some(value)
}

/// The code of a slot, for comparison.
enum SlotCode<'a> {
    Number(u64),
    Text(&'a str),
}

impl Slot {
    fn code<'a>(&self, codes: &'a StrArena) -> SlotCode<'a> {
        if self.len & INLINE != 0 {
            SlotCode::Number((u64::from(self.start) << 31) | u64::from(self.len & !INLINE))
        } else {
            SlotCode::Text(codes.at(self.start, self.len))
        }
    }

    /// Whether the slot holds `code` (`number` is `as_number(code)`).
    fn holds(&self, codes: &StrArena, code: &str, number: Option<u64>) -> bool {
        match (number, self.len & INLINE != 0) {
            (Some(number), true) => {
                number == (u64::from(self.start) << 31) | u64::from(self.len & !INLINE)
            }
            (None, false) => {
                self.len as usize == code.len() && codes.at(self.start, self.len) == code
            }
            _ => false,
        }
    }
}

/// Code → ordinal for the codes of one arena (the code system's codes, ordinal = arena id):
/// an open-addressing table with linear probing, 16 bytes a slot, that confirms every match
/// against the code itself.
///
/// A lookup in a 400,000-code table misses the CPU caches once for a numeric code and twice
/// for others (the slot, the code's text), where a `HashMap<String, u32>` misses three or four
/// times (control bytes, entry, string header, text); at a million lookups a second that is the
/// difference.
#[derive(Debug, Default)]
pub(crate) struct CodeIndex {
    slots: Vec<Slot>,
    count: usize,
}

impl CodeIndex {
    /// Adds `codes[ordinal]`. `Err(existing)` if the code is already indexed, under that ordinal.
    pub(crate) fn insert(&mut self, codes: &StrArena, ordinal: u32) -> Result<(), u32> {
        self.insert_with_hash(codes, ordinal, hash_code(codes.get(ordinal)))
    }

    fn insert_with_hash(&mut self, codes: &StrArena, ordinal: u32, hash: u64) -> Result<(), u32> {
        if (self.count + 1) * 100 > self.slots.len() * MAX_LOAD_PERCENT {
            self.grow(codes);
        }
        let (start, len) = codes.span(ordinal);
        let code = codes.at(start, len);
        let number = as_number(code);
        let tag = (hash >> 32) as u32;
        let mask = self.slots.len() - 1;
        let mut index = hash as usize & mask;
        loop {
            let Some(slot) = self.slots.get_mut(index) else {
                return Err(ordinal);
            };
            if slot.ordinal == EMPTY {
                *slot = match number {
                    // Below 2^60: the high part fits the 32 bits of `start`.
                    Some(number) => Slot {
                        tag,
                        ordinal,
                        start: (number >> 31) as u32,
                        len: INLINE | (number as u32 & !INLINE),
                    },
                    None => Slot {
                        tag,
                        ordinal,
                        start,
                        len,
                    },
                };
                self.count += 1;
                return Ok(());
            }
            if slot.tag == tag && slot.holds(codes, code, number) {
                return Err(slot.ordinal);
            }
            index = (index + 1) & mask;
        }
    }

    /// Doubles the table (16 slots at first) and re-inserts every code.
    fn grow(&mut self, codes: &StrArena) {
        let capacity = (self.slots.len() * 2).max(16);
        let old = std::mem::replace(&mut self.slots, vec![EMPTY_SLOT; capacity]);
        let mask = capacity - 1;
        for slot in old.into_iter().filter(|slot| slot.ordinal != EMPTY) {
            let hash = match slot.code(codes) {
                SlotCode::Number(number) => hash_code(&number.to_string()),
                SlotCode::Text(text) => hash_code(text),
            };
            let mut index = hash as usize & mask;
            while let Some(target) = self.slots.get_mut(index) {
                if target.ordinal == EMPTY {
                    *target = slot;
                    break;
                }
                index = (index + 1) & mask;
            }
        }
    }

    /// The ordinal of `code`, if indexed.
    pub(crate) fn get(&self, codes: &StrArena, code: &str) -> Option<u32> {
        self.get_with_hash(codes, code, hash_code(code))
    }

    fn get_with_hash(&self, codes: &StrArena, code: &str, hash: u64) -> Option<u32> {
        if self.slots.is_empty() {
            return None;
        }
        let number = as_number(code);
        let tag = (hash >> 32) as u32;
        let mask = self.slots.len() - 1;
        let mut index = hash as usize & mask;
        loop {
            let slot = self.slots.get(index)?;
            if slot.ordinal == EMPTY {
                return None;
            }
            if slot.tag == tag && slot.holds(codes, code, number) {
                return Some(slot.ordinal);
            }
            index = (index + 1) & mask;
        }
    }

    /// Heap bytes of the table.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.slots.capacity() * size_of::<Slot>()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_codes_and_refuses_duplicates() {
        let mut codes = StrArena::default();
        let mut index = CodeIndex::default();
        for code in ["male", "female", "other", "unknown"] {
            let ordinal = codes.push(code).unwrap();
            index.insert(&codes, ordinal).unwrap();
        }
        assert_eq!(index.get(&codes, "other"), Some(2));
        assert_eq!(index.get(&codes, "Other"), None);
        let duplicate = codes.push("female").unwrap();
        assert_eq!(index.insert(&codes, duplicate), Err(1));
    }

    #[test]
    fn codes_with_one_hash_are_told_apart_by_the_code() {
        let mut codes = StrArena::default();
        let mut index = CodeIndex::default();
        for code in ["a", "b", "c"] {
            let ordinal = codes.push(code).unwrap();
            index.insert_with_hash(&codes, ordinal, 7).unwrap();
        }
        assert_eq!(index.get_with_hash(&codes, "a", 7), Some(0));
        assert_eq!(index.get_with_hash(&codes, "b", 7), Some(1));
        assert_eq!(index.get_with_hash(&codes, "c", 7), Some(2));
        assert_eq!(index.get_with_hash(&codes, "d", 7), None);
        let again = codes.push("b").unwrap();
        assert_eq!(index.insert_with_hash(&codes, again, 7), Err(1));
    }

    #[test]
    fn the_table_grows_and_keeps_every_code() {
        let mut codes = StrArena::default();
        let mut index = CodeIndex::default();
        for number in 0..10_000 {
            let ordinal = codes.push(&number.to_string()).unwrap();
            index.insert(&codes, ordinal).unwrap();
        }
        for number in (0..10_000).step_by(97) {
            assert_eq!(index.get(&codes, &number.to_string()), Some(number));
        }
        assert_eq!(index.get(&codes, "10000"), None);
        // "0" and "007" are kept as text (a leading zero), and not confused with 7.
        let zero_seven = codes.push("007").unwrap();
        index.insert(&codes, zero_seven).unwrap();
        assert_eq!(index.get(&codes, "007"), Some(zero_seven));
        assert_eq!(index.get(&codes, "7"), Some(7));
        assert_eq!(index.get(&codes, "0"), Some(0));
        let big = codes.push("900000000000207008").unwrap();
        index.insert(&codes, big).unwrap();
        assert_eq!(index.get(&codes, "900000000000207008"), Some(big));
        assert_eq!(index.get(&codes, "900000000000207009"), None);
        assert!(index.slots.len() * MAX_LOAD_PERCENT >= 10_000 * 100);
    }
}
