//! Word-prefix search over concepts' displays and designations: [`TextIndex`] and
//! [`TextQuery`].
//!
//! Text is cut into words at every character that is not a letter or digit and lowercased. A
//! query matches a concept when every query word is the start of some word of the concept's
//! display or designations (`"diab mell"` matches "Diabetes mellitus type 2"). The index is an
//! inverted list: the distinct words, sorted, each with the sorted ordinals of the concepts that
//! have it. A query word finds its range of words by binary search; their lists are merged, and
//! the merged lists of all query words intersected.

use std::collections::HashMap;

use crate::code_index::FastBuildHasher;
use crate::strings::{ArenaFull, StrArena};

/// Calls `each` with every lowercased word of `text`; `buffer` is scratch space.
pub(crate) fn for_each_word(text: &str, buffer: &mut String, mut each: impl FnMut(&str)) {
    for word in text.split(|c: char| !c.is_alphanumeric()) {
        if word.is_empty() {
            continue;
        }
        if word.bytes().all(|byte| !byte.is_ascii_uppercase()) {
            each(word);
        } else {
            buffer.clear();
            for c in word.chars() {
                buffer.extend(c.to_lowercase());
            }
            each(buffer);
        }
    }
}

/// A parsed `filter` text: its lowercased words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct TextQuery {
    words: Vec<String>,
    /// The whole filter, lowercased, for ranking matches that start with it.
    lowered: String,
}

impl TextQuery {
    /// The query for `filter`; `None` if it has no words (empty or only punctuation), which
    /// filters nothing out.
    pub(crate) fn parse(filter: &str) -> Option<TextQuery> {
        let mut words: Vec<String> = Vec::new();
        let mut buffer = String::new();
        for_each_word(filter, &mut buffer, |word| words.push(word.to_owned()));
        // A word that is the prefix of another query word adds nothing: "diab diabetes".
        words.sort();
        words.dedup();
        let all = words.clone();
        words.retain(|word| {
            !all.iter()
                .any(|other| other != word && other.starts_with(word.as_str()))
        });
        if words.is_empty() {
            return None;
        }
        Some(TextQuery {
            words,
            lowered: filter.trim().to_lowercase(),
        })
    }

    /// Whether the texts together hold a word starting with each query word.
    pub(crate) fn matches<'a>(&self, texts: impl IntoIterator<Item = &'a str>) -> bool {
        let mut found = vec![false; self.words.len()];
        let mut buffer = String::new();
        for text in texts {
            for_each_word(text, &mut buffer, |word| {
                for (query_word, hit) in self.words.iter().zip(found.iter_mut()) {
                    if word.starts_with(query_word.as_str()) {
                        *hit = true;
                    }
                }
            });
        }
        found.iter().all(|&hit| hit)
    }

    /// 0 if `display` starts with the whole filter (case-insensitively), else 1: matches that
    /// start with what was typed come first.
    pub(crate) fn rank(&self, display: &str) -> u8 {
        let starts = display
            .get(..self.lowered.len())
            .is_some_and(|head| head.eq_ignore_ascii_case(&self.lowered))
            || display.to_lowercase().starts_with(&self.lowered);
        if starts { 0 } else { 1 }
    }
}

/// The words of one code system's concepts, each with the concepts that have it.
#[derive(Debug, Default)]
pub(crate) struct TextIndex {
    /// Distinct words, sorted.
    words: StrArena,
    /// `postings[starts[w]..starts[w + 1]]`: ordinals of the concepts with word `w`, sorted.
    starts: Vec<u32>,
    postings: Vec<u32>,
    concept_count: usize,
}

impl TextIndex {
    /// Indexes `concept_count` concepts; `texts(ordinal, add)` calls `add` with each text of the
    /// concept (display, designations).
    pub(crate) fn build(
        concept_count: usize,
        texts: impl FnMut(u32, &mut dyn FnMut(&str)),
    ) -> Result<TextIndex, ArenaFull> {
        let words = ConceptWords::collect(concept_count, texts)?;
        words.invert()
    }

    /// Ordinals of the concepts matching `query`, sorted.
    pub(crate) fn matching(&self, query: &TextQuery) -> Vec<u32> {
        let mut per_word: Vec<Vec<u32>> = query
            .words
            .iter()
            .map(|word| self.with_prefix(word))
            .collect();
        per_word.sort_by_key(Vec::len);
        let mut iter = per_word.into_iter();
        let Some(mut result) = iter.next() else {
            return Vec::new();
        };
        for other in iter {
            if result.is_empty() {
                break;
            }
            result = intersect_sorted(&result, &other);
        }
        result
    }

    /// Ordinals of the concepts with a word starting with `prefix`, sorted.
    fn with_prefix(&self, prefix: &str) -> Vec<u32> {
        let word_count = self.words.len();
        let first = partition_point(word_count, |i| self.words.get(i) < prefix);
        let mut lists: Vec<&[u32]> = Vec::new();
        let mut total = 0_usize;
        let mut index = first;
        while index < word_count {
            let Ok(id) = u32::try_from(index) else { break };
            if !self.words.get(id).starts_with(prefix) {
                break;
            }
            let list = self.postings_of(id);
            total += list.len();
            lists.push(list);
            index += 1;
        }
        match lists.as_slice() {
            [] => Vec::new(),
            [only] => only.to_vec(),
            _ if total > self.concept_count / 16 => {
                // Many words share a short prefix: mark a bitset instead of sorting the lists.
                let mut bits = vec![0_u64; self.concept_count.div_ceil(64)];
                for list in &lists {
                    for &ordinal in *list {
                        if let Some(word) = bits.get_mut((ordinal / 64) as usize) {
                            *word |= 1 << (ordinal % 64);
                        }
                    }
                }
                let mut result = Vec::new();
                for (index, &word) in bits.iter().enumerate() {
                    let mut rest = word;
                    while rest != 0 {
                        let bit = rest.trailing_zeros();
                        if let Ok(base) = u32::try_from(index * 64) {
                            result.push(base + bit);
                        }
                        rest &= rest - 1;
                    }
                }
                result
            }
            _ => {
                let mut result: Vec<u32> = Vec::with_capacity(total);
                for list in &lists {
                    result.extend_from_slice(list);
                }
                result.sort_unstable();
                result.dedup();
                result
            }
        }
    }

    fn postings_of(&self, word: u32) -> &[u32] {
        let index = word as usize;
        match (self.starts.get(index), self.starts.get(index + 1)) {
            (Some(&start), Some(&end)) => self
                .postings
                .get(start as usize..end as usize)
                .unwrap_or_default(),
            _ => &[],
        }
    }

    /// Distinct words and (word, concept) entries.
    pub(crate) fn sizes(&self) -> (usize, usize) {
        (self.words.len(), self.postings.len())
    }

    pub(crate) fn heap_bytes(&self) -> usize {
        self.words.heap_bytes()
            + (self.starts.capacity() + self.postings.capacity()) * size_of::<u32>()
    }
}

/// Each concept's distinct words, as first collected: word ids in order of first sight.
struct ConceptWords {
    concept_count: usize,
    /// The words, by id.
    word_texts: Vec<String>,
    /// Each concept's distinct word ids, concatenated; `concept_ends[o]` ends concept o's.
    concept_words: Vec<u32>,
    concept_ends: Vec<u32>,
}

impl ConceptWords {
    fn collect(
        concept_count: usize,
        mut texts: impl FnMut(u32, &mut dyn FnMut(&str)),
    ) -> Result<ConceptWords, ArenaFull> {
        let mut vocabulary: HashMap<String, u32, FastBuildHasher> = HashMap::default();
        let mut word_texts: Vec<String> = Vec::new();
        let mut concept_words: Vec<u32> = Vec::new();
        let mut concept_ends: Vec<u32> = Vec::with_capacity(concept_count);
        let mut buffer = String::new();
        let mut full = false;
        for ordinal in 0..concept_count {
            let ordinal = u32::try_from(ordinal).map_err(|_| ArenaFull)?;
            let first = concept_words.len();
            texts(ordinal, &mut |text: &str| {
                for_each_word(text, &mut buffer, |word| {
                    let id = match vocabulary.get(word) {
                        Some(&id) => id,
                        None => {
                            let Ok(id) = u32::try_from(word_texts.len()) else {
                                full = true;
                                return;
                            };
                            vocabulary.insert(word.to_owned(), id);
                            word_texts.push(word.to_owned());
                            id
                        }
                    };
                    concept_words.push(id);
                });
            });
            if full {
                return Err(ArenaFull);
            }
            let own = concept_words.get_mut(first..).unwrap_or_default();
            own.sort_unstable();
            let distinct = dedup_sorted(own);
            concept_words.truncate(first + distinct);
            concept_ends.push(u32::try_from(concept_words.len()).map_err(|_| ArenaFull)?);
        }
        Ok(ConceptWords {
            concept_count,
            word_texts,
            concept_words,
            concept_ends,
        })
    }

    /// Sorts the words and turns the per-concept lists into per-word lists of concepts.
    fn invert(self) -> Result<TextIndex, ArenaFull> {
        let ConceptWords {
            concept_count,
            word_texts,
            concept_words,
            concept_ends,
        } = self;
        let mut order: Vec<u32> = (0..word_texts.len())
            .filter_map(|id| u32::try_from(id).ok())
            .collect();
        order
            .sort_unstable_by(|&a, &b| word_texts.get(a as usize).cmp(&word_texts.get(b as usize)));
        // rank[id]: the word's position in sorted order.
        let mut rank = vec![0_u32; word_texts.len()];
        let mut words = StrArena::default();
        for (position, &id) in order.iter().enumerate() {
            if let Some(slot) = rank.get_mut(id as usize) {
                *slot = u32::try_from(position).map_err(|_| ArenaFull)?;
            }
            words.push(word_texts.get(id as usize).map_or("", String::as_str))?;
        }
        drop(word_texts);
        drop(order);

        let mut counts = vec![0_u32; rank.len()];
        for &id in &concept_words {
            if let Some(count) = rank
                .get(id as usize)
                .and_then(|&r| counts.get_mut(r as usize))
            {
                *count += 1;
            }
        }
        let mut starts = Vec::with_capacity(counts.len() + 1);
        let mut total = 0_u32;
        starts.push(0);
        for count in &counts {
            total = total.checked_add(*count).ok_or(ArenaFull)?;
            starts.push(total);
        }
        // Concepts are visited in ordinal order, so each word's list comes out sorted.
        let mut cursor: Vec<u32> = starts.iter().take(counts.len()).copied().collect();
        let mut postings = vec![0_u32; total as usize];
        let mut first = 0_usize;
        for (ordinal, &end) in concept_ends.iter().enumerate() {
            let ordinal = u32::try_from(ordinal).map_err(|_| ArenaFull)?;
            for &id in concept_words.get(first..end as usize).unwrap_or_default() {
                let Some(&r) = rank.get(id as usize) else {
                    continue;
                };
                if let Some(position) = cursor.get_mut(r as usize) {
                    if let Some(slot) = postings.get_mut(*position as usize) {
                        *slot = ordinal;
                    }
                    *position += 1;
                }
            }
            first = end as usize;
        }
        words.shrink_to_fit();
        Ok(TextIndex {
            words,
            starts,
            postings,
            concept_count,
        })
    }
}

/// Removes adjacent duplicates in place; returns the new length.
fn dedup_sorted(values: &mut [u32]) -> usize {
    let mut kept = 0_usize;
    for index in 0..values.len() {
        let value = values.get(index).copied().unwrap_or(0);
        if kept == 0 || values.get(kept - 1) != Some(&value) {
            if let Some(slot) = values.get_mut(kept) {
                *slot = value;
            }
            kept += 1;
        }
    }
    kept
}

/// The first index in `0..len` for which `before` is false (`before` true then false).
fn partition_point(len: usize, before: impl Fn(u32) -> bool) -> usize {
    let (mut low, mut high) = (0_usize, len);
    while low < high {
        let middle = low + (high - low) / 2;
        let Ok(id) = u32::try_from(middle) else {
            return low;
        };
        if before(id) {
            low = middle + 1;
        } else {
            high = middle;
        }
    }
    low
}

/// The values in both sorted lists, sorted.
pub(crate) fn intersect_sorted(small: &[u32], large: &[u32]) -> Vec<u32> {
    let mut result = Vec::with_capacity(small.len().min(large.len()));
    if small.len().saturating_mul(16) < large.len() {
        for value in small {
            if large.binary_search(value).is_ok() {
                result.push(*value);
            }
        }
        return result;
    }
    let (mut i, mut j) = (0, 0);
    while let (Some(&a), Some(&b)) = (small.get(i), large.get(j)) {
        match a.cmp(&b) {
            std::cmp::Ordering::Less => i += 1,
            std::cmp::Ordering::Greater => j += 1,
            std::cmp::Ordering::Equal => {
                result.push(a);
                i += 1;
                j += 1;
            }
        }
    }
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    fn index(texts: &[&[&str]]) -> TextIndex {
        TextIndex::build(texts.len(), |ordinal, add| {
            for text in texts[ordinal as usize] {
                add(text);
            }
        })
        .unwrap()
    }

    #[test]
    fn every_query_word_must_start_a_word_of_the_concept() {
        let index = index(&[
            &["Diabetes mellitus type 2", "Type II diabetes"],
            &["Diabetes insipidus"],
            &["Mellow mood"],
            &["Heart attack", "Myocardial infarction"],
        ]);
        let query = |text: &str| index.matching(&TextQuery::parse(text).unwrap());
        assert_eq!(query("diab"), vec![0, 1]);
        assert_eq!(query("diab mell"), vec![0]);
        assert_eq!(query("MEL"), vec![0, 2]);
        assert_eq!(query("infarct heart"), vec![3]);
        assert_eq!(query("abetes"), Vec::<u32>::new());
        assert_eq!(index.sizes().0, 12);
    }

    #[test]
    fn short_prefixes_shared_by_many_words_are_merged() {
        let texts: Vec<Vec<String>> = (0..200).map(|i| vec![format!("m{i} word")]).collect();
        let index = TextIndex::build(texts.len(), |ordinal, add| {
            for text in &texts[ordinal as usize] {
                add(text);
            }
        })
        .unwrap();
        let all = index.matching(&TextQuery::parse("m").unwrap());
        assert_eq!(all, (0..200).collect::<Vec<u32>>());
        let some = index.matching(&TextQuery::parse("m19").unwrap());
        assert_eq!(
            some,
            vec![19, 190, 191, 192, 193, 194, 195, 196, 197, 198, 199]
        );
    }

    #[test]
    fn queries_without_words_filter_nothing() {
        assert_eq!(TextQuery::parse("  -- "), None);
        let query = TextQuery::parse("Ré-admission diab diabetes").unwrap();
        assert_eq!(query.words, vec!["admission", "diabetes", "ré"]);
        assert!(query.matches(["Diabetes", "ré admission"]));
        assert!(!query.matches(["Diabetes"]));
        assert_eq!(query.rank("RÉ-ADMISSION DIAB DIABETES mellitus"), 0);
        assert_eq!(query.rank("Diabetes"), 1);
    }

    #[test]
    fn intersection_handles_skewed_sizes() {
        let large: Vec<u32> = (0..1000).collect();
        assert_eq!(intersect_sorted(&[3, 500, 2000], &large), vec![3, 500]);
        assert_eq!(intersect_sorted(&[1, 2, 3], &[2, 3, 4]), vec![2, 3]);
    }
}
