//! The attribute relationships and reference set members of one code system:
//! [`Relationships`] and [`Refsets`], what ECL refinements and member of (`^`) evaluate over.
//!
//! Relationships are kept twice as CSR arrays (`starts[o]..starts[o + 1]` indexes one flat
//! array of 12-byte records): outgoing by source, for testing a concept's own attributes, and
//! incoming by destination, for finding the concepts whose attribute has a given value without
//! scanning them all. Each concept's records are sorted by (group, type, other end), so one
//! relationship group's records are contiguous. Only attribute relationships are here; is-a
//! is the [`crate::hierarchy::Hierarchy`].
//!
//! Reference set members are one sorted member list per reference set concept, found by binary
//! search in the sorted list of reference sets.

use crate::strings::ArenaFull;

/// One relationship seen from one end: its group, its type and the concept at the other end
/// (the destination in the outgoing lists, the source in the incoming ones), as ordinals.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) struct RelationshipRecord {
    /// `relationshipGroup`: 0 for ungrouped.
    pub(crate) group: u32,
    /// The attribute (`typeId`).
    pub(crate) kind: u32,
    /// The concept at the other end.
    pub(crate) other: u32,
}

/// Attribute relationships by source and by destination.
#[derive(Debug, Default)]
pub(crate) struct Relationships {
    outgoing_starts: Vec<u32>,
    outgoing: Vec<RelationshipRecord>,
    incoming_starts: Vec<u32>,
    incoming: Vec<RelationshipRecord>,
}

impl Relationships {
    /// Indexes `(source, record)` pairs, where each record's `other` is the destination.
    /// Duplicates are dropped; pairs naming an ordinal out of range are ignored (the builder
    /// never makes them).
    pub(crate) fn build(
        concept_count: usize,
        mut pairs: Vec<(u32, RelationshipRecord)>,
    ) -> Result<Relationships, ArenaFull> {
        if pairs.is_empty() {
            // Most code systems have none: no per-concept arrays at all.
            return Ok(Relationships::default());
        }
        let count = u32::try_from(concept_count).map_err(|_| ArenaFull)?;
        pairs.retain(|&(source, record)| {
            source < count && record.kind < count && record.other < count
        });
        pairs.sort_unstable();
        pairs.dedup();
        let mut reversed: Vec<(u32, RelationshipRecord)> = pairs
            .iter()
            .map(|&(source, record)| {
                (
                    record.other,
                    RelationshipRecord {
                        other: source,
                        ..record
                    },
                )
            })
            .collect();
        reversed.sort_unstable();
        let (outgoing_starts, outgoing) = csr(concept_count, pairs)?;
        let (incoming_starts, incoming) = csr(concept_count, reversed)?;
        Ok(Relationships {
            outgoing_starts,
            outgoing,
            incoming_starts,
            incoming,
        })
    }

    /// The relationships whose source is `ordinal`, sorted by (group, type, destination).
    pub(crate) fn outgoing(&self, ordinal: u32) -> &[RelationshipRecord] {
        slice_of(&self.outgoing_starts, &self.outgoing, ordinal)
    }

    /// The relationships whose destination is `ordinal`, sorted by (group, type, source).
    pub(crate) fn incoming(&self, ordinal: u32) -> &[RelationshipRecord] {
        slice_of(&self.incoming_starts, &self.incoming, ordinal)
    }

    /// How many relationships start at `ordinal`, without touching the records.
    pub(crate) fn outgoing_count(&self, ordinal: u32) -> usize {
        range_len(&self.outgoing_starts, ordinal)
    }

    /// How many relationships end at `ordinal`, without touching the records.
    pub(crate) fn incoming_count(&self, ordinal: u32) -> usize {
        range_len(&self.incoming_starts, ordinal)
    }

    /// All relationships.
    pub(crate) fn len(&self) -> usize {
        self.outgoing.len()
    }

    /// Heap bytes of both directions.
    pub(crate) fn heap_bytes(&self) -> usize {
        (self.outgoing_starts.capacity() + self.incoming_starts.capacity()) * size_of::<u32>()
            + (self.outgoing.capacity() + self.incoming.capacity())
                * size_of::<RelationshipRecord>()
    }
}

/// Reference sets and their members.
#[derive(Debug, Default)]
pub(crate) struct Refsets {
    /// The reference set concepts, sorted.
    refsets: Vec<u32>,
    /// `member_starts[i]..member_starts[i + 1]` are `refsets[i]`'s members.
    member_starts: Vec<u32>,
    members: Vec<u32>,
}

impl Refsets {
    /// Indexes `(refset, member)` pairs; duplicates are dropped.
    pub(crate) fn build(mut pairs: Vec<(u32, u32)>) -> Result<Refsets, ArenaFull> {
        if pairs.is_empty() {
            return Ok(Refsets::default());
        }
        pairs.sort_unstable();
        pairs.dedup();
        let mut refsets = Vec::new();
        let mut member_starts = Vec::new();
        let mut members = Vec::with_capacity(pairs.len());
        for (refset, member) in pairs {
            if refsets.last() != Some(&refset) {
                refsets.push(refset);
                member_starts.push(u32::try_from(members.len()).map_err(|_| ArenaFull)?);
            }
            members.push(member);
        }
        member_starts.push(u32::try_from(members.len()).map_err(|_| ArenaFull)?);
        refsets.shrink_to_fit();
        member_starts.shrink_to_fit();
        Ok(Refsets {
            refsets,
            member_starts,
            members,
        })
    }

    /// The reference set concepts that have members, sorted.
    pub(crate) fn refsets(&self) -> &[u32] {
        &self.refsets
    }

    /// The members of reference set `refset`, sorted; empty if it has none.
    pub(crate) fn members(&self, refset: u32) -> &[u32] {
        let Ok(index) = self.refsets.binary_search(&refset) else {
            return &[];
        };
        match (
            self.member_starts.get(index),
            self.member_starts.get(index + 1),
        ) {
            (Some(&start), Some(&end)) => self
                .members
                .get(start as usize..end as usize)
                .unwrap_or(&[]),
            _ => &[],
        }
    }

    /// (reference set, member) pairs.
    pub(crate) fn member_count(&self) -> usize {
        self.members.len()
    }

    /// Heap bytes.
    pub(crate) fn heap_bytes(&self) -> usize {
        (self.refsets.capacity() + self.member_starts.capacity() + self.members.capacity())
            * size_of::<u32>()
    }
}

/// CSR arrays from `(key, record)` pairs sorted by key.
fn csr(
    key_count: usize,
    pairs: Vec<(u32, RelationshipRecord)>,
) -> Result<(Vec<u32>, Vec<RelationshipRecord>), ArenaFull> {
    let mut starts = Vec::with_capacity(key_count + 1);
    let mut records = Vec::with_capacity(pairs.len());
    starts.push(0);
    let mut key = 0_usize;
    for (owner, record) in pairs {
        while key < owner as usize {
            starts.push(u32::try_from(records.len()).map_err(|_| ArenaFull)?);
            key += 1;
        }
        records.push(record);
    }
    let end = u32::try_from(records.len()).map_err(|_| ArenaFull)?;
    while starts.len() < key_count + 1 {
        starts.push(end);
    }
    Ok((starts, records))
}

fn slice_of<'a, T>(starts: &[u32], values: &'a [T], ordinal: u32) -> &'a [T] {
    let index = ordinal as usize;
    match (starts.get(index), starts.get(index + 1)) {
        (Some(&start), Some(&end)) => values.get(start as usize..end as usize).unwrap_or(&[]),
        _ => &[],
    }
}

fn range_len(starts: &[u32], ordinal: u32) -> usize {
    let index = ordinal as usize;
    match (starts.get(index), starts.get(index + 1)) {
        (Some(&start), Some(&end)) => end.saturating_sub(start) as usize,
        _ => 0,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(group: u32, kind: u32, other: u32) -> RelationshipRecord {
        RelationshipRecord { group, kind, other }
    }

    #[test]
    fn both_directions_are_sorted_by_group_type_and_other_end() {
        let relationships = Relationships::build(
            6,
            vec![
                (0, record(2, 5, 3)),
                (0, record(1, 5, 4)),
                (0, record(1, 4, 3)),
                (1, record(0, 5, 3)),
                (1, record(0, 5, 3)),
                // Out of range: ignored.
                (9, record(0, 5, 3)),
            ],
        )
        .unwrap();
        assert_eq!(
            relationships.outgoing(0),
            &[record(1, 4, 3), record(1, 5, 4), record(2, 5, 3)]
        );
        assert_eq!(relationships.outgoing(1), &[record(0, 5, 3)]);
        assert_eq!(
            relationships.incoming(3),
            &[record(0, 5, 1), record(1, 4, 0), record(2, 5, 0)]
        );
        assert_eq!(relationships.incoming_count(3), 3);
        assert_eq!(relationships.outgoing_count(2), 0);
        assert_eq!(relationships.outgoing(99), &[] as &[RelationshipRecord]);
        assert_eq!(relationships.len(), 4);
        assert_eq!(Relationships::build(3, Vec::new()).unwrap().len(), 0);
    }

    #[test]
    fn refset_members_are_sorted_and_unique() {
        let refsets = Refsets::build(vec![(7, 3), (2, 9), (7, 1), (7, 3)]).unwrap();
        assert_eq!(refsets.refsets(), &[2, 7]);
        assert_eq!(refsets.members(7), &[1, 3]);
        assert_eq!(refsets.members(2), &[9]);
        assert_eq!(refsets.members(5), &[] as &[u32]);
        assert_eq!(refsets.member_count(), 3);
    }
}
