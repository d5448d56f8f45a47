#!/usr/bin/env python3
"""Writes the test profiles in this folder: small profiles with full snapshots, made from the R4
base snapshots the way a snapshot generator would (slices get a copy of the sliced element's
subtree). Run once from this folder; the output is checked in, so tests do not need the source.

    python3 make_profiles.py [/work/shared/fhir-r4]
"""

import copy
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[5] / "tools"))
from gen_validation import load_structure_definitions, reduce_structure_definition  # noqa: E402

SOURCE = Path(sys.argv[1] if len(sys.argv) > 1 else "/work/shared/fhir-r4")
BASE = {
    sd["url"]: reduce_structure_definition(sd)
    for name in ("profiles-types.json", "profiles-resources.json")
    for sd in load_structure_definitions(SOURCE / name)
    if sd.get("snapshot")
}


def base(type_name):
    return copy.deepcopy(BASE["http://hl7.org/fhir/StructureDefinition/" + type_name])


def profile(url, type_name, elements):
    return {
        "resourceType": "StructureDefinition",
        "url": url,
        "name": url.rsplit("/", 1)[-1],
        "status": "draft",
        "kind": "resource",
        "abstract": False,
        "type": type_name,
        "baseDefinition": "http://hl7.org/fhir/StructureDefinition/" + type_name,
        "derivation": "constraint",
        "snapshot": {"element": elements},
    }


def find(elements, element_id):
    return next(e for e in elements if e["id"] == element_id)


def subtree(elements, element_id):
    """The element and its descendants (by id)."""
    return [e for e in elements if e["id"] == element_id or e["id"].startswith(element_id + ".")]


def slice_of(elements, element_id, slice_name, type_children=None):
    """A slice of `element_id`: a copy of its subtree (or, for a data type, of the type's
    elements) with ids renamed, to be inserted after the sliced element's subtree."""
    entry = find(elements, element_id)
    head = copy.deepcopy(entry)
    head.pop("slicing", None)
    head["id"] = f"{element_id}:{slice_name}"
    head["sliceName"] = slice_name
    result = [head]
    if type_children:
        for child in base(type_children)["snapshot"]["element"][1:]:
            child = copy.deepcopy(child)
            rest = child["id"][len(type_children):]
            child["id"] = f"{element_id}:{slice_name}{rest}"
            child["path"] = entry["path"] + child["path"][len(type_children):]
            result.append(child)
    else:
        for child in subtree(elements, element_id)[1:]:
            if ":" in child["id"]:
                continue
            child = copy.deepcopy(child)
            child["id"] = f"{element_id}:{slice_name}" + child["id"][len(element_id):]
            result.append(child)
    return result


def insert_after_subtree(elements, element_id, new):
    last = max(i for i, e in enumerate(elements) if e["id"] == element_id or e["id"].startswith(element_id + ".") or e["id"].startswith(element_id + ":"))
    elements[last + 1:last + 1] = new


def mrn_patient():
    elements = base("Patient")["snapshot"]["element"]
    find(elements, "Patient.name")["min"] = 1
    find(elements, "Patient.gender")["min"] = 1
    identifier = find(elements, "Patient.identifier")
    identifier["slicing"] = {"discriminator": [{"type": "value", "path": "system"}], "rules": "open"}
    identifier["min"] = 1
    mrn = slice_of(elements, "Patient.identifier", "mrn", type_children="Identifier")
    mrn[0]["min"] = 1
    mrn[0]["max"] = "1"
    find(mrn, "Patient.identifier:mrn.system").update({"min": 1, "fixedUri": "http://hospital.example.org/mrn"})
    find(mrn, "Patient.identifier:mrn.value").update({"min": 1, "extension": [{"url": "http://hl7.org/fhir/StructureDefinition/regex", "valueString": "[0-9]{6}"}]})
    insert_after_subtree(elements, "Patient.identifier", mrn)
    extension = find(elements, "Patient.extension")
    extension["slicing"] = {"discriminator": [{"type": "value", "path": "url"}], "rules": "open"}
    birth_place = slice_of(elements, "Patient.extension", "birthPlace")
    birth_place[0]["max"] = "1"
    birth_place[0]["type"] = [{"code": "Extension", "profile": ["http://hl7.org/fhir/StructureDefinition/patient-birthPlace"]}]
    insert_after_subtree(elements, "Patient.extension", birth_place)
    return profile("http://example.org/fhir/StructureDefinition/mrn-patient", "Patient", elements)


def blood_pressure():
    elements = base("Observation")["snapshot"]["element"]
    find(elements, "Observation.code")["patternCodeableConcept"] = {"coding": [{"system": "http://loinc.org", "code": "85354-9"}]}
    find(elements, "Observation.value[x]")["max"] = "0"
    component = find(elements, "Observation.component")
    component["slicing"] = {"discriminator": [{"type": "pattern", "path": "code"}], "ordered": True, "rules": "closed"}
    component["min"] = 2
    slices = []
    for name, code in (("systolic", "8480-6"), ("diastolic", "8462-4")):
        part = slice_of(elements, "Observation.component", name)
        part[0].update({"min": 1, "max": "1"})
        find(part, f"Observation.component:{name}.code")["patternCodeableConcept"] = {"coding": [{"system": "http://loinc.org", "code": code}]}
        value = find(part, f"Observation.component:{name}.value[x]")
        value["type"] = [{"code": "Quantity"}]
        value["min"] = 1
        slices += part
    insert_after_subtree(elements, "Observation.component", slices)
    return profile("http://example.org/fhir/StructureDefinition/blood-pressure", "Observation", elements)


def body_weight():
    elements = base("Observation")["snapshot"]["element"]
    value = find(elements, "Observation.value[x]")
    value["slicing"] = {"discriminator": [{"type": "type", "path": "$this"}], "ordered": False, "rules": "closed"}
    value["min"] = 1
    quantity = slice_of(elements, "Observation.value[x]", "valueQuantity", type_children="Quantity")
    quantity[0].update({"min": 1, "max": "1", "type": [{"code": "Quantity"}]})
    quantity[0]["path"] = "Observation.value[x]"
    for element in quantity[1:]:
        element["path"] = element["path"].replace("Observation.value[x]", "Observation.value[x]")
    find(quantity, "Observation.value[x]:valueQuantity.code")["fixedCode"] = "kg"
    find(quantity, "Observation.value[x]:valueQuantity.value").update({"min": 1, "minValueDecimal": 0, "maxValueDecimal": 1000})
    insert_after_subtree(elements, "Observation.value[x]", quantity)
    return profile("http://example.org/fhir/StructureDefinition/body-weight", "Observation", elements)


for made in (mrn_patient(), blood_pressure(), body_weight()):
    name = made["name"] + ".json"
    Path(name).write_text(json.dumps(made, indent=1, ensure_ascii=False) + "\n", encoding="utf-8")
    print("wrote", name, len(made["snapshot"]["element"]), "elements")
