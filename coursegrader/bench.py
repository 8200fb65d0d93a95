"""``make bench``: the batch engine against stock ``nbgrader autograde``, same submissions, same run.

Builds a class of N fake students (the honest variants of ``coursegrader.demo``, cycled) in two identical
course copies. One is graded by stock ``nbgrader autograde`` (nbgrader's own Execute, a fresh kernel per
notebook, one process per assignment), the other by ``coursegrader grade``; both use the same seed for the
hidden points. Prints both wall times, the ratio, the cost per notebook, the pure execution time of the
cells (the floor to approach), whether every test cell got identical points, and peak memory.

    python -m coursegrader.bench --students 100 [--workers 2] [--skip-stock]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import threading
import time
from pathlib import Path

import nbformat

from .cli import REPO, generate

STOCK_CONFIG = '''
# --- benchmark baseline: nbgrader's stock execute step and feedback chain ---
from nbgrader.preprocessors import Execute as _StockExecute
c.Autograde.autograde_preprocessors = [
    _StockExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades,
    AssignLatePenalties, CheckCellMetadata,
]
'''


def build_class(root: Path, students: int) -> list[str]:
    """A course copy with ``students`` fake students, every assignment each (honest variants, cycled)."""
    from .batch import course_assignments
    from .demo import VARIANTS

    root.mkdir(parents=True)
    shutil.copy(REPO / "nbgrader_config.py", root / "nbgrader_config.py")
    shutil.copytree(REPO / "source", root / "source")
    generate(root, quiet=True)
    course = course_assignments(root)
    names = []
    for number in range(students):
        student = f"student{number:04d}"
        names.append(student)
        for assignment, notebooks in course.items():
            variants = sorted(VARIANTS[assignment])
            variant = variants[number % len(variants)]
            for notebook in notebooks:
                from .demo import build_submission

                nb = build_submission(root / "release" / assignment / f"{notebook}.ipynb",
                                      VARIANTS[assignment][variant])
                folder = root / "submitted" / student / assignment
                folder.mkdir(parents=True, exist_ok=True)
                nbformat.write(nb, folder / f"{notebook}.ipynb")
    return names


class PeakMemory:
    """Samples the summed resident memory of this process tree (every descendant) every 50 ms."""

    def __init__(self):
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def __enter__(self):
        self._thread.start()
        return self

    def __exit__(self, *exc):
        self._stop.set()
        self._thread.join()

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(os.getpid()))
            self._stop.wait(0.05)


def tree_rss(pid: int) -> int:
    children: dict[int, list[int]] = {}
    rss: dict[int, int] = {}
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            with open(f"/proc/{entry}/stat", encoding="utf-8") as handle:
                fields = handle.read().rsplit(")", 1)[1].split()
            children.setdefault(int(fields[1]), []).append(int(entry))
            rss[int(entry)] = int(fields[21]) * os.sysconf("SC_PAGE_SIZE")
        except (OSError, IndexError, ValueError):
            continue
    total, stack = 0, [pid]
    while stack:
        current = stack.pop()
        total += rss.get(current, 0)
        stack.extend(children.get(current, []))
    return total


def points(root: Path) -> dict[tuple[str, str, str], float]:
    from nbgrader.utils import determine_grade, is_grade, is_solution

    found = {}
    for path in sorted((root / "autograded").rglob("*.ipynb")):
        student, assignment = path.parts[-3], path.parts[-2]
        nb = nbformat.read(path, as_version=4)
        for cell in nb.cells:
            if is_grade(cell) and not is_solution(cell):
                found[(student, assignment, cell.metadata.nbgrader["grade_id"])] = determine_grade(cell)[0]
    return found


def execution_floor(root: Path, sample: int = 12) -> float:
    """Seconds per notebook to just run the cells in-process (no kernel, no sandbox, no nbgrader)."""
    from .execute import is_test_cell

    paths = sorted((root / "submitted").rglob("*.ipynb"))[:sample]
    script = (
        "import json, sys, time\nfrom coursegrader import kernel\n"
        "class C:\n    def send(self, b): pass\n"
        "jobs = json.loads(sys.stdin.read())\nt = time.perf_counter()\n"
        "for job in jobs: kernel.run_notebook(json.dumps(job).encode(), C())\n"
        "print((time.perf_counter() - t) / len(jobs), file=sys.__stdout__)\n"
    )
    jobs = []
    for path in paths:
        nb = nbformat.read(path, as_version=4)
        cells = [{"index": i, "source": c.source, "kind": "test" if is_test_cell(c) else "code"}
                 for i, c in enumerate(nb.cells) if c.cell_type == "code"]
        jobs.append({"cells": cells, "seed": 1})
    # one warm-up notebook so imports are not counted, as in a warm sandbox
    jobs = jobs[:1] + jobs
    result = subprocess.run([sys.executable, "-c", script], input=json.dumps(jobs), text=True,
                            capture_output=True, cwd=root, check=True)
    return float(result.stdout.strip().splitlines()[-1])


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--students", type=int, default=100)
    parser.add_argument("--workers", type=int, default=None)
    parser.add_argument("--seed", type=int, default=20261203)
    parser.add_argument("--skip-stock", action="store_true", help="only the batch engine (memory runs)")
    parser.add_argument("--dir", default=str(REPO / "build" / "bench"))
    args = parser.parse_args(argv)

    base = Path(args.dir)
    shutil.rmtree(base, ignore_errors=True)
    ours, stock = base / "engine", base / "stock"
    build_class(ours, args.students)
    notebooks = len(list((ours / "submitted").rglob("*.ipynb")))
    env = {**os.environ, "COURSEGRADER_SEED": str(args.seed), "COURSEGRADER_EXCHANGE": str(base / "exchange")}

    stock_seconds = None
    if not args.skip_stock:
        shutil.copytree(ours, stock)
        with (stock / "nbgrader_config.py").open("a", encoding="utf-8") as handle:
            handle.write(STOCK_CONFIG)
        nbgrader = str(Path(sys.executable).parent / "nbgrader")
        started = time.perf_counter()
        for assignment in sorted(p.name for p in (stock / "source").iterdir()):
            subprocess.run([nbgrader, "autograde", assignment, "--force"], cwd=stock, env=env, check=True,
                           capture_output=True)
        stock_seconds = time.perf_counter() - started

    command = [sys.executable, "-m", "coursegrader", "grade", "--root", str(ours), "--force",
               "--seed", str(args.seed)] + (["--workers", str(args.workers)] if args.workers else [])
    with PeakMemory() as memory:
        started = time.perf_counter()
        subprocess.run(command, cwd=ours, env=env, check=True, capture_output=True)
        ours_seconds = time.perf_counter() - started
    floor = execution_floor(ours)

    print(f"submissions: {args.students} students x {notebooks // max(args.students, 1)} assignments "
          f"= {notebooks} notebooks; workers: {args.workers or os.cpu_count()}")
    print(f"batch engine (coursegrader grade, incl. feedback + report): {ours_seconds:8.1f} s  "
          f"{ours_seconds / notebooks:.3f} s/notebook")
    if stock_seconds is not None:
        print(f"stock nbgrader autograde (autograde only):                 {stock_seconds:8.1f} s  "
              f"{stock_seconds / notebooks:.3f} s/notebook")
        print(f"throughput ratio (stock / engine): {stock_seconds / ours_seconds:.2f}x")
        a, b = points(stock), points(ours)
        same = a == b
        differ = sorted(k for k in set(a) | set(b) if a.get(k) != b.get(k))
        print(f"identical points on every test cell: {'yes' if same else 'NO'} ({len(a)} cells compared)"
              + ("" if same else f"; first differences: {differ[:5]}"))
    print(f"pure execution of the cells (in-process floor): {floor:.3f} s/notebook; "
          f"engine cost / floor: {ours_seconds / notebooks / floor:.1f}x")
    print(f"peak memory of the batch (process tree RSS): {memory.peak / 2**20:.0f} MiB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
