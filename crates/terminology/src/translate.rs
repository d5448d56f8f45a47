//! `ConceptMap/$translate` ([`Terminology::translate`]) and the concept maps it uses: added
//! with [`Terminology::add_concept_map`], or the FHIR R4 built-in ones.
//!
//! How a request is answered (R4 `$translate`):
//! - The maps: the one named by `url` (or given inline as `conceptMap`); without either, every
//!   map whose `source`/`target` value sets are the ones the request names (when it names
//!   them) and which has a group from the code's system (and to `targetsystem`, if given).
//! - Forward: each element of a matching group with the code gives one match per target, with
//!   the target's equivalence and the group's target system. A group with no element for the
//!   code applies its `unmapped`: `provided` gives the same code in the target system
//!   (`equal`); `fixed` gives the fixed code (`inexact`: the map says only that every unmapped
//!   code goes there); `other-map` translates the code with the named map, up to
//!   [`OTHER_MAP_DEPTH`] maps deep.
//! - `reverse`: the code is looked for among the targets, and each element mapping to it gives
//!   a match in the group's source system, its equivalence read backwards (`wider` ↔
//!   `narrower`, `subsumes` ↔ `specializes`). `unmapped` describes source codes only, so it is
//!   not applied.
//! - `result` is true when some match has an equivalence other than `unmatched` or
//!   `disjoint`; those are still listed, as the map states them.

use std::collections::HashMap;
use std::sync::{Arc, PoisonError, RwLock};

use crate::builtin;
use crate::code_index::FastBuildHasher;
use crate::concept_map::{
    ConceptMap, ConceptMapEquivalence, ConceptMapGroup, MapDependency, Unmapped,
};
use crate::definitions::Coding;
use crate::value_set::split_canonical;
use crate::{Error, Terminology};

/// How many `other-map` references a translation follows before it gives up.
pub const OTHER_MAP_DEPTH: usize = 8;

/// The inputs of `ConceptMap/$translate`.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TranslateRequest {
    /// The concept map to use (`url` or `url|version`).
    pub url: Option<String>,
    /// The concept map's version (`conceptMapVersion`), if `url` does not carry one.
    pub concept_map_version: Option<String>,
    /// A concept map given in the request (`conceptMap`), used instead of a stored one.
    pub concept_map: Option<ConceptMap>,
    /// The value set the code was chosen from (`source`), to pick maps by.
    pub source: Option<String>,
    /// The value set to translate into (`target`), to pick maps by.
    pub target: Option<String>,
    /// The code system to translate into (`targetsystem`).
    pub target_system: Option<String>,
    /// The codes to translate: `code` with `system`, `coding`, or each Coding of
    /// `codeableConcept`.
    pub codings: Vec<Coding>,
    /// The version of the codes' system (`version`), matched against a group's source
    /// version when both are given.
    pub system_version: Option<String>,
    /// Translate from target to source (`reverse`).
    pub reverse: bool,
}

impl TranslateRequest {
    /// A request to translate `code` of `system` with any map that applies.
    pub fn code(system: impl Into<String>, code: impl Into<String>) -> TranslateRequest {
        TranslateRequest {
            codings: vec![Coding::new(system, code)],
            ..TranslateRequest::default()
        }
    }
}

/// What `$translate` returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Translation {
    /// Whether some match translates the code (an equivalence other than `unmatched` and
    /// `disjoint`).
    pub result: bool,
    /// Why there is no result, when there is none.
    pub message: Option<String>,
    /// The matches, in map, group and element order.
    pub matches: Vec<TranslationMatch>,
}

/// One `match` of a translation.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TranslationMatch {
    /// How the concept relates to the code translated.
    pub equivalence: ConceptMapEquivalence,
    /// The concept it translates to; `None` for an `unmatched` target without a code.
    pub concept: Option<Coding>,
    /// The URL of the concept map the match comes from.
    pub source: String,
    /// Other concepts the mapping also produces (`product`).
    pub products: Vec<MapDependency>,
    /// What the mapping depends on (`dependsOn`), for the caller to check.
    pub depends_on: Vec<MapDependency>,
}

/// A concept map with its codes indexed for both directions.
#[derive(Debug)]
pub(crate) struct IndexedConceptMap {
    map: ConceptMap,
    /// Source code → (group, element).
    sources: HashMap<String, Vec<(usize, usize)>, FastBuildHasher>,
    /// Target code → (group, element, target).
    targets: HashMap<String, Vec<(usize, usize, usize)>, FastBuildHasher>,
}

impl IndexedConceptMap {
    pub(crate) fn new(map: ConceptMap) -> IndexedConceptMap {
        let mut sources: HashMap<String, Vec<(usize, usize)>, FastBuildHasher> = HashMap::default();
        let mut targets: HashMap<String, Vec<(usize, usize, usize)>, FastBuildHasher> =
            HashMap::default();
        for (group_index, group) in map.groups.iter().enumerate() {
            for (element_index, element) in group.elements.iter().enumerate() {
                if let Some(code) = &element.code {
                    sources
                        .entry(code.clone())
                        .or_default()
                        .push((group_index, element_index));
                }
                for (target_index, target) in element.targets.iter().enumerate() {
                    if let Some(code) = &target.code {
                        targets.entry(code.clone()).or_default().push((
                            group_index,
                            element_index,
                            target_index,
                        ));
                    }
                }
            }
        }
        IndexedConceptMap {
            map,
            sources,
            targets,
        }
    }
}

/// The concept maps added to a [`Terminology`], by URL, each URL's versions oldest first.
#[derive(Debug, Default)]
pub(crate) struct ConceptMaps {
    by_url: HashMap<String, Vec<Arc<IndexedConceptMap>>, FastBuildHasher>,
}

/// A concept map lock of the service.
pub(crate) type ConceptMapRegistry = RwLock<ConceptMaps>;

impl Terminology {
    /// Adds a concept map in memory, replacing one of the same URL and version. It takes
    /// precedence over a built-in map of the same URL.
    pub fn add_concept_map(&self, concept_map: ConceptMap) {
        let indexed = Arc::new(IndexedConceptMap::new(concept_map));
        let mut maps = self
            .concept_maps()
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let entries = maps.by_url.entry(indexed.map.url.clone()).or_default();
        entries.retain(|known| known.map.version != indexed.map.version);
        entries.push(indexed);
    }

    /// Removes the added concept map with this URL and version (`None`: the one without a
    /// version). Returns whether there was one. Built-in maps cannot be removed.
    pub fn remove_concept_map(&self, url: &str, version: Option<&str>) -> bool {
        let mut maps = self
            .concept_maps()
            .write()
            .unwrap_or_else(PoisonError::into_inner);
        let Some(entries) = maps.by_url.get_mut(url) else {
            return false;
        };
        let before = entries.len();
        entries.retain(|known| known.map.version.as_deref() != version);
        let removed = entries.len() != before;
        if entries.is_empty() {
            maps.by_url.remove(url);
        }
        removed
    }

    /// The concept map for `url` (`url` or `url|version`): an added one (newest first), else a
    /// built-in one.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownConceptMap`] if there is none.
    pub fn concept_map(&self, url: &str) -> Result<ConceptMap, Error> {
        self.find_concept_map(url)
            .map(|indexed| indexed.map.clone())
    }

    /// The URLs of the concept maps added and built in, sorted, without repeats.
    pub fn concept_map_urls(&self) -> Vec<String> {
        let mut urls: Vec<String> = self
            .concept_maps()
            .read()
            .unwrap_or_else(PoisonError::into_inner)
            .by_url
            .keys()
            .cloned()
            .collect();
        urls.extend(builtin::content().concept_maps.keys().cloned());
        urls.sort_unstable();
        urls.dedup();
        urls
    }

    /// `ConceptMap/$translate`: see the module documentation of [`crate::translate`].
    ///
    /// ```
    /// use medulla_terminology::{Terminology, TranslateRequest};
    ///
    /// let terminology = Terminology::in_memory();
    /// // The built-in map from FHIR administrative gender to HL7 v3 AdministrativeGender.
    /// let translation = terminology.translate(&TranslateRequest {
    ///     url: Some("http://hl7.org/fhir/ConceptMap/cm-administrative-gender-v3".into()),
    ///     ..TranslateRequest::code("http://hl7.org/fhir/administrative-gender", "female")
    /// })?;
    /// assert!(translation.result);
    /// assert_eq!(translation.matches[0].concept.as_ref().map(|c| c.code.as_str()), Some("F"));
    /// # Ok::<(), medulla_terminology::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::UnknownConceptMap`] if `url` names no known map;
    /// [`Error::InvalidTranslateRequest`] without a code to translate;
    /// [`Error::InvalidConceptMap`] if an `unmapped` `other-map` names an unknown map or the
    /// chain of them is deeper than [`OTHER_MAP_DEPTH`].
    pub fn translate(&self, request: &TranslateRequest) -> Result<Translation, Error> {
        if request.codings.is_empty() {
            return Err(Error::InvalidTranslateRequest {
                reason: "no code to translate: give code and system, coding or codeableConcept"
                    .to_owned(),
            });
        }
        if let Some(coding) = request.codings.iter().find(|coding| coding.code.is_empty()) {
            return Err(Error::InvalidTranslateRequest {
                reason: format!(
                    "a coding of system '{}' has an empty code",
                    coding.system.as_deref().unwrap_or("")
                ),
            });
        }
        let maps: Vec<Arc<IndexedConceptMap>> = match (&request.concept_map, &request.url) {
            (Some(inline), _) => vec![Arc::new(IndexedConceptMap::new(inline.clone()))],
            (None, Some(url)) => {
                let canonical = match (&request.concept_map_version, url.contains('|')) {
                    (Some(version), false) => format!("{url}|{version}"),
                    _ => url.clone(),
                };
                vec![self.find_concept_map(&canonical)?]
            }
            (None, None) => self.maps_for_value_sets(request),
        };
        let mut matches = Vec::new();
        for coding in &request.codings {
            for map in &maps {
                self.translate_with(map, coding, request, 0, &mut matches)?;
            }
        }
        let result = matches.iter().any(|found| found.equivalence.is_match());
        let message = (!result).then(|| {
            let codes = request
                .codings
                .iter()
                .map(|coding| match &coding.system {
                    Some(system) => format!("'{system}#{}'", coding.code),
                    None => format!("'{}'", coding.code),
                })
                .collect::<Vec<_>>()
                .join(", ");
            if maps.is_empty() {
                format!("no concept map applies to {codes}")
            } else {
                format!(
                    "no mapping found for {codes} in {} concept map(s)",
                    maps.len()
                )
            }
        });
        Ok(Translation {
            result,
            message,
            matches,
        })
    }

    fn concept_maps(&self) -> &ConceptMapRegistry {
        &self.concept_maps
    }

    fn find_concept_map(&self, canonical: &str) -> Result<Arc<IndexedConceptMap>, Error> {
        let (url, version) = split_canonical(canonical);
        {
            let maps = self
                .concept_maps()
                .read()
                .unwrap_or_else(PoisonError::into_inner);
            if let Some(entries) = maps.by_url.get(url) {
                let found = match version {
                    None => entries.last(),
                    Some(version) => entries
                        .iter()
                        .rev()
                        .find(|known| known.map.version.as_deref() == Some(version)),
                };
                if let Some(found) = found {
                    return Ok(Arc::clone(found));
                }
            }
        }
        match builtin::content().concept_maps.get(url) {
            Some(found)
                if version.is_none_or(|version| found.map.version.as_deref() == Some(version)) =>
            {
                Ok(Arc::clone(found))
            }
            _ => Err(Error::UnknownConceptMap {
                url: canonical.to_owned(),
            }),
        }
    }

    /// Every map whose value sets are those the request names (all maps when it names none):
    /// added ones, then built-in ones whose URL no added map has.
    fn maps_for_value_sets(&self, request: &TranslateRequest) -> Vec<Arc<IndexedConceptMap>> {
        let same = |wanted: &Option<String>, has: &Option<String>| match wanted {
            None => true,
            Some(wanted) => has
                .as_deref()
                .is_some_and(|has| split_canonical(has).0 == split_canonical(wanted).0),
        };
        let applies = |map: &ConceptMap| {
            let (from, to) = if request.reverse {
                (&map.target, &map.source)
            } else {
                (&map.source, &map.target)
            };
            same(&request.source, from) && same(&request.target, to)
        };
        let maps = self
            .concept_maps()
            .read()
            .unwrap_or_else(PoisonError::into_inner);
        let mut found: Vec<Arc<IndexedConceptMap>> = maps
            .by_url
            .values()
            .flatten()
            .filter(|indexed| applies(&indexed.map))
            .cloned()
            .collect();
        let builtin = &builtin::content().concept_maps;
        found.extend(
            builtin
                .values()
                .filter(|indexed| !maps.by_url.contains_key(&indexed.map.url))
                .filter(|indexed| applies(&indexed.map))
                .cloned(),
        );
        // Hash order is arbitrary; answers list maps in URL order.
        found.sort_by(|a, b| (&a.map.url, &a.map.version).cmp(&(&b.map.url, &b.map.version)));
        found
    }

    fn translate_with(
        &self,
        indexed: &IndexedConceptMap,
        coding: &Coding,
        request: &TranslateRequest,
        depth: usize,
        matches: &mut Vec<TranslationMatch>,
    ) -> Result<(), Error> {
        let map = &indexed.map;
        let group_applies = |group: &ConceptMapGroup| {
            let (from, from_version, to) = if request.reverse {
                (&group.target, &group.target_version, &group.source)
            } else {
                (&group.source, &group.source_version, &group.target)
            };
            let same = |wanted: Option<&String>, has: &Option<String>| match (wanted, has) {
                (Some(wanted), Some(has)) => wanted == has,
                _ => true,
            };
            same(coding.system.as_ref(), from)
                && same(request.system_version.as_ref(), from_version)
                && request
                    .target_system
                    .as_ref()
                    .is_none_or(|wanted| to.as_ref() == Some(wanted))
        };
        let matched =
            |equivalence, system: &Option<String>, code: &str, display: &Option<String>| {
                TranslationMatch {
                    equivalence,
                    concept: Some(Coding {
                        system: system.clone(),
                        code: code.to_owned(),
                        display: display.clone(),
                    }),
                    source: map.url.clone(),
                    products: Vec::new(),
                    depends_on: Vec::new(),
                }
            };

        if request.reverse {
            for &(group_index, element_index, target_index) in
                indexed.targets.get(&coding.code).into_iter().flatten()
            {
                let Some(group) = map.groups.get(group_index) else {
                    continue;
                };
                let Some(element) = group.elements.get(element_index) else {
                    continue;
                };
                let (Some(target), Some(code)) =
                    (element.targets.get(target_index), element.code.as_deref())
                else {
                    continue;
                };
                if !group_applies(group) {
                    continue;
                }
                let mut found = matched(
                    target.equivalence.reversed(),
                    &group.source,
                    code,
                    &element.display,
                );
                found.products = target.products.clone();
                found.depends_on = target.depends_on.clone();
                matches.push(found);
            }
            return Ok(());
        }

        let elements = indexed.sources.get(&coding.code);
        for (group_index, group) in map.groups.iter().enumerate() {
            if !group_applies(group) {
                continue;
            }
            let mut mapped = false;
            for &(_, element_index) in elements
                .into_iter()
                .flatten()
                .filter(|(group, _)| *group == group_index)
            {
                let Some(element) = group.elements.get(element_index) else {
                    continue;
                };
                mapped = true;
                for target in &element.targets {
                    matches.push(TranslationMatch {
                        equivalence: target.equivalence,
                        concept: target.code.as_ref().map(|code| Coding {
                            system: group.target.clone(),
                            code: code.clone(),
                            display: target.display.clone(),
                        }),
                        source: map.url.clone(),
                        products: target.products.clone(),
                        depends_on: target.depends_on.clone(),
                    });
                }
            }
            if mapped {
                continue;
            }
            match &group.unmapped {
                None => {}
                Some(Unmapped::Provided) => matches.push(matched(
                    ConceptMapEquivalence::Equal,
                    &group.target,
                    &coding.code,
                    &coding.display,
                )),
                Some(Unmapped::Fixed { code, display }) => matches.push(matched(
                    ConceptMapEquivalence::Inexact,
                    &group.target,
                    code,
                    display,
                )),
                Some(Unmapped::OtherMap { url }) => {
                    if depth >= OTHER_MAP_DEPTH {
                        return Err(Error::InvalidConceptMap {
                            url: map.url.clone(),
                            reason: format!(
                                "unmapped other-map references chain more than \
                                 {OTHER_MAP_DEPTH} maps deep (at '{url}')"
                            ),
                        });
                    }
                    let other = match self.find_concept_map(url) {
                        Ok(other) => other,
                        Err(Error::UnknownConceptMap { .. }) => {
                            return Err(Error::InvalidConceptMap {
                                url: map.url.clone(),
                                reason: format!(
                                    "unmapped other-map '{url}' is not a known concept map"
                                ),
                            });
                        }
                        Err(other) => return Err(other),
                    };
                    self.translate_with(&other, coding, request, depth + 1, matches)?;
                }
            }
        }
        Ok(())
    }
}
