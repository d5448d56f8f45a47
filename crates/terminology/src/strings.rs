//! Compact string storage: [`StrArena`] keeps many strings in one buffer, addressed by a `u32`
//! id, and [`Interner`] stores each distinct string once.
//!
//! A 400,000-concept code system has over a million strings; one `String` each would cost 24
//! bytes of header plus an allocation (rounded up to 32 bytes or more) per string. Here a string
//! costs its bytes plus four.

use std::collections::HashMap;

use crate::code_index::FastBuildHasher;

/// Strings appended to one buffer; string `id` is `text[ends[id - 1]..ends[id]]`.
#[derive(Debug, Default, Clone)]
pub(crate) struct StrArena {
    text: String,
    ends: Vec<u32>,
}

/// The arena has outgrown its `u32` offsets or ids.
#[derive(Debug, Clone, Copy)]
pub(crate) struct ArenaFull;

impl StrArena {
    /// Appends `value` and returns its id.
    pub(crate) fn push(&mut self, value: &str) -> Result<u32, ArenaFull> {
        let id = u32::try_from(self.ends.len()).map_err(|_| ArenaFull)?;
        let end = self
            .text
            .len()
            .checked_add(value.len())
            .and_then(|end| u32::try_from(end).ok())
            .ok_or(ArenaFull)?;
        self.text.push_str(value);
        self.ends.push(end);
        Ok(id)
    }

    /// The string with this id; empty for an id the arena never gave out.
    pub(crate) fn get(&self, id: u32) -> &str {
        let index = id as usize;
        let Some(&end) = self.ends.get(index) else {
            return "";
        };
        let start = match index.checked_sub(1) {
            Some(previous) => self.ends.get(previous).copied().unwrap_or(0),
            None => 0,
        };
        self.text.get(start as usize..end as usize).unwrap_or("")
    }

    /// Where string `id` is in the buffer: (start, length); (0, 0) for an unknown id.
    pub(crate) fn span(&self, id: u32) -> (u32, u32) {
        let index = id as usize;
        let Some(&end) = self.ends.get(index) else {
            return (0, 0);
        };
        let start = match index.checked_sub(1) {
            Some(previous) => self.ends.get(previous).copied().unwrap_or(0),
            None => 0,
        };
        (start, end.saturating_sub(start))
    }

    /// The text at a span from [`StrArena::span`]; empty if out of range.
    pub(crate) fn at(&self, start: u32, len: u32) -> &str {
        let start = start as usize;
        self.text.get(start..start + len as usize).unwrap_or("")
    }

    pub(crate) fn len(&self) -> usize {
        self.ends.len()
    }

    pub(crate) fn shrink_to_fit(&mut self) {
        self.text.shrink_to_fit();
        self.ends.shrink_to_fit();
    }

    /// Bytes allocated on the heap.
    pub(crate) fn heap_bytes(&self) -> usize {
        self.text.capacity() + self.ends.capacity() * size_of::<u32>()
    }
}

/// Distinct strings, each stored once in an arena; `id` 0 is the empty string, which stands for
/// "none" wherever an interned string is optional.
#[derive(Debug)]
pub(crate) struct Interner {
    arena: StrArena,
    ids: HashMap<String, u32, FastBuildHasher>,
}

impl Default for Interner {
    fn default() -> Self {
        let mut arena = StrArena::default();
        // The empty string is id 0, so a zeroed record field means "none".
        let _ = arena.push("");
        let mut ids = HashMap::default();
        ids.insert(String::new(), 0);
        Interner { arena, ids }
    }
}

impl Interner {
    /// The id of `value`, adding it if new.
    pub(crate) fn intern(&mut self, value: &str) -> Result<u32, ArenaFull> {
        if let Some(&id) = self.ids.get(value) {
            return Ok(id);
        }
        let id = self.arena.push(value)?;
        self.ids.insert(value.to_owned(), id);
        Ok(id)
    }

    /// The arena, for lookups after building (the id map is dropped).
    pub(crate) fn into_arena(self) -> StrArena {
        let mut arena = self.arena;
        arena.shrink_to_fit();
        arena
    }

    /// The string with this id.
    #[cfg(test)]
    pub(crate) fn get(&self, id: u32) -> &str {
        self.arena.get(id)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn arena_returns_each_string_by_id() {
        let mut arena = StrArena::default();
        let a = arena.push("alpha").unwrap();
        let b = arena.push("").unwrap();
        let c = arena.push("γάμμα").unwrap();
        assert_eq!(
            (arena.get(a), arena.get(b), arena.get(c)),
            ("alpha", "", "γάμμα")
        );
        assert_eq!(arena.get(99), "");
        assert_eq!(arena.len(), 3);
    }

    #[test]
    fn interner_stores_each_string_once() {
        let mut interner = Interner::default();
        let en = interner.intern("en").unwrap();
        let nl = interner.intern("nl").unwrap();
        assert_eq!(interner.intern("en").unwrap(), en);
        assert_ne!(en, nl);
        assert_eq!(interner.intern("").unwrap(), 0);
        assert_eq!(interner.get(nl), "nl");
        let arena = interner.into_arena();
        assert_eq!(arena.len(), 3);
    }
}
