//! Path steps over FHIR JSON with the R4 model: named children (choice elements, `_name`
//! primitive extensions, contained resources typed by `resourceType`) and `children()`.

use medulla_model::{TypeDef, TypeKind, definitions};
use serde_json::{Map, Value as Json};

use crate::value::{Collection, Node, Value};

static NULL: Json = Json::Null;

/// Why a path step is not allowed in strict mode.
pub(crate) struct UnknownElement(pub(crate) String);

/// The FHIR type of the nodes of one property, as the R4 model gives it.
#[derive(Debug, Clone, Copy)]
pub(crate) enum ChildType {
    /// A resource (`contained`, `Bundle.entry.resource`): typed by each one's `resourceType`.
    Resource,
    /// One type (`None` when the model names a type it does not define).
    Fixed(Option<&'static TypeDef>),
}

impl ChildType {
    pub(crate) fn from_code(type_code: &str) -> ChildType {
        if type_code == "Resource" {
            ChildType::Resource
        } else {
            ChildType::Fixed(definitions().type_def(type_code))
        }
    }

    fn of(self, json: &Json) -> Option<&'static TypeDef> {
        match self {
            ChildType::Resource => json
                .get("resourceType")
                .and_then(Json::as_str)
                .and_then(|name| definitions().type_def(name)),
            ChildType::Fixed(type_def) => type_def,
        }
    }

    /// Whether the nodes may be primitives (and so have `_name` siblings).
    fn may_be_primitive(self) -> bool {
        match self {
            ChildType::Resource => false,
            ChildType::Fixed(type_def) => {
                type_def.is_none_or(|type_def| type_def.kind == TypeKind::Primitive)
            }
        }
    }

    /// The type of a primitive that has only its `_name` sibling.
    fn declared(self) -> Option<&'static TypeDef> {
        match self {
            ChildType::Resource => definitions().type_def("Resource"),
            ChildType::Fixed(type_def) => type_def,
        }
    }
}

/// What a path step `name` means on a node of a given type: the part of navigation that
/// depends only on the type and the name, so that a compiled path can work it out once.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Step {
    /// A JSON property of the type: an element, or for a choice element one of its typed
    /// JSON names (`valueQuantity`, `is_choice`).
    Property { child: ChildType, is_choice: bool },
    /// The name of a choice element (`value` for `value[x]`).
    Choice,
    /// Not an element of the type.
    Unknown,
}

impl Step {
    pub(crate) fn resolve(type_def: &'static TypeDef, name: &str) -> Step {
        if let Some((element, type_code)) = type_def.element_for_json_name(name) {
            return Step::Property {
                child: ChildType::from_code(type_code),
                is_choice: element.is_choice,
            };
        }
        if type_def
            .element(name)
            .is_some_and(|element| element.is_choice)
        {
            return Step::Choice;
        }
        Step::Unknown
    }
}

/// A [`Step`] worked out at compile time for the input type a path step is expected to see.
#[derive(Debug, Clone, Copy)]
pub(crate) struct StepHint {
    pub(crate) input: &'static TypeDef,
    pub(crate) step: Step,
}

/// Pushes the nodes of one JSON property (a value or an array) and its `_name` sibling.
fn push_property<'a>(
    value: Option<&'a Json>,
    extension: Option<&'a Json>,
    child: Option<ChildType>,
    out: &mut Collection<'a>,
) {
    let typed = |json: &'a Json| child.and_then(|child| child.of(json));
    match (value, extension) {
        (Some(Json::Array(items)), extension) => {
            let extensions = extension.and_then(Json::as_array);
            for (index, item) in items.iter().enumerate() {
                let item_extension = extensions
                    .and_then(|list| list.get(index))
                    .filter(|json| !json.is_null());
                if item.is_null() && item_extension.is_none() {
                    continue;
                }
                out.push(Value::Node(Node {
                    json: item,
                    extension: item_extension,
                    type_def: typed(item),
                }));
            }
        }
        (Some(Json::Null), None) | (None, None) => {}
        (Some(json), extension) => out.push(Value::Node(Node {
            json,
            extension,
            type_def: typed(json),
        })),
        (None, Some(Json::Array(extensions))) => {
            for item_extension in extensions.iter().filter(|json| !json.is_null()) {
                out.push(Value::Node(Node {
                    json: &NULL,
                    extension: Some(item_extension),
                    type_def: child.and_then(ChildType::declared),
                }));
            }
        }
        (None, Some(extension)) => out.push(Value::Node(Node {
            json: &NULL,
            extension: Some(extension),
            type_def: child.and_then(ChildType::declared),
        })),
    }
}

/// Pushes the children of `node` named `name` (an element name, `value` for `value[x]`).
/// `hint`, when its input type is the node's, saves working out the [`Step`] again.
///
/// # Errors
///
/// In strict mode, a name the node's type does not have, or a choice element's JSON name
/// (`valueQuantity`) used as a path step.
pub(crate) fn push_named_children<'a>(
    node: &Node<'a>,
    name: &str,
    underscore_name: &str,
    hint: Option<&StepHint>,
    strict: bool,
    out: &mut Collection<'a>,
) -> Result<(), UnknownElement> {
    let Some(object) = node.json.as_object() else {
        return push_primitive_children(node, name, strict, out);
    };
    let Some(type_def) = node.type_def else {
        push_property(object.get(name), object.get(underscore_name), None, out);
        return Ok(());
    };
    let step = match hint {
        Some(hint) if std::ptr::eq(hint.input, type_def) => hint.step,
        _ => Step::resolve(type_def, name),
    };
    match step {
        Step::Property { child, is_choice } => {
            if is_choice && strict {
                let element = type_def
                    .element_for_json_name(name)
                    .map_or(name, |(element, _)| element.name.as_str());
                return Err(UnknownElement(format!(
                    "'{name}' is a JSON property name; FHIRPath names the element '{element}'"
                )));
            }
            // Only primitives have a `_name` sibling in FHIR JSON.
            let extension = if child.may_be_primitive() {
                object.get(underscore_name)
            } else {
                None
            };
            push_property(object.get(name), extension, Some(child), out);
        }
        Step::Choice => push_choice(object, type_def, name, out),
        Step::Unknown => {
            if strict {
                return Err(UnknownElement(format!(
                    "'{name}' is not an element of {}",
                    type_def.name
                )));
            }
            push_property(object.get(name), object.get(underscore_name), None, out);
        }
    }
    Ok(())
}

fn push_choice<'a>(
    object: &'a Map<String, Json>,
    type_def: &'static TypeDef,
    name: &str,
    out: &mut Collection<'a>,
) {
    let mut has_underscore = false;
    for (key, value) in object {
        has_underscore |= key.starts_with('_');
        if !is_choice_json_name(key, name) {
            continue;
        }
        if let Some((element, type_code)) = type_def.element_for_json_name(key)
            && element.name == name
        {
            let child = ChildType::from_code(type_code);
            let extension = if child.may_be_primitive() {
                object.get(&format!("_{key}"))
            } else {
                None
            };
            push_property(Some(value), extension, Some(child), out);
        }
    }
    if !has_underscore {
        return;
    }
    // A choice primitive may have only its `_valueString` sibling.
    for (key, extension) in object {
        let Some(json_name) = key.strip_prefix('_') else {
            continue;
        };
        if !is_choice_json_name(json_name, name) || object.contains_key(json_name) {
            continue;
        }
        if let Some((element, type_code)) = type_def.element_for_json_name(json_name)
            && element.name == name
        {
            push_property(
                None,
                Some(extension),
                Some(ChildType::from_code(type_code)),
                out,
            );
        }
    }
}

/// Whether `key` is `name` followed by a type name (`valueQuantity` for `value`).
fn is_choice_json_name(key: &str, name: &str) -> bool {
    key.len() > name.len()
        && key.as_bytes().first() == name.as_bytes().first()
        && key
            .strip_prefix(name)
            .is_some_and(|suffix| suffix.starts_with(|c: char| c.is_ascii_uppercase()))
}

fn push_primitive_children<'a>(
    node: &Node<'a>,
    name: &str,
    strict: bool,
    out: &mut Collection<'a>,
) -> Result<(), UnknownElement> {
    match name {
        "extension" => push_property(
            node.extension.and_then(|json| json.get("extension")),
            None,
            Some(ChildType::from_code("Extension")),
            out,
        ),
        "id" => push_property(
            node.extension.and_then(|json| json.get("id")),
            None,
            Some(ChildType::from_code("string")),
            out,
        ),
        _ if strict && node.type_def.is_some_and(|t| t.kind == TypeKind::Primitive) => {
            return Err(UnknownElement(format!(
                "'{name}' is not an element of the primitive {}",
                node.type_name().unwrap_or("value")
            )));
        }
        _ => {}
    }
    Ok(())
}

/// Pushes every child node of `node`, in JSON property order.
pub(crate) fn push_all_children<'a>(node: &Node<'a>, out: &mut Collection<'a>) {
    let Some(object) = node.json.as_object() else {
        if let Some(extensions) = node.extension.and_then(|json| json.get("extension")) {
            push_property(
                Some(extensions),
                None,
                Some(ChildType::from_code("Extension")),
                out,
            );
        }
        return;
    };
    for (key, value) in object {
        if key == "resourceType" {
            continue;
        }
        let (json_name, value, extension) = match key.strip_prefix('_') {
            Some(json_name) if object.contains_key(json_name) => continue,
            Some(json_name) => (json_name, None, Some(value)),
            None => (key.as_str(), Some(value), object.get(&format!("_{key}"))),
        };
        let child = node
            .type_def
            .and_then(|type_def| type_def.element_for_json_name(json_name))
            .map(|(_, code)| ChildType::from_code(code));
        push_property(value, extension, child, out);
    }
}
