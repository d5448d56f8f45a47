//! The report and how it is built: [`QualityOptions`], [`QualityBuilder`], [`QualityReport`],
//! and its JSON form.

use std::collections::BTreeMap;

use medulla_validation::{Options, Validator};
use serde_json::{Value as Json, json};

use crate::completeness::{Completeness, CompletenessBasis};
use crate::conformance::{Conformance, IssueLevel};
use crate::instant::{DAY_SECONDS, format_instant};
use crate::plausibility::Plausibility;
use crate::tally::Subject;

/// The resource type recorded for input that names none (or is not an object).
pub const UNKNOWN_TYPE: &str = "(unknown)";

/// How to build a report.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct QualityOptions {
    /// A profile (canonical URL) to validate every resource against and to take
    /// `mustSupport` elements from, besides those the resources declare.
    pub profile: Option<String>,
    /// "Now", in seconds since 1970 UTC: dates after it are in the future.
    pub now: i64,
    /// How far past `now` a date may be before it counts as in the future, in seconds (time
    /// zones and clocks differ): one day by default.
    pub clock_skew: i64,
    /// Most example references kept per finding.
    pub max_examples: usize,
    /// Most distinct conformance groups, and separately plausibility groups; occurrences
    /// beyond are counted as omitted.
    pub max_groups: usize,
}

impl Default for QualityOptions {
    fn default() -> Self {
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |since| {
                i64::try_from(since.as_secs()).unwrap_or(i64::MAX)
            });
        QualityOptions {
            profile: None,
            now,
            clock_skew: DAY_SECONDS,
            max_examples: 5,
            max_groups: 10_000,
        }
    }
}

impl QualityOptions {
    /// The defaults: now from the system clock, a day of skew, 5 examples, 10,000 groups.
    pub fn new() -> QualityOptions {
        QualityOptions::default()
    }

    /// Sets [`QualityOptions::profile`].
    pub fn with_profile(mut self, profile: impl Into<String>) -> QualityOptions {
        self.profile = Some(profile.into());
        self
    }

    /// Sets [`QualityOptions::now`].
    pub fn with_now(mut self, now: i64) -> QualityOptions {
        self.now = now;
        self
    }

    /// Sets [`QualityOptions::max_examples`].
    pub fn with_max_examples(mut self, max_examples: usize) -> QualityOptions {
        self.max_examples = max_examples;
        self
    }

    /// Sets [`QualityOptions::max_groups`].
    pub fn with_max_groups(mut self, max_groups: usize) -> QualityOptions {
        self.max_groups = max_groups;
        self
    }
}

/// Per resource type: resources seen, how many were valid, how many had a plausibility
/// finding.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub(crate) struct TypeCounts {
    pub(crate) resources: u64,
    pub(crate) valid: u64,
    pub(crate) implausible: u64,
}

/// A report in the making: feed it resources one at a time with [`QualityBuilder::add`],
/// then [`QualityBuilder::finish`].
#[derive(Debug)]
pub struct QualityBuilder<'v> {
    validator: &'v Validator,
    validation: Options,
    options: QualityOptions,
    sequence: u64,
    types: BTreeMap<String, TypeCounts>,
    completeness: Completeness,
    conformance: Conformance,
    plausibility: Plausibility,
}

impl<'v> QualityBuilder<'v> {
    fn new(validator: &'v Validator, options: QualityOptions) -> QualityBuilder<'v> {
        let mut validation = Options::default();
        if let Some(profile) = &options.profile {
            validation = validation.with_profile(profile.clone());
        }
        QualityBuilder {
            validator,
            validation,
            sequence: 0,
            types: BTreeMap::new(),
            completeness: Completeness::default(),
            conformance: Conformance::new(options.max_groups, options.max_examples),
            plausibility: Plausibility::new(
                options.now,
                options.clock_skew,
                options.max_groups,
                options.max_examples,
            ),
            options,
        }
    }

    /// Adds one resource: validates it, counts its elements and checks its values. Never
    /// fails; input that is not a resource is counted under [`UNKNOWN_TYPE`] as invalid.
    pub fn add(&mut self, resource: &Json) {
        let named_type = resource
            .get("resourceType")
            .and_then(Json::as_str)
            .filter(|name| self.validator.structures().is_resource_type(name));
        let resource_type = named_type.unwrap_or(UNKNOWN_TYPE);
        let id = resource.get("id").and_then(Json::as_str);
        let subject = Subject::new(self.sequence, resource_type, id);
        self.sequence += 1;

        let outcome = self.validator.validate(resource, &self.validation);
        for issue in &outcome.issues {
            self.conformance.record(resource_type, issue, &subject);
        }
        let implausible = self.plausibility.check(resource, resource_type, &subject);
        if let (Some(resource_type), Some(object)) = (named_type, resource.as_object()) {
            self.completeness.record(
                self.validator,
                self.options.profile.as_deref(),
                resource_type,
                object,
            );
        }
        // Known types are bounded by the validator; unknown ones all share one entry.
        let counts = self.types.entry(resource_type.to_owned()).or_default();
        counts.resources += 1;
        counts.valid += u64::from(outcome.is_valid());
        counts.implausible += u64::from(implausible);
    }

    /// The report.
    pub fn finish(self) -> QualityReport {
        QualityReport {
            now: self.options.now,
            profile: self.options.profile,
            max_examples: self.options.max_examples,
            types: self.types,
            completeness: self.completeness,
            conformance: self.conformance,
            plausibility: self.plausibility,
        }
    }
}

/// A finished data quality report: per resource type a summary and completeness, conformance
/// issues grouped, plausibility findings. Rendered with [`QualityReport::to_json`] (a plain
/// JSON document, not a FHIR resource) or [`QualityReport::to_html`].
#[derive(Debug, Clone)]
pub struct QualityReport {
    pub(crate) now: i64,
    pub(crate) profile: Option<String>,
    pub(crate) max_examples: usize,
    pub(crate) types: BTreeMap<String, TypeCounts>,
    pub(crate) completeness: Completeness,
    pub(crate) conformance: Conformance,
    pub(crate) plausibility: Plausibility,
}

/// `part / whole`, 0 for an empty whole, rounded to four decimals so the JSON stays readable.
pub(crate) fn share(part: u64, whole: u64) -> f64 {
    if whole == 0 {
        return 0.0;
    }
    // Counts stay far below 2^52, where u64 → f64 is exact.
    let ratio = part as f64 / whole as f64;
    (ratio * 10_000.0).round() / 10_000.0
}

impl QualityReport {
    /// Starts a report whose resources are validated by `validator`.
    ///
    /// ```
    /// use medulla_quality::{QualityOptions, QualityReport};
    /// use medulla_validation::Validator;
    /// use serde_json::json;
    ///
    /// let validator = Validator::r4();
    /// let mut builder = QualityReport::builder(&validator, QualityOptions::default());
    /// builder.add(&json!({"resourceType": "Patient", "id": "a", "birthDate": "1970-01-01"}));
    /// let report = builder.finish();
    /// assert_eq!(report.resource_count(), 1);
    /// assert_eq!(report.to_json()["types"][0]["resourceType"], "Patient");
    /// ```
    pub fn builder(validator: &Validator, options: QualityOptions) -> QualityBuilder<'_> {
        QualityBuilder::new(validator, options)
    }

    /// Resources added.
    pub fn resource_count(&self) -> u64 {
        self.types.values().map(|counts| counts.resources).sum()
    }

    /// The mean share of resources having each counted element, over every completeness
    /// group of `resource_type` weighted by resources; `None` when nothing was counted.
    pub(crate) fn completeness_share(&self, resource_type: &str) -> Option<f64> {
        let mut present = 0u64;
        let mut possible = 0u64;
        for ((group_type, _), group) in &self.completeness.groups {
            if group_type == resource_type {
                present += group.present.iter().sum::<u64>();
                possible += group.resources * group.elements.len() as u64;
            }
        }
        (possible > 0).then(|| share(present, possible))
    }

    /// The score of a type, 0–100: the mean of the valid share, the completeness share (when
    /// there is one) and the share of resources without a plausibility finding.
    pub(crate) fn score(&self, resource_type: &str, counts: &TypeCounts) -> f64 {
        let mut parts = vec![
            share(counts.valid, counts.resources),
            share(counts.resources - counts.implausible, counts.resources),
        ];
        if let Some(completeness) = self.completeness_share(resource_type) {
            parts.push(completeness);
        }
        let mean = parts.iter().sum::<f64>() / parts.len() as f64;
        (mean * 1000.0).round() / 10.0
    }

    /// The report as a JSON document (not a FHIR resource). See `docs/quality.md` for its
    /// fields.
    pub fn to_json(&self) -> Json {
        let types: Vec<Json> = self
            .types
            .iter()
            .map(|(resource_type, counts)| self.type_json(resource_type, counts))
            .collect();
        let conformance = |level: IssueLevel| -> Vec<Json> {
            self.conformance
                .tallies
                .sorted()
                .into_iter()
                .filter(|(key, _)| key.level == level)
                .map(|(key, tally)| {
                    json!({
                        "resourceType": key.resource_type,
                        "constraint": key.constraint,
                        "code": key.code,
                        "message": key.message,
                        "expression": self.conformance.expressions.get(key),
                        "count": tally.count,
                        "resources": tally.resources,
                        "examples": tally.examples,
                    })
                })
                .collect()
        };
        let findings: Vec<Json> = self
            .plausibility
            .tallies
            .sorted()
            .into_iter()
            .map(|(key, tally)| {
                json!({
                    "kind": key.kind.as_str(),
                    "resourceType": key.resource_type,
                    "path": key.path,
                    "detail": key.detail,
                    "count": tally.count,
                    "resources": tally.resources,
                    "examples": tally.examples,
                })
            })
            .collect();
        json!({
            "report": "medulla-data-quality",
            "generated": format_instant(self.now),
            "profile": self.profile,
            "resourceCount": self.resource_count(),
            "maxExamples": self.max_examples,
            "types": types,
            "conformance": {
                "errors": conformance(IssueLevel::Error),
                "warnings": conformance(IssueLevel::Warning),
                "omitted": self.conformance.tallies.omitted,
            },
            "plausibility": {
                "findings": findings,
                "omitted": self.plausibility.tallies.omitted,
            },
        })
    }

    fn type_json(&self, resource_type: &str, counts: &TypeCounts) -> Json {
        let mut groups: Vec<(&CompletenessBasis, &crate::completeness::CompletenessGroup)> = self
            .completeness
            .groups
            .iter()
            .filter(|((group_type, _), _)| group_type == resource_type)
            .map(|((_, basis), group)| (basis, group))
            .collect();
        groups.sort_by_key(|(basis, _)| *basis);
        let completeness: Vec<Json> = groups
            .into_iter()
            .map(|(basis, group)| {
                let (basis_name, profile) = match basis {
                    CompletenessBasis::Base => ("base", None),
                    CompletenessBasis::Profile(url) => ("profile", Some(url.as_str())),
                };
                let elements: Vec<Json> = group
                    .elements
                    .iter()
                    .zip(&group.present)
                    .map(|(element, &present)| {
                        json!({
                            "path": element.path,
                            "present": present,
                            "share": share(present, group.resources),
                        })
                    })
                    .collect();
                json!({
                    "basis": basis_name,
                    "profile": profile,
                    "resources": group.resources,
                    "elements": elements,
                })
            })
            .collect();
        json!({
            "resourceType": resource_type,
            "count": counts.resources,
            "valid": counts.valid,
            "validShare": share(counts.valid, counts.resources),
            "withPlausibilityFindings": counts.implausible,
            "completenessShare": self.completeness_share(resource_type),
            "score": self.score(resource_type, counts),
            "completeness": completeness,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// 2025-06-15T00:00:00Z.
    const NOW: i64 = 1_749_945_600;

    fn report(resources: &[Json]) -> Json {
        let validator = Validator::r4();
        let mut builder =
            QualityReport::builder(&validator, QualityOptions::default().with_now(NOW));
        for resource in resources {
            builder.add(resource);
        }
        builder.finish().to_json()
    }

    #[test]
    fn summaries_count_valid_resources_and_score_them() {
        let json = report(&[
            json!({"resourceType": "Patient", "id": "good", "gender": "female",
                "birthDate": "1970-01-01", "name": [{"family": "A"}]}),
            json!({"resourceType": "Patient", "id": "bad", "gender": "mal"}),
            json!({"resourceType": "Patient", "id": "future", "birthDate": "2090-01-01"}),
        ]);
        assert_eq!(json["resourceCount"], 3);
        assert_eq!(json["generated"], "2025-06-15T00:00:00Z");
        let patient = &json["types"][0];
        assert_eq!(patient["resourceType"], "Patient");
        assert_eq!(patient["count"], 3);
        assert_eq!(patient["valid"], 2);
        assert_eq!(patient["validShare"], 0.6667);
        assert_eq!(patient["withPlausibilityFindings"], 1);
        assert_eq!(patient["completeness"][0]["basis"], "base");
        let birth_date = patient["completeness"][0]["elements"]
            .as_array()
            .and_then(|elements| {
                elements
                    .iter()
                    .find(|element| element["path"] == "Patient.birthDate")
            })
            .expect("birthDate is counted");
        assert_eq!(birth_date["present"], 2);
        assert_eq!(birth_date["share"], 0.6667);
        let completeness = patient["completenessShare"].as_f64().expect("a share");
        let expected = ((2.0 / 3.0 + 2.0 / 3.0 + completeness) / 3.0 * 1000.0).round() / 10.0;
        let score = patient["score"].as_f64().expect("a score");
        assert!((score - expected).abs() < 0.11, "{score} vs {expected}");

        let errors = json["conformance"]["errors"].as_array().expect("errors");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0]["code"], "code-invalid");
        assert_eq!(errors[0]["examples"], json!(["Patient/bad"]));
        let findings = json["plausibility"]["findings"]
            .as_array()
            .expect("findings");
        assert_eq!(
            findings,
            &[json!({"kind": "future-date", "resourceType": "Patient",
                "path": "Patient.birthDate", "detail": "", "count": 1, "resources": 1,
                "examples": ["Patient/future"]})]
        );
    }

    #[test]
    fn invariant_failures_are_grouped_by_constraint_key() {
        let observation = |id: &str| {
            json!({"resourceType": "Observation", "id": id, "status": "final",
                "code": {"text": "heart rate"}, "valueString": "80",
                "dataAbsentReason": {"text": "not asked"}})
        };
        let resources: Vec<Json> = (0..8).map(|n| observation(&format!("o{n}"))).collect();
        let json = report(&resources);
        let errors = json["conformance"]["errors"].as_array().expect("errors");
        assert_eq!(errors.len(), 1, "{errors:?}");
        assert_eq!(errors[0]["constraint"], "obs-6");
        assert_eq!(errors[0]["count"], 8);
        assert_eq!(errors[0]["resources"], 8);
        assert_eq!(
            errors[0]["examples"],
            json!([
                "Observation/o0",
                "Observation/o1",
                "Observation/o2",
                "Observation/o3",
                "Observation/o4"
            ])
        );
        let warnings = json["conformance"]["warnings"]
            .as_array()
            .expect("warnings");
        assert_eq!(warnings[0]["constraint"], "dom-6");
        assert_eq!(json["types"][0]["valid"], 0);
    }

    #[test]
    fn input_that_is_not_a_resource_is_counted_not_fatal() {
        let json = report(&[json!([1, 2]), json!({"resourceType": "Nope", "id": "x"})]);
        assert_eq!(json["types"][0]["resourceType"], UNKNOWN_TYPE);
        assert_eq!(json["types"][0]["count"], 2);
        assert_eq!(json["types"][0]["valid"], 0);
        assert_eq!(json["types"][0]["completeness"], json!([]));
    }

    #[test]
    fn a_synthetic_population_has_no_plausibility_findings() {
        // Synthetic lives end on 2025-01-01; appointments and plans may lie after it.
        let validator = Validator::r4();
        let mut builder =
            QualityReport::builder(&validator, QualityOptions::default().with_now(NOW));
        for index in 0..3 {
            let bundle = medulla_synth::patient_bundle(7, index);
            for entry in bundle["entry"].as_array().into_iter().flatten() {
                builder.add(&entry["resource"]);
            }
        }
        let json = builder.finish().to_json();
        assert_eq!(json["plausibility"]["findings"], json!([]), "{json:#}");
        let observations = json["types"]
            .as_array()
            .and_then(|types| types.iter().find(|t| t["resourceType"] == "Observation"))
            .expect("observations");
        assert!(observations["count"].as_u64() > Some(10), "{observations}");
    }
}
