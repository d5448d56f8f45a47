//! The FHIR R4 (4.0.1) definitions Medulla works from, embedded in the binary, and structural
//! checks of resource JSON against them.
//!
//! This crate owns what R4 says about types and search: every resource type, complex data type,
//! primitive type (with its regex) and backbone element, their elements and cardinalities, type
//! inheritance, the 1,378 R4 search parameters, and the Patient compartment. The data is
//! generated from the HL7 definition files by `tools/gen_model.py` into `data/r4.json.gz`
//! (provenance in `data/PROVENANCE.md`), embedded with `include_bytes!`, and loaded once on first
//! use.
//!
//! Does not do I/O, HTTP or SQL, and does not evaluate FHIRPath: other crates ask it questions.
//!
//! Main types:
//! - [`Definitions`], reached through [`definitions()`]: looks up a [`TypeDef`] by name, lists
//!   resource types, answers `is_subtype_of`, and finds [`SearchParamDef`]s and Patient
//!   compartment links for a resource type.
//! - [`TypeDef`] holds the [`ElementDef`]s of one type and resolves JSON property names
//!   (`valueQuantity` → element `value` of type `Quantity`). Backbone elements are types of their
//!   own, named by path (`Patient.contact`).
//! - [`check::check_resource`] walks resource JSON with those definitions and returns every
//!   [`check::Issue`] it finds.
//!
//! ```
//! use medulla_model::{definitions, SearchParamType};
//!
//! let r4 = definitions();
//! assert_eq!(r4.version(), "4.0.1");
//! assert!(r4.is_resource_type("Observation"));
//! assert!(r4.is_subtype_of("Age", "Quantity"));
//!
//! let observation = r4.type_def("Observation").expect("Observation is an R4 type");
//! let (element, type_code) = observation
//!     .element_for_json_name("valueQuantity")
//!     .expect("valueQuantity is a JSON name of Observation.value[x]");
//! assert_eq!((element.name.as_str(), type_code), ("value", "Quantity"));
//!
//! let code = r4.search_param("Observation", "code").expect("Observation has a code parameter");
//! assert_eq!(code.kind, SearchParamType::Token);
//!
//! let issues = medulla_model::check::check_resource(&serde_json::json!({
//!     "resourceType": "Patient",
//!     "birthDate": "2020-13-45",
//! }));
//! assert_eq!(issues[0].to_string(), "invalid date '2020-13-45' at Patient.birthDate");
//! ```

pub mod check;
mod definitions;
mod fast_hash;
mod search_param;
mod type_def;

pub use definitions::{Definitions, definitions};
pub use search_param::{SearchParamComponent, SearchParamDef, SearchParamType};
pub use type_def::{
    ElementDef, PrimitiveJsonKind, TypeDef, TypeKind, choice_json_name, java_whitespace_classes,
};
