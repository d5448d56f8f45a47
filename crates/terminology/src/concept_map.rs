//! FHIR R4 ConceptMap definitions: [`ConceptMap`], read with [`ConceptMap::from_json`], its
//! [`ConceptMapGroup`]s of [`SourceElement`]s and their [`TargetElement`]s. Translating with
//! them is [`crate::translate`]'s job.

use std::fmt;

use serde::Deserialize;
use serde_json::Value as Json;

use crate::Error;

/// A concept map: how codes of source code systems map to codes of target code systems, in
/// groups of one source and one target system each.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ConceptMap {
    /// The canonical URL.
    pub url: String,
    /// The business version.
    pub version: Option<String>,
    /// Computer-friendly name.
    pub name: Option<String>,
    /// Human-friendly name.
    pub title: Option<String>,
    /// Publication status.
    pub status: Option<String>,
    /// The value set the source codes are chosen from (`sourceUri` or `sourceCanonical`).
    pub source: Option<String>,
    /// The value set that gives context to the targets (`targetUri` or `targetCanonical`).
    pub target: Option<String>,
    /// The mappings, one group per source and target system.
    pub groups: Vec<ConceptMapGroup>,
}

/// `ConceptMap.group`: mappings from one source code system to one target code system.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct ConceptMapGroup {
    /// The source code system URL.
    pub source: Option<String>,
    /// Its version.
    pub source_version: Option<String>,
    /// The target code system URL.
    pub target: Option<String>,
    /// Its version.
    pub target_version: Option<String>,
    /// The source codes mapped.
    pub elements: Vec<SourceElement>,
    /// What to do with source codes that no element names.
    pub unmapped: Option<Unmapped>,
}

/// `ConceptMap.group.element`: one source code and where it maps to.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SourceElement {
    /// The source code.
    pub code: Option<String>,
    /// Its display.
    pub display: Option<String>,
    /// Its mappings.
    pub targets: Vec<TargetElement>,
}

/// `ConceptMap.group.element.target`: one mapping of a source code.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetElement {
    /// The target code; absent for `unmatched`.
    pub code: Option<String>,
    /// Its display.
    pub display: Option<String>,
    /// How the target relates to the source.
    pub equivalence: ConceptMapEquivalence,
    /// A note on the mapping.
    pub comment: Option<String>,
    /// Other elements the mapping depends on.
    pub depends_on: Vec<MapDependency>,
    /// Other concepts the mapping also produces.
    pub products: Vec<MapDependency>,
}

/// `ConceptMap.group.element.target.dependsOn` and `product`: a value of another element.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MapDependency {
    /// The element it refers to (a URI).
    pub property: String,
    /// The code system of the value, if it is a code.
    pub system: Option<String>,
    /// The value.
    pub value: String,
    /// The value's display.
    pub display: Option<String>,
}

/// `ConceptMap.group.unmapped`: what a source code that no element names maps to.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Unmapped {
    /// `provided`: the source code itself, in the target system.
    Provided,
    /// `fixed`: this code.
    Fixed {
        /// The code.
        code: String,
        /// Its display.
        display: Option<String>,
    },
    /// `other-map`: whatever the concept map at this canonical URL maps it to.
    OtherMap {
        /// The other map's canonical URL (`url` or `url|version`).
        url: String,
    },
}

/// `ConceptMapEquivalence` (R4): how a target concept relates to its source concept.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ConceptMapEquivalence {
    /// `relatedto`: related, in a way not stated.
    RelatedTo,
    /// `equivalent`: the same meaning.
    Equivalent,
    /// `equal`: the same concept (identical or trivially so, such as a different case).
    Equal,
    /// `wider`: the target is wider in meaning than the source.
    Wider,
    /// `subsumes`: the target subsumes the source.
    Subsumes,
    /// `narrower`: the target is narrower in meaning than the source.
    Narrower,
    /// `specializes`: the target specializes the source.
    Specializes,
    /// `inexact`: the meanings overlap, or how they relate is uncertain.
    Inexact,
    /// `unmatched`: there is no match in the target system.
    Unmatched,
    /// `disjoint`: this target does not match.
    Disjoint,
}

impl ConceptMapEquivalence {
    /// The value for a FHIR code (`relatedto`); `None` for anything else.
    pub fn from_code(code: &str) -> Option<ConceptMapEquivalence> {
        Some(match code {
            "relatedto" => ConceptMapEquivalence::RelatedTo,
            "equivalent" => ConceptMapEquivalence::Equivalent,
            "equal" => ConceptMapEquivalence::Equal,
            "wider" => ConceptMapEquivalence::Wider,
            "subsumes" => ConceptMapEquivalence::Subsumes,
            "narrower" => ConceptMapEquivalence::Narrower,
            "specializes" => ConceptMapEquivalence::Specializes,
            "inexact" => ConceptMapEquivalence::Inexact,
            "unmatched" => ConceptMapEquivalence::Unmatched,
            "disjoint" => ConceptMapEquivalence::Disjoint,
            _ => return None,
        })
    }

    /// The FHIR code.
    pub fn code(self) -> &'static str {
        match self {
            ConceptMapEquivalence::RelatedTo => "relatedto",
            ConceptMapEquivalence::Equivalent => "equivalent",
            ConceptMapEquivalence::Equal => "equal",
            ConceptMapEquivalence::Wider => "wider",
            ConceptMapEquivalence::Subsumes => "subsumes",
            ConceptMapEquivalence::Narrower => "narrower",
            ConceptMapEquivalence::Specializes => "specializes",
            ConceptMapEquivalence::Inexact => "inexact",
            ConceptMapEquivalence::Unmatched => "unmatched",
            ConceptMapEquivalence::Disjoint => "disjoint",
        }
    }

    /// The equivalence read the other way, from target to source: `wider` ↔ `narrower`,
    /// `subsumes` ↔ `specializes`; the others are symmetric.
    pub fn reversed(self) -> ConceptMapEquivalence {
        match self {
            ConceptMapEquivalence::Wider => ConceptMapEquivalence::Narrower,
            ConceptMapEquivalence::Narrower => ConceptMapEquivalence::Wider,
            ConceptMapEquivalence::Subsumes => ConceptMapEquivalence::Specializes,
            ConceptMapEquivalence::Specializes => ConceptMapEquivalence::Subsumes,
            other => other,
        }
    }

    /// Whether a match of this equivalence is a translation (`unmatched` and `disjoint` say
    /// there is none).
    pub fn is_match(self) -> bool {
        !matches!(
            self,
            ConceptMapEquivalence::Unmatched | ConceptMapEquivalence::Disjoint
        )
    }
}

impl fmt::Display for ConceptMapEquivalence {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.code())
    }
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireConceptMap {
    resource_type: Option<String>,
    url: Option<String>,
    version: Option<String>,
    name: Option<String>,
    title: Option<String>,
    status: Option<String>,
    source_uri: Option<String>,
    source_canonical: Option<String>,
    target_uri: Option<String>,
    target_canonical: Option<String>,
    #[serde(default)]
    group: Vec<WireGroup>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireGroup {
    source: Option<String>,
    source_version: Option<String>,
    target: Option<String>,
    target_version: Option<String>,
    #[serde(default)]
    element: Vec<WireElement>,
    unmapped: Option<WireUnmapped>,
}

#[derive(Deserialize)]
struct WireElement {
    code: Option<String>,
    display: Option<String>,
    #[serde(default)]
    target: Vec<WireTarget>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct WireTarget {
    code: Option<String>,
    display: Option<String>,
    equivalence: Option<String>,
    comment: Option<String>,
    #[serde(default)]
    depends_on: Vec<WireDependency>,
    #[serde(default)]
    product: Vec<WireDependency>,
}

#[derive(Deserialize)]
struct WireDependency {
    property: String,
    system: Option<String>,
    value: String,
    display: Option<String>,
}

#[derive(Deserialize)]
struct WireUnmapped {
    mode: String,
    code: Option<String>,
    display: Option<String>,
    url: Option<String>,
}

impl ConceptMap {
    /// A concept map with this URL and groups, and no other metadata.
    pub fn new(url: impl Into<String>, groups: Vec<ConceptMapGroup>) -> ConceptMap {
        ConceptMap {
            url: url.into(),
            version: None,
            name: None,
            title: None,
            status: None,
            source: None,
            target: None,
            groups,
        }
    }

    /// Reads a FHIR R4 ConceptMap resource.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConceptMap`] if the JSON is not a ConceptMap (wrong `resourceType`, no
    /// `url`, an element of the wrong type), a target has an unknown `equivalence` or none
    /// and no code (an `unmatched` target must say so), or an `unmapped` has an unknown mode
    /// or lacks the `code` (`fixed`) or `url` (`other-map`) its mode needs.
    pub fn from_json(resource: &Json) -> Result<ConceptMap, Error> {
        let url = resource.get("url").and_then(Json::as_str).unwrap_or("");
        let invalid = |reason: String| Error::InvalidConceptMap {
            url: url.to_owned(),
            reason,
        };
        let wire = WireConceptMap::deserialize(resource).map_err(|e| invalid(e.to_string()))?;
        if let Some(kind) = wire.resource_type.as_deref()
            && kind != "ConceptMap"
        {
            return Err(invalid(format!(
                "resourceType is '{kind}', not 'ConceptMap'"
            )));
        }
        let Some(url) = wire.url.filter(|url| !url.is_empty()) else {
            return Err(invalid("it has no url".to_owned()));
        };
        let mut groups = Vec::with_capacity(wire.group.len());
        for (group_index, group) in wire.group.into_iter().enumerate() {
            groups.push(
                convert_group(group)
                    .map_err(|reason| invalid(format!("group[{group_index}]: {reason}")))?,
            );
        }
        Ok(ConceptMap {
            url,
            version: wire.version,
            name: wire.name,
            title: wire.title,
            status: wire.status,
            source: wire.source_uri.or(wire.source_canonical),
            target: wire.target_uri.or(wire.target_canonical),
            groups,
        })
    }
}

fn convert_group(group: WireGroup) -> Result<ConceptMapGroup, String> {
    let unmapped = match group.unmapped {
        None => None,
        Some(unmapped) => Some(match unmapped.mode.as_str() {
            "provided" => Unmapped::Provided,
            "fixed" => Unmapped::Fixed {
                code: unmapped.code.ok_or("unmapped mode 'fixed' has no code")?,
                display: unmapped.display,
            },
            "other-map" => Unmapped::OtherMap {
                url: unmapped.url.ok_or("unmapped mode 'other-map' has no url")?,
            },
            mode => {
                return Err(format!(
                    "unmapped mode '{mode}' is not provided, fixed or other-map"
                ));
            }
        }),
    };
    let mut elements = Vec::with_capacity(group.element.len());
    for (element_index, element) in group.element.into_iter().enumerate() {
        let mut targets = Vec::with_capacity(element.target.len());
        for (target_index, target) in element.target.into_iter().enumerate() {
            let at = || format!("element[{element_index}].target[{target_index}]");
            let equivalence = match target.equivalence.as_deref() {
                Some(code) => ConceptMapEquivalence::from_code(code)
                    .ok_or_else(|| format!("{}: unknown equivalence '{code}'", at()))?,
                // R4 requires the element; a target without it but with a code is read as
                // `equivalent`, the meaning of a plain mapping.
                None if target.code.is_some() => ConceptMapEquivalence::Equivalent,
                None => return Err(format!("{}: no code and no equivalence", at())),
            };
            targets.push(TargetElement {
                code: target.code,
                display: target.display,
                equivalence,
                comment: target.comment,
                depends_on: target
                    .depends_on
                    .into_iter()
                    .map(convert_dependency)
                    .collect(),
                products: target.product.into_iter().map(convert_dependency).collect(),
            });
        }
        elements.push(SourceElement {
            code: element.code,
            display: element.display,
            targets,
        });
    }
    Ok(ConceptMapGroup {
        source: group.source,
        source_version: group.source_version,
        target: group.target,
        target_version: group.target_version,
        elements,
        unmapped,
    })
}

fn convert_dependency(dependency: WireDependency) -> MapDependency {
    MapDependency {
        property: dependency.property,
        system: dependency.system,
        value: dependency.value,
        display: dependency.display,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn equivalences_round_trip_and_reverse() {
        for code in [
            "relatedto",
            "equivalent",
            "equal",
            "wider",
            "subsumes",
            "narrower",
            "specializes",
            "inexact",
            "unmatched",
            "disjoint",
        ] {
            let equivalence = ConceptMapEquivalence::from_code(code).unwrap();
            assert_eq!(equivalence.code(), code);
            assert_eq!(equivalence.reversed().reversed(), equivalence);
        }
        assert_eq!(
            ConceptMapEquivalence::Wider.reversed(),
            ConceptMapEquivalence::Narrower
        );
        assert_eq!(
            ConceptMapEquivalence::from_code("source-is-narrower-than-target"),
            None
        );
    }

    #[test]
    fn bad_resources_say_where() {
        let error = ConceptMap::from_json(&json!({
            "resourceType": "ConceptMap", "url": "http://x/cm",
            "group": [{"element": [{"code": "a", "target": [{"code": "b", "equivalence": "same"}]}]}]
        }))
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid concept map 'http://x/cm': group[0]: element[0].target[0]: unknown \
             equivalence 'same'"
        );
        let error = ConceptMap::from_json(&json!({"resourceType": "ValueSet", "url": "http://x"}))
            .unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid concept map 'http://x': resourceType is 'ValueSet', not 'ConceptMap'"
        );
        let error = ConceptMap::from_json(&json!({
            "resourceType": "ConceptMap", "url": "http://x/cm",
            "group": [{"unmapped": {"mode": "fixed"}}]
        }))
        .unwrap_err();
        assert_eq!(
            error.to_string(),
            "invalid concept map 'http://x/cm': group[0]: unmapped mode 'fixed' has no code"
        );
        assert!(ConceptMap::from_json(&json!({"resourceType": "ConceptMap"})).is_err());
    }
}
