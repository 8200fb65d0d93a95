"""Command line: ``python -m coursegrader {generate,grade,check}``; the Makefile targets call these.

The CLI only reads arguments and prints; the work is done by :mod:`coursegrader.batch`,
:mod:`coursegrader.report` and nbgrader's own apps.
"""

from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEMO_ROOT = REPO / "build" / "demo-class"


def nbgrader(root: Path, *args: str, check: bool = True) -> subprocess.CompletedProcess:
    """Run one of nbgrader's own apps in a course folder (its nbgrader_config.py applies)."""
    bin_dir = str(Path(sys.executable).parent)
    env = {**os.environ, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", "")}
    return subprocess.run([os.path.join(bin_dir, "nbgrader"), *args], cwd=root, check=check, text=True,
                          capture_output=True, env=env)


def generate(root: Path, assignments: list[str] | None = None, quiet: bool = False) -> None:
    """source/ -> release/ with ``nbgrader generate_assignment`` (also records the assignment in the gradebook)."""
    from .batch import course_assignments

    for assignment in assignments or list(course_assignments(root)):
        result = nbgrader(root, "generate_assignment", assignment, "--force", "--create", check=False)
        if result.returncode != 0:
            raise SystemExit(f"generate_assignment {assignment} failed:\n{result.stdout}\n{result.stderr}")
        if not quiet:
            print(f"release/{assignment}: generated from source/{assignment}")


def gradebook_ready(root: Path) -> bool:
    """Are all of source/'s assignments known to the gradebook (with their test cells)?"""
    from nbgrader.api import Gradebook, MissingEntry

    from .batch import course_assignments

    sys.path.insert(0, str(root))
    db_url = _db_url(root)
    try:
        with Gradebook(db_url) as gb:
            for assignment in course_assignments(root):
                try:
                    gb.find_assignment(assignment)
                except MissingEntry:
                    return False
    except Exception:  # noqa: BLE001 - no database yet
        return False
    return True


def _db_url(root: Path) -> str:
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    return config.CourseDirectory.db_url


def make_demo_class(root: Path = DEMO_ROOT) -> Path:
    """A self-contained copy of the course with the bundled fake class in submitted/ (labelled as the demo)."""
    import nbformat

    from .batch import course_assignments
    from .demo import DEMO_CLASS, VARIANTS, build_submission

    if root.exists():
        shutil.rmtree(root)
    root.mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    shutil.copytree(REPO / "source", root / "source")
    (root / "DEMO.txt").write_text(
        "This folder is the bundled DEMO class, made by `make grade` because submitted/ was empty.\n"
        "The students are fake; each one shows correct work or a typical mistake.\n", encoding="utf-8")
    generate(root, quiet=True)
    course = course_assignments(root)
    for student, work in DEMO_CLASS.items():
        for assignment, variant in work.items():
            for notebook in course[assignment]:
                nb = build_submission(root / "release" / assignment / f"{notebook}.ipynb",
                                      VARIANTS[assignment][variant])
                folder = root / "submitted" / student / assignment
                folder.mkdir(parents=True, exist_ok=True)
                nbformat.write(nb, folder / f"{notebook}.ipynb")
                (folder / "timestamp.txt").write_text("2026-12-01 09:00:00.000000 Asia/Tokyo", encoding="utf-8")
    return root


def grade(args: argparse.Namespace) -> int:
    from . import batch, report

    root = Path(args.root).resolve() if args.root else REPO
    demo = args.demo or (not args.root and not batch.submitted_students(root))
    if demo:
        root = Path(args.root).resolve() if args.root else DEMO_ROOT
        print("=" * 72)
        print(f"DEMO CLASS: grading the bundled fake students in {root} "
              "(submitted/ is empty or --demo was given)")
        print("=" * 72)
        make_demo_class(root)
    elif not gradebook_ready(root):
        generate(root)
    tasks = batch.plan(root, args.assignment or None, args.student or None)
    from .cluster import ClusterError

    try:
        outcomes = batch.run(root, tasks, workers=args.workers, force=args.force, seed=args.seed,
                             isolate=not args.no_isolate, scheduler=args.scheduler)
    except ClusterError as exc:
        raise SystemExit(f"coursegrader grade: {exc}") from None
    report.fill_max_scores(root, outcomes)
    paths = report.write(root, outcomes, demo=demo)
    print(report.summary_table(outcomes, demo=demo))
    for label, path in paths.items():
        print(f"{label}: {path}")
    return 0


def check(args: argparse.Namespace) -> int:
    from .check import check_notebook

    return check_notebook(Path(args.notebook))


def main(argv: list[str] | None = None) -> int:
    os.environ.setdefault("PYTHONUTF8", "1")
    parser = argparse.ArgumentParser(prog="coursegrader", description=__doc__)
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("generate", help="regenerate release/ from source/ (nbgrader generate_assignment)")
    p.add_argument("assignment", nargs="*")
    p.set_defaults(func=lambda a: generate(REPO, a.assignment or None) or 0)

    p = sub.add_parser("grade", help="autograde all submissions (or the demo class), feedback, grades, report")
    p.add_argument("--root", help="course folder (default: this repository)")
    p.add_argument("--assignment", action="append", help="only this assignment (repeatable)")
    p.add_argument("--student", action="append", help="only this student (repeatable)")
    p.add_argument("--workers", type=int, default=None, help="parallel workers (default: CPU cores)")
    p.add_argument("--scheduler", default=None,
                   help="grade on this Dask cluster instead: scheduler address (tcp://host:8786) or scheduler "
                        "file; workers need --nthreads 1 and the course folder at the same path (docs/scale.md)")
    p.add_argument("--force", action="store_true", help="regrade even unchanged submissions")
    p.add_argument("--seed", type=int, default=None, help="seed of the hidden test points (default: random)")
    p.add_argument("--demo", action="store_true", help="grade the bundled demo class (in --root or build/)")
    p.add_argument("--no-isolate", action="store_true", help="no namespaces / user switch (non-root machines)")
    p.set_defaults(func=grade)

    p = sub.add_parser("check", help="a student's check before submitting: which visible tests pass")
    p.add_argument("notebook")
    p.set_defaults(func=check)

    args = parser.parse_args(argv)
    return int(args.func(args) or 0)
