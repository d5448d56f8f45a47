//! Who and where: people named in a message (XCN, CNN) as Practitioners, places (PL) as
//! Locations. Both are only pointed at, never updated, by a message: they are created when no
//! resource has their identifier, and a person without an identifier is a Reference with a
//! display only (a name alone cannot find the right Practitioner again).

use super::Context;
use super::bundle::Builder;
use super::datatypes::{Ident, hd_system, name_display, person_name};
use super::segment::Parts;
use serde_json::{Value, json};

const PHYSICAL_TYPE: &str = "http://terminology.hl7.org/CodeSystem/location-physical-type";

/// A person as a message names them.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Person {
    /// The person's identifier, if the message gives one.
    pub id: Option<Ident>,
    /// A FHIR HumanName.
    pub name: Option<Value>,
}

/// XCN: XCN-1 id, XCN-2..7 name, XCN-9 assigning authority, XCN-13 identifier type.
pub(crate) fn xcn(xcn: &Parts<'_>, local_system: Option<&str>) -> Option<Person> {
    let id = xcn.part(1).map(|value| Ident {
        system: xcn
            .nested(9)
            .and_then(|hd| hd_system(hd.part(1), hd.part(2), hd.part(3)))
            .or_else(|| local_system.map(str::to_owned)),
        value,
        type_code: xcn.part(13),
    });
    person(id, person_name(xcn, 2))
}

/// CNN (in NDL, OBR-32): sub-components 1 id, 2..7 name, 9..11 assigning authority.
pub(crate) fn cnn(cnn: &Parts<'_>, local_system: Option<&str>) -> Option<Person> {
    let id = cnn.part(1).map(|value| {
        let system = hd_system(cnn.part(9), cnn.part(10), cnn.part(11))
            .or_else(|| local_system.map(str::to_owned));
        Ident::new(system, value)
    });
    person(id, person_name(cnn, 2))
}

fn person(id: Option<Ident>, name: Option<Value>) -> Option<Person> {
    (id.is_some() || name.is_some()).then_some(Person { id, name })
}

/// A Reference to `person` as a Practitioner (an entry created if absent).
pub(crate) fn practitioner(builder: &mut Builder, person: &Person) -> Value {
    let display = person.name.as_ref().and_then(name_display);
    let Some(id) = &person.id else {
        return json!({"display": display});
    };
    let resource = json!({
        "resourceType": "Practitioner",
        "identifier": [id.to_json()],
        "name": person.name.as_ref().map(|name| vec![name.clone()]),
    });
    let full_url = builder.ensure("Practitioner", id, resource);
    json!({"reference": full_url, "display": display})
}

/// A Reference to the place a PL names: point of care PL-1, room PL-2, bed PL-3, facility
/// PL-4, description PL-9. The Location's identifier is `poc^room^bed` in the facility's
/// namespace (the sender's when PL-4 is empty); its physical type is the most specific level
/// given. `None` when the PL names no place.
pub(crate) fn location(
    context: &Context<'_, '_>,
    builder: &mut Builder,
    pl: &Parts<'_>,
) -> Option<Value> {
    let levels = [pl.part(1), pl.part(2), pl.part(3)];
    let description = pl.part(9);
    let Some(deepest) = levels.iter().rposition(Option::is_some) else {
        return description.map(|text| json!({"display": text}));
    };
    let value = levels[..=deepest]
        .iter()
        .map(|level| level.as_deref().unwrap_or(""))
        .collect::<Vec<_>>()
        .join("^");
    let system = pl
        .nested(4)
        .and_then(|hd| hd_system(hd.part(1), hd.part(2), hd.part(3)))
        .or_else(|| context.local_system.clone());
    let id = Ident::new(system, value);
    let name = description.unwrap_or_else(|| {
        levels
            .iter()
            .flatten()
            .map(String::as_str)
            .collect::<Vec<_>>()
            .join(" ")
    });
    let (code, display) = match deepest {
        2 => ("bd", "Bed"),
        1 => ("ro", "Room"),
        _ => ("wa", "Ward"),
    };
    let resource = json!({
        "resourceType": "Location",
        "identifier": [id.to_json()],
        "status": "active",
        "name": name,
        "mode": "instance",
        "physicalType": {"coding": [{"system": PHYSICAL_TYPE, "code": code, "display": display}]},
    });
    let full_url = builder.ensure("Location", &id, resource);
    Some(json!({"reference": full_url, "display": name}))
}
