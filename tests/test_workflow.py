"""The instructor's and the student's workflow, with nbgrader's own apps, end to end."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import nbformat
import pytest
from nbgrader.utils import determine_grade, is_grade, is_solution

from conftest import ASSIGNMENTS, REPO, nbgrader, run

from coursegrader.demo import VARIANTS, build_submission


def notebooks(folder: Path) -> list[Path]:
    return sorted(p for p in folder.rglob("*.ipynb") if ".ipynb_checkpoints" not in p.parts)


def comparable(nb: nbformat.NotebookNode) -> dict:
    """A notebook without the parts that vary between runs of generate_assignment."""
    data = json.loads(nbformat.writes(nb))
    for cell in data["cells"]:
        cell.pop("id", None)
    return data


def test_committed_notebooks_are_clean():
    """Do the committed notebooks in source/ and release/ carry no outputs, execution counts or extra metadata?"""
    found = notebooks(REPO / "source") + notebooks(REPO / "release")
    assert found, "no notebooks found"
    for path in found:
        nb = nbformat.read(path, as_version=4)
        assert set(nb.metadata) <= {"kernelspec", "language_info"}, path
        for cell in nb.cells:
            if cell.cell_type == "code":
                assert cell.outputs == [] and cell.execution_count is None, path
            assert set(cell.metadata) <= {"nbgrader", "deletable", "editable", "tags"}, (path, cell.metadata)


@pytest.mark.slow
def test_release_is_exactly_what_generate_assignment_makes(generated_course: Path):
    """Is the committed release/ exactly what `nbgrader generate_assignment` makes from source/?"""
    made = notebooks(generated_course / "release")
    committed = notebooks(REPO / "release")
    assert [p.relative_to(generated_course) for p in made] == [p.relative_to(REPO) for p in committed]
    for new, old in zip(made, committed):
        assert comparable(nbformat.read(new, as_version=4)) == comparable(nbformat.read(old, as_version=4)), (
            f"{old} is out of date: run `make release`")


def test_release_holds_no_solution_and_no_hidden_test():
    """Does any solution text or hidden test reach release/?"""
    for path in notebooks(REPO / "release"):
        text = path.read_text(encoding="utf-8")
        for marker in ("BEGIN SOLUTION", "END SOLUTION", "BEGIN HIDDEN TESTS", "END HIDDEN TESTS"):
            assert marker not in text, (path, marker)
        source = REPO / "source" / path.relative_to(REPO / "release")
        source_nb = nbformat.read(source, as_version=4)
        secret, public = [], []
        for cell in source_nb.cells:
            blocks = _between(cell.source, "### BEGIN SOLUTION", "### END SOLUTION") + _between(
                cell.source, "### BEGIN HIDDEN TESTS", "### END HIDDEN TESTS")
            rest = cell.source
            for block in blocks:
                rest = rest.replace(block, "")
                secret += [line.strip() for line in block.splitlines()]
            public += [line.strip() for line in rest.splitlines()]
        leaks = [line for line in set(secret) - set(public)
                 if len(line) > 25 and not line.startswith("#") and line in text]
        assert not leaks, (path, leaks[:5])


def _between(text: str, begin: str, end: str) -> list[str]:
    blocks, rest = [], text
    while begin in rest and end in rest:
        start = rest.index(begin) + len(begin)
        stop = rest.index(end, start)
        blocks.append(rest[start:stop])
        rest = rest[stop + len(end):]
    return blocks


def _points(nb: nbformat.NotebookNode) -> dict[str, float]:
    return {c.metadata.nbgrader["grade_id"]: determine_grade(c)[0] for c in nb.cells
            if is_grade(c) and not is_solution(c)}


@pytest.mark.slow
def test_student_journey_through_the_exchange(generated_course: Path, tmp_path: Path):
    """Does fetch → edit → submit → collect → autograde → feedback → export work through the exchange?"""
    course = generated_course
    student_home = tmp_path / "student"
    student_home.mkdir()
    student = {}
    exchange = ["--Exchange.root=" + str(tmp_path / "exchange"), "--CourseDirectory.course_id=m32",
                "--CourseDirectory.student_id=tanaka_ichiro"]
    assignment = ASSIGNMENTS[0]

    nbgrader(course, "release_assignment", assignment, "--force")
    nbgrader(student_home, "list", *exchange, env=student)
    nbgrader(student_home, "fetch_assignment", assignment, *exchange, env=student)
    fetched = notebooks(student_home / assignment)
    assert fetched, "nothing fetched"
    for path in fetched:  # the student answers every question with the correct code
        nb = build_submission(path, VARIANTS[assignment]["correct"])
        nbformat.write(nb, path)
    nbgrader(student_home, "submit", assignment, *exchange, env=student)

    nbgrader(course, "collect", assignment)
    submitted = notebooks(course / "submitted" / "tanaka_ichiro" / assignment)
    assert submitted, "nothing was collected"
    before = {p: p.read_bytes() for p in submitted}
    nbgrader(course, "autograde", assignment, "--force")
    nbgrader(course, "generate_feedback", assignment, "--force")
    nbgrader(course, "release_feedback", assignment)
    nbgrader(student_home, "fetch_feedback", assignment, *exchange, env=student)
    nbgrader(course, "export", "--to", str(course / "grades-export.csv"))

    assert {p: p.read_bytes() for p in submitted} == before, "a submitted notebook was modified"
    autograded = notebooks(course / "autograded" / "tanaka_ichiro" / assignment)
    assert autograded, "nothing was autograded"
    for path in autograded:
        nb = nbformat.read(path, as_version=4)
        points = _points(nb)
        assert points and all(p == m for p, m in zip(points.values(), _max_points(nb).values())), points
    feedback = list((student_home / assignment / "feedback").rglob("*.html"))
    assert feedback, "the student received no feedback"
    page = feedback[0].read_text(encoding="utf-8")
    assert "BEGIN HIDDEN TESTS" not in page and "合格" in page
    rows = list(csv.DictReader((course / "grades-export.csv").open(encoding="utf-8")))
    mine = [r for r in rows if r["student_id"] == "tanaka_ichiro" and r["assignment"] == assignment]
    assert mine and float(mine[0]["score"]) == float(mine[0]["max_score"]) > 0, rows


def _max_points(nb: nbformat.NotebookNode) -> dict[str, float]:
    return {c.metadata.nbgrader["grade_id"]: float(c.metadata.nbgrader["points"]) for c in nb.cells
            if is_grade(c) and not is_solution(c)}


@pytest.mark.slow
def test_grade_command_on_the_demo_class(tmp_path: Path):
    """Does `coursegrader grade --demo` grade the bundled class and write grades, feedback and a report?"""
    import sys

    from coursegrader.demo import DEMO_CLASS

    demo = tmp_path / "demo"
    result = run(tmp_path, sys.executable, "-m", "coursegrader", "grade", "--demo", "--root", str(demo))
    assert "DEMO CLASS" in result.stdout
    rows = list(csv.DictReader((demo / "grades.csv").open(encoding="utf-8")))
    assert {r["student_id"] for r in rows} == set(DEMO_CLASS)
    assert len(rows) == len(DEMO_CLASS) * len(ASSIGNMENTS)
    assert all(r["status"] == "graded" for r in rows), rows
    assert any(float(r["score"]) == float(r["max_score"]) for r in rows)
    assert any(float(r["score"]) < float(r["max_score"]) for r in rows)
    assert (demo / "reports" / "report.html").exists() and (demo / "reports" / "histogram.png").exists()
    assert len(list((demo / "feedback").rglob("*.html"))) == len(rows)
