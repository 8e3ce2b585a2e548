"""scripts/molecule_report.py: the JUnit XML it writes for a run that passed, one whose step
failed, and one that died in the middle of a step, from a stand-in for molecule's output."""

import subprocess
import sys
import xml.etree.ElementTree as ET  # noqa: S405 (reads the files this test just wrote)
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "scripts" / "molecule_report.py"


def run(tmp_path: Path, lines: list[str], status: int = 0) -> tuple[int, ET.Element, str]:
    fake = tmp_path / "fake-molecule.sh"
    body = "".join(f"echo '{line}'\n" for line in lines)
    fake.write_text(f"#!/bin/sh\n{body}exit {status}\n")
    fake.chmod(0o755)
    log, junit = tmp_path / "run.log", tmp_path / "reports" / "run.xml"
    done = subprocess.run(  # noqa: S603
        [
            sys.executable,
            str(SCRIPT),
            "--log",
            str(log),
            "--junit",
            str(junit),
            "--suite",
            "site.ubuntu2204",
            "--",
            str(fake),
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    suite = ET.parse(junit).getroot().find("testsuite")  # noqa: S314 (this test's own file)
    return done.returncode, suite, log.read_text()


def cases(suite: ET.Element) -> dict[str, ET.Element]:
    return {case.get("name"): case for case in suite.iter("testcase")}


def test_a_passing_run_has_one_passing_case_per_step(tmp_path):
    lines = [
        "INFO     [site > converge] Executing",
        "PLAY RECAP ok=3 changed=1",
        "INFO     [site > converge] Executed: Successful",
        "INFO     [site > verify] Executing",
        "INFO     [site > verify] Executed: Successful",
    ]
    rc, suite, log = run(tmp_path, lines)
    assert rc == 0
    assert log.splitlines() == lines  # the log is the output, unchanged
    assert suite.get("name") == "molecule.site.ubuntu2204"
    assert suite.get("tests") == "2" and suite.get("failures") == "0"
    assert list(cases(suite)) == ["converge", "verify"]
    assert all(case.find("failure") is None for case in suite.iter("testcase"))
    assert all(float(case.get("time")) >= 0 for case in suite.iter("testcase"))


def test_a_failed_step_is_a_failure_with_its_output_and_the_status_is_kept(tmp_path):
    lines = [
        "INFO     [site > converge] Executing",
        "INFO     [site > converge] Executed: Successful",
        "INFO     [site > idempotence] Executing",
        "CRITICAL Idempotence test failed because of the following tasks:",
        "*  => nginx : Write the site",
        "ERROR    [site > idempotence] Executed: Failed",
        "INFO     [site > destroy] Executing",
        "INFO     [site > destroy] Executed: Successful",
    ]
    rc, suite, _ = run(tmp_path, lines, status=2)
    assert rc == 2
    assert suite.get("failures") == "1"
    failure = cases(suite)["idempotence"].find("failure")
    assert failure is not None and "nginx : Write the site" in failure.text
    assert cases(suite)["destroy"].find("failure") is None


def test_a_run_that_dies_in_a_step_fails_that_step(tmp_path):
    lines = ["INFO     [site > verify] Executing", "fatal: [site]: FAILED! => {}"]
    rc, suite, _ = run(tmp_path, lines, status=1)
    assert rc == 1
    failure = cases(suite)["verify"].find("failure")
    assert failure is not None and "did not finish" in failure.get("message")
    assert "FAILED!" in failure.text


def test_a_failing_run_without_steps_still_fails(tmp_path):
    rc, suite, _ = run(tmp_path, ["CRITICAL Failed to validate the config"], status=1)
    assert rc == 1
    assert suite.get("failures") == "1"
    failure = cases(suite)["molecule"].find("failure")
    assert failure.get("message") == "molecule exited with status 1"
