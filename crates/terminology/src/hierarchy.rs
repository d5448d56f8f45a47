//! The is-a hierarchy of one code system and its transitive closure: [`Hierarchy`].
//!
//! Concepts are dense ordinals `0..n`. Direct parents and children are kept as CSR arrays
//! (`starts[o]..starts[o + 1]` indexes one flat array). The closure keeps, for every concept,
//! the sorted list of all its ancestors in one flat array, so "is `a` an ancestor of `b`" is a
//! binary search in `b`'s list: O(log k) for k ancestors (26 on average in the benchmark's
//! synthetic release), with no hashing and no allocation; the cost is the cache misses of reading
//! the two lists. Descendants are found by walking the children arrays, which costs
//! O(descendants), the size of the answer.
//!
//! Ancestor lists rather than an interval labelling: SNOMED CT is a DAG with many concepts of
//! two or more parents, where intervals need a fallback list anyway; the lists cost 4 bytes per
//! (concept, ancestor) pair plus 8 per concept: 42.5 MiB for the benchmark's 400,000-concept
//! release (10.3 million pairs, see [`crate::bench`]).

use std::collections::VecDeque;

/// Why a hierarchy cannot be built.
#[derive(Debug, Clone, Copy)]
pub(crate) enum HierarchyError {
    /// The hierarchy has a cycle through the concept with this ordinal.
    Cycle(u32),
    /// The closure has more than `u32::MAX` entries.
    TooLarge,
}

/// Parents, children and ancestors of every concept of one code system.
#[derive(Debug, Default)]
pub(crate) struct Hierarchy {
    parent_starts: Vec<u32>,
    parents: Vec<u32>,
    child_starts: Vec<u32>,
    children: Vec<u32>,
    /// `(start, len)` of each concept's ancestors in `ancestors`.
    ancestor_ranges: Vec<(u32, u32)>,
    ancestors: Vec<u32>,
}

impl Hierarchy {
    /// Builds the hierarchy of `concept_count` concepts from `(child, parent)` edges. Duplicate
    /// edges and self-loops are dropped; edges naming an ordinal out of range are ignored (the
    /// builder never makes them).
    pub(crate) fn build(
        concept_count: usize,
        mut edges: Vec<(u32, u32)>,
    ) -> Result<Hierarchy, HierarchyError> {
        let count = u32::try_from(concept_count).map_err(|_| HierarchyError::TooLarge)?;
        edges.retain(|&(child, parent)| child != parent && child < count && parent < count);
        edges.sort_unstable();
        edges.dedup();
        edges.shrink_to_fit();

        let (parent_starts, parents) = csr(concept_count, edges.iter().copied())?;
        // Children: the same edges grouped by parent.
        let mut by_parent: Vec<(u32, u32)> = edges.iter().map(|&(c, p)| (p, c)).collect();
        drop(edges);
        by_parent.sort_unstable();
        let (child_starts, children) = csr(concept_count, by_parent.into_iter())?;

        let mut hierarchy = Hierarchy {
            parent_starts,
            parents,
            child_starts,
            children,
            ancestor_ranges: Vec::new(),
            ancestors: Vec::new(),
        };
        hierarchy.compute_closure(concept_count)?;
        Ok(hierarchy)
    }

    /// Fills the ancestor lists, visiting concepts parents-first (Kahn's algorithm): a concept's
    /// ancestors are its parents plus their ancestors, already computed.
    fn compute_closure(&mut self, concept_count: usize) -> Result<(), HierarchyError> {
        let mut waiting_parents: Vec<u32> = (0..concept_count)
            .map(|ordinal| self.parent_count(ordinal))
            .collect();
        let mut ready: VecDeque<u32> = waiting_parents
            .iter()
            .enumerate()
            .filter(|&(_, &waiting)| waiting == 0)
            .filter_map(|(ordinal, _)| u32::try_from(ordinal).ok())
            .collect();
        let mut ranges = vec![(0_u32, 0_u32); concept_count];
        let mut ancestors: Vec<u32> = Vec::with_capacity(concept_count.saturating_mul(8));
        let mut scratch: Vec<u32> = Vec::new();
        let mut done = 0_usize;
        while let Some(concept) = ready.pop_front() {
            done += 1;
            scratch.clear();
            for &parent in self.parents(concept) {
                scratch.push(parent);
                let (start, len) = ranges.get(parent as usize).copied().unwrap_or((0, 0));
                let start = start as usize;
                if let Some(list) = ancestors.get(start..start + len as usize) {
                    scratch.extend_from_slice(list);
                }
            }
            scratch.sort_unstable();
            scratch.dedup();
            let start = u32::try_from(ancestors.len()).map_err(|_| HierarchyError::TooLarge)?;
            let len = u32::try_from(scratch.len()).map_err(|_| HierarchyError::TooLarge)?;
            ancestors.extend_from_slice(&scratch);
            if let Some(range) = ranges.get_mut(concept as usize) {
                *range = (start, len);
            }
            for &child in self.children(concept) {
                if let Some(waiting) = waiting_parents.get_mut(child as usize) {
                    *waiting -= 1;
                    if *waiting == 0 {
                        ready.push_back(child);
                    }
                }
            }
        }
        if done < concept_count {
            let stuck = waiting_parents
                .iter()
                .position(|&waiting| waiting > 0)
                .and_then(|ordinal| u32::try_from(ordinal).ok())
                .unwrap_or(0);
            return Err(HierarchyError::Cycle(stuck));
        }
        if u32::try_from(ancestors.len()).is_err() {
            return Err(HierarchyError::TooLarge);
        }
        ancestors.shrink_to_fit();
        self.ancestor_ranges = ranges;
        self.ancestors = ancestors;
        Ok(())
    }

    fn parent_count(&self, ordinal: usize) -> u32 {
        let start = self.parent_starts.get(ordinal).copied().unwrap_or(0);
        let end = self
            .parent_starts
            .get(ordinal + 1)
            .copied()
            .unwrap_or(start);
        end - start
    }

    /// Direct parents, sorted by ordinal.
    pub(crate) fn parents(&self, ordinal: u32) -> &[u32] {
        slice_of(&self.parent_starts, &self.parents, ordinal)
    }

    /// Direct children, sorted by ordinal.
    pub(crate) fn children(&self, ordinal: u32) -> &[u32] {
        slice_of(&self.child_starts, &self.children, ordinal)
    }

    /// All ancestors (transitively), sorted by ordinal, without the concept itself.
    pub(crate) fn ancestors(&self, ordinal: u32) -> &[u32] {
        let Some(&(start, len)) = self.ancestor_ranges.get(ordinal as usize) else {
            return &[];
        };
        let start = start as usize;
        self.ancestors
            .get(start..start + len as usize)
            .unwrap_or(&[])
    }

    /// Whether `ancestor` is a proper ancestor of `concept`.
    pub(crate) fn is_ancestor(&self, ancestor: u32, concept: u32) -> bool {
        self.ancestors(concept).binary_search(&ancestor).is_ok()
    }

    /// How `a` relates to `b`: `Some(true)` if `a` is a proper ancestor of `b`, `Some(false)` if
    /// `b` is one of `a`, `None` if neither (or they are the same). A proper ancestor has fewer
    /// ancestors than its descendant, so only the longer of the two lists is searched: the two
    /// ranges are read side by side, then one list.
    pub(crate) fn relation(&self, a: u32, b: u32) -> Option<bool> {
        let range = |concept: u32| self.ancestor_ranges.get(concept as usize).copied();
        let (Some(range_a), Some(range_b)) = (range(a), range(b)) else {
            return None;
        };
        let list = |(start, len): (u32, u32)| {
            let start = start as usize;
            self.ancestors
                .get(start..start + len as usize)
                .unwrap_or(&[])
        };
        if range_a.1 < range_b.1 {
            list(range_b).binary_search(&a).is_ok().then_some(true)
        } else if range_b.1 < range_a.1 {
            list(range_a).binary_search(&b).is_ok().then_some(false)
        } else {
            None
        }
    }

    /// Whether `concept` is `ancestor` or one of its descendants (FHIR `is-a`).
    pub(crate) fn is_a(&self, concept: u32, ancestor: u32) -> bool {
        concept == ancestor || self.is_ancestor(ancestor, concept)
    }

    /// The descendants of `ordinal` (with itself first if `include_self`), sorted by ordinal.
    pub(crate) fn descendants(&self, ordinal: u32, include_self: bool) -> Vec<u32> {
        let concept_count = self.ancestor_ranges.len();
        let mut seen = vec![0_u64; concept_count.div_ceil(64)];
        let mut mark = |concept: u32| -> bool {
            let (word, bit) = ((concept / 64) as usize, concept % 64);
            match seen.get_mut(word) {
                Some(bits) if *bits & (1 << bit) == 0 => {
                    *bits |= 1 << bit;
                    true
                }
                _ => false,
            }
        };
        let mut found = Vec::new();
        let mut stack = vec![ordinal];
        mark(ordinal);
        while let Some(concept) = stack.pop() {
            for &child in self.children(concept) {
                if mark(child) {
                    found.push(child);
                    stack.push(child);
                }
            }
        }
        if include_self && (ordinal as usize) < concept_count {
            found.push(ordinal);
        }
        found.sort_unstable();
        found
    }

    /// Total (concept, ancestor) pairs in the closure.
    pub(crate) fn closure_size(&self) -> usize {
        self.ancestors.len()
    }

    /// Direct is-a edges.
    pub(crate) fn edge_count(&self) -> usize {
        self.parents.len()
    }

    /// Heap bytes of the parent and child arrays, and of the closure.
    pub(crate) fn heap_bytes(&self) -> (usize, usize) {
        let direct = (self.parent_starts.capacity()
            + self.parents.capacity()
            + self.child_starts.capacity()
            + self.children.capacity())
            * size_of::<u32>();
        let closure = self.ancestor_ranges.capacity() * size_of::<(u32, u32)>()
            + self.ancestors.capacity() * size_of::<u32>();
        (direct, closure)
    }
}

/// CSR arrays from `(key, value)` pairs sorted by key.
fn csr(
    key_count: usize,
    pairs: impl Iterator<Item = (u32, u32)>,
) -> Result<(Vec<u32>, Vec<u32>), HierarchyError> {
    let mut starts = Vec::with_capacity(key_count + 1);
    let mut values = Vec::new();
    starts.push(0);
    let mut key = 0_usize;
    for (pair_key, value) in pairs {
        while key < pair_key as usize {
            starts.push(u32::try_from(values.len()).map_err(|_| HierarchyError::TooLarge)?);
            key += 1;
        }
        values.push(value);
    }
    let end = u32::try_from(values.len()).map_err(|_| HierarchyError::TooLarge)?;
    while starts.len() < key_count + 1 {
        starts.push(end);
    }
    values.shrink_to_fit();
    Ok((starts, values))
}

fn slice_of<'a>(starts: &[u32], values: &'a [u32], ordinal: u32) -> &'a [u32] {
    let index = ordinal as usize;
    let (Some(&start), Some(&end)) = (starts.get(index), starts.get(index + 1)) else {
        return &[];
    };
    values.get(start as usize..end as usize).unwrap_or(&[])
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 0 ← 1 ← 3, 0 ← 2 ← 3 (two parents), 3 ← 4, and 5 on its own.
    fn diamond() -> Hierarchy {
        Hierarchy::build(
            6,
            vec![(1, 0), (2, 0), (3, 1), (3, 2), (4, 3), (4, 3), (5, 5)],
        )
        .unwrap()
    }

    #[test]
    fn closure_holds_every_ancestor_once() {
        let hierarchy = diamond();
        assert_eq!(hierarchy.ancestors(4), &[0, 1, 2, 3]);
        assert_eq!(hierarchy.ancestors(3), &[0, 1, 2]);
        assert_eq!(hierarchy.ancestors(0), &[] as &[u32]);
        assert_eq!(hierarchy.ancestors(5), &[] as &[u32]);
        assert_eq!(hierarchy.parents(3), &[1, 2]);
        assert_eq!(hierarchy.children(0), &[1, 2]);
        assert_eq!(hierarchy.closure_size(), 1 + 1 + 3 + 4);
        assert_eq!(hierarchy.edge_count(), 5);
    }

    #[test]
    fn subsumption_follows_both_parents() {
        let hierarchy = diamond();
        assert!(hierarchy.is_ancestor(2, 4));
        assert!(hierarchy.is_a(4, 0));
        assert!(hierarchy.is_a(3, 3));
        assert!(!hierarchy.is_a(1, 2));
        assert!(!hierarchy.is_a(0, 4));
        assert!(!hierarchy.is_a(5, 0));
    }

    #[test]
    fn relation_searches_the_longer_list() {
        let hierarchy = diamond();
        assert_eq!(hierarchy.relation(0, 4), Some(true));
        assert_eq!(hierarchy.relation(4, 2), Some(false));
        assert_eq!(hierarchy.relation(1, 2), None);
        assert_eq!(hierarchy.relation(3, 3), None);
        assert_eq!(hierarchy.relation(5, 4), None);
        assert_eq!(hierarchy.relation(99, 4), None);
    }

    #[test]
    fn descendants_are_sorted_and_unique() {
        let hierarchy = diamond();
        assert_eq!(hierarchy.descendants(0, true), vec![0, 1, 2, 3, 4]);
        assert_eq!(hierarchy.descendants(1, false), vec![3, 4]);
        assert_eq!(hierarchy.descendants(4, false), Vec::<u32>::new());
        assert_eq!(hierarchy.descendants(99, true), Vec::<u32>::new());
    }

    #[test]
    fn a_cycle_is_reported() {
        let result = Hierarchy::build(3, vec![(1, 0), (2, 1), (1, 2)]);
        assert!(
            matches!(result, Err(HierarchyError::Cycle(1 | 2))),
            "{result:?}"
        );
    }

    #[test]
    fn children_before_parents_in_ordinal_order_still_close() {
        // Ordinal 0 is the leaf, 2 the root: the closure must not depend on ordinal order.
        let hierarchy = Hierarchy::build(3, vec![(0, 1), (1, 2)]).unwrap();
        assert_eq!(hierarchy.ancestors(0), &[1, 2]);
        assert_eq!(hierarchy.descendants(2, false), vec![0, 1]);
    }
}
