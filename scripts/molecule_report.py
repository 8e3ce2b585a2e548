#!/usr/bin/env python3
"""Run one `molecule test` and write, besides its log, a JUnit XML file with one test case
per molecule step (destroy, syntax, create, prepare, converge, idempotence, check, verify),
timed from the moment molecule announced the step to the moment it reported its result.

    scripts/molecule_report.py --log L --junit J --suite site.ubuntu2204 [--tee] -- \
        molecule test -s site

The command's output goes to --log (and to stdout with --tee) unchanged; this script exits
with the command's status. A step molecule reported as failed, or the step that was running
when the command ended with a non-zero status, is a failure holding the step's last lines
of output; when no step failed that way but the status is non-zero, one more case,
"molecule", says so.
"""

import argparse
import re
import subprocess
import sys
import time
import xml.etree.ElementTree as ET
from collections import deque
from datetime import UTC, datetime
from pathlib import Path

# molecule's step lines without colour (NO_COLOR=1): "INFO     [site > converge] Executing"
# and "ERROR    [site > verify] Executed: Failed".
STEP = re.compile(
    r"^\w+\s+\[(?P<scenario>[^\]>]+) > (?P<step>[\w-]+)\]\s+(?P<what>Executing|Executed: .*)$"
)
TAIL = 120  # lines of a failed step's output kept in the report


class Step:
    def __init__(self, name: str, started: float) -> None:
        self.name, self.started = name, started
        self.ended: float | None = None
        self.result: str | None = None  # "Successful", "Failed", "Skipped", ...
        self.tail: deque[str] = deque(maxlen=TAIL)


def run(command: list[str], log: Path, tee: bool) -> tuple[int, list[Step], float, float]:
    steps: list[Step] = []
    started = time.time()
    with log.open("w", encoding="utf-8") as out:
        proc = subprocess.Popen(  # noqa: S603 (the caller's own command)
            command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, errors="replace"
        )
        for line in proc.stdout or ():
            out.write(line)
            out.flush()
            if tee:
                sys.stdout.write(line)
                sys.stdout.flush()
            text = line.rstrip("\n")
            match = STEP.match(text)
            if match and match["what"] == "Executing":
                steps.append(Step(match["step"], time.time()))
            elif match and steps and steps[-1].name == match["step"]:
                steps[-1].ended = time.time()
                steps[-1].result = match["what"].removeprefix("Executed: ").strip()
            elif steps:
                steps[-1].tail.append(text)
        rc = proc.wait()
    return rc, steps, started, time.time()


def report(suite: str, rc: int, steps: list[Step], started: float, ended: float) -> ET.Element:
    root = ET.Element("testsuites")
    node = ET.SubElement(root, "testsuite", name=f"molecule.{suite}")
    failures = skipped = 0
    for i, step in enumerate(steps):
        end = step.ended or (steps[i + 1].started if i + 1 < len(steps) else ended)
        case = ET.SubElement(
            node,
            "testcase",
            classname=f"molecule.{suite}",
            name=step.name,
            time=f"{end - step.started:.1f}",
        )
        # The last step without a result when the command failed is the one that broke.
        broke = step.result is None and rc != 0 and i == len(steps) - 1
        if (step.result or "").lower().startswith("fail") or broke:
            failures += 1
            failure = ET.SubElement(
                case, "failure", message=f"molecule {step.name} {step.result or 'did not finish'}"
            )
            failure.text = "\n".join(step.tail)
        elif (step.result or "").lower().startswith(("skip", "disabled")):
            skipped += 1
            ET.SubElement(case, "skipped", message=step.result or "")
    if rc != 0 and failures == 0:
        failures += 1
        case = ET.SubElement(node, "testcase", classname=f"molecule.{suite}", name="molecule")
        case.set("time", "0")
        failure = ET.SubElement(case, "failure", message=f"molecule exited with status {rc}")
        failure.text = "\n".join(steps[-1].tail if steps else [])
    node.set("tests", str(len(node)))
    node.set("failures", str(failures))
    node.set("errors", "0")
    node.set("skipped", str(skipped))
    node.set("time", f"{ended - started:.1f}")
    node.set("timestamp", datetime.fromtimestamp(started, UTC).strftime("%Y-%m-%dT%H:%M:%S"))
    return root


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--log", type=Path, required=True)
    parser.add_argument("--junit", type=Path, required=True)
    parser.add_argument("--suite", required=True, help="e.g. site.ubuntu2204")
    parser.add_argument("--tee", action="store_true", help="copy the output to stdout too")
    parser.add_argument("command", nargs="+")
    args = parser.parse_args()
    rc, steps, started, ended = run(args.command, args.log, args.tee)
    args.junit.parent.mkdir(parents=True, exist_ok=True)
    tree = ET.ElementTree(report(args.suite, rc, steps, started, ended))
    ET.indent(tree)
    tree.write(args.junit, encoding="utf-8", xml_declaration=True)
    return rc


if __name__ == "__main__":
    sys.exit(main())
