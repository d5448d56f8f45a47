//! Value sets compiled against the loaded code systems: [`CompiledValueSet`].
//!
//! Compiling resolves every include's code system to its `Arc<CodeSystem>`, codes to ordinals,
//! regexes to automata and imported value sets to their own compiled forms (cycle-checked and
//! depth-bounded), once; [`crate::Terminology`] caches the result until the loaded content
//! changes. A compiled value set answers two questions: "is this code in it" (O(log k) per
//! hierarchy filter, no allocation: what `$validate-code` and `memberOf()` need) and "which codes
//! are in it" ([`crate::expand`]).

use std::collections::HashMap;
use std::sync::Arc;

use regex::Regex;

use crate::code_system::CodeSystem;
use crate::value_set::{ConceptReference, ConceptSet, Filter, FilterOperator};
use crate::{Error, Terminology};

/// Deepest nesting of value set imports followed.
pub(crate) const MAX_IMPORT_DEPTH: usize = 16;

/// A value set ready to evaluate.
#[derive(Debug)]
pub(crate) struct CompiledValueSet {
    pub(crate) url: String,
    pub(crate) version: Option<String>,
    /// `compose.inactive`: `Some(false)` takes inactive codes out.
    pub(crate) inactive: Option<bool>,
    pub(crate) includes: Vec<CompiledSet>,
    pub(crate) excludes: Vec<CompiledSet>,
}

/// One include or exclude.
#[derive(Debug)]
pub(crate) struct CompiledSet {
    pub(crate) source: Source,
    /// Value sets every code must also be in.
    pub(crate) value_sets: Vec<Arc<CompiledValueSet>>,
}

/// Where an include's codes come from.
#[derive(Debug)]
pub(crate) enum Source {
    /// No system: the intersection of `value_sets`.
    ValueSetsOnly,
    /// A loaded code system, narrowed by `rule`.
    Loaded { system: Arc<CodeSystem>, rule: Rule },
    /// A code system that is not loaded (or not in the version asked for). Listed codes are
    /// still members, known only by what the value set says of them; all codes or filters cannot
    /// be evaluated.
    Unavailable {
        system: String,
        version: Option<String>,
        concepts: Vec<ConceptReference>,
        needs_system: bool,
    },
}

/// Which codes of a loaded code system an include takes.
#[derive(Debug)]
pub(crate) enum Rule {
    /// Every concept.
    All,
    /// The listed concepts (sorted ordinals; codes not in the system are dropped), with the
    /// displays the value set gives them.
    Concepts {
        ordinals: Vec<u32>,
        displays: HashMap<u32, String>,
    },
    /// Concepts meeting every filter.
    Filters(Vec<CompiledFilter>),
}

/// One compose filter.
#[derive(Debug)]
pub(crate) enum CompiledFilter {
    IsA(u32),
    DescendentOf(u32),
    IsNotA(u32),
    Generalizes(u32),
    /// The concepts an ECL `constraint` selects, sorted.
    Members(Vec<u32>),
    /// A hierarchy filter on a code the system does not have.
    Nothing,
    /// `is-not-a` a code the system does not have.
    Everything,
    Property {
        target: Target,
        test: PropertyTest,
    },
}

/// What a property filter looks at.
#[derive(Debug)]
pub(crate) enum Target {
    Code,
    Display,
    Parent,
    Child,
    Inactive,
    Property(String),
}

/// How a property filter tests the values.
#[derive(Debug)]
pub(crate) enum PropertyTest {
    Equal(String),
    In(Vec<String>),
    NotIn(Vec<String>),
    Regex(Regex),
    Exists(bool),
}

/// Compiles a value set definition. `chain` holds the value sets whose compile led here.
pub(crate) fn compile(
    terminology: &Terminology,
    value_set: &crate::ValueSet,
    chain: &mut Vec<String>,
) -> Result<CompiledValueSet, Error> {
    let Some(compose) = &value_set.compose else {
        return Err(Error::InvalidValueSet {
            url: value_set.url.clone(),
            reason: "it has no compose to expand (only stored expansions are not supported)"
                .to_owned(),
        });
    };
    if chain.iter().any(|url| url == &value_set.url) {
        let mut links = chain.clone();
        links.push(value_set.url.clone());
        return Err(Error::ValueSetCycle {
            url: value_set.url.clone(),
            chain: links.join(" → "),
        });
    }
    if chain.len() >= MAX_IMPORT_DEPTH {
        return Err(Error::ValueSetTooDeep {
            url: value_set.url.clone(),
            limit: MAX_IMPORT_DEPTH,
        });
    }
    chain.push(value_set.url.clone());
    let result = (|| {
        let mut includes = Vec::with_capacity(compose.include.len());
        for set in &compose.include {
            includes.push(compile_set(terminology, &value_set.url, set, chain)?);
        }
        let mut excludes = Vec::with_capacity(compose.exclude.len());
        for set in &compose.exclude {
            excludes.push(compile_set(terminology, &value_set.url, set, chain)?);
        }
        Ok(CompiledValueSet {
            url: value_set.url.clone(),
            version: value_set.version.clone(),
            inactive: compose.inactive,
            includes,
            excludes,
        })
    })();
    chain.pop();
    result
}

fn compile_set(
    terminology: &Terminology,
    value_set_url: &str,
    set: &ConceptSet,
    chain: &mut Vec<String>,
) -> Result<CompiledSet, Error> {
    let mut value_sets = Vec::with_capacity(set.value_sets.len());
    for canonical in &set.value_sets {
        value_sets.push(terminology.compiled_for_import(canonical, chain)?);
    }
    let source = match &set.system {
        None => Source::ValueSetsOnly,
        Some(url) => match terminology.code_system_for_compose(url, set.version.as_deref())? {
            Some(system) => {
                let rule = compile_rule(value_set_url, &system, set)?;
                Source::Loaded { system, rule }
            }
            None => Source::Unavailable {
                system: url.clone(),
                version: set.version.clone(),
                concepts: set.concepts.clone(),
                needs_system: set.concepts.is_empty(),
            },
        },
    };
    Ok(CompiledSet { source, value_sets })
}

fn compile_rule(value_set_url: &str, system: &CodeSystem, set: &ConceptSet) -> Result<Rule, Error> {
    if !set.concepts.is_empty() {
        let mut ordinals = Vec::with_capacity(set.concepts.len());
        let mut displays = HashMap::new();
        for concept in &set.concepts {
            // A listed code the system does not have is not a member: the value set cannot
            // make up concepts for a loaded code system.
            if let Some(ordinal) = system.ordinal(&concept.code) {
                ordinals.push(ordinal);
                if let Some(display) = &concept.display {
                    displays.entry(ordinal).or_insert_with(|| display.clone());
                }
            }
        }
        ordinals.sort_unstable();
        ordinals.dedup();
        return Ok(Rule::Concepts { ordinals, displays });
    }
    if set.filters.is_empty() {
        return Ok(Rule::All);
    }
    let filters = set
        .filters
        .iter()
        .map(|filter| compile_filter(value_set_url, system, filter))
        .collect::<Result<Vec<_>, _>>()?;
    Ok(Rule::Filters(filters))
}

fn compile_filter(
    value_set_url: &str,
    system: &CodeSystem,
    filter: &Filter,
) -> Result<CompiledFilter, Error> {
    let invalid = |reason: String| Error::InvalidFilter {
        value_set: value_set_url.to_owned(),
        property: filter.property.clone(),
        op: filter.op.code().to_owned(),
        value: filter.value.clone(),
        reason,
    };
    let is_concept = matches!(filter.property.as_str(), "concept" | "code");
    let hierarchy = |make: fn(u32) -> CompiledFilter| -> Result<CompiledFilter, Error> {
        if !is_concept {
            return Err(invalid(format!(
                "is not supported: '{}' applies to property 'concept' only",
                filter.op
            )));
        }
        Ok(match system.ordinal(&filter.value) {
            Some(ordinal) => make(ordinal),
            None if filter.op == FilterOperator::IsNotA => CompiledFilter::Everything,
            None => CompiledFilter::Nothing,
        })
    };
    let target = || match filter.property.as_str() {
        "concept" | "code" => Target::Code,
        "display" => Target::Display,
        "parent" => Target::Parent,
        "child" => Target::Child,
        "inactive" => Target::Inactive,
        other => Target::Property(other.to_owned()),
    };
    let list = || -> Vec<String> {
        filter
            .value
            .split(',')
            .map(|value| value.trim().to_owned())
            .filter(|value| !value.is_empty())
            .collect()
    };
    if filter.property == "constraint" {
        if filter.op != FilterOperator::Equal {
            return Err(invalid(
                "is not supported: 'constraint' takes '=' and ECL".to_owned(),
            ));
        }
        let expression = crate::ecl::parse(&filter.value)?;
        return Ok(CompiledFilter::Members(crate::ecl::evaluate(
            system,
            &expression,
            &filter.value,
        )?));
    }
    let test = match filter.op {
        FilterOperator::IsA => return hierarchy(CompiledFilter::IsA),
        FilterOperator::DescendentOf => return hierarchy(CompiledFilter::DescendentOf),
        FilterOperator::IsNotA => return hierarchy(CompiledFilter::IsNotA),
        FilterOperator::Generalizes => return hierarchy(CompiledFilter::Generalizes),
        FilterOperator::Equal => PropertyTest::Equal(filter.value.clone()),
        FilterOperator::In => PropertyTest::In(list()),
        FilterOperator::NotIn => PropertyTest::NotIn(list()),
        FilterOperator::Exists => match filter.value.as_str() {
            "true" => PropertyTest::Exists(true),
            "false" => PropertyTest::Exists(false),
            _ => return Err(invalid("needs the value 'true' or 'false'".to_owned())),
        },
        FilterOperator::Regex => {
            // The whole value must match, as in XML Schema patterns FHIR's regexes follow.
            let anchored = format!("^(?:{})$", filter.value);
            let regex = regex::RegexBuilder::new(&anchored)
                .size_limit(1 << 20)
                .build()
                .map_err(|error| invalid(format!("has an invalid regex: {error}")))?;
            PropertyTest::Regex(regex)
        }
    };
    Ok(CompiledFilter::Property {
        target: target(),
        test,
    })
}

impl CompiledFilter {
    /// Whether concept `ordinal` passes the filter.
    pub(crate) fn contains(&self, system: &CodeSystem, ordinal: u32) -> bool {
        let hierarchy = &system.hierarchy;
        match self {
            CompiledFilter::IsA(root) => hierarchy.is_a(ordinal, *root),
            CompiledFilter::DescendentOf(root) => {
                ordinal != *root && hierarchy.is_ancestor(*root, ordinal)
            }
            CompiledFilter::IsNotA(root) => !hierarchy.is_a(ordinal, *root),
            CompiledFilter::Generalizes(root) => hierarchy.is_a(*root, ordinal),
            CompiledFilter::Members(members) => members.binary_search(&ordinal).is_ok(),
            CompiledFilter::Nothing => false,
            CompiledFilter::Everything => true,
            CompiledFilter::Property { target, test } => {
                let mut values = target_values(system, target, ordinal);
                match test {
                    PropertyTest::Equal(expected) => values.any(|value| value == expected),
                    PropertyTest::In(list) => values.any(|value| list.iter().any(|v| v == value)),
                    PropertyTest::NotIn(list) => {
                        !values.any(|value| list.iter().any(|v| v == value))
                    }
                    PropertyTest::Regex(regex) => values.any(|value| regex.is_match(value)),
                    PropertyTest::Exists(exists) => values.next().is_some() == *exists,
                }
            }
        }
    }

    /// The members, sorted, when they can be generated without scanning every concept.
    fn generate(&self, system: &CodeSystem) -> Option<Vec<u32>> {
        let hierarchy = &system.hierarchy;
        match self {
            CompiledFilter::IsA(root) => Some(hierarchy.descendants(*root, true)),
            CompiledFilter::DescendentOf(root) => Some(hierarchy.descendants(*root, false)),
            CompiledFilter::Generalizes(root) => {
                let mut members = hierarchy.ancestors(*root).to_vec();
                members.push(*root);
                members.sort_unstable();
                Some(members)
            }
            CompiledFilter::Nothing => Some(Vec::new()),
            CompiledFilter::Members(members) => Some(members.clone()),
            CompiledFilter::Property {
                target: Target::Code,
                test: PropertyTest::Equal(code),
            } => Some(system.ordinal(code).into_iter().collect()),
            CompiledFilter::Property {
                target: Target::Code,
                test: PropertyTest::In(codes),
            } => {
                let mut members: Vec<u32> = codes
                    .iter()
                    .filter_map(|code| system.ordinal(code))
                    .collect();
                members.sort_unstable();
                members.dedup();
                Some(members)
            }
            _ => None,
        }
    }
}

/// The values a property filter compares, for one concept.
fn target_values<'a>(
    system: &'a CodeSystem,
    target: &'a Target,
    ordinal: u32,
) -> Box<dyn Iterator<Item = &'a str> + 'a> {
    match target {
        Target::Code => Box::new(std::iter::once(system.code_of(ordinal))),
        Target::Display => Box::new(system.display_of(ordinal).into_iter()),
        Target::Parent => Box::new(
            system
                .hierarchy
                .parents(ordinal)
                .iter()
                .map(|&parent| system.code_of(parent)),
        ),
        Target::Child => Box::new(
            system
                .hierarchy
                .children(ordinal)
                .iter()
                .map(|&child| system.code_of(child)),
        ),
        Target::Inactive => Box::new(std::iter::once(if system.is_inactive(ordinal) {
            "true"
        } else {
            "false"
        })),
        Target::Property(code) => Box::new(system.property_texts(ordinal, code)),
    }
}

impl Rule {
    /// Whether concept `ordinal` is taken.
    pub(crate) fn contains(&self, system: &CodeSystem, ordinal: u32) -> bool {
        match self {
            Rule::All => (ordinal as usize) < system.len(),
            Rule::Concepts { ordinals, .. } => ordinals.binary_search(&ordinal).is_ok(),
            Rule::Filters(filters) => filters
                .iter()
                .all(|filter| filter.contains(system, ordinal)),
        }
    }

    /// Every concept taken, sorted.
    pub(crate) fn members(&self, system: &CodeSystem) -> Vec<u32> {
        let all = || (0..system.len()).filter_map(|ordinal| u32::try_from(ordinal).ok());
        match self {
            Rule::All => all().collect(),
            Rule::Concepts { ordinals, .. } => ordinals.clone(),
            Rule::Filters(filters) => {
                // Generate from the first filter that can, test the rest; else scan.
                let generator = filters.iter().enumerate().find_map(|(index, filter)| {
                    filter.generate(system).map(|found| (index, found))
                });
                match generator {
                    Some((index, mut found)) => {
                        found.retain(|&ordinal| {
                            filters
                                .iter()
                                .enumerate()
                                .all(|(i, filter)| i == index || filter.contains(system, ordinal))
                        });
                        found
                    }
                    None => all()
                        .filter(|&ordinal| {
                            filters
                                .iter()
                                .all(|filter| filter.contains(system, ordinal))
                        })
                        .collect(),
                }
            }
        }
    }

    /// The display the value set gives a listed concept.
    pub(crate) fn display_override(&self, ordinal: u32) -> Option<&str> {
        match self {
            Rule::Concepts { displays, .. } => displays.get(&ordinal).map(String::as_str),
            _ => None,
        }
    }
}

/// The answer to "is this code in the value set".
#[derive(Debug, Clone, Copy)]
pub(crate) enum Membership<'a> {
    /// Not a member.
    Absent,
    /// A member of a loaded code system: (system, ordinal), with the display the value set gives
    /// it.
    Loaded(&'a Arc<CodeSystem>, u32, Option<&'a str>),
    /// A listed code of a code system that is not loaded, with the value set's display.
    Listed(Option<&'a str>),
}

impl Membership<'_> {
    pub(crate) fn is_absent(&self) -> bool {
        matches!(self, Membership::Absent)
    }
}

impl CompiledValueSet {
    /// Whether `code` of `system` (URL) is in the value set. `version` narrows which includes
    /// can match, when given.
    ///
    /// # Errors
    ///
    /// [`Error::CodeSystemNotLoaded`] if the answer depends on a code system that is not loaded
    /// (an include of all of it, or of a filter on it).
    pub(crate) fn membership(
        &self,
        system: &str,
        version: Option<&str>,
        code: &str,
    ) -> Result<Membership<'_>, Error> {
        let mut found = Membership::Absent;
        let mut unavailable: Option<String> = None;
        for set in &self.includes {
            match set.membership(system, version, code)? {
                SetMembership::In(membership) => {
                    found = membership;
                    break;
                }
                SetMembership::Unknown(missing) => unavailable = Some(missing),
                SetMembership::Out => {}
            }
        }
        if found.is_absent() {
            return match unavailable {
                Some(missing) => Err(Error::CodeSystemNotLoaded {
                    value_set: self.url.clone(),
                    system: missing,
                }),
                None => Ok(Membership::Absent),
            };
        }
        if let Membership::Loaded(code_system, ordinal, _) = found
            && self.inactive == Some(false)
            && code_system.is_inactive(ordinal)
        {
            return Ok(Membership::Absent);
        }
        for set in &self.excludes {
            match set.membership(system, version, code)? {
                SetMembership::In(_) => return Ok(Membership::Absent),
                SetMembership::Unknown(missing) => {
                    return Err(Error::CodeSystemNotLoaded {
                        value_set: self.url.clone(),
                        system: missing,
                    });
                }
                SetMembership::Out => {}
            }
        }
        Ok(found)
    }

    /// A loaded code system with this URL that the value set (or one it imports) draws on.
    pub(crate) fn loaded_system(&self, url: &str) -> Option<&Arc<CodeSystem>> {
        self.includes
            .iter()
            .chain(&self.excludes)
            .find_map(|set| match &set.source {
                Source::Loaded { system, .. } if system.url() == url => Some(system),
                _ => set
                    .value_sets
                    .iter()
                    .find_map(|imported| imported.loaded_system(url)),
            })
    }

    /// Whether a concept of a loaded code system is in the value set (for imports' checks
    /// during expansion, where the concept is known by ordinal).
    pub(crate) fn contains_concept(
        &self,
        system: &Arc<CodeSystem>,
        ordinal: u32,
    ) -> Result<bool, Error> {
        let code = system.code_of(ordinal);
        Ok(!matches!(
            self.membership(system.url(), system.version(), code)?,
            Membership::Absent
        ))
    }
}

enum SetMembership<'a> {
    In(Membership<'a>),
    Out,
    /// The include is on a code system that is not loaded and cannot tell: its name.
    Unknown(String),
}

impl CompiledSet {
    fn membership(
        &self,
        system: &str,
        version: Option<&str>,
        code: &str,
    ) -> Result<SetMembership<'_>, Error> {
        let found = match &self.source {
            Source::ValueSetsOnly => {
                // The code must be in every imported value set; the first supplies the display.
                let mut first = None;
                for imported in &self.value_sets {
                    match imported.membership(system, version, code)? {
                        Membership::Absent => return Ok(SetMembership::Out),
                        membership => {
                            first.get_or_insert(membership);
                        }
                    }
                }
                return Ok(first.map_or(SetMembership::Out, SetMembership::In));
            }
            Source::Loaded {
                system: code_system,
                rule,
            } => {
                if code_system.url() != system
                    || version.is_some_and(|version| code_system.version() != Some(version))
                {
                    return Ok(SetMembership::Out);
                }
                let Some(ordinal) = code_system.ordinal(code) else {
                    return Ok(SetMembership::Out);
                };
                if !rule.contains(code_system, ordinal) {
                    return Ok(SetMembership::Out);
                }
                Membership::Loaded(code_system, ordinal, rule.display_override(ordinal))
            }
            Source::Unavailable {
                system: url,
                version: wanted,
                concepts,
                needs_system,
            } => {
                if url != system
                    || matches!((version, wanted), (Some(given), Some(wanted)) if given != wanted)
                {
                    return Ok(SetMembership::Out);
                }
                if *needs_system {
                    let name = match wanted {
                        Some(wanted) => format!("{url}|{wanted}"),
                        None => url.clone(),
                    };
                    return Ok(SetMembership::Unknown(name));
                }
                match concepts.iter().find(|concept| concept.code == code) {
                    Some(concept) => Membership::Listed(concept.display.as_deref()),
                    None => return Ok(SetMembership::Out),
                }
            }
        };
        for imported in &self.value_sets {
            if imported.membership(system, version, code)?.is_absent() {
                return Ok(SetMembership::Out);
            }
        }
        Ok(SetMembership::In(found))
    }
}
