//! The terminology operations on [`Terminology`]: `$lookup` ([`Terminology::lookup`]),
//! `$validate-code` on a code system or a value set, `$subsumes` and `$expand`, with their
//! results [`ConceptDetails`] and [`CodeValidation`].

use std::sync::Arc;

use crate::code_system::CodeSystem;
use crate::compiled::Membership;
use crate::definitions::{ConceptProperty, Designation, PropertyValue, Subsumption};
use crate::expand::{self, ExpandOptions, Expansion};
use crate::value_set::{ValueSet, split_canonical};
use crate::{Error, Terminology};

/// What `$lookup` returns for one code.
#[derive(Debug, Clone, PartialEq)]
pub struct ConceptDetails {
    /// The code system URL.
    pub system: String,
    /// The code system version.
    pub version: Option<String>,
    /// The code system's name.
    pub name: Option<String>,
    /// The code.
    pub code: String,
    /// The display (SNOMED CT: the preferred term).
    pub display: Option<String>,
    /// The definition.
    pub definition: Option<String>,
    /// Whether the concept is inactive.
    pub inactive: bool,
    /// Whether the concept is abstract (not for use).
    pub is_abstract: bool,
    /// The designations.
    pub designations: Vec<Designation>,
    /// The stored properties, then one per attribute relationship (SNOMED CT, as the FHIR
    /// SNOMED CT guidance has it: the attribute's id as the code, the value's id as a `code`).
    pub properties: Vec<ConceptProperty>,
    /// The direct parents.
    pub parents: Vec<RelatedConcept>,
    /// The direct children.
    pub children: Vec<RelatedConcept>,
}

/// A parent or child in [`ConceptDetails`].
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct RelatedConcept {
    /// The code.
    pub code: String,
    /// The display.
    pub display: Option<String>,
}

/// What `$validate-code` returns.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CodeValidation {
    /// Whether the code is valid (and the display, if one was given, is one of the code's).
    pub result: bool,
    /// The code's display (the value set's, if it gives one), when the code is valid or only
    /// its display is wrong; `None` for a code outside the value set.
    pub display: Option<String>,
    /// Whether the code is inactive.
    pub inactive: bool,
    /// Why the result is false.
    pub message: Option<String>,
}

impl Terminology {
    /// `$lookup`: the details of `code` in `system` (`url` or `url|version`).
    ///
    /// ```
    /// let terminology = medulla_terminology::Terminology::in_memory();
    /// let female = terminology.lookup("http://hl7.org/fhir/administrative-gender", "female")?;
    /// assert_eq!(female.display.as_deref(), Some("Female"));
    /// # Ok::<(), medulla_terminology::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::UnknownCodeSystem`], [`Error::UnknownCodeSystemVersion`], or
    /// [`Error::UnknownCode`].
    pub fn lookup(&self, system: &str, code: &str) -> Result<ConceptDetails, Error> {
        let code_system = self.code_system(system)?;
        let ordinal = code_system.require(code)?;
        let concept = code_system.concept_at(ordinal);
        let related = |concept: crate::Concept<'_>| RelatedConcept {
            code: concept.code().to_owned(),
            display: concept.display().map(str::to_owned),
        };
        Ok(ConceptDetails {
            system: code_system.url().to_owned(),
            version: code_system.version().map(str::to_owned),
            name: code_system.info().name.clone(),
            code: concept.code().to_owned(),
            display: concept.display().map(str::to_owned),
            definition: concept.definition().map(str::to_owned),
            inactive: !concept.is_active(),
            is_abstract: concept.is_abstract(),
            designations: concept.designations(),
            properties: concept
                .properties()
                .into_iter()
                .chain(concept.relationships().map(|relationship| ConceptProperty {
                    code: relationship.attribute.code().to_owned(),
                    value: PropertyValue::Code(relationship.value.code().to_owned()),
                }))
                .collect(),
            parents: concept.parents().map(related).collect(),
            children: concept.children().map(related).collect(),
        })
    }

    /// `$subsumes`: how `code_a` relates to `code_b` in `system`'s is-a hierarchy, in
    /// O(log k) (k: the number of ancestors of either).
    ///
    /// # Errors
    ///
    /// [`Error::UnknownCodeSystem`], [`Error::UnknownCodeSystemVersion`], or
    /// [`Error::UnknownCode`] for either code.
    pub fn subsumes(&self, system: &str, code_a: &str, code_b: &str) -> Result<Subsumption, Error> {
        self.with_code_system(system, |code_system| code_system.subsumes(code_a, code_b))?
    }

    /// `CodeSystem/$validate-code`: whether `code` is in `system` (`url` or `url|version`)
    /// and, if `display` is given, whether it is the code's display or one of its designations
    /// (compared case-insensitively). An unknown code is a `false` result, not an error.
    ///
    /// # Errors
    ///
    /// [`Error::UnknownCodeSystem`] or [`Error::UnknownCodeSystemVersion`].
    pub fn validate_code_in_system(
        &self,
        system: &str,
        code: &str,
        display: Option<&str>,
    ) -> Result<CodeValidation, Error> {
        self.with_code_system(system, |code_system| match code_system.ordinal(code) {
            None => CodeValidation {
                result: false,
                display: None,
                inactive: false,
                message: Some(format!(
                    "unknown code '{code}' in code system '{}'",
                    code_system.url()
                )),
            },
            Some(ordinal) => check_display(code_system, ordinal, None, display),
        })
    }

    /// `ValueSet/$validate-code`: whether `code` of `system` (`url` or `url|version`) is in
    /// `value_set` (`url` or `url|version`), and whether `display`, if given, is one of the
    /// code's. A code that is not in the value set is a `false` result, not an error. Costs a
    /// hash lookup and a binary search per hierarchy filter; the compiled value set is cached.
    ///
    /// ```
    /// let terminology = medulla_terminology::Terminology::in_memory();
    /// let valid = terminology.validate_code(
    ///     "http://hl7.org/fhir/ValueSet/administrative-gender",
    ///     "http://hl7.org/fhir/administrative-gender",
    ///     "other",
    ///     Some("Other"),
    /// )?;
    /// assert!(valid.result);
    /// # Ok::<(), medulla_terminology::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::UnknownValueSet`]; [`Error::CodeSystemNotLoaded`] if the answer depends on a
    /// code system that is not loaded; the errors of compiling the value set
    /// ([`Error::InvalidFilter`], [`Error::ValueSetCycle`], [`Error::ValueSetTooDeep`]).
    pub fn validate_code(
        &self,
        value_set: &str,
        system: &str,
        code: &str,
        display: Option<&str>,
    ) -> Result<CodeValidation, Error> {
        let compiled = self.compiled_value_set(value_set)?;
        let (url, version) = split_canonical(system);
        Ok(match compiled.membership(url, version, code)? {
            Membership::Loaded(code_system, ordinal, value_set_display) => {
                check_display(code_system, ordinal, value_set_display, display)
            }
            Membership::Listed(value_set_display) => {
                let matches = match (display, value_set_display) {
                    (Some(given), Some(known)) => same_display(given, known),
                    _ => true,
                };
                CodeValidation {
                    result: matches,
                    display: value_set_display.map(str::to_owned),
                    inactive: false,
                    message: (!matches).then(|| {
                        wrong_display(url, code, display.unwrap_or(""), value_set_display)
                    }),
                }
            }
            Membership::Absent => {
                let known = match compiled.loaded_system(url) {
                    Some(system) => Some(Arc::clone(system)),
                    None => self.code_system_for_compose(url, version).ok().flatten(),
                };
                let is_known_code = known.as_ref().map(|system| system.ordinal(code).is_some());
                let message = match is_known_code {
                    Some(false) => format!("unknown code '{code}' in code system '{url}'"),
                    _ => format!("code '{url}#{code}' is not in value set '{value_set}'"),
                };
                // No display for a code outside the value set: not needed to act on the
                // answer, and fetching it would cost more than the check itself.
                CodeValidation {
                    result: false,
                    display: None,
                    inactive: false,
                    message: Some(message),
                }
            }
        })
    }

    /// `$expand` of `value_set` (`url` or `url|version`).
    ///
    /// ```
    /// use medulla_terminology::{ExpandOptions, Terminology};
    ///
    /// let terminology = Terminology::in_memory();
    /// let expansion = terminology.expand(
    ///     "http://hl7.org/fhir/ValueSet/administrative-gender",
    ///     &ExpandOptions::default(),
    /// )?;
    /// let codes: Vec<&str> = expansion.contains.iter().map(|c| c.code.as_str()).collect();
    /// assert_eq!(codes, ["male", "female", "other", "unknown"]);
    /// # Ok::<(), medulla_terminology::Error>(())
    /// ```
    ///
    /// # Errors
    ///
    /// [`Error::UnknownValueSet`]; [`Error::CodeSystemNotLoaded`] if the value set takes all
    /// of, or filters, a code system that is not loaded; [`Error::ExpansionTooLarge`] without a
    /// `count` when there are more codes than `options.limit`; the errors of compiling the value
    /// set.
    pub fn expand(&self, value_set: &str, options: &ExpandOptions) -> Result<Expansion, Error> {
        let compiled = self.compiled_value_set(value_set)?;
        expand::expand(&compiled, options)
    }

    /// `$expand` of a value set definition that is not registered (given inline); not cached.
    ///
    /// # Errors
    ///
    /// As [`Terminology::expand`].
    pub fn expand_definition(
        &self,
        value_set: &ValueSet,
        options: &ExpandOptions,
    ) -> Result<Expansion, Error> {
        let compiled = crate::compiled::compile(self, value_set, &mut Vec::new())?;
        expand::expand(&compiled, options)
    }
}

fn check_display(
    system: &CodeSystem,
    ordinal: u32,
    value_set_display: Option<&str>,
    display: Option<&str>,
) -> CodeValidation {
    let known = value_set_display.or_else(|| system.display_of(ordinal));
    let matches = match display {
        None => true,
        Some(given) => {
            value_set_display.is_some_and(|known| same_display(given, known))
                || system
                    .texts_of(ordinal)
                    .any(|known| same_display(given, known))
        }
    };
    CodeValidation {
        result: matches,
        display: known.map(str::to_owned),
        inactive: system.is_inactive(ordinal),
        message: (!matches).then(|| {
            wrong_display(
                system.url(),
                system.code_of(ordinal),
                display.unwrap_or(""),
                known,
            )
        }),
    }
}

fn same_display(given: &str, known: &str) -> bool {
    let (given, known) = (given.trim(), known.trim());
    given == known || given.to_lowercase() == known.to_lowercase()
}

fn wrong_display(system: &str, code: &str, given: &str, known: Option<&str>) -> String {
    match known {
        Some(known) => {
            format!("wrong display '{given}' for '{system}#{code}': it is '{known}'")
        }
        None => format!("wrong display '{given}' for '{system}#{code}': it has none"),
    }
}
