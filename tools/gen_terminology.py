#!/usr/bin/env python3
"""Generate crates/terminology/data/fhir-r4-terminology.json.gz from the HL7 FHIR R4 4.0.1 files.

Usage (from the workspace root):

    python3 tools/gen_terminology.py [--source /work/shared/fhir-r4]
                                     [--out crates/terminology/data/fhir-r4-terminology.json.gz]

Reads valuesets.json, v3-codesystems.json and v2-tables.json (Bundles of CodeSystem and ValueSet
resources) and conceptmaps.json (a Bundle of ConceptMaps) and writes one compact JSON document, gzip-compressed, that the `medulla-terminology`
crate embeds with `include_bytes!`. Standard library only (Python 3.11).

The document keeps FHIR's own shape, cut down to what terminology operations read, so the crate
parses it with the same code that reads CodeSystem and ValueSet resources sent to the server:

    {
      "fhirVersion": "4.0.1",
      "codeSystems": [
        {"url": "...", "version": "...", "name": "...", "title": "...", "status": "...",
         "content": "complete", "caseSensitive": true, "hierarchyMeaning": "is-a",
         "property": [{"code": "status", "uri": "...", "type": "code"}],
         "concept": [{"code": "...", "display": "...", "definition": "...",
                      "designation": [{"language": "nl", "use": {...}, "value": "..."}],
                      "property": [{"code": "status", "valueCode": "retired"}],
                      "concept": [...]}]}
      ],
      "valueSets": [
        {"url": "...", "version": "...", "name": "...", "title": "...", "status": "...",
         "compose": {"inactive": true,
                     "include": [{"system": "...", "version": "...",
                                  "concept": [{"code": "...", "display": "..."}],
                                  "filter": [{"property": "concept", "op": "is-a", "value": "..."}],
                                  "valueSet": ["..."]}],
                     "exclude": [...]}}
      ],
      "conceptMaps": [
        {"resourceType": "ConceptMap", "url": "...", "version": "...", "name": "...",
         "title": "...", "status": "...", "sourceUri"/"sourceCanonical": "...",
         "targetUri"/"targetCanonical": "...",
         "group": [{"source": "...", "sourceVersion": "...", "target": "...",
                    "targetVersion": "...",
                    "element": [{"code": "...", "display": "...",
                                 "target": [{"code": "...", "display": "...",
                                             "equivalence": "...", "comment": "...",
                                             "dependsOn": [...], "product": [...]}]}],
                    "unmapped": {"mode": "...", "code": "...", "display": "...", "url": "..."}}]}
      ]
    }

Left out: narrative, metadata other than the keys above, every extension (concept comments,
replacedBy), property and code system descriptions, designations inside value set compose,
stored expansions, CodeSystems whose content is `not-present` (SNOMED CT's and `summary`'s
entries: they hold no concepts) and the one `supplement` (an example).
"""

from __future__ import annotations

import argparse
import gzip
import json
import sys
from pathlib import Path

FHIR_VERSION = "4.0.1"
SOURCES = ("valuesets.json", "v3-codesystems.json", "v2-tables.json")
CONCEPT_MAP_SOURCE = "conceptmaps.json"
CONCEPT_MAP_KEYS = ("resourceType", "url", "version", "name", "title", "status", "sourceUri",
                    "sourceCanonical", "targetUri", "targetCanonical")
CODE_SYSTEM_KEYS = ("url", "version", "name", "title", "status", "content", "caseSensitive",
                    "hierarchyMeaning")
VALUE_SET_KEYS = ("url", "version", "name", "title", "status")
PROPERTY_VALUE_KEYS = ("valueCode", "valueCoding", "valueString", "valueInteger", "valueBoolean",
                       "valueDateTime", "valueDecimal")


def pick(resource: dict, keys: tuple[str, ...]) -> dict:
    return {key: resource[key] for key in keys if key in resource}


def compact_coding(coding: dict) -> dict:
    return pick(coding, ("system", "version", "code", "display"))


def compact_concept(concept: dict) -> dict:
    out = pick(concept, ("code", "display", "definition"))
    designations = []
    for designation in concept.get("designation", []):
        entry = pick(designation, ("language", "value"))
        if "use" in designation:
            entry["use"] = compact_coding(designation["use"])
        designations.append(entry)
    if designations:
        out["designation"] = designations
    properties = []
    for prop in concept.get("property", []):
        entry = {"code": prop["code"]}
        for key in PROPERTY_VALUE_KEYS:
            if key in prop:
                value = prop[key]
                entry[key] = compact_coding(value) if key == "valueCoding" else value
        properties.append(entry)
    if properties:
        out["property"] = properties
    children = [compact_concept(child) for child in concept.get("concept", [])]
    if children:
        out["concept"] = children
    return out


def compact_code_system(resource: dict) -> dict:
    out = pick(resource, CODE_SYSTEM_KEYS)
    properties = [pick(prop, ("code", "uri", "type")) for prop in resource.get("property", [])]
    if properties:
        out["property"] = properties
    out["concept"] = [compact_concept(concept) for concept in resource.get("concept", [])]
    return out


def compact_concept_set(concept_set: dict) -> dict:
    out = pick(concept_set, ("system", "version", "valueSet"))
    concepts = [pick(concept, ("code", "display")) for concept in concept_set.get("concept", [])]
    if concepts:
        out["concept"] = concepts
    filters = [pick(filt, ("property", "op", "value")) for filt in concept_set.get("filter", [])]
    if filters:
        out["filter"] = filters
    return out


def compact_value_set(resource: dict) -> dict:
    out = pick(resource, VALUE_SET_KEYS)
    compose = resource.get("compose")
    if compose is not None:
        compact = pick(compose, ("inactive",))
        for key in ("include", "exclude"):
            sets = [compact_concept_set(concept_set) for concept_set in compose.get(key, [])]
            if sets:
                compact[key] = sets
        out["compose"] = compact
    return out


def compact_concept_map(resource: dict) -> dict:
    out = pick(resource, CONCEPT_MAP_KEYS)
    groups = []
    for group in resource.get("group", []):
        entry = pick(group, ("source", "sourceVersion", "target", "targetVersion"))
        elements = []
        for element in group.get("element", []):
            compact = pick(element, ("code", "display"))
            targets = []
            for target in element.get("target", []):
                target_entry = pick(target, ("code", "display", "equivalence", "comment"))
                for key in ("dependsOn", "product"):
                    values = [pick(value, ("property", "system", "value", "display"))
                              for value in target.get(key, [])]
                    if values:
                        target_entry[key] = values
                targets.append(target_entry)
            if targets:
                compact["target"] = targets
            elements.append(compact)
        if elements:
            entry["element"] = elements
        if "unmapped" in group:
            entry["unmapped"] = pick(group["unmapped"], ("mode", "code", "display", "url"))
        groups.append(entry)
    if groups:
        out["group"] = groups
    return out


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--source", type=Path, default=Path("/work/shared/fhir-r4"))
    parser.add_argument("--out", type=Path,
                        default=Path("crates/terminology/data/fhir-r4-terminology.json.gz"))
    args = parser.parse_args()

    code_systems: list[dict] = []
    value_sets: list[dict] = []
    skipped: list[str] = []
    seen: set[tuple[str, str]] = set()
    for name in SOURCES:
        with (args.source / name).open(encoding="utf-8") as handle:
            bundle = json.load(handle)
        for entry in bundle.get("entry", []):
            resource = entry["resource"]
            kind = resource["resourceType"]
            key = (kind, resource["url"])
            if key in seen:
                print(f"error: {kind} {resource['url']} appears twice", file=sys.stderr)
                return 1
            seen.add(key)
            if kind == "CodeSystem":
                if resource.get("content") in ("not-present", "supplement"):
                    skipped.append(f"{resource['url']} ({resource.get('content')})")
                    continue
                code_systems.append(compact_code_system(resource))
            elif kind == "ValueSet":
                value_sets.append(compact_value_set(resource))

    concept_maps: list[dict] = []
    with (args.source / CONCEPT_MAP_SOURCE).open(encoding="utf-8") as handle:
        bundle = json.load(handle)
    for entry in bundle.get("entry", []):
        resource = entry["resource"]
        if resource["resourceType"] != "ConceptMap":
            continue
        key = ("ConceptMap", resource["url"])
        if key in seen:
            print(f"error: ConceptMap {resource['url']} appears twice", file=sys.stderr)
            return 1
        seen.add(key)
        concept_maps.append(compact_concept_map(resource))

    document = {"fhirVersion": FHIR_VERSION, "codeSystems": code_systems, "valueSets": value_sets,
                "conceptMaps": concept_maps}
    text = json.dumps(document, ensure_ascii=False, separators=(",", ":"), sort_keys=False)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    # mtime=0 keeps the output byte-identical across runs, so regenerating shows no spurious diff.
    with args.out.open("wb") as raw, gzip.GzipFile(
        filename="", mode="wb", fileobj=raw, compresslevel=9, mtime=0
    ) as out:
        out.write(text.encode("utf-8"))

    def count(concepts: list[dict]) -> int:
        return sum(1 + count(concept.get("concept", [])) for concept in concepts)

    concept_count = sum(count(system["concept"]) for system in code_systems)
    print(
        f"wrote {args.out}: {args.out.stat().st_size} bytes gzip ({len(text)} bytes json), "
        f"{len(code_systems)} code systems ({concept_count} concepts), "
        f"{len(value_sets)} value sets, {len(concept_maps)} concept maps; "
        f"skipped {', '.join(skipped)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
