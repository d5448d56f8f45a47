//! Path steps over FHIR JSON with the R4 model: named children (choice elements, `_name`
//! primitive extensions, contained resources typed by `resourceType`) and `children()`.

use medulla_model::{TypeDef, TypeKind, definitions};
use serde_json::{Map, Value as Json};

use crate::value::{Collection, Node, Value};

static NULL: Json = Json::Null;

/// Why a path step is not allowed in strict mode.
pub(crate) struct UnknownElement(pub(crate) String);

fn type_for(type_code: &str, json: &Json) -> Option<&'static TypeDef> {
    if type_code == "Resource" {
        return json
            .get("resourceType")
            .and_then(Json::as_str)
            .and_then(|name| definitions().type_def(name));
    }
    definitions().type_def(type_code)
}

/// Pushes the nodes of one JSON property (a value or an array) and its `_name` sibling.
fn push_property<'a>(
    value: Option<&'a Json>,
    extension: Option<&'a Json>,
    type_code: Option<&str>,
    out: &mut Collection<'a>,
) {
    let typed = |json: &'a Json| type_code.and_then(|code| type_for(code, json));
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
                    type_def: type_code.and_then(|code| definitions().type_def(code)),
                }));
            }
        }
        (None, Some(extension)) => out.push(Value::Node(Node {
            json: &NULL,
            extension: Some(extension),
            type_def: type_code.and_then(|code| definitions().type_def(code)),
        })),
    }
}

/// Pushes the children of `node` named `name` (an element name, `value` for `value[x]`).
///
/// # Errors
///
/// In strict mode, a name the node's type does not have, or a choice element's JSON name
/// (`valueQuantity`) used as a path step.
pub(crate) fn push_named_children<'a>(
    node: &Node<'a>,
    name: &str,
    underscore_name: &str,
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
    if let Some((element, type_code)) = type_def.element_for_json_name(name) {
        if element.is_choice && strict {
            return Err(UnknownElement(format!(
                "'{name}' is a JSON property name; FHIRPath names the element '{}'",
                element.name
            )));
        }
        push_property(
            object.get(name),
            object.get(underscore_name),
            Some(type_code),
            out,
        );
        return Ok(());
    }
    if type_def
        .element(name)
        .is_some_and(|element| element.is_choice)
    {
        push_choice(object, type_def, name, out);
        return Ok(());
    }
    if strict {
        return Err(UnknownElement(format!(
            "'{name}' is not an element of {}",
            type_def.name
        )));
    }
    push_property(object.get(name), object.get(underscore_name), None, out);
    Ok(())
}

fn push_choice<'a>(
    object: &'a Map<String, Json>,
    type_def: &'static TypeDef,
    name: &str,
    out: &mut Collection<'a>,
) {
    for (key, value) in object {
        let Some(suffix) = key.strip_prefix(name) else {
            continue;
        };
        if !suffix.starts_with(|c: char| c.is_ascii_uppercase()) {
            continue;
        }
        if let Some((element, type_code)) = type_def.element_for_json_name(key)
            && element.name == name
        {
            let extension = object.get(&format!("_{key}"));
            push_property(Some(value), extension, Some(type_code), out);
        }
    }
    // A choice primitive may have only its `_valueString` sibling.
    for (key, extension) in object {
        let Some(json_name) = key.strip_prefix('_') else {
            continue;
        };
        if object.contains_key(json_name) || !json_name.starts_with(name) {
            continue;
        }
        if let Some((element, type_code)) = type_def.element_for_json_name(json_name)
            && element.name == name
        {
            push_property(None, Some(extension), Some(type_code), out);
        }
    }
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
            Some("Extension"),
            out,
        ),
        "id" => push_property(
            node.extension.and_then(|json| json.get("id")),
            None,
            Some("string"),
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
            push_property(Some(extensions), None, Some("Extension"), out);
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
        let type_code = node
            .type_def
            .and_then(|type_def| type_def.element_for_json_name(json_name))
            .map(|(_, code)| code);
        push_property(value, extension, type_code, out);
    }
}
