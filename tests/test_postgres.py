"""The gradebook on PostgreSQL: a class graded with ``COURSEGRADER_DB_URL`` pointing to a real server.

CI starts the server with ``make postgres-up`` and sets ``COURSEGRADER_TEST_POSTGRES_URL`` to
``make -s postgres-url`` (a role that may create databases). Each run grades into a database of its own,
created here and dropped at the end. Without the variable the tests are skipped, and say why.
"""

from __future__ import annotations

import csv
import os
import sys
import uuid

import pytest

from conftest import copy_course, nbgrader, run

from coursegrader.demo import EXPECTED_POINTS, VARIANTS, build_submission

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("COURSEGRADER_TEST_POSTGRES_URL"),
                       reason="COURSEGRADER_TEST_POSTGRES_URL is not set: run `make postgres-up` and "
                              "export COURSEGRADER_TEST_POSTGRES_URL=$(make -s postgres-url)"),
]

ASSIGNMENT = "ps2"
CASES = ["correct", "forward_difference", "not_restored", "integer_truncation"]
SEED = 20261203


def student_id(variant: str) -> str:
    return f"{ASSIGNMENT}_{variant}"


@pytest.fixture(scope="module")
def database():
    """A new, empty database on the test server (its URL), dropped after the module."""
    import sqlalchemy

    server = sqlalchemy.make_url(os.environ["COURSEGRADER_TEST_POSTGRES_URL"])
    name = f"coursegrader_test_{uuid.uuid4().hex[:12]}"
    admin = sqlalchemy.create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(sqlalchemy.text(f'CREATE DATABASE "{name}"'))
    try:
        yield server.set(database=name).render_as_string(hide_password=False)
    finally:
        with admin.connect() as conn:
            conn.execute(sqlalchemy.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(scope="module")
def graded(database, tmp_path_factory):
    """A class of ps2 graded by ``coursegrader grade`` into the PostgreSQL gradebook."""
    import nbformat

    base = tmp_path_factory.mktemp("postgres")
    root = copy_course(base / "course")
    env = {"COURSEGRADER_DB_URL": database, "COURSEGRADER_EXCHANGE": str(base / "exchange")}
    nbgrader(root, "generate_assignment", ASSIGNMENT, "--force", "--create", env=env)
    for variant in CASES:
        folder = root / "submitted" / student_id(variant) / ASSIGNMENT
        folder.mkdir(parents=True)
        nb = build_submission(root / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", VARIANTS[ASSIGNMENT][variant])
        nbformat.write(nb, folder / f"{ASSIGNMENT}.ipynb")
    # two workers: two processes write to the PostgreSQL gradebook at the same time
    run(root, sys.executable, "-m", "coursegrader", "grade", "--root", str(root), "--assignment", ASSIGNMENT,
        "--seed", str(SEED), "--workers", "2", env=env)
    return root, env


def test_no_sqlite_gradebook_was_made(graded):
    """Did grading use the PostgreSQL gradebook only, with no SQLite file beside the course?"""
    root, _ = graded
    assert not (root / "gradebook.db").exists()


@pytest.mark.parametrize("variant", CASES)
def test_scores_in_postgres(graded, database, variant):
    """Does the PostgreSQL gradebook hold this submission's expected points, test cell by test cell?"""
    from nbgrader.api import Gradebook

    expected = EXPECTED_POINTS[ASSIGNMENT][variant]
    with Gradebook(database) as gb:
        submission = gb.find_submission(ASSIGNMENT, student_id(variant))
        got = {grade.name: grade.score for notebook in submission.notebooks for grade in notebook.grades
               if grade.cell_type == "code"}
        total = submission.score
    assert got == {k: float(v) for k, v in expected.items()}
    assert total == pytest.approx(sum(expected.values()))


def test_export_reads_postgres(graded):
    """Does ``nbgrader export`` read the PostgreSQL gradebook: one graded row per student, its score?"""
    root, env = graded
    nbgrader(root, "export", "--to", "grades.csv", env=env)
    with (root / "grades.csv").open(encoding="utf-8") as handle:
        rows = {row["student_id"]: row for row in csv.DictReader(handle) if row["assignment"] == ASSIGNMENT}
    assert sorted(rows) == sorted(student_id(v) for v in CASES)
    for variant in CASES:
        row = rows[student_id(variant)]
        assert row["status"] == "graded", row
        assert float(row["score"]) == pytest.approx(sum(EXPECTED_POINTS[ASSIGNMENT][variant].values()))
