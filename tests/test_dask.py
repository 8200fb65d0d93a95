"""Grading on a Dask cluster: a real scheduler and two worker processes on loopback, started with the
commands of docs/scale.md (``dask scheduler`` / ``dask worker --nthreads 1``).

A few fake submissions of ps2 are graded on the cluster; each must get exactly the points per test cell
that the local pool gives (``EXPECTED_POINTS``), each worker process must grade with a sandbox slot of
its own, and everything the cluster started must be gone after it shuts down.
"""

from __future__ import annotations

import fcntl
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import copy_course, nbgrader, run

from coursegrader import batch, cluster
from coursegrader.demo import EXPECTED_POINTS, VARIANTS, build_submission

pytestmark = pytest.mark.slow

ASSIGNMENT = "ps2"
CASES = ["correct", "forward_difference", "not_restored", "integer_truncation"]
SLOT_BASE = 100  # the sandbox's own tests use 170-173, the local pool 0, 1, ...
DASK = str(Path(sys.executable).parent / "dask")
SEED = 20261203


def student_id(variant: str) -> str:
    return f"{ASSIGNMENT}_{variant}"


def make_class(base: Path) -> Path:
    """A course copy with ps2 generated and one fake student per variant of CASES."""
    import nbformat

    root = copy_course(base / "course")
    nbgrader(root, "generate_assignment", ASSIGNMENT, "--force", "--create",
             env={"COURSEGRADER_EXCHANGE": str(base / "exchange")})
    for variant in CASES:
        folder = root / "submitted" / student_id(variant) / ASSIGNMENT
        folder.mkdir(parents=True)
        nb = build_submission(root / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", VARIANTS[ASSIGNMENT][variant])
        nbformat.write(nb, folder / f"{ASSIGNMENT}.ipynb")
    return root


def _tail(path: Path, n: int = 3000) -> str:
    return path.read_text(encoding="utf-8", errors="replace")[-n:] if path.exists() else ""


def _wait_exit(proc: subprocess.Popen, seconds: float) -> int | None:
    try:
        return proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        return None


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    # a zombie (exited, not yet reaped by its parent) is gone for our purposes
    try:
        return Path(f"/proc/{pid}/stat").read_text().split(") ", 1)[1][0] != "Z"
    except OSError:
        return False


@pytest.fixture(scope="module")
def dask_cluster(tmp_path_factory):
    """``dask scheduler`` and ``dask worker --nworkers 2 --nthreads 1``, both on 127.0.0.1 only."""
    from distributed import Client

    base = tmp_path_factory.mktemp("dask")
    scheduler_file = base / "scheduler.json"
    env = {**os.environ, "LANG": "C.UTF-8", "LC_ALL": "C.UTF-8", "PYTHONUTF8": "1",
           "DASK_DISTRIBUTED__WORKER__DAEMON": "False"}
    logs = {name: (base / f"{name}.log").open("w") for name in ("scheduler", "workers")}
    scheduler = subprocess.Popen(
        [DASK, "scheduler", "--host", "127.0.0.1", "--port", "0", "--no-dashboard",
         "--scheduler-file", str(scheduler_file)],
        cwd=base, env=env, stdout=logs["scheduler"], stderr=subprocess.STDOUT, start_new_session=True)
    procs = {"scheduler": scheduler}
    client = None
    try:
        deadline = time.monotonic() + 30
        while not scheduler_file.exists() and scheduler.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert scheduler_file.exists(), "scheduler did not start:\n" + _tail(base / "scheduler.log")
        address = json.loads(scheduler_file.read_text())["address"]
        assert address.startswith("tcp://127.0.0.1:"), address
        procs["workers"] = subprocess.Popen(
            [DASK, "worker", "--scheduler-file", str(scheduler_file), "--nworkers", "2", "--nthreads", "1",
             "--host", "127.0.0.1", "--no-dashboard", "--name", "grader", "--local-directory", str(base / "work")],
            cwd=base, env=env, stdout=logs["workers"], stderr=subprocess.STDOUT, start_new_session=True)
        client = Client(address, timeout=30, set_as_default=False)
        client.wait_for_workers(2, timeout=45)
        yield {"address": address, "scheduler_file": scheduler_file, "client": client, "procs": procs,
               "logs": base}
    finally:
        if client is not None:
            client.close()
        for proc in procs.values():
            if proc.poll() is None:
                os.killpg(proc.pid, 15)
                if _wait_exit(proc, 10) is None:
                    os.killpg(proc.pid, 9)
                    proc.wait()
        for handle in logs.values():
            handle.close()


@pytest.fixture(scope="module")
def graded(dask_cluster, tmp_path_factory):
    """The class graded by the batch engine on the cluster (the course's own SQLite gradebook)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.delenv("COURSEGRADER_DB_URL", raising=False)
        root = make_class(tmp_path_factory.mktemp("dask-class"))
        tasks = batch.plan(root, [ASSIGNMENT])
        assert sorted(t.student for t in tasks) == sorted(student_id(v) for v in CASES)
        run(root, sys.executable, "-m", "coursegrader", "grade", "--root", str(root), "--assignment", ASSIGNMENT,
            "--seed", str(SEED), "--scheduler", dask_cluster["address"],
            *([] if os.geteuid() == 0 else ["--no-isolate"]))
    outcomes = {}
    for manifest in (root / "autograded").glob(f"*/{ASSIGNMENT}/{batch.MANIFEST}"):
        outcome = batch.Outcome(**json.loads(manifest.read_text(encoding="utf-8"))["outcome"])
        outcomes[outcome.student] = outcome
    return root, outcomes


def test_every_submission_graded_once(graded):
    """Does the batch on the cluster return exactly one graded outcome per submission?"""
    _, outcomes = graded
    assert sorted(outcomes) == sorted(student_id(v) for v in CASES)
    for student, outcome in outcomes.items():
        assert outcome.status == "graded", (student, outcome.reason)


@pytest.mark.parametrize("variant", CASES)
def test_points_per_test_cell_as_the_local_pool(graded, variant):
    """Does this submission get, on the cluster, exactly the points per test cell the local pool gives?"""
    root, outcomes = graded
    expected = {k: float(v) for k, v in EXPECTED_POINTS[ASSIGNMENT][variant].items()}
    got = {grade_id: cell["score"] for grade_id, cell in outcomes[student_id(variant)].cells.items()}
    assert got == expected
    manifest = root / "autograded" / student_id(variant) / ASSIGNMENT / batch.MANIFEST
    written = json.loads(manifest.read_text(encoding="utf-8"))["outcome"]
    assert {k: c["score"] for k, c in written["cells"].items()} == expected
    assert (root / "feedback" / student_id(variant) / ASSIGNMENT / f"{ASSIGNMENT}.html").is_file()


def test_each_worker_has_its_own_sandbox_slot(dask_cluster, graded):
    """Did both worker processes grade, each with a sandbox slot of its own from the slot base on?"""
    slots = {address: status["slot"] for address, status in dask_cluster["client"].run(cluster.worker_status).items()}
    assert len(slots) == 2, slots
    assert all(slot is not None and slot >= SLOT_BASE for slot in slots.values()), slots
    assert len(set(slots.values())) == 2, slots


def test_refuses_workers_with_several_threads(tmp_path):
    """Does grading refuse a worker that would run several submissions in one process (one slot)?"""
    from distributed import LocalCluster

    root = copy_course(tmp_path / "course")
    with LocalCluster(processes=False, n_workers=1, threads_per_worker=2, dashboard_address="127.0.0.1:0") as local:
        with pytest.raises(cluster.ClusterError, match="--nthreads 1"):
            with cluster.DaskPool(root, local.scheduler_address, SEED, False, timeout=10):
                pass


def test_unreachable_scheduler_is_a_clear_error(tmp_path):
    """Does a scheduler address nobody answers at end in a ClusterError naming it, not a hang?"""
    root = copy_course(tmp_path / "course")
    with pytest.raises(cluster.ClusterError, match="127.0.0.1:9"):
        with cluster.DaskPool(root, "tcp://127.0.0.1:9", SEED, False, timeout=2):
            pass


def test_cluster_shuts_down_completely(dask_cluster, graded):
    """After shutdown, are the scheduler, both workers and their sandboxes gone, and the slots free again?"""
    client = dask_cluster["client"]
    workers = list(client.run(cluster.worker_status).values())
    worker_pids = [status["pid"] for status in workers]
    zygote_pids = [pid for status in workers for pid in status["sandbox_pids"]]
    slots = [status["slot"] for status in workers if status["slot"] is not None]
    assert len(worker_pids) == 2 and len(zygote_pids) == 2, (worker_pids, zygote_pids)
    client.shutdown()
    for name, proc in dask_cluster["procs"].items():
        log = dask_cluster["logs"] / f"{name}.log"
        assert _wait_exit(proc, 30) is not None, f"{name} still running:\n" + _tail(log)
    deadline = time.monotonic() + 10
    while any(map(_alive, worker_pids + zygote_pids)) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert not [pid for pid in worker_pids + zygote_pids if _alive(pid)]
    state_dir = cluster._state_dir()
    for slot in slots:
        for name in (f"dask-slot{slot}.claim", f"slot{slot}.lock"):
            fd = os.open(os.path.join(state_dir, name), os.O_RDWR)
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)  # raises if a process still holds it
            finally:
                os.close(fd)

