//! Data quality reports over FHIR R4 resources: completeness, conformance and plausibility,
//! per resource type, as a JSON document and as a self-contained HTML page.
//!
//! This crate owns what the report measures and how:
//! - **completeness**: the share of resources having each element that should be there (a
//!   profile's `mustSupport` elements, else the R4 base's summary and required top-level
//!   elements);
//! - **conformance**: the issues of `medulla-validation`, grouped by constraint key (`obs-6`)
//!   or by issue type and message pattern, with counts and example references;
//! - **plausibility**: vital signs outside physiological limits (by LOINC code, in canonical
//!   UCUM units, see [`VITAL_SIGNS`]), dates in the future (except [`FUTURE_EXEMPTIONS`]),
//!   death before birth, periods ending before they start, living patients older than 125.
//!
//! Does not read the store or speak HTTP: it is fed resources one at a time, and its memory
//! grows with the number of distinct findings (bounded), never with the number of resources.
//!
//! Main types:
//! - [`QualityReport::builder`] gives a [`QualityBuilder`] over a
//!   [`medulla_validation::Validator`] and [`QualityOptions`]; [`QualityBuilder::add`] takes
//!   each resource's JSON, [`QualityBuilder::finish`] gives the [`QualityReport`].
//! - [`QualityReport::to_json`] and [`QualityReport::to_html`] render it.
//!
//! ```
//! use medulla_quality::{QualityOptions, QualityReport};
//! use medulla_validation::Validator;
//! use serde_json::json;
//!
//! let validator = Validator::r4();
//! let mut builder = QualityReport::builder(&validator, QualityOptions::default());
//! builder.add(&json!({"resourceType": "Observation", "id": "hr", "status": "final",
//!     "code": {"coding": [{"system": "http://loinc.org", "code": "8867-4"}]},
//!     "valueQuantity": {"value": 400, "system": "http://unitsofmeasure.org", "code": "/min"}}));
//! let report = builder.finish();
//! let json = report.to_json();
//! let finding = &json["plausibility"]["findings"][0];
//! assert_eq!(finding["kind"], "implausible-value");
//! assert_eq!(finding["examples"][0], "Observation/hr");
//! assert!(report.to_html().contains("8867-4 heart rate outside 20–250 /min"));
//! ```

mod completeness;
mod conformance;
mod html;
mod instant;
mod plausibility;
mod report;
mod tally;
mod vitals;

pub use completeness::CompletenessBasis;
pub use conformance::{ConformanceKey, IssueLevel};
pub use html::escape;
pub use plausibility::{
    FUTURE_EXEMPTIONS, FindingKey, FindingKind, FutureExemption, MAX_AGE_YEARS,
};
pub use report::{QualityBuilder, QualityOptions, QualityReport, UNKNOWN_TYPE};
pub use tally::Tally;
pub use vitals::{VITAL_SIGNS, VitalSign, to_canonical, vital_sign};
