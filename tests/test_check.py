"""The student's pre-submission check (`make check NB=...`): truthful, and non-zero when a visible test fails."""

from __future__ import annotations

import subprocess
import sys

import nbformat
import pytest

from conftest import REPO

from coursegrader.demo import VARIANTS, build_submission

pytestmark = pytest.mark.slow


def check(tmp_path, variant: str) -> subprocess.CompletedProcess:
    path = tmp_path / "ps2.ipynb"
    nbformat.write(build_submission(REPO / "release" / "ps2" / "ps2.ipynb", VARIANTS["ps2"][variant]), path)
    return subprocess.run([sys.executable, "-m", "coursegrader", "check", str(path)], capture_output=True,
                          text=True, cwd=tmp_path)


def test_correct_work_passes_and_hidden_tests_are_not_claimed(tmp_path):
    """Does correct work exit 0, while the check says the hidden tests were not run here?"""
    result = check(tmp_path, "correct")
    assert result.returncode == 0, result.stdout
    assert "✔ ps2-gradient-visible" in result.stdout
    assert "… ps2-gradient-hidden: 隠しテスト" in result.stdout
    assert "✔ ps2-gradient-hidden" not in result.stdout


def test_forward_difference_is_caught_before_submission(tmp_path):
    """Is a forward-difference submission told about 前方差分 by the check, with a non-zero exit?"""
    result = check(tmp_path, "forward_difference")
    assert result.returncode == 1
    assert "前方差分" in result.stdout and "✘ ps2-gradient-order" in result.stdout


def test_untouched_release_fails(tmp_path):
    """Does the untouched student version fail the check with the 'not implemented yet' message?"""
    result = check(tmp_path, "unanswered")
    assert result.returncode == 1
    assert "まだ実装されていません" in result.stdout
