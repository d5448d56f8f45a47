#!/usr/bin/env python3
"""Generate crates/validation/data/r4-structures.json.gz from the HL7 FHIR R4 4.0.1 definitions.

Usage (from the workspace root):

    python3 tools/gen_validation.py [--source /work/shared/fhir-r4] [--out crates/validation/data/r4-structures.json.gz]

Reads profiles-types.json, profiles-resources.json and extension-definitions.json and writes one
JSON array of StructureDefinitions, gzip-compressed, that the `medulla-validation` crate embeds
with `include_bytes!`. Standard library only (Python 3.11).

The StructureDefinitions keep the FHIR JSON shape, so the crate reads them with the same code
that reads a profile POSTed to the server, but only the parts validation uses are kept:

- the resource: resourceType, url, version, name, type, kind, abstract, derivation,
  baseDefinition, context (extensions), contextInvariant;
- each snapshot element: id, path, sliceName, min, max, contentReference, type (code, profile,
  targetProfile, and the structuredefinition-fhir-type extension that names the FHIR type of
  `System.String` codes), fixed[x], pattern[x], binding (strength, valueSet), constraint (key,
  severity, human, expression), slicing (discriminator, ordered, rules), maxLength,
  minValue[x], maxValue[x], isModifier, and the element's `regex` extension if it has one, and base.max (arrays in JSON follow the base
  cardinality).

Texts, mappings, aliases, xpaths, examples and differentials are dropped. Left out: the
StructureDefinitions that are not R4 4.0.1 (`SubscriptionStatus`, an R4B backport), and the
logical model `MetadataResource`.
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

FHIR_VERSION = "4.0.1"
FHIR_TYPE_EXTENSION = "http://hl7.org/fhir/StructureDefinition/structuredefinition-fhir-type"
REGEX_EXTENSION = "http://hl7.org/fhir/StructureDefinition/regex"

RESOURCE_KEYS = [
    "resourceType",
    "url",
    "version",
    "name",
    "type",
    "kind",
    "abstract",
    "derivation",
    "baseDefinition",
    "context",
    "contextInvariant",
]
ELEMENT_KEYS = ["id", "path", "sliceName", "min", "max", "contentReference", "maxLength", "isModifier"]
ELEMENT_PREFIXES = ("fixed", "pattern", "minValue", "maxValue")


def load_structure_definitions(path: Path) -> list[dict]:
    with path.open(encoding="utf-8") as handle:
        bundle = json.load(handle)
    return [
        entry["resource"]
        for entry in bundle.get("entry", [])
        if entry.get("resource", {}).get("resourceType") == "StructureDefinition"
    ]


def reduce_type(type_entry: dict) -> dict:
    reduced: dict = {"code": type_entry["code"]}
    kept_extensions = [
        extension
        for extension in type_entry.get("extension", [])
        if extension.get("url") in (FHIR_TYPE_EXTENSION, REGEX_EXTENSION)
    ]
    if kept_extensions:
        reduced["extension"] = kept_extensions
    for key in ("profile", "targetProfile"):
        if type_entry.get(key):
            reduced[key] = type_entry[key]
    return reduced


def reduce_element(element: dict) -> dict:
    reduced: dict = {key: element[key] for key in ELEMENT_KEYS if key in element}
    # The base maximum decides whether JSON holds an array, whatever a profile narrows it to.
    if "base" in element and "max" in element["base"]:
        reduced["base"] = {"max": element["base"]["max"]}
    if element.get("type"):
        reduced["type"] = [reduce_type(type_entry) for type_entry in element["type"]]
    for key, value in element.items():
        if key.startswith(ELEMENT_PREFIXES):
            reduced[key] = value
    regex = [
        extension
        for extension in element.get("extension", [])
        if extension.get("url") == REGEX_EXTENSION
    ]
    if regex:
        reduced["extension"] = regex
    binding = element.get("binding")
    if binding and binding.get("valueSet"):
        reduced["binding"] = {"strength": binding["strength"], "valueSet": binding["valueSet"]}
    if element.get("constraint"):
        reduced["constraint"] = [
            {key: constraint[key] for key in ("key", "severity", "human", "expression") if key in constraint}
            for constraint in element["constraint"]
        ]
    slicing = element.get("slicing")
    if slicing:
        reduced["slicing"] = {
            key: slicing[key] for key in ("discriminator", "ordered", "rules") if key in slicing
        }
    return reduced


def reduce_structure_definition(definition: dict) -> dict:
    reduced = {key: definition[key] for key in RESOURCE_KEYS if key in definition}
    reduced["snapshot"] = {
        "element": [reduce_element(element) for element in definition["snapshot"]["element"]]
    }
    return reduced


def is_wanted(definition: dict) -> bool:
    if definition.get("fhirVersion", FHIR_VERSION) != FHIR_VERSION:
        return False
    if definition.get("kind") == "logical":
        return False
    return bool(definition.get("snapshot", {}).get("element"))


def main() -> int:
    root = Path(__file__).resolve().parent.parent
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--source", type=Path, default=Path("/work/shared/fhir-r4"))
    parser.add_argument(
        "--out", type=Path, default=root / "crates/validation/data/r4-structures.json.gz"
    )
    args = parser.parse_args()

    structures: list[dict] = []
    counts: dict[str, int] = {}
    for file_name in ("profiles-types.json", "profiles-resources.json", "extension-definitions.json"):
        kept = [
            reduce_structure_definition(definition)
            for definition in load_structure_definitions(args.source / file_name)
            if is_wanted(definition)
        ]
        counts[file_name] = len(kept)
        structures.extend(kept)

    urls = [definition["url"] for definition in structures]
    if len(urls) != len(set(urls)):
        print("duplicate StructureDefinition urls in the source", file=sys.stderr)
        return 1

    text = json.dumps(structures, separators=(",", ":"), ensure_ascii=False)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0 keeps the output byte-identical across runs, so regenerating shows no spurious diff.
    with args.out.open("wb") as raw, gzip.GzipFile(
        filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0
    ) as compressed:
        compressed.write(text.encode("utf-8"))
    print(
        f"wrote {args.out}: {args.out.stat().st_size} bytes gzip ({len(text)} bytes json), "
        + ", ".join(f"{count} from {name}" for name, count in counts.items())
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
