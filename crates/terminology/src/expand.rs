//! `$expand`: the codes of a compiled value set, filtered by text, paged and optionally nested
//! by hierarchy: [`ExpandOptions`] in, [`Expansion`] out.
//!
//! Evaluation works on sorted ordinal lists per code system. Each include generates its members
//! (a hierarchy filter walks the children arrays; a concept list is itself; other filters scan)
//! and tests the rest of its filters and imports on each. With a text filter the work is turned
//! around: the word index yields the (usually few) concepts whose words match, and each include
//! only tests those, so `<<` a top-level SNOMED CT concept with a filter costs the matches, not
//! the hierarchy's size.

use std::cell::RefCell;
use std::collections::HashMap;
use std::sync::Arc;

use crate::Error;
use crate::code_system::CodeSystem;
use crate::compiled::{CompiledSet, CompiledValueSet, Source};
use crate::definitions::Designation;
use crate::text_index::{TextQuery, intersect_sorted};

/// Default for [`ExpandOptions::limit`].
pub const DEFAULT_EXPANSION_LIMIT: usize = 10_000;

/// The parameters of `$expand`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpandOptions {
    /// Text the codes' display or a designation must match: every word of it must start a word
    /// of the concept's texts (case-insensitive).
    pub filter: Option<String>,
    /// Codes to skip (paging).
    pub offset: usize,
    /// Codes to return at most (paging); `None` for all.
    pub count: Option<usize>,
    /// Leave inactive codes out.
    pub active_only: bool,
    /// Return each code's designations.
    pub include_designations: bool,
    /// Nest codes under their parents (when the parent is in the same page).
    pub hierarchical: bool,
    /// Without `count`, refuse expansions with more codes than this
    /// ([`Error::ExpansionTooLarge`]).
    pub limit: usize,
}

impl Default for ExpandOptions {
    fn default() -> Self {
        ExpandOptions {
            filter: None,
            offset: 0,
            count: None,
            active_only: false,
            include_designations: false,
            hierarchical: false,
            limit: DEFAULT_EXPANSION_LIMIT,
        }
    }
}

/// A value set's expansion: what FHIR's `ValueSet.expansion` holds.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expansion {
    /// The value set's URL.
    pub value_set: String,
    /// The value set's version.
    pub value_set_version: Option<String>,
    /// How many codes match, over all pages.
    pub total: usize,
    /// The offset this page starts at.
    pub offset: usize,
    /// `expansion.parameter`: the options used and each code system used (`used-codesystem`,
    /// `url|version`).
    pub parameters: Vec<ExpansionParameter>,
    /// The codes of this page.
    pub contains: Vec<ExpansionContains>,
}

/// One `expansion.parameter`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpansionParameter {
    /// `filter`, `offset`, `count`, `activeOnly`, `includeDesignations`, `used-codesystem`.
    pub name: String,
    /// Its value as text.
    pub value: String,
}

/// One `expansion.contains` entry.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ExpansionContains {
    /// The code system URL.
    pub system: String,
    /// The code system version.
    pub version: Option<String>,
    /// The code.
    pub code: String,
    /// The display (the value set's, if it gives one, else the code system's).
    pub display: Option<String>,
    /// Whether the code is abstract (not for use, only for grouping).
    pub is_abstract: bool,
    /// Whether the code is inactive.
    pub inactive: bool,
    /// The designations, when asked for.
    pub designations: Vec<Designation>,
    /// Codes nested under this one, in a hierarchical expansion.
    pub contains: Vec<ExpansionContains>,
}

/// A listed code of a code system that is not loaded.
#[derive(Debug, Clone)]
struct ListedCode {
    system: String,
    version: Option<String>,
    code: String,
    display: Option<String>,
}

/// The members of one loaded code system.
#[derive(Debug)]
struct SystemMembers {
    system: Arc<CodeSystem>,
    /// Sorted.
    ordinals: Vec<u32>,
    /// Displays the value set gives.
    displays: HashMap<u32, String>,
}

/// Members found so far, in order of first appearance of their code system.
#[derive(Debug, Default)]
struct Members {
    systems: Vec<SystemMembers>,
    listed: Vec<ListedCode>,
}

impl Members {
    fn system_slot(&mut self, system: &Arc<CodeSystem>) -> &mut SystemMembers {
        let index = match self
            .systems
            .iter()
            .position(|members| Arc::ptr_eq(&members.system, system))
        {
            Some(index) => index,
            None => {
                self.systems.push(SystemMembers {
                    system: Arc::clone(system),
                    ordinals: Vec::new(),
                    displays: HashMap::new(),
                });
                self.systems.len() - 1
            }
        };
        &mut self.systems[index]
    }

    fn union(&mut self, other: Members) {
        for members in other.systems {
            let slot = self.system_slot(&members.system);
            slot.ordinals = union_sorted(&slot.ordinals, &members.ordinals);
            for (ordinal, display) in members.displays {
                slot.displays.entry(ordinal).or_insert(display);
            }
        }
        for code in other.listed {
            if !self
                .listed
                .iter()
                .any(|known| known.system == code.system && known.code == code.code)
            {
                self.listed.push(code);
            }
        }
    }

    fn subtract(&mut self, other: &Members) {
        for members in &other.systems {
            if let Some(slot) = self
                .systems
                .iter_mut()
                .find(|slot| Arc::ptr_eq(&slot.system, &members.system))
            {
                slot.ordinals = difference_sorted(&slot.ordinals, &members.ordinals);
            }
        }
        self.listed.retain(|code| {
            !other
                .listed
                .iter()
                .any(|gone| gone.system == code.system && gone.code == code.code)
        });
    }

    fn retain_active(&mut self) {
        for slot in &mut self.systems {
            let system = &slot.system;
            slot.ordinals
                .retain(|&ordinal| !system.is_inactive(ordinal));
        }
    }

    fn len(&self) -> usize {
        self.systems
            .iter()
            .map(|slot| slot.ordinals.len())
            .sum::<usize>()
            + self.listed.len()
    }
}

/// State of one expansion: the text query and, per code system, the concepts matching it.
struct Context {
    query: Option<TextQuery>,
    matches: RefCell<HashMap<usize, Arc<Vec<u32>>>>,
}

impl Context {
    /// The concepts of `system` matching the text query (sorted), if there is a query.
    fn text_matches(&self, system: &Arc<CodeSystem>) -> Option<Arc<Vec<u32>>> {
        let query = self.query.as_ref()?;
        let key = Arc::as_ptr(system) as usize;
        if let Some(found) = self.matches.borrow().get(&key) {
            return Some(Arc::clone(found));
        }
        let found = Arc::new(system.text_index.matching(query));
        self.matches.borrow_mut().insert(key, Arc::clone(&found));
        Some(found)
    }
}

/// Expands a compiled value set.
pub(crate) fn expand(
    value_set: &CompiledValueSet,
    options: &ExpandOptions,
) -> Result<Expansion, Error> {
    let context = Context {
        query: options.filter.as_deref().and_then(TextQuery::parse),
        matches: RefCell::new(HashMap::new()),
    };
    let mut members = evaluate(value_set, &context)?;
    if options.active_only {
        members.retain_active();
    }
    let total = members.len();
    if options.count.is_none() && total > options.limit {
        return Err(Error::ExpansionTooLarge {
            value_set: value_set.url.clone(),
            total,
            limit: options.limit,
        });
    }

    // Every member as (system index or listed, ordinal or listed index), in expansion order.
    let mut order: Vec<Item> = Vec::with_capacity(total);
    for (index, slot) in members.systems.iter().enumerate() {
        order.extend(
            slot.ordinals
                .iter()
                .map(|&ordinal| Item::Loaded(index, ordinal)),
        );
    }
    order.extend((0..members.listed.len()).map(Item::Listed));
    if let Some(query) = &context.query {
        // Matches whose display starts with the filter first, then shorter displays.
        order.sort_by_cached_key(|item| {
            let display = members.display(*item).unwrap_or("");
            (query.rank(display), display.chars().count())
        });
    }
    let page: Vec<Item> = order
        .into_iter()
        .skip(options.offset)
        .take(options.count.unwrap_or(usize::MAX))
        .collect();

    let mut contains: Vec<ExpansionContains> = page
        .iter()
        .map(|&item| members.entry(item, options.include_designations))
        .collect();
    if options.hierarchical {
        contains = nest(&members, &page, contains);
    }

    let parameters = parameters(options, &members);
    Ok(Expansion {
        value_set: value_set.url.clone(),
        value_set_version: value_set.version.clone(),
        total,
        offset: options.offset,
        parameters,
        contains,
    })
}

/// `expansion.parameter`: the options that shaped the expansion and the code systems used.
fn parameters(options: &ExpandOptions, members: &Members) -> Vec<ExpansionParameter> {
    let mut parameters = Vec::new();
    let mut parameter = |name: &str, value: String| {
        parameters.push(ExpansionParameter {
            name: name.to_owned(),
            value,
        });
    };
    if let Some(filter) = &options.filter {
        parameter("filter", filter.clone());
    }
    if options.offset > 0 {
        parameter("offset", options.offset.to_string());
    }
    if let Some(count) = options.count {
        parameter("count", count.to_string());
    }
    if options.active_only {
        parameter("activeOnly", "true".to_owned());
    }
    if options.include_designations {
        parameter("includeDesignations", "true".to_owned());
    }
    for slot in &members.systems {
        let system = &slot.system;
        let used = match system.version() {
            Some(version) => format!("{}|{version}", system.url()),
            None => system.url().to_owned(),
        };
        parameter("used-codesystem", used);
    }
    parameters
}

#[derive(Debug, Clone, Copy)]
enum Item {
    Loaded(usize, u32),
    Listed(usize),
}

impl Members {
    fn display(&self, item: Item) -> Option<&str> {
        match item {
            Item::Loaded(index, ordinal) => self.systems.get(index).and_then(|slot| {
                slot.displays
                    .get(&ordinal)
                    .map(String::as_str)
                    .or_else(|| slot.system.display_of(ordinal))
            }),
            Item::Listed(index) => self
                .listed
                .get(index)
                .and_then(|code| code.display.as_deref()),
        }
    }

    fn entry(&self, item: Item, include_designations: bool) -> ExpansionContains {
        match item {
            Item::Loaded(index, ordinal) => {
                let Some(slot) = self.systems.get(index) else {
                    return empty_entry();
                };
                let concept = slot.system.concept_at(ordinal);
                ExpansionContains {
                    system: slot.system.url().to_owned(),
                    version: slot.system.version().map(str::to_owned),
                    code: concept.code().to_owned(),
                    display: self.display(item).map(str::to_owned),
                    is_abstract: concept.is_abstract(),
                    inactive: !concept.is_active(),
                    designations: if include_designations {
                        concept.designations()
                    } else {
                        Vec::new()
                    },
                    contains: Vec::new(),
                }
            }
            Item::Listed(index) => {
                let Some(code) = self.listed.get(index) else {
                    return empty_entry();
                };
                ExpansionContains {
                    system: code.system.clone(),
                    version: code.version.clone(),
                    code: code.code.clone(),
                    display: code.display.clone(),
                    is_abstract: false,
                    inactive: false,
                    designations: Vec::new(),
                    contains: Vec::new(),
                }
            }
        }
    }
}

fn empty_entry() -> ExpansionContains {
    ExpansionContains {
        system: String::new(),
        version: None,
        code: String::new(),
        display: None,
        is_abstract: false,
        inactive: false,
        designations: Vec::new(),
        contains: Vec::new(),
    }
}

/// Nests each entry under its first direct parent that is on the same page; the rest are roots.
fn nest(
    members: &Members,
    page: &[Item],
    entries: Vec<ExpansionContains>,
) -> Vec<ExpansionContains> {
    let position: HashMap<(usize, u32), usize> = page
        .iter()
        .enumerate()
        .filter_map(|(at, item)| match *item {
            Item::Loaded(system, ordinal) => Some(((system, ordinal), at)),
            Item::Listed(_) => None,
        })
        .collect();
    let parent_of: Vec<Option<usize>> = page
        .iter()
        .map(|item| match *item {
            Item::Loaded(system, ordinal) => members.systems.get(system).and_then(|slot| {
                slot.system
                    .hierarchy
                    .parents(ordinal)
                    .iter()
                    .find_map(|parent| position.get(&(system, *parent)).copied())
            }),
            Item::Listed(_) => None,
        })
        .collect();
    // Depth of each entry in the nesting, without recursion (parent chains can be long).
    let mut depth: Vec<Option<usize>> = vec![None; page.len()];
    for start in 0..page.len() {
        let mut chain = Vec::new();
        let mut at = start;
        let base = loop {
            if let Some(known) = depth.get(at).copied().flatten() {
                break known;
            }
            chain.push(at);
            match parent_of.get(at).copied().flatten() {
                Some(parent) => at = parent,
                None => break 0,
            }
        };
        let first = base + usize::from(depth.get(at).copied().flatten().is_some());
        for (level, &node) in (first..).zip(chain.iter().rev()) {
            if let Some(slot) = depth.get_mut(node) {
                *slot = Some(level);
            }
        }
    }
    // Move the deepest entries into their parents first; siblings keep page order.
    let mut order: Vec<usize> = (0..page.len()).collect();
    order.sort_by_key(|&at| (std::cmp::Reverse(depth.get(at).copied().flatten()), at));
    let mut slots: Vec<Option<ExpansionContains>> = entries.into_iter().map(Some).collect();
    for at in order {
        let Some(parent) = parent_of.get(at).copied().flatten() else {
            continue;
        };
        let Some(entry) = slots.get_mut(at).and_then(Option::take) else {
            continue;
        };
        if let Some(Some(parent_entry)) = slots.get_mut(parent) {
            parent_entry.contains.push(entry);
        }
    }
    slots.into_iter().flatten().collect()
}

/// The members of a compiled value set, restricted to text matches when there is a query.
fn evaluate(value_set: &CompiledValueSet, context: &Context) -> Result<Members, Error> {
    let mut members = Members::default();
    for set in &value_set.includes {
        members.union(evaluate_set(value_set, set, context)?);
    }
    if !value_set.excludes.is_empty() {
        let mut excluded = Members::default();
        for set in &value_set.excludes {
            excluded.union(evaluate_set(value_set, set, context)?);
        }
        members.subtract(&excluded);
    }
    if value_set.inactive == Some(false) {
        members.retain_active();
    }
    Ok(members)
}

fn evaluate_set(
    value_set: &CompiledValueSet,
    set: &CompiledSet,
    context: &Context,
) -> Result<Members, Error> {
    match &set.source {
        Source::Loaded { system, rule } => {
            let mut ordinals = match context.text_matches(system) {
                Some(matches) => matches
                    .iter()
                    .copied()
                    .filter(|&ordinal| rule.contains(system, ordinal))
                    .collect(),
                None => rule.members(system),
            };
            for imported in &set.value_sets {
                ordinals = retain_in(imported, system, ordinals)?;
            }
            let displays = ordinals
                .iter()
                .filter_map(|&ordinal| {
                    rule.display_override(ordinal)
                        .map(|display| (ordinal, display.to_owned()))
                })
                .collect();
            Ok(Members {
                systems: vec![SystemMembers {
                    system: Arc::clone(system),
                    ordinals,
                    displays,
                }],
                listed: Vec::new(),
            })
        }
        Source::Unavailable {
            system,
            version,
            concepts,
            needs_system,
        } => {
            if *needs_system {
                return Err(Error::CodeSystemNotLoaded {
                    value_set: value_set.url.clone(),
                    system: match version {
                        Some(version) => format!("{system}|{version}"),
                        None => system.clone(),
                    },
                });
            }
            let mut listed = Vec::new();
            'concepts: for concept in concepts {
                if let Some(query) = &context.query
                    && !query.matches(concept.display.as_deref())
                {
                    continue;
                }
                for imported in &set.value_sets {
                    if imported
                        .membership(system, version.as_deref(), &concept.code)?
                        .is_absent()
                    {
                        continue 'concepts;
                    }
                }
                listed.push(ListedCode {
                    system: system.clone(),
                    version: version.clone(),
                    code: concept.code.clone(),
                    display: concept.display.clone(),
                });
            }
            Ok(Members {
                systems: Vec::new(),
                listed,
            })
        }
        Source::ValueSetsOnly => evaluate_imports(&set.value_sets, context),
    }
}

/// The members of the first value set that are in all the others.
fn evaluate_imports(
    imports: &[Arc<CompiledValueSet>],
    context: &Context,
) -> Result<Members, Error> {
    let Some((first, others)) = imports.split_first() else {
        return Ok(Members::default());
    };
    let mut members = evaluate(first, context)?;
    for other in others {
        for slot in &mut members.systems {
            slot.ordinals = retain_in(other, &slot.system, std::mem::take(&mut slot.ordinals))?;
        }
        let mut kept = Vec::with_capacity(members.listed.len());
        for code in std::mem::take(&mut members.listed) {
            if !other
                .membership(&code.system, code.version.as_deref(), &code.code)?
                .is_absent()
            {
                kept.push(code);
            }
        }
        members.listed = kept;
    }
    Ok(members)
}

/// The ordinals of `system` that are also in `value_set`.
fn retain_in(
    value_set: &CompiledValueSet,
    system: &Arc<CodeSystem>,
    ordinals: Vec<u32>,
) -> Result<Vec<u32>, Error> {
    let mut kept = Vec::with_capacity(ordinals.len());
    for ordinal in ordinals {
        if value_set.contains_concept(system, ordinal)? {
            kept.push(ordinal);
        }
    }
    Ok(kept)
}

/// The values in either sorted list, sorted and distinct.
fn union_sorted(a: &[u32], b: &[u32]) -> Vec<u32> {
    if a.is_empty() {
        return b.to_vec();
    }
    if b.is_empty() {
        return a.to_vec();
    }
    let mut result = Vec::with_capacity(a.len() + b.len());
    let (mut i, mut j) = (0, 0);
    while let (Some(&x), Some(&y)) = (a.get(i), b.get(j)) {
        match x.cmp(&y) {
            std::cmp::Ordering::Less => {
                result.push(x);
                i += 1;
            }
            std::cmp::Ordering::Greater => {
                result.push(y);
                j += 1;
            }
            std::cmp::Ordering::Equal => {
                result.push(x);
                i += 1;
                j += 1;
            }
        }
    }
    result.extend_from_slice(a.get(i..).unwrap_or(&[]));
    result.extend_from_slice(b.get(j..).unwrap_or(&[]));
    result
}

/// The values of sorted `a` not in sorted `b`.
fn difference_sorted(a: &[u32], b: &[u32]) -> Vec<u32> {
    if b.is_empty() {
        return a.to_vec();
    }
    let common = intersect_sorted(a, b);
    a.iter()
        .copied()
        .filter(|value| common.binary_search(value).is_err())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sorted_set_operations() {
        assert_eq!(union_sorted(&[1, 3, 5], &[2, 3, 6]), vec![1, 2, 3, 5, 6]);
        assert_eq!(union_sorted(&[], &[2]), vec![2]);
        assert_eq!(difference_sorted(&[1, 2, 3, 4], &[2, 4, 9]), vec![1, 3]);
        assert_eq!(difference_sorted(&[1], &[]), vec![1]);
    }
}
