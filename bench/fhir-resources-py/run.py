#!/usr/bin/env python3
"""The peer side of `medulla bench validate --peer`: the Python package fhir.resources
(pydantic models), validating the same resources as Medulla.

    python run.py --file resources.ndjson --seconds S --processes 1,2

Which fhir.resources: 6.4.0 (pinned in requirements.txt), the last release whose root package
models FHIR R4 4.0.1, the version Medulla validates against. 6.5.0 made R4B (4.3.0) the root
package; 7.x moved R4B to `fhir.resources.R4B` and made R5 the root; 8.x (pydantic 2) ships
R5, R4B and STU3 only. So a newer release would validate against a different FHIR version.
6.4.0 runs on pydantic 1.10 (its compiled build).

What it checks: each resource is built with `Model.parse_obj(dict)` of the model class for its
resourceType: element names (unknown ones are rejected), JSON types, required elements (those
with min 1), lists vs single values, choice types (one value[x] at most), primitive formats (the
R4 regexes for id, code, date, dateTime, uri, ...). No terminology bindings, no invariants (the
constraint expressions), no slicing, profiles or extension definitions.

Reads every line into a dict first (not timed), builds every resource once untimed (counting
the rejected ones by type, with the first messages), then for each process count P: P forked
workers each take every P-th resource and build models in a loop until S seconds have passed.
Only model building is timed. Prints one JSON line (the last line of output).
"""
import argparse
import json
import multiprocessing
import platform
import sys
import time
from importlib.metadata import version

import fhir.resources
import pydantic
from fhir.resources import get_fhir_model_class

# Set before the workers fork, so that they inherit it without pickling.
RESOURCES = []
CLASSES = []


def model_class(resource_type):
    try:
        return get_fhir_model_class(resource_type)
    except (KeyError, ValueError):
        return None


def build(index):
    """Builds one model; True when fhir.resources accepts the resource."""
    cls = CLASSES[index]
    if cls is None:
        return False
    try:
        cls.parse_obj(RESOURCES[index])
        return True
    except Exception:  # noqa: BLE001 - a rejection of any kind is what is counted
        return False


def check():
    """One untimed pass: rejected resources by type, the first message of each type, and the
    indices (0-based lines) of the rejected resources."""
    rejected = {}
    examples = {}
    indices = []
    for index, resource in enumerate(RESOURCES):
        resource_type = resource.get("resourceType", "?")
        cls = CLASSES[index]
        message = None
        if cls is None:
            message = f"no model for resourceType {resource_type!r}"
        else:
            try:
                cls.parse_obj(resource)
            except Exception as error:  # noqa: BLE001
                message = " ".join(str(error).split())
        if message is not None:
            indices.append(index)
            rejected[resource_type] = rejected.get(resource_type, 0) + 1
            examples.setdefault(resource_type, message[:300])
    return rejected, examples, indices


def worker(offset, stride, seconds, barrier, results):
    """Builds models of every `stride`-th resource from `offset` until `seconds` have passed."""
    mine = range(offset, len(RESOURCES), stride)
    barrier.wait()
    validated = 0
    failed = 0
    started = time.perf_counter()
    elapsed = 0.0
    while elapsed < seconds and mine:
        for index in mine:
            if not build(index):
                failed += 1
            validated += 1
            if validated % 64 == 0:
                elapsed = time.perf_counter() - started
                if elapsed >= seconds:
                    break
        elapsed = time.perf_counter() - started
    results.put((validated, failed, elapsed))


def measure(processes, seconds):
    """`processes` forked workers at once; the resources are inherited, not pickled."""
    context = multiprocessing.get_context("fork")
    barrier = context.Barrier(processes)
    results = context.SimpleQueue()
    workers = [
        context.Process(target=worker, args=(offset, processes, seconds, barrier, results))
        for offset in range(processes)
    ]
    for process in workers:
        process.start()
    outcomes = [results.get() for _ in workers]
    for process in workers:
        process.join()
    validated = sum(outcome[0] for outcome in outcomes)
    failed = sum(outcome[1] for outcome in outcomes)
    wall = max(outcome[2] for outcome in outcomes)
    return {
        "processes": processes,
        "validated": validated,
        "failed": failed,
        "seconds": wall,
        "rate": validated / wall if wall > 0 else 0.0,
    }


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--file", required=True)
    parser.add_argument("--seconds", type=float, default=3.0)
    parser.add_argument("--processes", default="1")
    options = parser.parse_args()
    counts = [int(count) for count in options.processes.split(",") if count]

    with open(options.file, encoding="utf-8") as handle:
        for line in handle:
            if line.strip():
                RESOURCES.append(json.loads(line))
    classes = {}
    for resource in RESOURCES:
        resource_type = resource.get("resourceType", "?")
        if resource_type not in classes:
            classes[resource_type] = model_class(resource_type)
        CLASSES.append(classes[resource_type])

    started = time.perf_counter()
    rejected, examples, indices = check()
    check_seconds = time.perf_counter() - started
    runs = [measure(count, options.seconds) for count in counts]
    print(
        json.dumps(
            {
                "peer": "fhir.resources",
                "version": version("fhir.resources"),
                "fhir_version": fhir.resources.__fhir_version__,
                "pydantic": pydantic.VERSION,
                "pydantic_compiled": bool(getattr(pydantic, "compiled", False)),
                "python": platform.python_version(),
                "resources": len(RESOURCES),
                "rejected": sum(rejected.values()),
                "rejected_by_type": rejected,
                "rejection_examples": examples,
                "rejected_lines": indices,
                "check_seconds": check_seconds,
                "runs": runs,
            }
        )
    )


if __name__ == "__main__":
    sys.exit(main())
