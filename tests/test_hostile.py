"""The hostile-submission suite: a batch with one named attack per student, graded for real.

Every attack runs through `coursegrader grade` (nbgrader's autograde with the sandbox) in one batch, beside
honest baselines and a bystander. Each attack may earn at most what its honest content earns, is accounted
for with a status and a reason, and changes nothing of anybody else.
"""

from __future__ import annotations

import hashlib
import json
import os
import socket
import subprocess
import sys
import threading
from pathlib import Path

import nbformat
import pytest
from nbgrader.utils import determine_grade, is_grade, is_solution

from conftest import copy_course, nbgrader, run
from hostile_submissions import ATTACKS, BASELINES, Attack, write_submission

from coursegrader.sandbox import UID_BASE

pytestmark = pytest.mark.slow


def _hashes(folder: Path) -> dict[str, str]:
    return {str(p.relative_to(folder)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(folder.rglob("*")) if p.is_file()}


class Listener:
    """A TCP server on loopback that counts connections (the network attack must never reach it)."""

    def __init__(self):
        self.sock = socket.socket()
        self.sock.bind(("127.0.0.1", 0))
        self.sock.listen()
        self.sock.settimeout(0.2)
        self.port = self.sock.getsockname()[1]
        self.connections = 0
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self._serve, daemon=True)
        self.thread.start()

    def _serve(self):
        while not self.stop.is_set():
            try:
                conn, _ = self.sock.accept()
                self.connections += 1
                conn.close()
            except OSError:
                continue

    def close(self):
        self.stop.set()
        self.thread.join()
        self.sock.close()


@pytest.fixture(scope="module")
def batch(tmp_path_factory):
    """One graded batch: every attack, the honest baselines and a bystander, plus what was measured around it."""
    base = tmp_path_factory.mktemp("hostile")
    root = copy_course(base / "course")
    with (root / "nbgrader_config.py").open("a", encoding="utf-8") as handle:
        handle.write("\nc.SandboxedExecute.timeout = 4\nc.SandboxedExecute.interrupt_grace = 1.0\n"
                     "c.SandboxedExecute.memory_limit_mb = 512\n")
    env = {"COURSEGRADER_EXCHANGE": str(base / "exchange")}
    nbgrader(root, "generate_assignment", "ps2", "--force", "--create", env=env)
    release = root / "release" / "ps2" / "ps2.ipynb"
    listener = Listener()
    students = {**{name: Attack(code, name) for name, code in BASELINES.items()},
                "bystander": Attack(BASELINES["baseline_correct"], "baseline_correct"), **ATTACKS}
    for name, attack in students.items():
        if name == "uses_the_network":
            attack = Attack(attack.code.replace("__PORT__", str(listener.port)), attack.baseline)
        write_submission(release, root / "submitted" / name / "ps2", attack)
    before = _hashes(root / "submitted")
    outside_before = set(os.listdir(base)) | set(os.listdir("/tmp"))
    try:
        result = run(root, sys.executable, "-m", "coursegrader", "grade", "--root", str(root),
                     "--assignment", "ps2", "--seed", "11", env=env, check=False)
    finally:
        listener.close()
    outcomes = {}
    for name in students:
        manifest = root / "autograded" / name / "ps2" / ".grading-manifest.json"
        outcomes[name] = json.loads(manifest.read_text(encoding="utf-8"))["outcome"] if manifest.exists() else None
    leftovers = subprocess.run(["ps", "-eo", "uid=,pid=,args="], capture_output=True, text=True).stdout
    leftovers = [line for line in leftovers.splitlines()
                 if line.split() and UID_BASE <= int(line.split()[0]) < UID_BASE + 256]
    return {
        "root": root, "result": result, "outcomes": outcomes, "before": before,
        "after": _hashes(root / "submitted"), "listener": listener, "leftovers": leftovers,
        "outside_new": (set(os.listdir(base)) | set(os.listdir("/tmp"))) - outside_before,
    }


def test_batch_finishes_and_accounts_for_everyone(batch):
    """Does the batch finish despite every attack, with an outcome recorded for every student?"""
    assert batch["result"].returncode == 0, batch["result"].stderr[-3000:]
    missing = [name for name, outcome in batch["outcomes"].items() if outcome is None]
    assert not missing


@pytest.mark.parametrize("name", sorted(ATTACKS))
def test_attack_earns_no_more_than_its_honest_content(batch, name):
    """Can this attack raise its score above what its honest content earns, or go unexplained?"""
    attack = ATTACKS[name]
    outcome = batch["outcomes"][name]
    baseline = batch["outcomes"][attack.baseline]
    assert outcome["status"] == attack.status, outcome
    assert attack.reason in outcome["reason"], outcome
    assert (outcome["score"] or 0) <= baseline["score"], (outcome, baseline)


def test_honest_baselines_and_bystander_are_graded_as_usual(batch):
    """Are the honest students graded normally: correct full marks, zeros only the cells it earns?"""
    outcomes = batch["outcomes"]
    assert outcomes["baseline_correct"]["score"] == outcomes["baseline_correct"]["max_score"] > 0
    assert outcomes["bystander"]["score"] == outcomes["bystander"]["max_score"]
    assert outcomes["baseline_zeros"]["score"] < outcomes["baseline_zeros"]["max_score"]


def test_nobody_elses_files_or_grades_change(batch):
    """Are submitted files byte-identical afterwards, and is the bystander's gradebook score intact?"""
    assert batch["after"] == batch["before"]
    from nbgrader.api import Gradebook

    with Gradebook("sqlite:///" + str(batch["root"] / "gradebook.db")) as gb:
        submission = gb.find_submission("ps2", "bystander")
        assert submission.score == submission.max_score > 0


def test_no_process_network_or_file_escapes(batch):
    """Did any sandboxed process survive, any connection reach the host, or any file appear outside?"""
    assert batch["leftovers"] == []
    assert batch["listener"].connections == 0
    assert not [name for name in batch["outside_new"] if "pwned" in name]
    for place in (batch["root"], batch["root"].parent, Path("/work"), Path("/root")):
        assert not (place / "pwned.txt").exists()


def _autograded(batch, name) -> nbformat.NotebookNode:
    return nbformat.read(batch["root"] / "autograded" / name / "ps2" / "ps2.ipynb", as_version=4)


def test_deleted_test_cell_is_restored_and_graded(batch):
    """Is a deleted test cell put back and graded, instead of leaving the grade 'needs manual'?"""
    nb = _autograded(batch, "deletes_a_test_cell")
    ids = [c.metadata.nbgrader["grade_id"] for c in nb.cells if is_grade(c) and not is_solution(c)]
    assert "ps2-gradient-hidden" in ids
    assert batch["outcomes"]["deletes_a_test_cell"]["score"] == batch["outcomes"]["baseline_correct"]["score"]


def test_huge_output_is_truncated(batch):
    """Is a 50 MB print cut down in the autograded notebook and the feedback?"""
    path = batch["root"] / "autograded" / "huge_output" / "ps2" / "ps2.ipynb"
    assert path.stat().st_size < 2 << 20
    feedback = list((batch["root"] / "feedback" / "huge_output").rglob("*.html"))
    assert feedback and all(p.stat().st_size < 4 << 20 for p in feedback)
    text = path.read_text(encoding="utf-8")
    assert "省略" in text


def test_test_cells_show_verdicts_not_forgeries(batch):
    """Do test cells of an attack that prints fake passes show only the grader's own verdict?"""
    nb = _autograded(batch, "prints_fake_pass")
    for cell in nb.cells:
        if is_grade(cell) and not is_solution(cell) and cell.cell_type == "code":
            assert determine_grade(cell)[0] in (0, cell.metadata.nbgrader["points"])
            for output in cell.outputs:
                assert "All tests passed" not in json.dumps(output)
