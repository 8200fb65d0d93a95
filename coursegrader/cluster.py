"""Grading on a Dask distributed cluster instead of the local process pool (docs/scale.md).

:class:`DaskPool` is the part of ``multiprocessing.Pool`` that ``batch.run`` uses (``imap_unordered``,
``map``, ``apply_async``), on a Dask scheduler: ``batch.run`` grades with it exactly as with the local
pool, so the steps (autograde, feedback per assignment, manifests) and the progress bar (results as they
finish) are the same. Each call runs the batch engine's own worker function (``batch._grade``, ``batch._feedback``) in a
Dask worker process prepared once like a pool worker (``batch._init_worker``): same nbgrader API, same
sandbox, same judge. :func:`run_on_dask` is the autograde step alone, as a generator of outcomes.

What the workers need:

* the course folder at the same path as on the client (a shared filesystem): submissions are read from
  there, and autograded notebooks, feedback and manifests are written there;
* this package importable by the worker's Python (the same venv at the same path), and root for the
  sandbox (or ``--no-isolate``, which is no security boundary);
* ``--nthreads 1``: a worker process grades one submission at a time with its one sandbox slot.
  :class:`DaskPool` refuses workers with more threads; a later joiner with more threads is safe but
  grades one task at a time (a process-wide lock).

Sandbox slots. Every grading process needs a slot of its own among the sandbox's 0..183 while it runs
(a slot is a uid and a cgroup on that machine; the sandbox takes a machine-wide lock per slot). A Dask
worker process claims its slot on first use, on its own machine, with no coordination through the
scheduler: it takes the first slot from ``slot_base`` (default 100, above the local pool's 0, 1, ...)
whose claim file it can lock (``dask-slotN.claim`` beside the sandbox's locks) and whose sandbox lock is
free at that moment (a local ``coursegrader grade`` or ``nbgrader autograde`` on the same machine). The
claim is an ``flock`` held for the life of the process, so a worker that dies or is restarted by its
nanny frees its slot by itself; two workers on one machine never share a slot, workers on different
machines may use the same number (that is fine: slots are per machine).

The gradebook URL is the client's (``nbgrader_config.py`` on the client, so ``COURSEGRADER_DB_URL`` set
where ``coursegrader grade`` runs): it travels with every task, and each worker process sets it as its
``COURSEGRADER_DB_URL`` before reading the course's configuration. Use PostgreSQL when workers run on
several machines (SQLite on a network filesystem does not lock reliably).
"""

from __future__ import annotations

import fcntl
import itertools
import logging
import os
import queue
import sys
import tempfile
import threading
import uuid
from pathlib import Path
from typing import Iterator

from . import batch
from .batch import Outcome, Task

log = logging.getLogger("coursegrader")

#: First sandbox slot a Dask worker process tries on its machine (the local pool uses 0, 1, ...).
DEFAULT_SLOT_BASE = 100


class ClusterError(RuntimeError):
    """The cluster cannot grade: no scheduler, no worker, a worker set up wrongly. Nothing was lost:
    submissions graded before the error keep their results, and a rerun grades only the rest."""


class WorkerSetupError(RuntimeError):
    """Raised on a Dask worker that cannot prepare itself for grading (slot, configuration, sandbox)."""


# ---------------------------------------------------------------------------------------------------
# The client side
# ---------------------------------------------------------------------------------------------------

class DaskPool:
    """What ``batch.run`` uses of a ``multiprocessing.Pool`` (``imap_unordered``, ``map``, ``apply_async``),
    on a Dask cluster.

    The functions are the batch engine's worker functions (``batch._grade``, ``batch._feedback``, ...):
    each call runs in a Dask worker process prepared once like a pool worker (``batch._init_worker``),
    with the sandbox slot that process claimed. A context manager: entering connects to ``scheduler`` (an
    address such as ``tcp://10.0.0.5:8786``, or a scheduler file) and checks the workers, leaving cancels
    what is still pending and disconnects (the cluster keeps running). ``timeout`` bounds the wait for
    the scheduler and for a first worker. Errors are :class:`ClusterError`."""

    def __init__(self, root: Path, scheduler: str, seed: int, isolate: bool, *,
                 slot_base: int = DEFAULT_SLOT_BASE, timeout: float = 30.0):
        self.root = Path(root).resolve()
        self.scheduler, self.seed, self.isolate = scheduler, seed, isolate
        self.slot_base, self.timeout = slot_base, timeout
        self.client = None
        self._pending: set = set()
        self._run_id = uuid.uuid4().hex[:8]
        self._count = itertools.count()

    def __enter__(self) -> "DaskPool":
        # The client's gradebook URL, for the workers (they may not have COURSEGRADER_DB_URL themselves).
        self.db_url = course_db_url(self.root)
        self.client = connect(self.scheduler, self.timeout)
        try:
            check_workers(self.client, self.scheduler, self.timeout)
        except BaseException:
            self.close()
            raise
        return self

    def __exit__(self, *exc_info) -> None:
        self.close()

    def close(self) -> None:
        if self.client is not None:
            if self._pending:
                self.client.cancel(list(self._pending))
                self._pending.clear()
            self.client.close()
            self.client = None

    def imap_unordered(self, func, iterable, chunksize: int = 1) -> Iterator:
        """``func(item)`` for every item on the cluster, results in the order they finish."""
        from distributed import as_completed

        futures = self._submit(func, [(item,) for item in iterable])
        for future in as_completed(futures, loop=self.client.loop):
            yield self._result(future)

    def map(self, func, iterable, chunksize: int = 1) -> list:
        """``func(item)`` for every item on the cluster, results in the items' order."""
        return [self._result(future) for future in self._submit(func, [(item,) for item in iterable])]

    def apply_async(self, func, args: tuple = ()) -> "AsyncResult":
        """``func(*args)`` on the cluster; ``ready()`` and ``get()`` as multiprocessing's AsyncResult."""
        (future,) = self._submit(func, [tuple(args)])
        return AsyncResult(self, future)

    def _submit(self, func, calls: list[tuple]) -> list:
        futures = []
        for index, args in enumerate(calls):
            future = self.client.submit(
                run_on_worker, func, args, str(self.root), self.seed, self.isolate, self.slot_base, self.db_url,
                key=f"{func.__name__.strip('_')}-{_label(args)}-{self._run_id}-{next(self._count)}", pure=False)
            futures.append(future)
        self._pending.update(futures)
        return futures

    def _result(self, future, timeout: float | None = None):
        try:
            return future.result(timeout=timeout)
        except WorkerSetupError as exc:
            raise ClusterError(f"a Dask worker cannot grade: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - e.g. KilledWorker, a lost scheduler
            raise ClusterError(f"{future.key} failed on the Dask cluster: {type(exc).__name__}: {exc}") from None
        finally:
            self._pending.discard(future)


def _label(args: tuple) -> str:
    """A readable part of a task's key (Dask's dashboard and errors): the submission or the assignment."""
    first = args[0] if args else None
    if isinstance(first, Task):
        return f"{first.assignment}-{first.student}"
    if isinstance(first, tuple) and first and isinstance(first[0], str):  # a feedback job (assignment, students)
        return first[0]
    return "call"


class AsyncResult:
    """One :meth:`DaskPool.apply_async` call, as much of ``multiprocessing.pool.AsyncResult`` as the batch uses."""

    def __init__(self, pool: DaskPool, future):
        self._pool, self._future = pool, future

    def ready(self) -> bool:
        return self._future.done()

    def get(self, timeout: float | None = None):
        return self._pool._result(self._future, timeout)


def run_on_dask(root: Path, tasks: list[Task], scheduler: str, seed: int, isolate: bool, *,
                slot_base: int = DEFAULT_SLOT_BASE, timeout: float = 30.0) -> Iterator[Outcome]:
    """Autograde ``tasks`` on the Dask cluster of ``scheduler``; yield each outcome as it completes.

    The autograde step only (``batch._grade``: gradebook and autograded notebooks); feedback and manifests
    are the batch's next steps, which ``batch.run`` takes with the same :class:`DaskPool`."""
    with DaskPool(root, scheduler, seed, isolate, slot_base=slot_base, timeout=timeout) as pool:
        yield from pool.imap_unordered(batch._grade, tasks)


def course_db_url(root: Path) -> str:
    """The gradebook URL as the course's nbgrader_config.py gives it here (on the client)."""
    from traitlets.config.loader import PyFileConfigLoader

    config = PyFileConfigLoader("nbgrader_config.py", path=str(root)).load_config()
    return config.CourseDirectory.db_url


def connect(scheduler: str, timeout: float):
    """A ``distributed.Client`` of ``scheduler`` (an address, or a scheduler file that exists)."""
    from distributed import Client

    try:
        if Path(scheduler).is_file():
            return Client(scheduler_file=scheduler, timeout=timeout, set_as_default=False)
        return Client(scheduler, timeout=timeout, set_as_default=False)
    except (OSError, TimeoutError, ValueError) as exc:
        raise ClusterError(f"cannot reach the Dask scheduler {scheduler}: {exc}") from None


def check_workers(client, scheduler: str, timeout: float) -> None:
    """At least one worker, and every worker with one thread (one sandbox slot per process)."""
    try:
        client.wait_for_workers(1, timeout=timeout)
    except (TimeoutError, OSError) as exc:
        raise ClusterError(f"no Dask worker joined the scheduler {scheduler} within {timeout:g} s ({exc}); "
                           "start workers with: dask worker SCHEDULER --nthreads 1") from None
    threaded = {address: n for address, n in client.nthreads().items() if n != 1}
    if threaded:
        raise ClusterError(
            "Dask workers must run one thread per process (dask worker ... --nthreads 1; use --nworkers for "
            "parallelism): a grading process has one sandbox slot. Threaded workers: "
            + ", ".join(f"{address} ({n} threads)" for address, n in sorted(threaded.items())))


# ---------------------------------------------------------------------------------------------------
# The worker side (runs in the Dask worker processes)
# ---------------------------------------------------------------------------------------------------

_lock = threading.Lock()
_state: dict = {"slot": None, "claim_fd": None, "key": None}


def run_on_worker(func, args: tuple, root: str, seed: int, isolate: bool, slot_base: int, db_url: str):
    """``func(*args)`` in this worker process, prepared for grading on its first call."""
    with _lock:
        try:
            _prepare(root, seed, isolate, slot_base, db_url)
        except WorkerSetupError as exc:
            raise WorkerSetupError(f"{_worker_name()}: {exc}") from None
        except Exception as exc:  # noqa: BLE001 - any setup failure is the worker's, not the submission's
            raise WorkerSetupError(f"{_worker_name()}: {type(exc).__name__}: {exc}") from None
        return func(*args)


def worker_status() -> dict:
    """This worker process: its pid, the sandbox slot it claimed (None before its first task) and the pids
    of its sandboxes (``client.run(worker_status)`` asks every worker)."""
    from . import execute

    return {"pid": os.getpid(), "slot": _state["slot"],
            "sandbox_pids": [z.pid for z in list(execute._zygotes.values()) if z.pid]}


def _prepare(root: str, seed: int, isolate: bool, slot_base: int, db_url: str) -> None:
    key = (root, seed, isolate, db_url)
    if _state["key"] == key:
        return
    # nbgrader runs `alembic` by name: the worker's own venv comes first on PATH, as in the Makefile.
    bin_dir = os.path.dirname(sys.executable)
    if bin_dir not in os.environ.get("PATH", "").split(os.pathsep):
        os.environ["PATH"] = bin_dir + os.pathsep + os.environ.get("PATH", "")
    os.environ["COURSEGRADER_DB_URL"] = db_url
    if not (Path(root) / "nbgrader_config.py").is_file():
        raise WorkerSetupError(f"no course folder at {root} on this worker (the course folder must be on a "
                               "filesystem shared with the client, at the same path)")
    if _state["slot"] is None:
        _state["slot"], _state["claim_fd"] = claim_slot(slot_base)
    slot = _state["slot"]
    previous = _state["key"]
    if previous is not None and previous[2] != isolate:
        from . import execute

        execute._close_zygotes()  # the other zygote holds this slot's sandbox lock
    given = queue.SimpleQueue()
    given.put(slot)
    batch._init_worker(root, given, seed, isolate)
    configured = batch._worker["api"].coursedir.db_url
    if configured != db_url:
        raise WorkerSetupError(f"the course's nbgrader_config.py gives the gradebook {configured!r} on this "
                               f"worker, not the client's (it must read COURSEGRADER_DB_URL)")
    # Start the warm sandbox now: a missing privilege is a setup error here, not a failed submission.
    from .execute import zygote_for

    zygote_for(slot, isolate)
    _state["key"] = key
    log.info("coursegrader worker %s: sandbox slot %d, course %s", _worker_name(), slot, root)


def _state_dir() -> str:
    from .sandbox import _STATE_DIR_ROOT

    path = _STATE_DIR_ROOT if os.geteuid() == 0 else os.path.join(tempfile.gettempdir(),
                                                                  f"coursegrader-{os.geteuid()}")
    os.makedirs(path, mode=0o700, exist_ok=True)
    return path


def claim_slot(base: int = DEFAULT_SLOT_BASE) -> tuple[int, int]:
    """The first free sandbox slot from ``base`` on this machine, and the fd whose lock holds it.

    Free means: no other process holds its claim, and no sandbox runs on it right now. The claim lasts
    until the fd is closed, at the latest when the process ends."""
    from .sandbox import MAX_SLOT, SandboxUnavailable, free_slots

    if not 0 <= base <= MAX_SLOT:
        raise WorkerSetupError(f"slot base must be in 0..{MAX_SLOT}, got {base}")
    state_dir = _state_dir()
    for slot in range(base, MAX_SLOT + 1):
        fd = os.open(os.path.join(state_dir, f"dask-slot{slot}.claim"), os.O_RDWR | os.O_CREAT | os.O_CLOEXEC,
                     0o600)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            os.close(fd)
            continue
        try:
            idle = free_slots(1, start=slot) == [slot]  # no sandbox (of any grader here) holds it now
        except SandboxUnavailable:
            idle = False
        if not idle:
            os.close(fd)
            continue
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        return slot, fd
    raise WorkerSetupError(f"no free sandbox slot in {base}..{MAX_SLOT} on this machine")


def _worker_name() -> str:
    try:
        from distributed import get_worker

        worker = get_worker()
        return f"worker {worker.name} ({worker.address})"
    except (ImportError, ValueError):
        return f"process {os.getpid()}"
