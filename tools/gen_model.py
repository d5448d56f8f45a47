#!/usr/bin/env python3
"""Generate crates/model/data/r4.json.gz from the HL7 FHIR R4 4.0.1 definition files.

Usage (from the workspace root):

    python3 tools/gen_model.py [--source /work/shared/fhir-r4] [--out crates/model/data/r4.json.gz]

Reads profiles-resources.json, profiles-types.json, search-parameters.json and
compartmentdefinition-patient.json, and writes one compact JSON document, gzip-compressed, that
the `medulla-model` crate embeds with `include_bytes!`. Standard library only (Python 3.11).

Output shape (keys are short because the file is embedded in every binary):

    {
      "version": "4.0.1",
      "types": [
        {"name": "Patient", "kind": "resource", "abstract": false, "base": "DomainResource",
         "regex": null,
         "elements": [{"n": "contact", "t": ["Patient.contact"], "min": 0, "max": "*",
                       "c": false, "s": false, "m": false}, ...]},
        ...
      ],
      "search_params": [{"code": "...", "url": "...", "type": "token", "base": [...],
                         "expression": "...", "target": [...], "modifier": [...],
                         "comparator": [...], "multipleOr": true, "multipleAnd": null,
                         "component": [{"definition": "...", "expression": "..."}]}, ...],
      "patient_compartment": {"Observation": ["subject", "performer"], ...}
    }

Kinds: "primitive", "complex", "resource", "backbone". Backbone types are synthetic: an element
with children (type BackboneElement or Element) becomes a type named by its path, such as
"Patient.contact", and the element's type list is that one name. A contentReference such as
"#Questionnaire.item" becomes the type "Questionnaire.item".

Type codes: FHIRPath system types ("http://hl7.org/fhirpath/System.String") become "System.String"
on the primitive types' own `id` and `value` elements, which are the leaves. Elsewhere (Element.id,
Resource.id, Extension.url) the structuredefinition-fhir-type extension names the FHIR type, and that
type is used, so every element of a complex type or resource has a FHIR type.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

FHIR_VERSION = "4.0.1"
FHIRPATH_SYSTEM_PREFIX = "http://hl7.org/fhirpath/"
FHIR_TYPE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
REGEX_EXTENSION = "http://hl7.org/fhir/StructureDefinition/regex"

KIND_BY_SD_KIND = {
    "primitive-type": "primitive",
    "complex-type": "complex",
    "resource": "resource",
}


def load(path: Path) -> dict:
    with path.open(encoding="utf-8") as handle:
        return json.load(handle)


def extension_value(type_entry: dict, url: str, key: str) -> str | None:
    for extension in type_entry.get("extension", []):
        if extension.get("url") == url:
            return extension.get(key)
    return None


def last_segment(url: str | None) -> str | None:
    if not url:
        return None
    return url.rsplit("/", 1)[-1]


def map_type_code(type_entry: dict, owner_is_primitive: bool) -> str:
    code = type_entry["code"]
    if not code.startswith(FHIRPATH_SYSTEM_PREFIX):
        return code
    if not owner_is_primitive:
        fhir_type = extension_value(type_entry, FHIR_TYPE_EXTENSION, "valueUrl")
        if fhir_type:
            return fhir_type
    return code[len(FHIRPATH_SYSTEM_PREFIX):]


def is_wanted(sd: dict) -> bool:
    """Keeps the R4 4.0.1 resource and data type definitions.

    Drops logical models (MetadataResource) and definitions from other FHIR versions that the
    source package carries alongside R4 (SubscriptionStatus is an R4B 4.3.0 backport).
    """
    if sd.get("resourceType") != "StructureDefinition":
        return False
    if sd.get("kind") not in KIND_BY_SD_KIND:
        return False
    return sd.get("fhirVersion", FHIR_VERSION) == FHIR_VERSION


def convert_structure(sd: dict) -> list[dict]:
    """Returns the type for `sd` followed by its synthetic backbone types."""
    name = sd["id"]
    kind = KIND_BY_SD_KIND[sd["kind"]]
    root_path = sd["type"]
    elements = sd["snapshot"]["element"]
    is_primitive = kind == "primitive"

    paths = [element["path"] for element in elements]
    if len(set(paths)) != len(paths):
        raise SystemExit(f"{name}: duplicate element paths in the snapshot")
    parents_with_children = {path.rsplit(".", 1)[0] for path in paths if "." in path}

    regex = None
    owner_elements: dict[str, list[dict]] = {root_path: []}
    backbone_base: dict[str, str] = {}
    for element in elements:
        path = element["path"]
        if path == root_path:
            continue
        if "sliceName" in element:
            raise SystemExit(f"{name}: unexpected slice at {path}")
        parent, last = path.rsplit(".", 1)
        if element.get("max") == "0":
            # Prohibited in this type (SimpleQuantity.comparator, xhtml.extension).
            continue
        is_choice = last.endswith("[x]")
        element_name = last[:-3] if is_choice else last
        if "contentReference" in element:
            types = [element["contentReference"].lstrip("#")]
        elif path in parents_with_children:
            types = [path]
            codes = [entry["code"] for entry in element.get("type", [])]
            if codes not in (["BackboneElement"], ["Element"]):
                raise SystemExit(f"{name}: element with children at {path} has types {codes}")
            backbone_base[path] = codes[0]
            owner_elements.setdefault(path, [])
        else:
            types = [map_type_code(entry, is_primitive) for entry in element.get("type", [])]
            if not types:
                raise SystemExit(f"{name}: element {path} has no type")
        if is_primitive and last == "value":
            for entry in element.get("type", []):
                regex = extension_value(entry, REGEX_EXTENSION, "valueString") or regex
        record = {"n": element_name, "t": types, "min": element.get("min", 0),
                  "max": element.get("max", "1")}
        if is_choice:
            record["c"] = True
        if element.get("isSummary"):
            record["s"] = True
        if element.get("isModifier"):
            record["m"] = True
        if parent not in owner_elements:
            raise SystemExit(f"{name}: element {path} appears before its parent")
        owner_elements[parent].append(record)

    result = [{
        "name": name,
        "kind": kind,
        "abstract": bool(sd.get("abstract")),
        "base": last_segment(sd.get("baseDefinition")),
        "regex": regex,
        "elements": owner_elements[root_path],
    }]
    for path, base in backbone_base.items():
        result.append({
            "name": path,
            "kind": "backbone",
            "abstract": False,
            "base": base,
            "regex": None,
            "elements": owner_elements[path],
        })
    return result


def convert_search_parameter(resource: dict) -> dict:
    record = {
        "code": resource["code"],
        "url": resource["url"],
        "type": resource["type"],
        "base": resource.get("base", []),
    }
    optional = {
        "expression": resource.get("expression"),
        "target": resource.get("target"),
        "modifier": resource.get("modifier"),
        "comparator": resource.get("comparator"),
        "multipleOr": resource.get("multipleOr"),
        "multipleAnd": resource.get("multipleAnd"),
    }
    record.update({key: value for key, value in optional.items() if value is not None})
    components = [
        {"definition": component["definition"], "expression": component.get("expression", "")}
        for component in resource.get("component", [])
    ]
    if components:
        record["component"] = components
    return record


def build(source: Path) -> dict:
    types: list[dict] = []
    for file_name in ("profiles-types.json", "profiles-resources.json"):
        for entry in load(source / file_name)["entry"]:
            sd = entry["resource"]
            if is_wanted(sd):
                types.extend(convert_structure(sd))
    names = [item["name"] for item in types]
    if len(set(names)) != len(names):
        raise SystemExit("duplicate type names")
    known = set(names)
    for item in types:
        for element in item["elements"]:
            for code in element["t"]:
                if code not in known and not code.startswith("System."):
                    raise SystemExit(f"{item['name']}.{element['n']}: unknown type {code}")

    search_params = [
        convert_search_parameter(entry["resource"])
        for entry in load(source / "search-parameters.json")["entry"]
        if entry["resource"].get("resourceType") == "SearchParameter"
    ]

    compartment = load(source / "compartmentdefinition-patient.json")
    patient_compartment = {
        item["code"]: item["param"] for item in compartment.get("resource", []) if item.get("param")
    }

    return {
        "version": FHIR_VERSION,
        "types": types,
        "search_params": search_params,
        "patient_compartment": patient_compartment,
    }


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path("/work/shared/fhir-r4"))
    parser.add_argument("--out", type=Path, default=root / "crates/model/data/r4.json.gz")
    args = parser.parse_args()

    document = build(args.source)
    text = json.dumps(document, separators=(",", ":"), ensure_ascii=False, sort_keys=False)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0 keeps the output byte-identical across runs, so regenerating shows no spurious diff.
    with args.out.open("wb") as raw, gzip.GzipFile(
        filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0
    ) as handle:
        handle.write(text.encode("utf-8"))
    resource_count = sum(
        1 for item in document["types"] if item["kind"] == "resource" and not item["abstract"]
    )
    print(
        f"wrote {args.out}: {args.out.stat().st_size} bytes gzip ({len(text)} bytes json), "
        f"{len(document['types'])} types ({resource_count} concrete resources), "
        f"{len(document['search_params'])} search parameters, "
        f"{len(document['patient_compartment'])} patient compartment entries",
        file=sys.stderr,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
