"""The three assignments graded in direct mode: a real python3 kernel runs each fake submission.

What a student receives is made here in-process with nbgrader's own preprocessors (ClearSolutions with the
course's stub, ClearHiddenTests, ClearOutput), so these tests do not depend on ``release/`` existing. A fake
submission is that student version with some solution cells replaced (:func:`coursegrader.demo.build_submission`);
its test cells are then restored from the source, hidden tests included, as ``nbgrader autograde`` does. Each
test cell's points come from :func:`nbgrader.utils.determine_grade`, exactly as nbgrader computes them.
"""
from __future__ import annotations

import concurrent.futures
import copy
import functools
import os
import re
import symtable
import builtins
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import nbformat
import pytest
from nbclient import NotebookClient
from nbgrader.preprocessors import ClearHiddenTests, ClearOutput, ClearSolutions
from nbgrader.utils import determine_grade, is_grade, is_locked, is_solution
from traitlets.config.loader import PyFileConfigLoader

from coursegrader import demo
from coursegrader.messages import MESSAGES

ROOT = Path(__file__).resolve().parents[1]
ASSIGNMENTS = ("ps1", "ps2", "ps3")
BASE_SEED = 20250601
EXTRA_SEEDS = (11, 4242)                 # more hidden points for the variants whose verdicts must not move
MULTI_SEED_VARIANTS = ("correct", "hard_coded")
WORKERS = int(os.environ.get("COURSEGRADER_TEST_WORKERS", "0")) or min(4, (os.cpu_count() or 1) + 1)
SOURCE = "<source>"                      # pseudo-variant: the instructor's notebook as it is


def source_path(assignment: str) -> Path:
    return ROOT / "source" / assignment / f"{assignment}.ipynb"


def read_source(assignment: str) -> nbformat.NotebookNode:
    return nbformat.read(source_path(assignment), as_version=4)


def graded_cells(nb: nbformat.NotebookNode) -> list:
    return [c for c in nb.cells if is_grade(c) and not is_solution(c)]


def grade_id(cell) -> str:
    return cell.metadata["nbgrader"]["grade_id"]


@functools.cache
def _nbgrader_config():
    return PyFileConfigLoader("nbgrader_config.py", path=str(ROOT)).load_config()


def student_version(assignment: str) -> nbformat.NotebookNode:
    """What ``nbgrader generate_assignment`` gives the student: stubs instead of solutions, no hidden tests."""
    nb = read_source(assignment)
    resources: dict = {}
    for preprocessor in (ClearSolutions, ClearHiddenTests, ClearOutput):
        nb, resources = preprocessor(config=_nbgrader_config()).preprocess(nb, resources)
    return nb


def restore_test_cells(nb: nbformat.NotebookNode, source: nbformat.NotebookNode) -> nbformat.NotebookNode:
    """As autograde's OverwriteCells: every test cell runs the instructor's source, hidden tests included."""
    sources = {grade_id(c): c.source for c in graded_cells(source)}
    for cell in graded_cells(nb):
        cell.source = sources[grade_id(cell)]
    return nb


def _run(nb: nbformat.NotebookNode, seed: int) -> nbformat.NotebookNode:
    with tempfile.TemporaryDirectory(prefix="coursegrader-direct-") as workdir:
        client = NotebookClient(nb, timeout=300, kernel_name="python3", allow_errors=True,
                                resources={"metadata": {"path": workdir}})
        client.execute(env={**os.environ, "COURSEGRADER_SEED": str(seed)})
    return nb


PROBE = """\
from coursegrader.judge import Case
with Case("probe", key="probe") as case:
    case.fail("missing", name="probe")
"""


def judge_failure_is_an_error_output() -> bool:
    """Does a failed Case produce an error output in a real kernel?"""
    nb = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(PROBE)])
    nb.metadata["kernelspec"] = {"name": "python3", "language": "python", "display_name": "Python 3"}
    nb = _run(nb, BASE_SEED)
    return any(o.output_type == "error" for o in nb.cells[0].outputs)


@dataclass(frozen=True)
class CellResult:
    points: float
    max_points: float
    text: str          # everything the cell printed, its error included


def execute_and_grade(nb: nbformat.NotebookNode, seed: int) -> dict[str, CellResult]:
    """Run the notebook top to bottom in a fresh python3 kernel (errors allowed) and grade its test cells."""
    nb = _run(copy.deepcopy(nb), seed)
    results = {}
    for cell in graded_cells(nb):
        points, max_points = determine_grade(cell)
        parts = []
        for output in cell.outputs:
            if output.output_type == "error":
                parts += [output.get("ename", ""), output.get("evalue", ""), *output.get("traceback", [])]
            elif output.output_type == "stream":
                parts.append(output.get("text", ""))
        results[grade_id(cell)] = CellResult(float(points), float(max_points), "\n".join(parts))
    return results


class Grader:
    """Grades every fake submission of an assignment once (in parallel kernels), on first request."""

    def __init__(self, workdir: Path):
        self.workdir = workdir
        self.lock = threading.Lock()
        self.cache: dict[str, dict[tuple[str, int], dict[str, CellResult]]] = {}

    def release_path(self, assignment: str) -> Path:
        path = self.workdir / assignment / f"{assignment}.ipynb"
        if not path.exists():
            path.parent.mkdir(parents=True, exist_ok=True)
            nbformat.write(student_version(assignment), path)
        return path

    def jobs(self, assignment: str) -> dict[tuple[str, int], nbformat.NotebookNode]:
        source = read_source(assignment)
        release = self.release_path(assignment)
        jobs = {(SOURCE, BASE_SEED): source}
        for variant, code in demo.VARIANTS[assignment].items():
            nb = restore_test_cells(demo.build_submission(release, code), source)
            seeds = (BASE_SEED, *EXTRA_SEEDS) if variant in MULTI_SEED_VARIANTS else (BASE_SEED,)
            for seed in seeds:
                jobs[(variant, seed)] = nb
        return jobs

    def results(self, assignment: str) -> dict[tuple[str, int], dict[str, CellResult]]:
        with self.lock:
            if assignment not in self.cache:
                jobs = self.jobs(assignment)
                with concurrent.futures.ThreadPoolExecutor(max_workers=WORKERS) as pool:
                    futures = {key: pool.submit(execute_and_grade, nb, key[1]) for key, nb in jobs.items()}
                    self.cache[assignment] = {key: future.result() for key, future in futures.items()}
            return self.cache[assignment]

    def get(self, assignment: str, variant: str, seed: int = BASE_SEED) -> dict[str, CellResult]:
        return self.results(assignment)[(variant, seed)]


@pytest.fixture(scope="session")
def grader(tmp_path_factory) -> Grader:
    return Grader(tmp_path_factory.mktemp("release"))


def fragment(key: str) -> str:
    """The longest literal piece of a catalog message (the text between its ``{fields}``)."""
    return max(re.split(r"\{[^{}]*\}", MESSAGES[key]), key=len).strip()


def diagnosis_report(result: dict[str, CellResult]) -> str:
    return "\n".join(f"--- {gid}: {r.points:g}/{r.max_points:g}\n{r.text}" for gid, r in result.items())


VARIANT_CASES = [(a, v) for a in ASSIGNMENTS for v in demo.VARIANTS[a]]

# ---------------------------------------------------------------------------------------------------
# Fast checks: the notebooks' structure
# ---------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_notebook_cells_and_points(assignment):
    """Does each source notebook declare exactly the test cells and points the fake students are graded on,
    with nbgrader metadata (schema 3), a locked setup cell, and no outputs?"""
    nb = read_source(assignment)
    assert nb.metadata["kernelspec"]["name"] == "python3"
    assert set(nb.metadata) == {"kernelspec", "language_info"}
    assert dict(nb.metadata["language_info"]) == {"name": "python"}
    assert {grade_id(c): float(c.metadata["nbgrader"]["points"]) for c in graded_cells(nb)} \
        == {k: float(v) for k, v in demo.TEST_POINTS[assignment].items()}
    ids = []
    for cell in nb.cells:
        if cell.cell_type == "code":
            assert cell.outputs == [] and cell.execution_count is None
        meta = cell.metadata.get("nbgrader")
        if meta is None:
            continue
        ids.append(meta["grade_id"])
        assert meta["schema_version"] == 3
        assert set(meta) >= {"grade", "grade_id", "locked", "solution", "task"}
        if meta["grade"] and not meta["solution"]:
            assert is_locked(cell) and meta["points"] > 0
            assert cell.source.count("with Case(") == 1
            assert f'key="{assignment}.' in cell.source
    assert len(ids) == len(set(ids))
    setup = next(c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") == f"{assignment}-setup")
    assert setup.metadata["nbgrader"]["locked"] is True
    assert "use_japanese_font()" in setup.source


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_test_cells_are_self_contained(assignment):
    """Does every test cell use only names it defines or imports itself (never a name from another cell),
    and reach the student's objects only through case.call / case.value?"""
    builtin_names = set(dir(builtins))
    for cell in graded_cells(read_source(assignment)):
        table = symtable.symtable(cell.source, grade_id(cell), "exec")
        defined = {s.get_name() for s in table.get_symbols() if s.is_assigned() or s.is_imported()}
        undefined = set()

        def walk(t):
            for symbol in t.get_symbols():
                name = symbol.get_name()
                is_module_global = t is table and symbol.is_referenced() and not (
                    symbol.is_assigned() or symbol.is_imported() or symbol.is_parameter())
                if (is_module_global or (t is not table and symbol.is_global() and symbol.is_referenced())) \
                        and name not in defined and name not in builtin_names:
                    undefined.add(name)
            for child in t.get_children():
                walk(child)

        walk(table)
        assert not undefined, f"{grade_id(cell)} uses names from other cells: {sorted(undefined)}"
        assert "assert " not in cell.source


@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_correct_variant_is_the_instructor_solution(assignment):
    """Is the fake 'correct' student exactly the source's solution (delimiters removed), cell by cell?"""
    solutions = {}
    for cell in read_source(assignment).cells:
        if is_solution(cell):
            lines = [line for line in cell.source.split("\n")
                     if line.strip() not in ("### BEGIN SOLUTION", "### END SOLUTION")]
            solutions[grade_id(cell)] = "\n".join(lines).strip()
    correct = {gid: code.strip() for gid, code in demo.VARIANTS[assignment]["correct"].items()}
    assert correct == solutions


def test_demo_data_is_consistent():
    """Do the demo tables agree: every variant has expected points for every test cell, diagnoses only for
    failing cells with catalog keys, and every demo student's variants exist (8+ students, all assignments)?"""
    assert len(demo.DEMO_CLASS) >= 8
    for assignment in ASSIGNMENTS:
        cells = set(demo.TEST_POINTS[assignment])
        assert set(demo.EXPECTED_POINTS[assignment]) == set(demo.VARIANTS[assignment])
        for variant, points in demo.EXPECTED_POINTS[assignment].items():
            assert set(points) == cells
            for cell, keys in demo.EXPECTED_DIAGNOSES[assignment].get(variant, {}).items():
                assert points[cell] == 0.0 and keys and all(k in MESSAGES for k in keys)
        for student, assigned in demo.DEMO_CLASS.items():
            assert assigned[assignment] in demo.VARIANTS[assignment], student


def test_build_submission_replaces_only_solution_cells(tmp_path):
    """Does build_submission replace exactly the named solution cells and leave every other cell untouched?"""
    release = tmp_path / "ps2.ipynb"
    nbformat.write(student_version("ps2"), release)
    original = nbformat.read(release, as_version=4)
    built = demo.build_submission(release, {"ps2-numerical-gradient": "x = 1"})
    changed = [grade_id(c) for c, o in zip(built.cells, original.cells) if c.source != o.source]
    assert changed == ["ps2-numerical-gradient"]
    with pytest.raises(KeyError):
        demo.build_submission(release, {"ps2-gradient-visible": "x = 1"})   # a test cell, not a solution


# ---------------------------------------------------------------------------------------------------
# Slow checks: real kernels
# ---------------------------------------------------------------------------------------------------


@pytest.mark.slow
def test_judge_failure_is_an_error_output():
    """In a real kernel, does a failed Case leave an error output (diagnosis only, no test code), so that
    nbgrader gives the cell 0 points?"""
    assert judge_failure_is_an_error_output()


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_source_scores_full_marks(grader, assignment):
    """Does the instructor's source notebook, run as it is, get full points on every test cell?"""
    result = grader.get(assignment, SOURCE)
    assert {gid: r.points for gid, r in result.items()} == \
        {gid: float(p) for gid, p in demo.TEST_POINTS[assignment].items()}, diagnosis_report(result)


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
def test_untouched_student_version_scores_zero(grader, assignment):
    """Does the student version as released (stubs only) score 0 on every test cell?"""
    result = grader.get(assignment, "unanswered")
    assert all(r.points == 0.0 for r in result.values()), diagnosis_report(result)


@pytest.mark.slow
@pytest.mark.parametrize(("assignment", "variant"), VARIANT_CASES)
def test_variant_points_and_diagnoses(grader, assignment, variant):
    """Does each fake submission get exactly its expected points per test cell, does each failing cell name
    the expected diagnoses in Japanese, and does no cell name a mistake (or hard-coding) that was not made?"""
    result = grader.get(assignment, variant)
    report = diagnosis_report(result)
    assert {gid: r.points for gid, r in result.items()} == demo.EXPECTED_POINTS[assignment][variant], report
    expected = demo.EXPECTED_DIAGNOSES[assignment].get(variant, {})
    for gid, r in result.items():
        keys = expected.get(gid, [])
        for key in keys:
            assert fragment(key) in r.text, f"{gid}: diagnosis {key!r} missing\n{report}"
        for key in MESSAGES:
            if (key.startswith("mistake_") or key == "hard_coded") and key not in keys:
                assert fragment(key) not in r.text, f"{gid}: unexpected diagnosis {key!r}\n{report}"


@pytest.mark.slow
@pytest.mark.parametrize("assignment", ASSIGNMENTS)
@pytest.mark.parametrize("variant", MULTI_SEED_VARIANTS)
def test_verdicts_do_not_depend_on_the_seed(grader, assignment, variant):
    """With other seeds (other hidden points), are the points per cell the same — while the hidden points
    really change (a hard-coded answer's reported errors differ from seed to seed)?"""
    runs = {seed: grader.get(assignment, variant, seed) for seed in (BASE_SEED, *EXTRA_SEEDS)}
    for seed, result in runs.items():
        assert {gid: r.points for gid, r in result.items()} == demo.EXPECTED_POINTS[assignment][variant], \
            f"seed {seed}\n{diagnosis_report(result)}"
    if variant == "hard_coded":
        hidden = [gid for gid, keys in demo.EXPECTED_DIAGNOSES[assignment][variant].items() if "hard_coded" in keys]
        assert hidden
        for gid in hidden:
            texts = {runs[seed][gid].text for seed in runs}
            assert len(texts) == len(runs), f"{gid}: the hidden points did not change with the seed"
