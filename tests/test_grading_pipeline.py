"""Every named fake submission through the real pipeline: sandbox, replay, gradebook, feedback.

One batch (`coursegrader grade`) grades every variant of every assignment as its own student. Each must
get exactly its expected points per test cell, its expected Japanese diagnoses in the feedback HTML,
and the feedback must show no test code, hidden inputs or references.
"""

from __future__ import annotations

import html
import json
import re
import sys
from pathlib import Path

import pytest

from conftest import ASSIGNMENTS, copy_course, nbgrader, run

from coursegrader.demo import EXPECTED_DIAGNOSES, EXPECTED_POINTS, VARIANTS, build_submission
from coursegrader.messages import MESSAGES

pytestmark = pytest.mark.slow

CASES = [(a, v) for a in ASSIGNMENTS for v in sorted(VARIANTS[a])]


def student_id(assignment: str, variant: str) -> str:
    return f"{assignment}_{variant}"


def fragment(key: str) -> str:
    """The longest literal piece of a catalog message (the text between its ``{fields}``)."""
    return max(re.split(r"\{[^{}]*\}", MESSAGES[key]), key=len).strip()


@pytest.fixture(scope="module")
def graded(tmp_path_factory):
    base = tmp_path_factory.mktemp("pipeline")
    root = copy_course(base / "course")
    env = {"COURSEGRADER_EXCHANGE": str(base / "exchange")}
    for assignment in ASSIGNMENTS:
        nbgrader(root, "generate_assignment", assignment, "--force", "--create", env=env)
    import nbformat

    for assignment, variant in CASES:
        folder = root / "submitted" / student_id(assignment, variant) / assignment
        folder.mkdir(parents=True)
        nb = build_submission(root / "release" / assignment / f"{assignment}.ipynb", VARIANTS[assignment][variant])
        nbformat.write(nb, folder / f"{assignment}.ipynb")
    result = run(root, sys.executable, "-m", "coursegrader", "grade", "--root", str(root), "--seed", "20261203",
                 env=env, check=False)
    return root, result


def _outcome(root: Path, assignment: str, variant: str) -> dict:
    path = root / "autograded" / student_id(assignment, variant) / assignment / ".grading-manifest.json"
    return json.loads(path.read_text(encoding="utf-8"))["outcome"]


def _feedback(root: Path, assignment: str, variant: str) -> str:
    path = root / "feedback" / student_id(assignment, variant) / assignment / f"{assignment}.html"
    return html.unescape(path.read_text(encoding="utf-8"))


def test_batch_succeeds(graded):
    """Does the batch over every fake submission finish without an error?"""
    root, result = graded
    assert result.returncode == 0, result.stderr[-3000:]


@pytest.mark.parametrize(("assignment", "variant"), CASES)
def test_points_per_test_cell(graded, assignment, variant):
    """Does this fake submission get exactly its expected points on every test cell?"""
    root, _ = graded
    outcome = _outcome(root, assignment, variant)
    assert outcome["status"] == "graded", outcome
    got = {grade_id: cell["score"] for grade_id, cell in outcome["cells"].items()}
    assert got == {k: float(v) for k, v in EXPECTED_POINTS[assignment][variant].items()}


@pytest.mark.parametrize(("assignment", "variant"), CASES)
def test_feedback_names_the_mistake_and_hides_the_tests(graded, assignment, variant):
    """Does the feedback say each expected diagnosis in Japanese, and show no hidden test code?"""
    root, _ = graded
    page = _feedback(root, assignment, variant)
    outcome = _outcome(root, assignment, variant)
    for grade_id, keys in EXPECTED_DIAGNOSES[assignment].get(variant, {}).items():
        assert set(keys) <= set(outcome["cells"][grade_id]["diagnoses"]), (grade_id, outcome["cells"][grade_id])
        for key in keys:
            assert fragment(key) in page, (grade_id, key)
    for secret in ("BEGIN HIDDEN TESTS", "case.rng", "case.call(", "expect_array", "GradingFailure  "):
        assert secret not in page, secret
