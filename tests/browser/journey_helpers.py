"""Helpers of the browser journey test: a private course copy, JupyterLab servers, Chromium, screenshots.

Kept free of pytest fixtures so that it can also be used by hand, e.g. to reproduce a step.
"""
from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]
ARTIFACTS = REPO / "test-artifacts" / "browser"
VENV_BIN = Path(sys.executable).parent
CHROMIUM = os.environ.get("COURSEGRADER_CHROMIUM", "/usr/bin/chromium")

# What a root user in a closed network needs: no sandbox (root), no background calls to Google
# (refused here, one by one), no GPU. See .library/env/machines/python.md.
CHROMIUM_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--disable-dev-shm-usage",
    "--disable-quic",
    "--no-first-run",
    "--no-default-browser-check",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--disable-default-apps",
    "--disable-extensions",
    "--metrics-recording-only",
    "--password-store=basic",
]

BEGIN_SOLUTION = re.compile(r"^\s*#+\s*BEGIN SOLUTION.*$")
END_SOLUTION = re.compile(r"^\s*#+\s*END SOLUTION.*$")


# ---------------------------------------------------------------------------------------------------
# The course copy


def tiny_notebook() -> dict:
    """An nbgrader notebook of one exercise: used when the course has no source/ps1/ps1.ipynb yet."""
    import nbformat

    v4 = nbformat.v4
    nb = v4.new_notebook()
    meta = lambda **kw: {"nbgrader": {"schema_version": 3, "locked": False, "solution": False, "grade": False, "task": False, **kw}}  # noqa: E731
    nb.cells = [
        v4.new_markdown_cell("# 課題1 偏微分\n\n$f(x, y) = x^2 y$ の $x$ による偏微分 `partial_x(x, y)` を実装してください。",
                             metadata=meta(grade_id="intro", locked=True)),
        v4.new_code_cell("import numpy as np\nimport matplotlib.pyplot as plt\nfrom coursegrader.fonts import use_japanese_font\n\n"
                         "use_japanese_font()", metadata=meta(grade_id="setup", locked=True)),
        v4.new_code_cell("x = np.linspace(-2, 2, 50)\nfig, ax = plt.subplots(figsize=(5, 3))\n"
                         "ax.plot(x, x ** 2, label=\"y = 1 で止めた切り口\")\n"
                         "ax.set_xlabel(\"x(入力)\"); ax.set_ylabel(\"関数の値\"); ax.set_title(\"偏微分: y を止めて x だけを動かす\")\n"
                         "ax.legend(); plt.show()"),
        v4.new_code_cell("def partial_x(x, y):\n    ### BEGIN SOLUTION\n    return 2 * x * y\n    ### END SOLUTION",
                         metadata=meta(grade_id="partial_x", solution=True)),
        # Test cells go through coursegrader.judge, as the course's own do (the grader replays student calls).
        v4.new_code_cell("# f(x, y) = x² y の x による偏微分を確かめます。\nfrom coursegrader.judge import Case\n\n"
                         "with Case(\"偏微分 ∂f/∂x\", key=\"ps1.tiny-partial-x\", visible=True) as case:\n"
                         "    for x, y in [(1.0, 3.0), (2.0, -1.0)]:\n"
                         "        case.expect_scalar(case.call(\"partial_x\", x, y), 2 * x * y, rtol=1e-9, atol=1e-12)",
                         metadata=meta(grade_id="test_partial_x", grade=True, locked=True, points=2)),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3 (ipykernel)", "language": "python"}
    nb.metadata["language_info"] = {"name": "python"}
    return nb


def copy_course(target: Path, assignment: str = "ps1") -> tuple[Path, bool]:
    """Copy the course's nbgrader_config.py, source/ and release/ into target.

    Returns (course root, whether the real notebook is used). Without source/<assignment>/<assignment>.ipynb
    in the repository, a tiny notebook of our own stands in.
    """
    import nbformat

    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "nbgrader_config.py", target / "nbgrader_config.py")
    ignore = shutil.ignore_patterns(".ipynb_checkpoints", "__pycache__")
    for folder in ("source", "release"):
        if (REPO / folder).is_dir():
            shutil.copytree(REPO / folder, target / folder, ignore=ignore, dirs_exist_ok=True)
    real = (REPO / "source" / assignment / f"{assignment}.ipynb").is_file()
    if os.environ.get("COURSEGRADER_JOURNEY_TINY"):  # debugging aid: the journey on our own tiny notebook
        real = False
        shutil.rmtree(target / "source" / assignment, ignore_errors=True)
        shutil.rmtree(target / "release" / assignment, ignore_errors=True)
    if not real:
        (target / "source" / assignment).mkdir(parents=True, exist_ok=True)
        nbformat.write(nbformat.from_dict(tiny_notebook()), target / "source" / assignment / f"{assignment}.ipynb")
    return target, real


def course_env(exchange: Path) -> dict[str, str]:
    """Environment of the course copy: its own exchange, the venv first on PATH (nbgrader calls `alembic`)."""
    env = dict(os.environ)
    env["PATH"] = f"{VENV_BIN}{os.pathsep}{env.get('PATH', '')}"
    env["COURSEGRADER_EXCHANGE"] = str(exchange)
    env.pop("COURSEGRADER_DB_URL", None)  # the copy's config then uses the copy's gradebook.db
    env["PYTHONUTF8"] = "1"
    env.setdefault("LANG", "C.UTF-8")
    return env


def nbgrader(course: Path, env: dict, *args: str, timeout: float = 300) -> str:
    """Run the venv's nbgrader CLI in the course copy; raise with its whole output if it fails."""
    result = subprocess.run(
        [str(VENV_BIN / "nbgrader"), *args], cwd=course, env=env, text=True, capture_output=True, timeout=timeout
    )
    output = result.stdout + result.stderr
    if result.returncode != 0:
        raise AssertionError(f"nbgrader {' '.join(args)} failed ({result.returncode}):\n{output[-6000:]}")
    return output


# ---------------------------------------------------------------------------------------------------
# The student's answer


def _src(cell) -> str:
    return "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]


def _nbg(cell) -> dict:
    return cell.get("metadata", {}).get("nbgrader", {}) or {}


def figure_cell(released_nb: Path) -> int | None:
    """Index of the first plotting cell that can run right after opening (no graded test before it)."""
    cells = json.loads(released_nb.read_text(encoding="utf-8"))["cells"]
    for i, cell in enumerate(cells):
        meta = _nbg(cell)
        if cell["cell_type"] != "code":
            continue
        if meta.get("grade") or "NotImplementedError" in _src(cell):
            return None  # running the cells up to a figure would stop on a test or an unanswered stub first
        if "plt.show()" in _src(cell) or "plt.subplots" in _src(cell):
            return i
    return None


def first_test_line_after(source_nb: Path, grade_id: str) -> str | None:
    """First non-empty line of the first graded test cell after the solution cell `grade_id`."""
    cells = json.loads(source_nb.read_text(encoding="utf-8"))["cells"]
    seen = False
    for cell in cells:
        if _nbg(cell).get("grade_id") == grade_id:
            seen = True
        elif seen and cell["cell_type"] == "code" and _nbg(cell).get("grade"):
            return next((line.strip() for line in _src(cell).splitlines() if line.strip()), None)
    return None


@dataclass
class Answer:
    cell_index: int  # index among the notebook's cells (also the .jp-Cell index in JupyterLab)
    grade_id: str
    code: str  # what the student types: the whole cell


def solution_answer(source_nb: Path, released_nb: Path) -> Answer:
    """A correct answer for one solution cell: the instructor's solution, its markers removed.

    Picks the first code cell marked as a solution that a graded test cell follows, so that the
    answer earns points at autograding. The released notebook gives the cell's position.
    """
    source = json.loads(source_nb.read_text(encoding="utf-8"))
    released = json.loads(released_nb.read_text(encoding="utf-8"))
    cells = source["cells"]

    def nbg(cell):
        return cell.get("metadata", {}).get("nbgrader", {}) or {}

    for i, cell in enumerate(cells):
        meta = nbg(cell)
        if cell["cell_type"] != "code" or not meta.get("solution") or meta.get("grade"):
            continue
        if not any(c["cell_type"] == "code" and nbg(c).get("grade") for c in cells[i + 1:]):
            continue
        src = "".join(cell["source"]) if isinstance(cell["source"], list) else cell["source"]
        if "BEGIN SOLUTION" not in src:
            continue
        lines = [line for line in src.splitlines() if not (BEGIN_SOLUTION.match(line) or END_SOLUTION.match(line))]
        grade_id = meta.get("grade_id", "")
        index = next(
            (j for j, c in enumerate(released["cells"]) if nbg(c).get("grade_id") == grade_id), None
        )
        if index is None:
            continue
        return Answer(index, grade_id, "\n".join(lines).rstrip() + "\n")
    raise AssertionError(f"no answerable solution cell in {source_nb}")


# ---------------------------------------------------------------------------------------------------
# Servers


class Servers:
    """JupyterLab servers started through coursegrader.lab (the `make lab` code path), always stopped."""

    def __init__(self, logs: Path):
        self.logs = logs
        self.running: list[tuple[object, object, Path]] = []  # (launch, proc, log path)

    def start(self, launch) -> None:
        from coursegrader import lab

        log_path = self.logs / f"jupyterlab-{launch.role}.log"
        log = open(log_path, "wb")
        proc = lab.start(launch, log=log)
        log.close()
        self.running.append((launch, proc, log_path))

    def wait_all(self, timeout: float = 90) -> None:
        from coursegrader import lab

        for launch, proc, _ in self.running:
            lab.wait_ready(launch, proc, timeout=timeout)

    def stop_all(self) -> None:
        from coursegrader import lab

        for _, proc, _ in self.running:
            try:
                lab.stop(proc)
            except Exception:  # noqa: BLE001 - keep stopping the others
                pass

    def log_tails(self, chars: int = 3000) -> str:
        parts = []
        for launch, proc, path in self.running:
            text = path.read_text(encoding="utf-8", errors="replace") if path.exists() else ""
            parts.append(f"--- {launch.role} (exit {proc.poll()}) {path} ---\n{text[-chars:]}")
        return "\n".join(parts)


# ---------------------------------------------------------------------------------------------------
# Screenshots


class Shots:
    """Numbered screenshots in test-artifacts/browser/NN-step.png."""

    def __init__(self, folder: Path = ARTIFACTS):
        self.folder = folder
        folder.mkdir(parents=True, exist_ok=True)
        for old in folder.glob("*.png"):
            old.unlink()
        self.n = 0
        self.taken: list[Path] = []

    def __call__(self, page, step: str, **kwargs) -> Path:
        self.n += 1
        path = self.folder / f"{self.n:02d}-{step}.png"
        page.screenshot(path=str(path), **kwargs)
        self.taken.append(path)
        return path


def wait_for(predicate, timeout: float = 30, interval: float = 0.25, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")


def js_number(x: float) -> str:
    """A score as formgrader's JavaScript prints it: rounded to 2 decimals, no trailing .0."""
    r = round(float(x), 2)
    return str(int(r)) if r == int(r) else repr(r)
