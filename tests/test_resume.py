"""Resumable batches: `kill -9` in the middle, rerun, and the grades are those of an uninterrupted run."""

from __future__ import annotations

import csv
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import nbformat
import pytest

from conftest import copy_course, nbgrader, run

from coursegrader.demo import DEMO_CLASS, VARIANTS, build_submission

pytestmark = pytest.mark.slow

ASSIGNMENT = "ps2"


def make_class(root: Path, env: dict) -> None:
    nbgrader(root, "generate_assignment", ASSIGNMENT, "--force", "--create", env=env)
    for student, work in DEMO_CLASS.items():
        folder = root / "submitted" / student / ASSIGNMENT
        folder.mkdir(parents=True)
        nb = build_submission(root / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", VARIANTS[ASSIGNMENT][work[ASSIGNMENT]])
        nbformat.write(nb, folder / f"{ASSIGNMENT}.ipynb")


def grades(root: Path) -> dict[str, tuple[str, str]]:
    with (root / "grades.csv").open(encoding="utf-8") as handle:
        return {row["student_id"]: (row["status"], row["score"]) for row in csv.DictReader(handle)
                if row["assignment"] == ASSIGNMENT}


def grade_command(root: Path) -> list[str]:
    return [sys.executable, "-m", "coursegrader", "grade", "--root", str(root), "--assignment", ASSIGNMENT,
            "--seed", "77"]


def test_kill_dash_nine_then_rerun_gives_identical_grades(tmp_path):
    """After kill -9 of the grader mid-batch, does a rerun finish with the grades of an uninterrupted run,
    grading only what was left, with a consistent gradebook?"""
    env = {"COURSEGRADER_EXCHANGE": str(tmp_path / "exchange")}
    reference = copy_course(tmp_path / "reference")
    make_class(reference, env)
    run(reference, *grade_command(reference), env=env)

    interrupted = copy_course(tmp_path / "interrupted")
    make_class(interrupted, env)
    process = subprocess.Popen(grade_command(interrupted), cwd=interrupted, env={**os.environ, **env},
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    manifests = lambda: list((interrupted / "autograded").rglob(".grading-manifest.json"))  # noqa: E731
    deadline = time.monotonic() + 120
    while len(manifests()) < 3 and time.monotonic() < deadline and process.poll() is None:
        time.sleep(0.05)
    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    done_before = len(manifests())
    assert 0 < done_before < len(DEMO_CLASS), "the kill did not land in the middle of the batch"

    result = run(interrupted, *grade_command(interrupted), env=env)
    assert f"reused {done_before}" in result.stderr
    assert grades(interrupted) == grades(reference)

    from nbgrader.api import Gradebook

    with Gradebook("sqlite:///" + str(interrupted / "gradebook.db")) as gb:
        assert len(gb.assignment_submissions(ASSIGNMENT)) == len(DEMO_CLASS)
        for student, (status, score) in grades(interrupted).items():
            assert status == "graded"
            assert gb.find_submission(ASSIGNMENT, student).score == float(score)
