"""Parses every message of a corpus (one message per line, segments separated by \\r) with
the Python `hl7` or `hl7apy` package, reading PID-5 and every OBX-5, for `rounds` rounds.
Prints {"parser", "version", "messages", "values", "seconds"} as JSON."""
import json
import sys
import time
from importlib.metadata import version


def with_hl7(corpus):
    import hl7

    values = 0
    for text in corpus:
        message = hl7.parse(text)
        for segment in message:
            name = str(segment[0])
            if name == "PID" and len(segment) > 5 and str(segment[5]):
                values += 1
            elif name == "OBX" and len(segment) > 5 and str(segment[5]):
                values += 1
    return values


def with_hl7apy(corpus):
    from hl7apy.parser import parse_message

    values = 0
    for text in corpus:
        message = parse_message(text, find_groups=False, validation_level=2)
        for segment in message.children:
            if segment.name == "PID" and segment.pid_5.value:
                values += 1
            elif segment.name == "OBX" and segment.obx_5.value:
                values += 1
    return values


def main():
    parser, file, rounds = sys.argv[1], sys.argv[2], int(sys.argv[3])
    with open(file, encoding="latin-1", newline="") as handle:
        corpus = [line for line in handle.read().split("\n") if line]
    work = with_hl7 if parser == "hl7" else with_hl7apy
    work(corpus[:50])  # warm-up
    started = time.perf_counter()
    values = 0
    for _ in range(rounds):
        values += work(corpus)
    seconds = time.perf_counter() - started
    print(json.dumps({"parser": f"python {parser}", "version": version(parser),
                      "messages": len(corpus) * rounds, "values": values, "seconds": seconds}))


main()
