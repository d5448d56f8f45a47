//! The validator and its walk over resource JSON: [`Validator`], [`Options`].
//!
//! The walk pairs each JSON object with the element definition that governs it. An element's
//! children come from the element itself when the snapshot lists them (backbone elements and
//! profiled data types), from the element a `contentReference` names, or else from the
//! definition of the element's type (its type profile if it has one, otherwise the base type).
//! Resources inside resources (`contained`, `Bundle.entry.resource`) start over with their own
//! type's definition.

use std::sync::Arc;

use medulla_terminology::Terminology;
use serde_json::{Map, Value as Json};

use crate::outcome::{Issue, IssueType, Outcome, Severity};
use crate::structure::{ElementDefinition, StructureDefinition, StructureKind};
use crate::structures::Structures;

/// Deepest nesting of JSON objects and resources checked; deeper content gives one issue.
pub const MAX_DEPTH: usize = 64;

/// Most profiles applied one inside another (a slice's type profile, a `profile`
/// discriminator); past it, one issue, and the value is not checked against the deeper profile.
pub const MAX_PROFILE_DEPTH: usize = 3;

/// Most element values visited in one validation. Malicious profiles (slices whose profiles
/// slice again) could otherwise multiply the work; past the budget validation stops with a
/// `too-costly` issue.
pub const MAX_VISITS: usize = 1_000_000;

/// Longest piece of input quoted in a message, in characters.
const MAX_QUOTED_CHARS: usize = 64;

/// How to validate.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub struct Options {
    /// Profiles (canonical URLs) the resource must also conform to, besides those its
    /// `meta.profile` declares.
    pub profiles: Vec<String>,
    /// Whether extensions whose definitions are unknown are allowed (an information issue) or
    /// not (an error, the HL7 Java validator's default). Unknown `modifierExtension`s and
    /// unknown extensions under `http://hl7.org/fhir/` are errors either way.
    pub allow_unknown_extensions: bool,
    /// Whether to evaluate constraint invariants.
    pub check_invariants: bool,
    /// Whether to check codes against bound value sets.
    pub check_bindings: bool,
    /// Whether the profiles the resource declares in `meta.profile` apply (for the write-time
    /// policy `base`, which checks the base definitions only).
    pub declared_profiles: bool,
}

impl Default for Options {
    fn default() -> Self {
        Options {
            profiles: Vec::new(),
            allow_unknown_extensions: false,
            check_invariants: true,
            check_bindings: true,
            declared_profiles: true,
        }
    }
}

impl Options {
    /// The defaults: all checks, unknown extensions are errors, no extra profiles.
    pub fn new() -> Options {
        Options::default()
    }

    /// Also validates against `profile`.
    pub fn with_profile(mut self, profile: impl Into<String>) -> Options {
        self.profiles.push(profile.into());
        self
    }

    /// Sets [`Options::declared_profiles`].
    pub fn declared_profiles(mut self, apply: bool) -> Options {
        self.declared_profiles = apply;
        self
    }

    /// Sets [`Options::allow_unknown_extensions`].
    pub fn allow_unknown_extensions(mut self, allow: bool) -> Options {
        self.allow_unknown_extensions = allow;
        self
    }

    /// Sets [`Options::check_invariants`].
    pub fn check_invariants(mut self, check: bool) -> Options {
        self.check_invariants = check;
        self
    }

    /// Sets [`Options::check_bindings`].
    pub fn check_bindings(mut self, check: bool) -> Options {
        self.check_bindings = check;
        self
    }
}

/// Validates resources against the StructureDefinitions of a [`Structures`] registry, with a
/// terminology service for bindings and `memberOf()`.
///
/// Shareable between threads; each [`Validator::validate`] call is independent.
#[derive(Debug)]
pub struct Validator {
    structures: Structures,
    terminology: Arc<Terminology>,
}

impl Validator {
    /// A validator over these definitions and this terminology.
    pub fn new(structures: Structures, terminology: Arc<Terminology>) -> Validator {
        Validator {
            structures,
            terminology,
        }
    }

    /// A validator over the R4 base definitions and the built-in R4 terminology.
    pub fn r4() -> Validator {
        Validator::new(Structures::r4(), Arc::new(Terminology::in_memory()))
    }

    /// The definitions.
    pub fn structures(&self) -> &Structures {
        &self.structures
    }

    /// The definitions, to add profiles.
    pub fn structures_mut(&mut self) -> &mut Structures {
        &mut self.structures
    }

    /// The terminology service.
    pub fn terminology(&self) -> &Terminology {
        &self.terminology
    }

    /// Validates a resource against its type's base definition, the profiles its
    /// `meta.profile` declares, and `options.profiles`. Never fails: problems, including input
    /// that is not a resource at all, are issues.
    pub fn validate(&self, resource: &Json, options: &Options) -> Outcome {
        let mut run = Run {
            validator: self,
            options,
            issues: Vec::new(),
            visits: 0,
            depth_reported: false,
            budget_reported: false,
            profile_depth: 0,
        };
        let mut path = String::new();
        run.validate_resource(resource, &mut path, None, 0, &options.profiles);
        let mut outcome = Outcome { issues: run.issues };
        outcome.deduplicate();
        outcome
    }
}

/// The resource a value belongs to, for `%resource`, `%rootResource` and references.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Frame<'j> {
    /// The resource itself (a contained resource, for contained ones).
    pub(crate) resource: &'j Json,
    /// The resource that contains it, or the resource itself.
    pub(crate) root: &'j Json,
    /// The nearest enclosing Bundle, whose entries references may point to.
    pub(crate) bundle: Option<&'j Json>,
}

/// The element an object was reached through, for extension contexts: its path in its own
/// definition (`Patient.contact`, `Patient.birthDate`) and its type (`BackboneElement`, `date`).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Host<'v> {
    pub(crate) path: &'v str,
    pub(crate) type_name: &'v str,
}

/// One value of an element: the JSON value (absent for a primitive that has only its `_name`
/// companion), the companion, and the array index, if any.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Item<'j> {
    pub(crate) value: Option<&'j Json>,
    pub(crate) companion: Option<&'j Json>,
    pub(crate) index: Option<usize>,
}

/// What a property name matched in an object: the value and `_name` companion found, and for
/// a choice element, which type.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Found<'j> {
    pub(crate) value: Option<&'j Json>,
    pub(crate) companion: Option<&'j Json>,
    pub(crate) type_index: Option<usize>,
}

/// One validation in progress.
pub(crate) struct Run<'v> {
    pub(crate) validator: &'v Validator,
    pub(crate) options: &'v Options,
    pub(crate) issues: Vec<Issue>,
    visits: usize,
    depth_reported: bool,
    budget_reported: bool,
    pub(crate) profile_depth: usize,
}

impl<'v> Run<'v> {
    pub(crate) fn report(
        &mut self,
        severity: Severity,
        code: IssueType,
        expression: &str,
        details: String,
    ) {
        self.issues.push(Issue {
            severity,
            code,
            details,
            expression: expression.to_owned(),
            constraint: None,
        });
    }

    /// Counts a visit; `false` once the depth or the work budget is exceeded (reported once).
    fn may_visit(&mut self, path: &str, depth: usize) -> bool {
        self.visits += 1;
        if self.visits > MAX_VISITS {
            if !self.budget_reported {
                self.budget_reported = true;
                self.report(
                    Severity::Error,
                    IssueType::TooCostly,
                    path,
                    format!(
                        "Validation stopped after {MAX_VISITS} element values; the resource or \
                         its profiles are too costly to validate"
                    ),
                );
            }
            return false;
        }
        if depth > MAX_DEPTH {
            if !self.depth_reported {
                self.depth_reported = true;
                self.report(
                    Severity::Error,
                    IssueType::TooCostly,
                    path,
                    format!("Content nested deeper than {MAX_DEPTH} levels is not validated"),
                );
            }
            return false;
        }
        true
    }

    /// Validates a resource: the top-level one (`container` is `None`), a contained one, or a
    /// Bundle entry's or Parameters' resource. `path` is where it is; empty at the top.
    pub(crate) fn validate_resource<'j>(
        &mut self,
        json: &'j Json,
        path: &mut String,
        container: Option<(Frame<'j>, bool)>,
        depth: usize,
        extra_profiles: &[String],
    ) {
        let severity = if container.is_none() {
            Severity::Fatal
        } else {
            Severity::Error
        };
        let Some(map) = json.as_object() else {
            self.report(
                severity,
                IssueType::Structure,
                path,
                format!(
                    "A resource must be a JSON object, not {}",
                    describe_json_kind(json)
                ),
            );
            return;
        };
        let Some(resource_type) = map.get("resourceType").and_then(Json::as_str) else {
            self.report(
                severity,
                IssueType::Structure,
                path,
                "Unable to find resourceType property".to_owned(),
            );
            return;
        };
        let validator = self.validator;
        let Some(definition) = validator
            .structures
            .for_type(resource_type)
            .filter(|definition| {
                definition.kind == StructureKind::Resource && !definition.is_abstract
            })
        else {
            self.report(
                severity,
                IssueType::Structure,
                path,
                format!("Unknown resource type '{}'", quote(resource_type)),
            );
            return;
        };
        if path.is_empty() {
            path.push_str(resource_type);
        }
        let frame = match container {
            None => Frame {
                resource: json,
                root: json,
                bundle: None,
            },
            Some((outer, is_contained)) => Frame {
                resource: json,
                root: if is_contained { outer.root } else { json },
                bundle: outer.bundle,
            },
        };
        let frame = if resource_type == "Bundle" {
            Frame {
                bundle: Some(json),
                ..frame
            }
        } else {
            frame
        };
        if let Some(id) = map.get("id").and_then(Json::as_str)
            && !is_valid_resource_id(id)
        {
            let length = path.len();
            path.push_str(".id");
            self.report(
                Severity::Error,
                IssueType::Value,
                path,
                format!("Invalid Resource id '{}'", quote(id)),
            );
            path.truncate(length);
        }
        self.validate_against(json, definition, path, frame, depth);

        let declared = map
            .get("meta")
            .and_then(|meta| meta.get("profile"))
            .and_then(Json::as_array)
            .filter(|_| self.options.declared_profiles);
        let mut profiles: Vec<(&str, Option<usize>)> = declared
            .into_iter()
            .flatten()
            .enumerate()
            .filter_map(|(index, profile)| Some((profile.as_str()?, Some(index))))
            .collect();
        profiles.extend(
            extra_profiles
                .iter()
                .map(|profile| (profile.as_str(), None)),
        );
        for (profile, index) in profiles {
            if profile.split('|').next() == Some(definition.url.as_str()) {
                continue;
            }
            let length = path.len();
            if let Some(index) = index {
                path.push_str(&format!(".meta.profile[{index}]"));
            }
            match validator.structures.get(profile) {
                None => self.report(
                    if index.is_some() {
                        Severity::Warning
                    } else {
                        Severity::Error
                    },
                    IssueType::NotFound,
                    path,
                    format!(
                        "Profile reference '{}' has not been checked because it is unknown",
                        quote(profile)
                    ),
                ),
                Some(profiled) if profiled.type_name != resource_type => self.report(
                    Severity::Error,
                    IssueType::Structure,
                    path,
                    format!(
                        "Profile '{}' is for type {}, not {resource_type}",
                        quote(profile),
                        profiled.type_name
                    ),
                ),
                Some(profiled) => {
                    path.truncate(length);
                    self.validate_against(json, profiled, path, frame, depth);
                }
            }
            path.truncate(length);
        }
    }

    /// Validates a resource object against one definition of its type (base or profile).
    fn validate_against<'j>(
        &mut self,
        json: &'j Json,
        definition: &'v StructureDefinition,
        path: &mut String,
        frame: Frame<'j>,
        depth: usize,
    ) {
        let Some(map) = json.as_object() else { return };
        let Some(root) = definition.element(0) else {
            return;
        };
        let host = Host {
            path: &root.path,
            type_name: &definition.type_name,
        };
        let model_type = medulla_model::definitions().type_def(&definition.type_name);
        self.check_constraints(root, &[], Item::single(json), model_type, path, frame);
        self.validate_children(map, definition, 0, path, frame, depth, true, host);
    }

    /// Validates the properties of `map` against the children of element `parent` of
    /// `definition`: unknown properties, JSON shapes, cardinalities, then each value.
    #[allow(clippy::too_many_arguments)] // The walk's state; a struct would only rename it.
    pub(crate) fn validate_children<'j>(
        &mut self,
        map: &'j Map<String, Json>,
        definition: &'v StructureDefinition,
        parent_index: usize,
        path: &mut String,
        frame: Frame<'j>,
        depth: usize,
        is_resource_root: bool,
        host: Host<'v>,
    ) {
        let Some(parent) = definition.element(parent_index) else {
            return;
        };
        let mut found: Vec<Found<'j>> = vec![Found::default(); parent.children.len()];
        for (key, value) in map {
            if is_resource_root && key == "resourceType" {
                continue;
            }
            let (name, is_companion) = match key.strip_prefix('_') {
                Some(name) => (name, true),
                None => (key.as_str(), false),
            };
            let Some(&(position, type_index)) = parent.json_names.get(name) else {
                self.report(
                    Severity::Error,
                    IssueType::Structure,
                    path,
                    format!("Unrecognized property '{}'", quote(key)),
                );
                continue;
            };
            let Some(slot) = found.get_mut(position) else {
                continue;
            };
            if slot
                .type_index
                .is_some_and(|existing| existing != type_index)
            {
                self.report(
                    Severity::Error,
                    IssueType::Structure,
                    path,
                    format!(
                        "Only one value is allowed for a choice element; found another in '{}'",
                        quote(key)
                    ),
                );
                continue;
            }
            slot.type_index = Some(type_index);
            if is_companion {
                slot.companion = Some(value);
            } else {
                slot.value = Some(value);
            }
        }
        for (position, slot) in found.into_iter().enumerate() {
            let Some(&child_index) = parent.children.get(position) else {
                continue;
            };
            let Some(child) = definition.element(child_index) else {
                continue;
            };
            let type_index = slot.type_index.unwrap_or(0);
            let length = path.len();
            path.push('.');
            path.push_str(&child.name);
            if child.is_choice
                && let Some(element_type) = child.types.get(type_index)
            {
                path.push_str(".ofType(");
                path.push_str(&element_type.code);
                path.push(')');
            }
            let items = self.collect_items(child, slot, path);
            path.truncate(length);
            let count = items.len();
            if count < child.min as usize {
                self.report(
                    Severity::Error,
                    IssueType::Required,
                    path,
                    format!(
                        "{}: minimum required = {}, but only found {count}{}",
                        child.path,
                        child.min,
                        from_profile(definition)
                    ),
                );
            }
            if !child.allows_count(count) {
                self.report(
                    Severity::Error,
                    IssueType::Structure,
                    path,
                    format!(
                        "{}: max allowed = {}, but found {count}{}",
                        child.path,
                        child.max_text(),
                        from_profile(definition)
                    ),
                );
            }
            if items.is_empty() {
                continue;
            }
            path.push('.');
            path.push_str(&child.name);
            if child.is_choice
                && let Some(element_type) = child.types.get(type_index)
            {
                path.push_str(".ofType(");
                path.push_str(&element_type.code);
                path.push(')');
            }
            let segment_end = path.len();
            // Extensions go through slicing even where the base definition gives none, so that
            // those no slice claims are checked by their URL.
            let is_sliced = (child.slicing.is_some() && !child.slices.is_empty())
                || is_extension_element(child);
            if is_sliced {
                self.validate_sliced(
                    definition,
                    child_index,
                    type_index,
                    &items,
                    path,
                    length,
                    frame,
                    depth,
                    host,
                );
            } else {
                for item in &items {
                    push_index(path, item.index);
                    self.validate_item(
                        definition,
                        child_index,
                        type_index,
                        *item,
                        path,
                        frame,
                        depth + 1,
                    );
                    path.truncate(segment_end);
                }
            }
            path.truncate(length);
        }
    }

    /// Validates one value of element `element_index` of `definition`, as type
    /// `types[type_index]`, at `path` (its full location).
    #[allow(clippy::too_many_arguments)] // The walk's state; a struct would only rename it.
    pub(crate) fn validate_item<'j>(
        &mut self,
        definition: &'v StructureDefinition,
        element_index: usize,
        type_index: usize,
        item: Item<'j>,
        path: &mut String,
        frame: Frame<'j>,
        depth: usize,
    ) {
        if !self.may_visit(path, depth) {
            return;
        }
        let Some(element) = definition.element(element_index) else {
            return;
        };
        let validator = self.validator;
        let element_type = element.types.get(type_index);
        let type_code = element_type.map_or("", |element_type| element_type.code.as_str());
        let model = medulla_model::definitions();
        let primitive = model.type_def(type_code).filter(|t| t.is_primitive());

        if let Some(primitive) = primitive {
            self.check_primitive(element, primitive, item, path);
            if let Some(companion) = item.companion {
                self.validate_companion(companion, type_code, path, frame, depth, element);
            }
            self.check_value_rules(element, type_code, item, path, frame);
            self.check_constraints(element, &[], item, Some(primitive), path, frame);
            return;
        }
        let Some(value) = item.value else { return };
        if is_resource_type_code(type_code) {
            let is_contained = element.name == "contained";
            self.validate_resource(value, path, Some((frame, is_contained)), depth + 1, &[]);
            return;
        }
        let Some(map) = value.as_object() else {
            self.report(
                Severity::Error,
                IssueType::Structure,
                path,
                format!(
                    "This property must be an object, not {}",
                    describe_json_kind(value)
                ),
            );
            return;
        };
        if map.is_empty() {
            self.report(
                Severity::Error,
                IssueType::Structure,
                path,
                "Object must have some content".to_owned(),
            );
        }
        // Where the children come from, and the constraints of a type's root to add.
        let (child_definition, child_parent, model_type_name, root_constraints) =
            if !element.children.is_empty() {
                (
                    definition,
                    element_index,
                    backbone_model_name(element, type_code),
                    None,
                )
            } else if let Some(target) = element.content_reference {
                let target_path = definition.element(target).map_or("", |t| t.path.as_str());
                (definition, target, target_path, None)
            } else {
                let type_definition = element_type
                    .and_then(|element_type| {
                        element_type
                            .profiles
                            .iter()
                            .find_map(|profile| validator.structures.get(profile))
                    })
                    .or_else(|| validator.structures.for_type(type_code));
                match type_definition {
                    Some(type_definition) => {
                        (type_definition, 0, type_code, type_definition.element(0))
                    }
                    None if type_code.is_empty() => (definition, element_index, "", None),
                    None => {
                        self.report(
                            Severity::Error,
                            IssueType::NotFound,
                            path,
                            format!("Unknown type '{}'", quote(type_code)),
                        );
                        return;
                    }
                }
            };
        let model_type = model.type_def(model_type_name);
        let child_host = Host {
            path: &element.path,
            type_name: match type_code {
                "" if element_index == 0 => definition.type_name.as_str(),
                "" => "BackboneElement",
                _ => type_code,
            },
        };
        self.validate_children(
            map,
            child_definition,
            child_parent,
            path,
            frame,
            depth,
            false,
            child_host,
        );
        if type_code == "Reference" {
            self.check_reference(element, type_index, map, path, frame);
        }
        self.check_value_rules(element, type_code, item, path, frame);
        if let Some(root) = root_constraints {
            self.check_constraints(root, &element.constraints, item, model_type, path, frame);
        }
        self.check_constraints(element, &[], item, model_type, path, frame);
    }

    /// Validates a primitive's `_name` companion: an object with only `id` and `extension`.
    fn validate_companion<'j>(
        &mut self,
        companion: &'j Json,
        type_code: &'v str,
        path: &mut String,
        frame: Frame<'j>,
        depth: usize,
        element: &'v ElementDefinition,
    ) {
        let Some(map) = companion.as_object() else {
            self.report(
                Severity::Error,
                IssueType::Structure,
                path,
                format!(
                    "The '_{}' companion must be an object, not {}",
                    element.name,
                    describe_json_kind(companion)
                ),
            );
            return;
        };
        let Some(primitive_definition) = self.validator.structures.for_type(type_code) else {
            return;
        };
        let host = Host {
            path: &element.path,
            type_name: type_code,
        };
        self.validate_children(
            map,
            primitive_definition,
            0,
            path,
            frame,
            depth + 1,
            false,
            host,
        );
    }
}

impl<'j> Item<'j> {
    pub(crate) fn single(json: &'j Json) -> Item<'j> {
        Item {
            value: Some(json),
            companion: None,
            index: None,
        }
    }
}

/// Whether an element is `extension` or `modifierExtension`.
pub(crate) fn is_extension_element(element: &ElementDefinition) -> bool {
    (element.name == "extension" || element.name == "modifierExtension")
        && element.types.first().is_some_and(|t| t.code == "Extension")
}

/// Whether a type code stands for a resource (`Resource`, `DomainResource`, or a concrete
/// resource type), whose values carry their own `resourceType`.
pub(crate) fn is_resource_type_code(type_code: &str) -> bool {
    type_code == "Resource"
        || type_code == "DomainResource"
        || medulla_model::definitions().is_resource_type(type_code)
}

/// The R4 model's name of the type of an element with children: its path for a backbone
/// element (`Patient.contact`), the type code otherwise (a profiled `Extension`).
pub(crate) fn backbone_model_name<'a>(
    element: &'a ElementDefinition,
    type_code: &'a str,
) -> &'a str {
    match type_code {
        "BackboneElement" | "Element" | "" => element.path.as_str(),
        _ => type_code,
    }
}

pub(crate) fn push_index(path: &mut String, index: Option<usize>) {
    if let Some(index) = index {
        path.push('[');
        path.push_str(&index.to_string());
        path.push(']');
    }
}

/// ` (from <profile url>)` for profiles, nothing for base definitions.
pub(crate) fn from_profile(definition: &StructureDefinition) -> String {
    if definition.derivation == crate::structure::Derivation::Constraint {
        format!(" (from {})", definition.url)
    } else {
        String::new()
    }
}

/// The R4 `id` rule: 1 to 64 of `A-Z a-z 0-9 - .`.
fn is_valid_resource_id(id: &str) -> bool {
    (1..=64).contains(&id.len())
        && id
            .bytes()
            .all(|byte| byte.is_ascii_alphanumeric() || byte == b'-' || byte == b'.')
}

pub(crate) fn describe_json_kind(json: &Json) -> &'static str {
    match json {
        Json::Null => "null",
        Json::Bool(_) => "a boolean",
        Json::Number(_) => "a number",
        Json::String(_) => "a string",
        Json::Array(_) => "an array",
        Json::Object(_) => "an object",
    }
}

/// Input quoted in a message, cut to a readable length.
pub(crate) fn quote(text: &str) -> String {
    if text.chars().count() <= MAX_QUOTED_CHARS {
        text.to_owned()
    } else {
        let mut cut: String = text.chars().take(MAX_QUOTED_CHARS).collect();
        cut.push('…');
        cut
    }
}
