"""Shared fixtures: a private copy of the course, so tests never touch the repository's own state."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parent.parent
NBGRADER = str(Path(sys.executable).parent / "nbgrader")
# nbgrader runs `alembic` by name: the venv's bin must be on PATH even when pytest is started directly.
os.environ["PATH"] = str(Path(sys.executable).parent) + os.pathsep + os.environ.get("PATH", "")
ASSIGNMENTS = sorted(p.name for p in (REPO / "source").iterdir() if p.is_dir()) if (REPO / "source").is_dir() else []


def copy_course(target: Path) -> Path:
    """The course's config and source/ in a new folder, with its own gradebook and exchange."""
    target.mkdir(parents=True, exist_ok=True)
    shutil.copy(REPO / "nbgrader_config.py", target / "nbgrader_config.py")
    shutil.copytree(REPO / "source", target / "source", ignore=shutil.ignore_patterns(".ipynb_checkpoints"))
    return target


def run(root: Path, *args: str, env: dict | None = None, check: bool = True) -> subprocess.CompletedProcess:
    """Run a command in a course folder; on failure show its whole output."""
    full_env = {**os.environ, **(env or {})}
    result = subprocess.run(list(args), cwd=root, env=full_env, text=True, capture_output=True)
    if check and result.returncode != 0:
        raise AssertionError(f"{' '.join(args)} failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    return result


def nbgrader(root: Path, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return run(root, NBGRADER, *args, **kwargs)


@pytest.fixture
def course(tmp_path: Path, monkeypatch) -> Path:
    root = copy_course(tmp_path / "course")
    monkeypatch.setenv("COURSEGRADER_EXCHANGE", str(tmp_path / "exchange"))
    monkeypatch.delenv("COURSEGRADER_DB_URL", raising=False)
    return root


@pytest.fixture
def generated_course(course: Path) -> Path:
    """The course copy with release/ generated and the gradebook filled, by nbgrader itself."""
    for assignment in ASSIGNMENTS:
        nbgrader(course, "generate_assignment", assignment, "--force", "--create")
    return course
