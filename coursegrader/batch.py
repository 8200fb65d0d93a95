"""The batch engine behind ``make grade``: every student × every assignment, in parallel, resumable.

Each worker is a long-lived process that keeps nbgrader's API and a warm sandbox (one slot each), so a
submission costs only its own run, not an interpreter and kernel start. Grading itself is nbgrader's
``Autograde`` converter with the course's configuration (``SandboxedExecute`` inside), then
``GenerateFeedback``: scores land in nbgrader's gradebook, formgrader and export keep working.

A task's outcome is written next to its autograded notebook (``.grading-manifest.json``) only after the
gradebook and feedback are written; a rerun skips tasks whose submission and source are unchanged, so a
batch killed at any moment resumes where it stopped and ends with the same grades.
"""

from __future__ import annotations

import hashlib
import re
import json
import logging
import multiprocessing
import os
import sys
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Callable, Iterable, Mapping

import nbformat

log = logging.getLogger("coursegrader")

MANIFEST = ".grading-manifest.json"


@dataclass
class Task:
    assignment: str
    student: str
    notebooks: list[str]
    fingerprint: str


@dataclass
class Outcome:
    assignment: str
    student: str
    status: str  # graded | failed | missing
    reason: str = ""
    score: float | None = None
    max_score: float = 0.0
    cells: dict = field(default_factory=dict)  # grade_id -> {"score", "max", "diagnoses"}
    seconds: float = 0.0
    seed: int | None = None
    reused: bool = False


# ---------------------------------------------------------------------------------------------------
# Planning
# ---------------------------------------------------------------------------------------------------

def course_assignments(root: Path) -> dict[str, list[str]]:
    """Assignment -> notebook names (without .ipynb), from source/."""
    found = {}
    for folder in sorted((root / "source").iterdir()):
        notebooks = sorted(p.stem for p in folder.glob("*.ipynb"))
        if folder.is_dir() and notebooks:
            found[folder.name] = notebooks
    return found


def submitted_students(root: Path) -> list[str]:
    folder = root / "submitted"
    if not folder.is_dir():
        return []
    return sorted(p.name for p in folder.iterdir() if p.is_dir() and not p.name.startswith("."))


def _digest_files(paths: Iterable[Path]) -> str:
    digest = hashlib.sha256()
    for path in sorted(paths):
        digest.update(str(path.name).encode("utf-8"))
        digest.update(path.read_bytes() if path.is_file() else b"<missing>")
    return digest.hexdigest()


def plan(root: Path, assignments: Iterable[str] | None = None, students: Iterable[str] | None = None
         ) -> list[Task]:
    """Every (assignment, student) pair to account for, with a fingerprint of what decides its grade."""
    course = course_assignments(root)
    chosen = [a for a in course if assignments is None or a in set(assignments)]
    tasks = []
    for assignment in chosen:
        source = _digest_files((root / "source" / assignment).glob("*.ipynb"))
        for student in students if students is not None else submitted_students(root):
            folder = root / "submitted" / student / assignment
            files = [p for p in folder.rglob("*") if p.is_file()] if folder.is_dir() else []
            fingerprint = hashlib.sha256((source + _digest_files(files)).encode()).hexdigest()
            tasks.append(Task(assignment, student, course[assignment], fingerprint))
    return tasks


def manifest_path(root: Path, task: Task) -> Path:
    return root / "autograded" / task.student / task.assignment / MANIFEST


def previous_outcome(root: Path, task: Task) -> Outcome | None:
    path = manifest_path(root, task)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if data.get("fingerprint") != task.fingerprint:
        return None
    outcome = Outcome(**data["outcome"])
    outcome.reused = True
    return outcome


# ---------------------------------------------------------------------------------------------------
# Checking a submission before nbgrader sees it
# ---------------------------------------------------------------------------------------------------

def precheck(root: Path, task: Task) -> Outcome | None:
    """Reasons to not grade at all, each one a teacher (and the student) can act on."""
    folder = root / "submitted" / task.student / task.assignment
    if not folder.is_dir():
        return Outcome(task.assignment, task.student, "missing", "no submission")
    present = sorted(p.name for p in folder.glob("*.ipynb"))
    expected = [f"{name}.ipynb" for name in task.notebooks]
    if not any(name in present for name in expected):
        if present:
            return Outcome(task.assignment, task.student, "failed",
                           f"unknown notebook name: submitted {', '.join(present)}, expected "
                           f"{', '.join(expected)} (rename the file to {expected[0]} and resubmit)")
        return Outcome(task.assignment, task.student, "failed",
                       f"no notebook in the submission folder (expected {', '.join(expected)})")
    for name in expected:
        path = folder / name
        if not path.exists():
            continue
        try:
            nbformat.read(path, as_version=4)
        except Exception as exc:  # noqa: BLE001 - any parse error is the same for the teacher
            first = str(exc).strip().splitlines()[0][:160] if str(exc).strip() else type(exc).__name__
            return Outcome(task.assignment, task.student, "failed",
                           f"{name} is not a valid notebook (not valid JSON / nbformat: {first}); "
                           "the student should download the notebook again from JupyterLab and resubmit")
    return None


# ---------------------------------------------------------------------------------------------------
# Workers
# ---------------------------------------------------------------------------------------------------

_worker: dict = {}


def _init_worker(root: str, slots, seed: int, isolate: bool) -> None:
    from nbgrader.apps import NbGraderAPI
    from nbgrader.coursedir import CourseDirectory
    from traitlets.config import Config
    from traitlets.config.loader import PyFileConfigLoader

    import warnings

    os.chdir(root)
    # nbgrader's gradebook code triggers SQLAlchemy "not in session" warnings on every submission (harmless)
    warnings.filterwarnings("ignore", module="nbgrader")
    warnings.filterwarnings("ignore", message=".*not in session.*")
    slot = slots.get()
    config = PyFileConfigLoader("nbgrader_config.py", path=root).load_config()
    config.merge(Config({"SandboxedExecute": {"slot": slot, "seed": str(seed), "isolate": isolate}}))
    logging.getLogger("traitlets").setLevel(logging.ERROR)
    coursedir = CourseDirectory(config=config)
    _worker.update(api=NbGraderAPI(coursedir=coursedir, config=config), root=Path(root), slot=slot)


def _grade(task: Task) -> Outcome:
    """Autograde one (assignment, student) into the gradebook; never raises. Feedback comes after."""
    root: Path = _worker["root"]
    api = _worker["api"]
    started = time.perf_counter()
    outcome = precheck(root, task)
    if outcome is None:
        try:
            result = api.autograde(task.assignment, task.student, force=True, create=True)
        except Exception as exc:  # noqa: BLE001
            result = {"success": False, "error": f"{type(exc).__name__}: {exc}", "log": ""}
        if not result.get("success"):
            outcome = Outcome(task.assignment, task.student, "failed", _nbgrader_reason(result))
            if "SandboxError" in outcome.reason or "SandboxUnavailable" in outcome.reason:
                # the grading machine's problem, not the student's: no manifest, so the next run retries
                outcome.reason = "grader error (will be retried): " + outcome.reason
        else:
            outcome = read_autograded(root, task)
    outcome.seconds = round(time.perf_counter() - started, 3)
    return outcome


def _feedback(job: tuple[str, list[str]]) -> dict[str, str]:
    """Feedback for some students of one assignment, in one nbgrader run (templates compiled once).

    Returns student -> problem ("" when the feedback file was written)."""
    from nbgrader.apps.api import capture_log
    from nbgrader.converters import GenerateFeedback
    from nbgrader.utils import temp_attrs

    assignment, students = job
    root: Path = _worker["root"]
    api = _worker["api"]
    everyone = {p.name for p in (root / "autograded").iterdir() if p.is_dir()}
    with temp_attrs(api.coursedir, assignment_id=assignment, student_id="*",
                    student_id_exclude=",".join(sorted(everyone - set(students)))):
        app = GenerateFeedback(coursedir=api.coursedir, parent=api)
        app.force = True
        result = capture_log(app)
    problems = {}
    for student in students:
        folder = root / "feedback" / student / assignment
        if not (folder.is_dir() and any(folder.glob("*.html"))):
            problems[student] = "feedback not generated: " + _nbgrader_reason(result)
    return {student: problems.get(student, "") for student in students}


def write_manifest(root: Path, task: Task, outcome: Outcome) -> None:
    """The task is done: gradebook and feedback are written. Atomic, so a kill never leaves half a file."""
    path = manifest_path(root, task)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    tmp.write_text(json.dumps({"fingerprint": task.fingerprint, "outcome": asdict(outcome)},
                              ensure_ascii=False, indent=1), encoding="utf-8")
    os.replace(tmp, path)


class FeedbackChunks:
    """Feedback in chunks per assignment, submitted while grading goes on; manifests follow each chunk.

    One GenerateFeedback run per chunk compiles nbconvert's templates once for several students, and a
    batch killed at any moment keeps every finished chunk (a rerun redoes at most the open chunks)."""

    size = 4

    def __init__(self, root: Path, todo: list[Task], submit: Callable):
        self.root, self.submit = root, submit
        self.tasks = {(t.assignment, t.student): t for t in todo}
        self.open: dict[str, list[Outcome]] = {}
        self.running: list[tuple[list[Outcome], Any]] = []

    def add(self, outcome: Outcome) -> None:
        if outcome.score is None:  # nothing to give feedback on: done (or a grader error, retried later)
            self._finish([outcome], {})
        else:
            chunk = self.open.setdefault(outcome.assignment, [])
            chunk.append(outcome)
            if len(chunk) >= self.size:
                self._start(outcome.assignment)
        self._collect(wait=False)

    def drain(self) -> None:
        for assignment in list(self.open):
            self._start(assignment)
        self._collect(wait=True)

    def _start(self, assignment: str) -> None:
        chunk = self.open.pop(assignment)
        self.running.append((chunk, self.submit((assignment, [o.student for o in chunk]))))

    def _collect(self, wait: bool) -> None:
        still = []
        for chunk, result in self.running:
            if wait or result.ready():
                self._finish(chunk, result.get())
            else:
                still.append((chunk, result))
        self.running = still

    def _finish(self, chunk: list[Outcome], problems: Mapping[str, str]) -> None:
        for outcome in chunk:
            problem = problems.get(outcome.student, "")
            if problem:
                outcome.reason = (outcome.reason + "; " if outcome.reason else "") + problem
            if not outcome.reason.startswith("grader error"):
                write_manifest(self.root, self.tasks[(outcome.assignment, outcome.student)], outcome)


#: nbgrader's words when a notebook's cell metadata was edited by hand (schema, types, ids, checksums)
_METADATA_MARKERS = ("newer version", "metadata", "schema", "cell type", "checksum", "duplicate", "grade_id")


def _nbgrader_reason(result: dict) -> str:
    """One line a teacher can act on, from nbgrader's captured error and log."""
    text = (result.get("error") or "") + "\n" + (result.get("log") or "")
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    # log records "[App | ERROR] ..." and exception summaries "SomeError: ...", not traceback source lines
    errors = [line for line in lines if re.match(r"^\[[^]]*ERROR\]|^[A-Za-z_.]*(Error|Exception)\b.*: ", line)]
    for line in errors:
        if any(marker in line.lower() for marker in _METADATA_MARKERS):
            return "metadata tampered (nbgrader refused the notebook): " + line[-300:]
    for line in reversed(lines):  # the exception that stopped nbgrader, e.g. "SandboxError: ..."
        if re.match(r"^[A-Za-z_.]*(Error|Exception|Unavailable)\b.*:", line):
            return "nbgrader failed: " + line[-300:]
    return "nbgrader failed: " + (errors[-1][-300:] if errors else (lines[-1][-300:] if lines else "unknown"))


def read_autograded(root: Path, task: Task) -> Outcome:
    """Scores per test cell (nbgrader's own determine_grade) and the run's status from the notebook."""
    from nbgrader.utils import determine_grade, is_grade, is_solution

    outcome = Outcome(task.assignment, task.student, "graded", score=0.0)
    for name in task.notebooks:
        path = root / "autograded" / task.student / task.assignment / f"{name}.ipynb"
        if not path.exists():
            outcome.reason = (outcome.reason + "; " if outcome.reason else "") + f"{name}.ipynb missing"
            continue
        nb = nbformat.read(path, as_version=4)
        run = nb.metadata.get("coursegrader", {})
        outcome.seed = run.get("seed")
        if run.get("status", "ok") != "ok":
            outcome.status = "failed"
            outcome.reason = f"{run.get('status')}: {run.get('reason', '')}".strip()
        elif run.get("reason"):
            outcome.reason = run["reason"]
        for cell in nb.cells:
            if is_grade(cell) and not is_solution(cell):
                score, max_score = determine_grade(cell)
                grade_id = cell.metadata.nbgrader["grade_id"]
                outcome.cells[grade_id] = {
                    "score": score, "max": max_score,
                    "diagnoses": list(cell.metadata.get("coursegrader", {}).get("diagnoses", [])),
                }
                outcome.score += score or 0.0
                outcome.max_score += max_score
    return outcome


# ---------------------------------------------------------------------------------------------------
# The batch
# ---------------------------------------------------------------------------------------------------

def run(root: Path, tasks: list[Task], *, workers: int | None = None, force: bool = False,
        seed: int | None = None, isolate: bool = True, scheduler: str | None = None) -> list[Outcome]:
    """Grade ``tasks`` with ``workers`` parallel processes, or on the Dask cluster of ``scheduler`` (an
    address or a scheduler file, docs/scale.md); unchanged, already graded tasks are reused."""
    root = root.resolve()
    seed = seed if seed is not None else int.from_bytes(os.urandom(4), "little")
    outcomes: list[Outcome] = []
    todo: list[Task] = []
    for task in tasks:
        previous = None if force else previous_outcome(root, task)
        if previous is not None:
            outcomes.append(previous)
        elif not (root / "submitted" / task.student / task.assignment).is_dir():
            outcomes.append(Outcome(task.assignment, task.student, "missing", "no submission"))
        else:
            todo.append(task)
    register_students(root, sorted({t.student for t in tasks}))
    workers = max(1, min(workers or os.cpu_count() or 1, len(todo) or 1))
    progress = Progress(len(todo), reused=len(outcomes))
    if todo:
        if scheduler:  # a Dask cluster: same steps; its worker processes claim their own slots
            from .cluster import DaskPool

            pool_context = DaskPool(root, scheduler, seed, isolate)
        else:
            from .sandbox import free_slots

            context = multiprocessing.get_context("spawn")
            slots = context.Queue()
            for slot in free_slots(workers):
                slots.put(slot)
            pool_context = context.Pool(workers, initializer=_init_worker,
                                        initargs=(str(root), slots, seed, isolate), maxtasksperchild=None)
        fresh: list[Outcome] = []
        with pool_context as pool:
            feedback = FeedbackChunks(root, todo, lambda job: pool.apply_async(_feedback, (job,)))
            for outcome in pool.imap_unordered(_grade, todo, chunksize=1):
                fresh.append(outcome)
                progress.step(outcome)
                feedback.add(outcome)
            progress.close()
            feedback.drain()
        outcomes.extend(fresh)
    else:
        progress.close()
    order = {(t.assignment, t.student): i for i, t in enumerate(tasks)}
    outcomes.sort(key=lambda o: order.get((o.assignment, o.student), 0))
    return outcomes


def register_students(root: Path, students: list[str]) -> None:
    """Every student of the batch is in the gradebook, so the export lists missing work too."""
    from nbgrader.api import Gradebook
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    with Gradebook(config.CourseDirectory.db_url) as gb:
        for student in students:
            gb.update_or_create_student(student)


class Progress:
    """A progress bar with ETA on a terminal; one plain log line per submission otherwise."""

    def __init__(self, total: int, reused: int = 0):
        self.total, self.done, self.started = total, 0, time.perf_counter()
        self.bar = None
        if total and sys.stderr.isatty():
            from tqdm import tqdm

            self.bar = tqdm(total=total, unit="nb", desc="autograde", dynamic_ncols=True)
        if reused:
            print(f"reused {reused} unchanged result(s); grading {total}", file=sys.stderr)

    def step(self, outcome: Outcome) -> None:
        self.done += 1
        if self.bar is not None:
            self.bar.set_postfix_str(f"{outcome.student}/{outcome.assignment}")
            self.bar.update(1)
            return
        elapsed = time.perf_counter() - self.started
        eta = elapsed / self.done * (self.total - self.done)
        score = "-" if outcome.score is None else f"{outcome.score:g}/{outcome.max_score:g}"
        print(f"[{self.done}/{self.total}] {outcome.student}/{outcome.assignment}: {outcome.status} {score}"
              f" ({outcome.seconds:.2f}s, eta {eta:.0f}s){' ' + outcome.reason if outcome.reason else ''}",
              file=sys.stderr, flush=True)

    def close(self) -> None:
        if self.bar is not None:
            self.bar.close()
