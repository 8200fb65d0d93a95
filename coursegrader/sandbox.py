"""Run untrusted student code in isolated children forked from a warm "zygote".

Why a zygote
------------
Starting a Python interpreter and importing numpy, matplotlib, IPython and
scikit-learn costs seconds; grading a class means thousands of small jobs.
So one long-lived process (the zygote) imports all of that once, and every job
is a ``fork()`` of it: the job starts with everything already imported, and the
fork is copy-on-write, so it costs a few milliseconds.

Process tree and data paths
---------------------------
::

    caller (Zygote object) ──unix SOCK_SEQPACKET (JSON + passed fds)──► zygote process
        ▲   ▲                                                              │ fork()
        │   └── output pipe (job's fd 1 and 2, tail kept) ─────────────┐   ▼
        └────── frame pipe (length-prefixed frames) ───────────────── job: pid 1 of a fresh
                                                                        pid namespace

* The caller creates the pipes and a memfd holding the request (workdir,
  limits, env, payload) and passes the three descriptors to the zygote, which
  hands them to the forked job without reading them. Student data (payload,
  frames, output) therefore never passes through the zygote's memory, which
  every later job inherits: one student's job cannot find another student's
  notebook in its own address space.
* The caller supervises: it owns the idle, grace and wall timers and the frame
  size caps, and asks the zygote to signal the job. The zygote is the job's
  parent, so only it can signal the job without pid-reuse races, and it reports
  the wait status, CPU time and cgroup counters when the job ends.
* Frames are opaque bytes: nothing from a job is ever unpickled here.

Isolation of a job (``isolate=True``, as root)
----------------------------------------------
New mount, pid, net, ipc, uts and cgroup namespaces; a tmpfs root holding
read-only binds of the system and the Python installation only, a fresh /proc,
a minimal /dev, a size-capped /tmp, and the workdir read-write; pivot_root into
it; a per-slot uid without capabilities and with no_new_privs; a seccomp
deny-list (keyrings, user namespaces, mounts, io_uring, ...); per-slot cgroup
v1 memory and pids limits (rlimit fallbacks); rlimits for file size, CPU, open
files and core dumps. The job is pid 1 of its pid namespace, so when it ends
the kernel kills every process it started, detached or not.
docs/sandbox.md ("Security model: the sandbox") says what this does not cover.

``isolate=False`` keeps rlimits, cgroups (if writable) and the process-group
kill, for developers without root; it is not a security boundary.

The module also runs as a benchmark: ``python -m coursegrader.sandbox``.
"""

from __future__ import annotations

import ctypes
import fcntl
import gc
import importlib
import json
import os
import platform
import resource
import select
import signal
import site
import socket
import statistics
import struct
import subprocess
import sys
import tempfile
import threading
import time
import traceback
from dataclasses import asdict, dataclass, field
from typing import Callable, Mapping, Sequence

__all__ = [
    "DEFAULT_PRELOAD",
    "Channel",
    "Limits",
    "SandboxError",
    "SandboxResult",
    "SandboxUnavailable",
    "Zygote",
]

#: Modules the zygote imports before it forks jobs. Anything else stays importable
#: in a job (the venv is visible read-only), only slower.
DEFAULT_PRELOAD: tuple[str, ...] = (
    "numpy",
    "matplotlib",
    "matplotlib.pyplot",
    "IPython",
    "scipy",
    "sklearn",
    "sklearn.datasets",
    "sklearn.linear_model",
    "sklearn.model_selection",
    "sklearn.metrics",
)

#: Slot N runs its jobs as uid/gid UID_BASE + N. 61000-61183 is unused by Debian
#: and below systemd's DynamicUser range (61184-65519); no passwd entry is needed.
UID_BASE = 61000
MAX_SLOT = 183

STDERR_TAIL_BYTES = 4096
_READY_TIMEOUT = 180.0  # a cold page cache makes importing sklearn slow
_KILL_ACK_TIMEOUT = 10.0  # after SIGKILL the zygote must report the exit by then
_DRAIN_AFTER_EXIT = 1.0  # isolate=False: leftovers may hold the pipes open

# Frame wire format: 4-byte big-endian length, 1-byte kind, then the body.
_HEADER = struct.Struct(">IB")
KIND_FRAME, KIND_DONE, KIND_RAISED, KIND_SETUP_FAILED, KIND_STARTED = 0, 1, 2, 3, 4
_EXIT_SETUP_FAILED = 125
_EXIT_INTERNAL = 126
_MAX_FD = 1 << 20

# Linux constants (stable ABI).
CLONE_NEWNS = 0x00020000
CLONE_NEWCGROUP = 0x02000000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000
MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REMOUNT, MS_BIND, MS_REC, MS_PRIVATE = 32, 4096, 16384, 1 << 18
MNT_DETACH = 2
PR_SET_PDEATHSIG, PR_SET_DUMPABLE, PR_SET_SECCOMP, PR_CAPBSET_DROP, PR_SET_NO_NEW_PRIVS = 1, 4, 22, 24, 38
SECCOMP_MODE_FILTER = 2
MADV_COLLAPSE = 25
_SYS_PIVOT_ROOT = {"x86_64": 155, "aarch64": 41, "riscv64": 41, "ppc64le": 203, "s390x": 217}

# seccomp: system calls a job gets EPERM for (numbers per architecture). Keyrings
# are per uid, not per namespace: a job could leave data there for the next job
# of the same slot. The rest is kernel attack surface no notebook needs: new
# user namespaces (where the job would be "root" again), mounts, io_uring, bpf.
_SECCOMP_ARCH = {"x86_64": 0xC000003E, "aarch64": 0xC00000B7}
_SECCOMP_DENY = {
    "x86_64": {"add_key": 248, "request_key": 249, "keyctl": 250, "unshare": 272, "setns": 308,
               "mount": 165, "umount2": 166, "pivot_root": 155, "bpf": 321, "perf_event_open": 298,
               "userfaultfd": 323, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
               "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
               "fspick": 433, "mount_setattr": 442, "kexec_load": 246, "init_module": 175,
               "finit_module": 313, "open_by_handle_at": 304},
    "aarch64": {"add_key": 217, "request_key": 218, "keyctl": 219, "unshare": 97, "setns": 268,
                "mount": 40, "umount2": 39, "pivot_root": 41, "bpf": 280, "perf_event_open": 241,
                "userfaultfd": 282, "io_uring_setup": 425, "io_uring_enter": 426, "io_uring_register": 427,
                "open_tree": 428, "move_mount": 429, "fsopen": 430, "fsconfig": 431, "fsmount": 432,
                "fspick": 433, "mount_setattr": 442, "kexec_load": 104, "init_module": 105,
                "finit_module": 273, "open_by_handle_at": 265},
}
_SECCOMP_CLONE = {"x86_64": (56, 435), "aarch64": (220, 435)}  # clone, clone3
CLONE_NEWUSER = 0x10000000

_CGROUP_ROOT = "/sys/fs/cgroup"
_STATE_DIR_ROOT = "/run/coursegrader"

# Host paths bound read-only into every job's root, besides the Python prefixes.
_SYSTEM_PATHS = ("/usr", "/bin", "/sbin", "/lib", "/lib32", "/lib64", "/libx32")
_ETC_PATHS = (
    "/etc/localtime",
    "/etc/ld.so.cache",
    "/etc/ld.so.conf",
    "/etc/ld.so.conf.d",
    "/etc/fonts",
    "/etc/alternatives",
    "/etc/mime.types",
    "/etc/os-release",
    "/etc/matplotlibrc",
    f"/etc/python{sys.version_info[0]}.{sys.version_info[1]}",
)
_DEV_NODES = ("null", "zero", "random", "urandom", "full")

# Inherited from the caller into the zygote; everything else is dropped, because a
# job can read its own /proc/self/environ, which is the zygote's start environment.
_ENV_PASSTHROUGH = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "TZ", "LD_LIBRARY_PATH")
_THREAD_ENV = {
    "OMP_NUM_THREADS": "1",
    "OPENBLAS_NUM_THREADS": "1",
    "MKL_NUM_THREADS": "1",
    "MALLOC_ARENA_MAX": "2",
}


class SandboxError(RuntimeError):
    """The sandbox machinery failed (not the student's code)."""


class SandboxUnavailable(SandboxError):
    """Isolation was requested but this machine or user cannot provide it."""


@dataclass(frozen=True)
class Limits:
    memory_bytes: int = 1 << 30  # cgroup v1 memory.limit_in_bytes (+ memsw if available) for the job
    max_pids: int = 64  # cgroup v1 pids.max for the job
    file_size_bytes: int = 16 << 20  # RLIMIT_FSIZE
    cpu_seconds: int = 300  # RLIMIT_CPU backstop
    open_files: int = 256  # RLIMIT_NOFILE
    idle_timeout: float = 30.0  # seconds without any frame from the child -> interrupt
    interrupt_grace: float = 2.0  # after SIGINT, seconds to wait for a frame before SIGKILL
    wall_timeout: float = 600.0  # whole job
    max_frame_bytes: int = 8 << 20  # a larger frame from the child is a protocol violation -> kill
    max_total_bytes: int = 64 << 20


@dataclass
class SandboxResult:
    status: str  # "ok", "error", "timeout", "memory", "killed", "crashed", "protocol"
    reason: str  # one line a teacher can act on
    frames: list[bytes]  # every frame the child sent, in order
    exit_code: int | None  # exit status, or -N if killed by signal N (like subprocess)
    stderr_tail: str  # last ~4 KB of the job's fd 1 and fd 2 (one shared capture)
    elapsed: float


# --------------------------------------------------------------------------- libc


_libc_handle: ctypes.CDLL | None = None


def _libc() -> ctypes.CDLL:
    """libc with prototypes for the calls Python's os module lacks (3.11 has no setns)."""
    global _libc_handle
    if _libc_handle is None:
        lib = ctypes.CDLL(None, use_errno=True)
        lib.mount.argtypes = [ctypes.c_char_p, ctypes.c_char_p, ctypes.c_char_p, ctypes.c_ulong, ctypes.c_char_p]
        lib.umount2.argtypes = [ctypes.c_char_p, ctypes.c_int]
        lib.unshare.argtypes = [ctypes.c_int]
        lib.setns.argtypes = [ctypes.c_int, ctypes.c_int]
        lib.prctl.argtypes = [ctypes.c_int, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong, ctypes.c_ulong]
        lib.madvise.argtypes = [ctypes.c_void_p, ctypes.c_size_t, ctypes.c_int]
        lib.syscall.restype = ctypes.c_long
        _libc_handle = lib
    return _libc_handle


def _check(ret: int, what: str) -> None:
    if ret != 0:
        err = ctypes.get_errno()
        raise OSError(err, f"{what}: {os.strerror(err)}")


def _bytes(s: str | None) -> bytes | None:
    return None if s is None else os.fsencode(s)


def _mount(src: str | None, dst: str, fstype: str | None, flags: int, data: str | None = None) -> None:
    _check(_libc().mount(_bytes(src), _bytes(dst), _bytes(fstype), flags, _bytes(data)), f"mount {src} on {dst}")


def _unshare(flags: int) -> None:
    _check(_libc().unshare(flags), "unshare")


def _prctl(option: int, arg: int = 0) -> None:
    _check(_libc().prctl(option, arg, 0, 0, 0), f"prctl({option})")


def _pivot_root(new_root: str, put_old: str) -> None:
    nr = _SYS_PIVOT_ROOT.get(platform.machine())
    if nr is None:
        raise OSError(f"pivot_root: unknown syscall number on {platform.machine()}")
    _check(_libc().syscall(nr, _bytes(new_root), _bytes(put_old)), "pivot_root")


class _SockFilter(ctypes.Structure):
    _fields_ = [("code", ctypes.c_ushort), ("jt", ctypes.c_ubyte), ("jf", ctypes.c_ubyte), ("k", ctypes.c_uint)]


class _SockFprog(ctypes.Structure):
    _fields_ = [("len", ctypes.c_ushort), ("filter", ctypes.POINTER(_SockFilter))]


def _seccomp_program() -> _SockFprog | None:
    """Build (once, in the zygote) the classic-BPF filter described at _SECCOMP_DENY.

    Foreign ABIs (i386 or x32 system calls on x86_64) are refused outright, since
    their numbers would slip past the table; clone() may not create a user
    namespace, and clone3() answers ENOSYS so that libc falls back to clone().
    Returns None on an architecture without a table.
    """
    machine = platform.machine()
    if machine not in _SECCOMP_ARCH:
        return None
    ld_abs, jeq, jge, jset, ret = 0x20, 0x15, 0x35, 0x45, 0x06
    allow, kill = 0x7FFF0000, 0x80000000

    def errno_(e: int) -> int:
        return 0x00050000 | e

    clone, clone3 = _SECCOMP_CLONE[machine]
    deny = sorted(_SECCOMP_DENY[machine].values())
    prog: list[tuple[int, int, int, int]] = [
        (ld_abs, 0, 0, 4),  # seccomp_data.arch
        (jeq, 1, 0, _SECCOMP_ARCH[machine]),
        (ret, 0, 0, kill),
        (ld_abs, 0, 0, 0),  # seccomp_data.nr
    ]
    if machine == "x86_64":
        prog += [(jge, 0, 1, 0x40000000), (ret, 0, 0, errno_(1))]  # x32 ABI
    for nr in deny:
        prog += [(jeq, 0, 1, nr), (ret, 0, 0, errno_(1))]
    prog += [(jeq, 0, 1, clone3), (ret, 0, 0, errno_(38))]  # ENOSYS
    prog += [
        (jeq, 0, 3, clone),
        (ld_abs, 0, 0, 16),  # low 32 bits of args[0]: the clone flags
        (jset, 0, 1, CLONE_NEWUSER),
        (ret, 0, 0, errno_(1)),
        (ret, 0, 0, allow),
    ]
    filters = (_SockFilter * len(prog))(*[_SockFilter(*ins) for ins in prog])
    fprog = _SockFprog(len(prog), filters)
    fprog._keep = filters  # the program must outlive every job forked later
    return fprog


def _apply_seccomp(fprog: _SockFprog) -> None:
    lib = _libc()
    ret = lib.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, ctypes.addressof(fprog), 0, 0)
    _check(ret, "seccomp filter")


# ----------------------------------------------------------------- job side: channel


def _write_all(fd: int, data: bytes | memoryview) -> None:
    view = memoryview(data)
    while view:
        n = os.write(fd, view)
        view = view[n:]


def _write_msg(fd: int, kind: int, body: bytes = b"") -> None:
    _write_all(fd, _HEADER.pack(len(body), kind) + body)


class Channel:
    """The job's end of the frame pipe: ``send(data)`` delivers one frame to the caller.

    A lock keeps frames whole when several threads of the job send at once; a
    frame is written with blocking writes, so a caller that stops reading stalls
    the job rather than losing data.
    """

    def __init__(self, fd: int) -> None:
        self._fd = fd
        self._lock = threading.Lock()

    def send(self, data: bytes) -> None:
        body = bytes(data)
        with self._lock:
            _write_all(self._fd, _HEADER.pack(len(body), KIND_FRAME))
            _write_all(self._fd, body)

    def fileno(self) -> int:
        return self._fd

    def _send_kind(self, kind: int, body: bytes = b"") -> None:
        with self._lock:
            _write_msg(self._fd, kind, body)


def _probe_target(payload: bytes, channel: Channel) -> None:
    """No-op job the zygote runs at start-up to prove the sandbox can be built."""
    channel.send(b"ok:" + payload)


# --------------------------------------------------------------------- zygote side


def _read_file(path: str) -> str:
    with open(path) as f:
        return f.read()


def _write_file(path: str, data: str) -> None:
    with open(path, "w") as f:
        f.write(data)


def _is_within(path: str, parent: str) -> bool:
    return path == parent or path.startswith(parent.rstrip("/") + "/")


def _package_dir() -> str:
    return os.path.dirname(os.path.abspath(__file__))


def _mount_plan(package_dir: str) -> tuple[list[tuple[str, str, str]], list[str]]:
    """Compute, once per zygote, what each job's root holds: ("bind"|"symlink", path, link target).

    Read-only binds: the system directories, a few /etc files, the Python
    prefixes and site-packages, and this package's own directory. sys.path
    entries elsewhere (the repository root on an editable install, the test
    folder, the caller's cwd) are deliberately not bound: the repository holds
    solutions, the gradebook and other students' work. A symlink is recreated
    rather than followed, and nothing below a path already handled is planned
    again. Returns the plan and notes about refused paths.
    """
    project_root = os.path.dirname(package_dir)
    candidates = list(_SYSTEM_PATHS) + list(_ETC_PATHS)
    candidates += [sys.prefix, sys.base_prefix, sys.exec_prefix, sys.base_exec_prefix]
    try:
        candidates += site.getsitepackages()
    except AttributeError:  # pragma: no cover - old virtualenv's site module
        pass
    user_site = site.getusersitepackages() if site.ENABLE_USER_SITE else None
    if user_site and user_site in sys.path:
        candidates.append(user_site)
    candidates.append(package_dir)

    plan: list[tuple[str, str, str]] = []
    handled: list[str] = []
    notes: list[str] = []
    for path in sorted({os.path.normpath(os.path.abspath(c)) for c in candidates if c}):
        if path == "/" or not os.path.lexists(path):
            continue
        if any(_is_within(path, h) for h in handled):
            continue
        if path != package_dir and _is_within(project_root, path):
            notes.append(f"not bound (would expose the project folder {project_root}): {path}")
            continue
        if os.path.islink(path):
            plan.append(("symlink", path, os.readlink(path)))
        else:
            plan.append(("bind", path, ""))
        handled.append(path)
    return plan, notes


def _collapse_hugepages() -> int:
    """Back the zygote's anonymous memory with transparent huge pages; return MiB collapsed.

    fork() copies one page-table entry per 4 KiB page and exit() tears them down
    again: with ~110 MB of heap after importing sklearn that is most of a job's
    cost. One PMD entry per 2 MiB makes both several times cheaper. MADV_COLLAPSE
    (Linux 6.1+) works whatever the system-wide THP mode; failures are harmless.
    """
    try:
        hp = int(_read_file("/sys/kernel/mm/transparent_hugepage/hpage_pmd_size"))
    except (OSError, ValueError):
        return 0
    lib = _libc()
    collapsed = 0
    for line in _read_file("/proc/self/maps").splitlines():
        fields = line.split()
        if len(fields) < 5 or fields[1] != "rw-p" or (len(fields) > 5 and fields[5] != "[heap]"):
            continue
        lo, hi = (int(x, 16) for x in fields[0].split("-"))
        start, end = (lo + hp - 1) // hp * hp, hi // hp * hp
        if end - start >= hp and lib.madvise(start, end - start, MADV_COLLAPSE) == 0:
            collapsed += end - start
    return collapsed >> 20


def _warm_caches() -> None:
    """Fill caches that every job would otherwise rebuild from scratch.

    inspect.getmodule() maps file names to modules by scanning all of
    sys.modules (realpath() for each); IPython's and stack_data's traceback
    formatting call it, so with the preloaded libraries the first traceback of
    every job cost about a second. Filled here, the cache is inherited by fork.
    """
    import inspect

    inspect.getmodule(compile("", "<coursegrader-warm-up>", "exec"))


def _vm_size() -> int:
    for line in _read_file("/proc/self/status").splitlines():
        if line.startswith("VmSize:"):
            return int(line.split()[1]) * 1024
    return 0


def _thread_count() -> int:
    try:
        return len(os.listdir("/proc/self/task"))
    except OSError:
        return threading.active_count()


class _Cgroups:
    """The slot's cgroup v1 memory and pids groups, as seen from the zygote.

    The zygote moves itself into the slot's groups once, after preloading, and
    jobs are born there by fork(). Moving a process between cgroups costs an
    RCU grace period (10-20 ms here) and the job would have to do it twice per
    job; being born inside costs nothing. The price: the zygote counts as one
    task against pids.max (the limit is set one higher) and its own allocations
    after start-up (a few MB: target modules imported later) count against the
    memory limit, while everything it imported before moving stays charged to
    its original group. So that the OOM killer picks the job rather than the
    zygote, each job raises its own oom_score_adj to 1000 (raising needs no
    privilege; lowering the zygote's would need CAP_SYS_RESOURCE).
    """

    def __init__(self, slot: int) -> None:
        self.memory: str | None = None
        self.pids: str | None = None
        self.memsw = False
        self.notes: list[str] = []
        for ctrl in ("memory", "pids"):
            base = os.path.join(_CGROUP_ROOT, ctrl)
            if not os.path.exists(os.path.join(base, "cgroup.procs")):
                self.notes.append(f"cgroup v1 {ctrl} hierarchy not mounted at {base}")
                continue
            path = os.path.join(base, "coursegrader", f"slot{slot}")
            try:
                os.makedirs(path, exist_ok=True)
                with open(os.path.join(path, "cgroup.procs"), "a"):
                    pass
            except OSError as e:
                self.notes.append(f"cgroup v1 {ctrl} not writable: {e}")
                continue
            setattr(self, ctrl, path)
        if self.memory:
            self.memsw = os.path.exists(os.path.join(self.memory, "memory.memsw.limit_in_bytes"))
            self._try_write(self.memory, "memory.swappiness", "0")
            self._try_write(self.memory, "memory.move_charge_at_immigrate", "0")
        self.kill_all()  # a stale job of a crashed zygote of this slot (we hold the slot lock)
        self._relax()

    def adopt_zygote(self) -> None:
        for group in (self.memory, self.pids):
            if group:
                _write_file(os.path.join(group, "cgroup.procs"), str(os.getpid()))

    @staticmethod
    def _try_write(group: str, name: str, value: str) -> bool:
        try:
            _write_file(os.path.join(group, name), value)
            return True
        except OSError:
            return False

    def _set_memory_limit(self, value: str) -> None:
        names = ["memory.limit_in_bytes"] + (["memory.memsw.limit_in_bytes"] if self.memsw else [])
        # memsw must stay >= memory: write in whichever order the kernel accepts.
        for order in (names, names[::-1]):
            try:
                for name in order:
                    _write_file(os.path.join(self.memory, name), value)
                return
            except OSError:
                continue
        raise OSError(f"cannot set the memory limit {value} in {self.memory}")

    def _relax(self) -> None:
        """Between jobs the zygote alone lives in the groups: no limits then."""
        if self.memory:
            self._set_memory_limit("-1")
        if self.pids:
            self._try_write(self.pids, "pids.max", "max")

    def _read_int(self, group: str | None, name: str) -> int:
        if not group:
            return 0
        try:
            return int(_read_file(os.path.join(group, name)).split()[0])
        except (OSError, ValueError, IndexError):
            return 0

    def _keyed(self, group: str | None, name: str, key: str) -> int:
        if not group:
            return 0
        try:
            for line in _read_file(os.path.join(group, name)).splitlines():
                k, _, v = line.partition(" ")
                if k == key:
                    return int(v)
        except (OSError, ValueError):
            pass
        return 0

    def before_job(self, limits: Limits) -> dict[str, int]:
        """Set the job's limits and reset the per-job counters; return those that cannot be reset."""
        if self.memory:
            self._set_memory_limit(str(limits.memory_bytes))
            for name in ("memory.max_usage_in_bytes", "memory.failcnt"):
                self._try_write(self.memory, name, "0")
            if self.memsw:
                for name in ("memory.memsw.max_usage_in_bytes", "memory.memsw.failcnt"):
                    self._try_write(self.memory, name, "0")
        if self.pids:
            _write_file(os.path.join(self.pids, "pids.max"), str(limits.max_pids + 1))  # + the zygote
        return {
            "oom_kill": self._keyed(self.memory, "memory.oom_control", "oom_kill"),
            "pids_max_hits": self._keyed(self.pids, "pids.events", "max"),
        }

    def after_job(self, before: Mapping[str, int]) -> dict[str, int]:
        """Read the job's counters, then lift the limits again."""
        stats = {
            "oom_kills": self._keyed(self.memory, "memory.oom_control", "oom_kill") - before["oom_kill"],
            "mem_failcnt": self._read_int(self.memory, "memory.failcnt"),
            "mem_peak": self._read_int(self.memory, "memory.max_usage_in_bytes"),
            "pids_max_hits": self._keyed(self.pids, "pids.events", "max") - before["pids_max_hits"],
        }
        self._relax()
        return stats

    def members(self) -> list[int]:
        pids: set[int] = set()
        for group in (self.memory, self.pids):
            if group:
                try:
                    pids.update(int(p) for p in _read_file(os.path.join(group, "cgroup.procs")).split())
                except (OSError, ValueError):
                    pass
        return sorted(pids)

    def kill_all(self, timeout: float = 2.0) -> int:
        """SIGKILL whatever is left in the slot's groups (isolate=False leftovers, stale jobs)."""
        deadline = time.monotonic() + timeout
        killed = 0
        while True:
            members = [p for p in self.members() if p != os.getpid()]
            if not members or time.monotonic() > deadline:
                return killed
            for pid in members:
                try:
                    os.kill(pid, signal.SIGKILL)
                    killed += 1
                except ProcessLookupError:
                    pass
            time.sleep(0.01)


class _ZygoteServer:
    """The zygote process: preloads, then forks one job per "run" request."""

    def __init__(self, sock: socket.socket) -> None:
        self.sock = sock
        self.job_pid: int | None = None

    # -- messaging -------------------------------------------------------------------

    def send(self, **msg: object) -> None:
        self.sock.send(json.dumps(msg).encode())

    def recv(self) -> tuple[dict | None, list[int]]:
        """Next message from the caller; (None, []) once the caller is gone."""
        try:
            data, fds, _flags, _addr = socket.recv_fds(self.sock, 1 << 16, 8)
        except OSError:
            return None, []
        if not data:
            for fd in fds:
                os.close(fd)
            return None, []
        return json.loads(data), fds

    # -- start-up --------------------------------------------------------------------

    def start(self) -> None:
        cfg, _ = self.recv()
        if cfg is None:
            sys.exit(0)
        self.slot = int(cfg["slot"])
        self.isolate = bool(cfg["isolate"])
        self.uid = self.gid = UID_BASE + self.slot
        self.mechanisms: list[str] = []
        self.self_pidfd = os.pidfd_open(os.getpid())
        cwd = cfg.get("cwd") or "/"
        caller_path = [os.path.join(cwd, p) if not os.path.isabs(p) else p for p in cfg["sys_path"]]
        sys.path[:] = [p for p in dict.fromkeys(caller_path + [p for p in sys.path if p])]

        state_dir = _STATE_DIR_ROOT if os.geteuid() == 0 else os.path.join(
            tempfile.gettempdir(), f"coursegrader-{os.geteuid()}")
        os.makedirs(state_dir, mode=0o700, exist_ok=True)
        self.state_dir = state_dir
        self._lock_slot(os.path.join(state_dir, f"slot{self.slot}.lock"))

        if self.isolate:
            if os.geteuid() != 0:
                raise SandboxUnavailable(
                    "isolate=True needs root: namespaces, pivot_root and the uid switch require "
                    "CAP_SYS_ADMIN and CAP_SETUID; run as root or pass isolate=False")
            self.root_dir = os.path.join(state_dir, f"root{self.slot}")
            os.makedirs(self.root_dir, mode=0o700, exist_ok=True)
            self.pidns_fd = os.open("/proc/self/ns/pid", os.O_RDONLY | os.O_CLOEXEC)
            self.plan, notes = _mount_plan(_package_dir())
            self.cap_last = int(_read_file("/proc/sys/kernel/cap_last_cap"))
            self.seccomp = _seccomp_program()
            self.mechanisms += [
                "namespaces: mount, pid, net (no interfaces up), ipc, uts, cgroup",
                f"pivot_root into a tmpfs root with {sum(k == 'bind' for k, _, _ in self.plan)} read-only binds, "
                "fresh /proc, minimal /dev, size-capped /tmp, workdir read-write",
                f"uid/gid {self.uid}, no supplementary groups, capabilities and bounding set dropped, no_new_privs",
                "job is pid 1 of its pid namespace: all its processes die with it",
                "seccomp: no keyrings, user namespaces, mounts, io_uring, bpf, perf_event_open, userfaultfd"
                if self.seccomp else f"no seccomp filter (no syscall table for {platform.machine()})",
            ] + notes

        self.preload_errors: dict[str, str] = {}
        for name in cfg["preload"]:
            try:
                module_name, _, func_name = name.partition(":")
                module = importlib.import_module(module_name)
                if func_name:  # "module:function": a warm-up the grader's own code runs once, here
                    getattr(module, func_name)()
            except Exception as e:  # a missing optional module must not stop grading
                self.preload_errors[name] = f"{type(e).__name__}: {e}"
        if "matplotlib" in sys.modules:
            sys.modules["matplotlib"].use("Agg")
        _warm_caches()

        self.cgroups = _Cgroups(self.slot) if os.geteuid() == 0 else None
        notes = self.cgroups.notes if self.cgroups else ["not root: no cgroups"]
        self.use_mem_cgroup = bool(self.cgroups and self.cgroups.memory)
        self.use_pids_cgroup = bool(self.cgroups and self.cgroups.pids)
        gc.collect()
        self.vm_baseline = _vm_size()
        if self.use_mem_cgroup:
            self.mechanisms.append(f"cgroup v1 memory: {self.cgroups.memory}"
                                   + (" (memory+swap limited too)" if self.cgroups.memsw else ""))
        else:
            self.mechanisms.append(f"RLIMIT_AS = zygote VmSize ({self.vm_baseline >> 20} MiB) + memory limit"
                                   f" ({'; '.join(notes)})")
        if self.use_pids_cgroup:
            self.mechanisms.append(f"cgroup v1 pids: {self.cgroups.pids}")
        else:
            self.mechanisms.append("RLIMIT_NPROC")
        self.mechanisms.append("rlimits: FSIZE, CPU, NOFILE, CORE=0")
        if not self.isolate:
            self.mechanisms.append("isolate=False: own session and process group, killed when the job ends "
                                   "(no namespaces, no uid switch: not a security boundary)")

        # Objects that exist now are never collected: keeping the collector's hands
        # off them keeps their pages shared between the zygote and every job.
        gc.freeze()
        mib = _collapse_hugepages()
        if self.cgroups:
            self.cgroups.adopt_zygote()
        if mib:
            self.mechanisms.append(f"zygote heap on transparent huge pages ({mib} MiB): cheaper fork")
        if _thread_count() > 1:
            print(f"coursegrader.sandbox: warning: zygote has {_thread_count()} threads after preload; "
                  "forking a threaded process can deadlock jobs", file=sys.stderr)
        self._probe()
        self.send(op="ready", pid=os.getpid(), mechanisms=self.mechanisms, preload_errors=self.preload_errors)

    def _lock_slot(self, path: str) -> None:
        """One zygote per slot on the machine: two would share a uid and a cgroup."""
        self.lock_fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o600)
        deadline = time.monotonic() + 30.0
        while True:
            try:
                fcntl.flock(self.lock_fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                os.ftruncate(self.lock_fd, 0)
                os.write(self.lock_fd, f"{os.getpid()}\n".encode())
                return
            except BlockingIOError:
                if time.monotonic() > deadline:
                    holder = os.pread(self.lock_fd, 32, 0).decode(errors="replace").strip()
                    raise SandboxError(f"slot {self.slot} is in use by another zygote (pid {holder}); "
                                       "give each parallel worker its own slot") from None
                time.sleep(0.1)

    def _probe(self) -> None:
        """Run one no-op job through the whole machinery so that a missing privilege
        shows up as a clear error at start-up, not as a failure of a student's job."""
        workdir = tempfile.mkdtemp(prefix="probe-", dir=self.state_dir)
        try:
            req = _encode_request(workdir, Limits(), {}, b"probe")
            frames_r, frames_w = os.pipe2(os.O_CLOEXEC)
            out_r, out_w = os.pipe2(os.O_CLOEXEC)
            before = self.cgroups.before_job(Limits()) if self.cgroups else {}
            pid = self._spawn(f"{__name__}:_probe_target", req, frames_w, out_w)
            for fd in (req, frames_w, out_w):
                os.close(fd)
            frames, out = _drain_pipes(frames_r, out_r, timeout=60.0)
            status = _wait_with_timeout(pid, 10.0)
            if self.cgroups:
                self.cgroups.after_job(before)
            messages, _ = _parse_frames(frames)
            for kind, body in messages:
                if kind == KIND_SETUP_FAILED:
                    raise SandboxUnavailable(
                        f"cannot build the sandbox: {body.decode(errors='replace')}"
                        + ("" if not self.isolate else " (isolate=True needs root with CAP_SYS_ADMIN on a "
                           "kernel with mount/pid/net/ipc/uts namespaces; pass isolate=False to run without)"))
            if status != 0 or (KIND_DONE, b"") not in messages:
                raise SandboxUnavailable(
                    f"the sandbox's self-test job failed (wait status {status}): "
                    f"{out[-1000:].decode(errors='replace')}")
        finally:
            if self.cgroups:
                self.cgroups.kill_all()
            try:
                os.rmdir(workdir)
            except OSError:
                pass

    # -- jobs ------------------------------------------------------------------------

    def serve(self) -> None:
        while True:
            msg, fds = self.recv()
            if msg is None or msg.get("op") == "exit":
                return
            if msg.get("op") == "run" and len(fds) == 3:
                self._run(msg["target"], Limits(**msg["limits"]), *fds)
            else:
                for fd in fds:
                    os.close(fd)
                # A late "signal" for a job that already ended lands here: ignore it.

    def _preimport(self, target: str) -> None:
        """Import the target's module in the zygote, before forking.

        The target may live outside the directories a job can see (the tests'
        helper module, for instance), and importing it once here also makes
        every later job start faster. The target is chosen by the grader, not
        by students, so running its import as root is no new trust. A failure is
        left for the job to report with a full traceback.
        """
        module = target.partition(":")[0]
        if module in sys.modules:
            return
        try:
            importlib.import_module(module)
        except Exception:
            return
        _warm_caches()
        gc.freeze()

    def _run(self, target: str, limits: Limits, req_fd: int, frames_fd: int, out_fd: int) -> None:
        step = "import the target"
        try:
            self._preimport(target)
            step = "set the slot's cgroup limits"
            before = self.cgroups.before_job(limits) if self.cgroups else {}
            step = "fork"
            pid = self._spawn(target, req_fd, frames_fd, out_fd)
        except OSError as e:
            self.send(op="failed", error=f"{step}: {e}")
            return
        finally:
            for fd in (req_fd, frames_fd, out_fd):
                os.close(fd)
        self.job_pid = pid
        self.send(op="started", pid=pid)
        status, rusage, caller_gone = self._supervise(pid)
        self.job_pid = None
        if not self.isolate:
            try:
                os.killpg(pid, signal.SIGKILL)
            except OSError:
                pass
        leftovers = self.cgroups.kill_all() if self.cgroups else 0
        if caller_gone:
            sys.exit(0)
        stats = self.cgroups.after_job(before) if self.cgroups else {}
        self.send(op="exited", wait_status=status, cpu=rusage.ru_utime + rusage.ru_stime,
                  leftovers=leftovers, **stats)

    def _supervise(self, pid: int) -> tuple[int, resource.struct_rusage, bool]:
        """Wait for the job while obeying the caller's signal requests.

        If the caller goes away (socket EOF), kill the job and report that, so the
        zygote never outlives its caller with a job still running.
        """
        pidfd = os.pidfd_open(pid)
        poller = select.poll()
        poller.register(pidfd, select.POLLIN)
        poller.register(self.sock, select.POLLIN)
        caller_gone = False
        try:
            while True:
                for fd, _ev in poller.poll():
                    if fd == pidfd:
                        _, status, rusage = os.wait4(pid, 0)
                        return status, rusage, caller_gone
                    msg, fds = self.recv()
                    for extra in fds:
                        os.close(extra)
                    if msg is None or msg.get("op") == "exit":
                        caller_gone = True
                        poller.unregister(self.sock)
                        self._signal(pid, signal.SIGKILL)
                    elif msg.get("op") == "signal":
                        self._signal(pid, signal.Signals[msg["sig"]])
        finally:
            os.close(pidfd)

    def _signal(self, pid: int, sig: int) -> None:
        """Signal the job; in isolate=False mode SIGKILL hits its whole process group."""
        try:
            if sig == signal.SIGKILL and not self.isolate:
                os.killpg(pid, sig)
            else:
                os.kill(pid, sig)
        except OSError:
            pass  # already gone (but not yet reaped: the pid cannot have been reused)

    def _spawn(self, target: str, req_fd: int, frames_fd: int, out_fd: int) -> int:
        """Fork one job. With isolation, it becomes pid 1 of a new pid namespace.

        unshare(CLONE_NEWPID) only changes the namespace of the caller's future
        children, so the zygote unshares, forks and switches its "children"
        namespace straight back with setns(): one fork per job, and os.fork()
        keeps Python's own after-fork bookkeeping (a raw clone() would not).
        """
        if self.isolate:
            _unshare(CLONE_NEWPID)
        try:
            pid = os.fork()
        except BaseException:
            if self.isolate:
                _check(_libc().setns(self.pidns_fd, CLONE_NEWPID), "setns(pid)")
            raise
        if pid == 0:
            _job_main(self, target, req_fd, frames_fd, out_fd)  # never returns
        if self.isolate:
            _check(_libc().setns(self.pidns_fd, CLONE_NEWPID), "setns(pid)")
        return pid


def _encode_request(workdir: str, limits: Limits, env: Mapping[str, str], payload: bytes) -> int:
    """Write the job's request into a memfd (so the zygote never has to read it)."""
    header = json.dumps({"workdir": workdir, "limits": asdict(limits), "env": dict(env)}).encode()
    fd = os.memfd_create("coursegrader-job", os.MFD_CLOEXEC)
    try:
        _write_all(fd, struct.pack(">I", len(header)) + header)
        _write_all(fd, payload)
        os.lseek(fd, 0, os.SEEK_SET)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _decode_request(fd: int) -> tuple[dict, bytes]:
    with open(fd, "rb", closefd=True) as f:
        data = f.read()
    (n,) = struct.unpack_from(">I", data)
    return json.loads(data[4:4 + n]), data[4 + n:]


def _parse_frames(buf: bytes | bytearray) -> tuple[list[tuple[int, bytes]], int]:
    """Split complete messages off a buffer; return them and the bytes consumed."""
    out = []
    pos = 0
    while len(buf) - pos >= _HEADER.size:
        n, kind = _HEADER.unpack_from(buf, pos)
        if len(buf) - pos - _HEADER.size < n:
            break
        out.append((kind, bytes(buf[pos + _HEADER.size:pos + _HEADER.size + n])))
        pos += _HEADER.size + n
    return out, pos


def _drain_pipes(a: int, b: int, timeout: float) -> tuple[bytes, bytes]:
    """Read two pipes to EOF (used by the zygote's self-test only)."""
    bufs = {a: bytearray(), b: bytearray()}
    open_fds = {a, b}
    deadline = time.monotonic() + timeout
    while open_fds and time.monotonic() < deadline:
        ready, _, _ = select.select(list(open_fds), [], [], max(0.0, deadline - time.monotonic()))
        for fd in ready:
            data = os.read(fd, 1 << 16)
            if data:
                bufs[fd] += data
            else:
                open_fds.discard(fd)
    for fd in (a, b):
        os.close(fd)
    return bytes(bufs[a]), bytes(bufs[b])


def _wait_with_timeout(pid: int, timeout: float) -> int:
    deadline = time.monotonic() + timeout
    while True:
        done, status = os.waitpid(pid, os.WNOHANG)
        if done:
            return status
        if time.monotonic() > deadline:
            os.kill(pid, signal.SIGKILL)
            return os.waitpid(pid, 0)[1]
        time.sleep(0.005)


# ------------------------------------------------------------------------- the job


def _job_main(server: _ZygoteServer, target: str, req_fd: int, frames_fd: int, out_fd: int) -> None:
    """Body of a forked job: build the sandbox (trusted, as root), then run the target.

    Any failure before the target starts is reported as a SETUP_FAILED message
    and exit status 125; the caller turns it into a SandboxError, because it is
    the grader's problem, not the student's. After the STARTED marker the
    process runs untrusted code and everything it writes is just data.
    """
    step = "start"
    try:
        signal.signal(signal.SIGINT, signal.default_int_handler)
        signal.signal(signal.SIGTERM, signal.SIG_DFL)
        signal.signal(signal.SIGCHLD, signal.SIG_DFL)
        os.setsid()  # own session and process group, so isolate=False can killpg() it
        step = "read the request"
        header, payload = _decode_request(req_fd)
        limits = Limits(**header["limits"])
        workdir = header["workdir"]
        step = "raise oom_score_adj"  # out of memory, the job dies first, not the zygote
        _write_file("/proc/self/oom_score_adj", "1000")
        if server.isolate:
            step = "unshare(mount, net, ipc, uts, cgroup namespaces)"
            _unshare(CLONE_NEWNS | CLONE_NEWNET | CLONE_NEWIPC | CLONE_NEWUTS | CLONE_NEWCGROUP)
            step = "build the job's root filesystem"
            _build_root(server, workdir, limits)
            step = "set the hostname"
            socket.sethostname("sandbox")
            step = "hand the workdir to the sandbox user"
            _chown_tree(workdir, server.uid, server.gid)
        step = "set rlimits"
        _set_rlimits(server, limits)
        if server.isolate:
            step = "drop privileges"
            for cap in range(server.cap_last + 1):
                _prctl(PR_CAPBSET_DROP, cap)
            os.setgroups([])
            os.setresgid(server.gid, server.gid, server.gid)
            os.setresuid(server.uid, server.uid, server.uid)
            _prctl(PR_SET_NO_NEW_PRIVS, 1)
            # The uid change made the process non-dumpable, which hands its /proc/self
            # files to root; give them back (nothing of another uid can see it anyway).
            _prctl(PR_SET_DUMPABLE, 1)
            if server.seccomp is not None:
                step = "install the seccomp filter"
                _apply_seccomp(server.seccomp)
        # The zygote dying must take the job along. Set only now, because any change
        # of credentials clears the parent-death signal; and if the zygote died
        # before this point, its pidfd (inherited) already says so.
        step = "tie the job's life to the zygote"
        _prctl(PR_SET_PDEATHSIG, signal.SIGKILL)
        if select.select([server.self_pidfd], [], [], 0)[0]:
            os._exit(_EXIT_INTERNAL)
        step = "set the environment"
        _set_environment(server, header["env"])
        step = f"chdir({workdir})"
        os.chdir(workdir)
        step = "redirect stdio"
        _redirect_stdio(frames_fd, out_fd)
    except BaseException as e:
        try:
            _write_msg(frames_fd, KIND_SETUP_FAILED, f"{step}: {type(e).__name__}: {e}".encode())
        finally:
            os._exit(_EXIT_SETUP_FAILED)

    # ---- untrusted code from here on ----
    code = _EXIT_INTERNAL
    try:
        channel = Channel(3)
        channel._send_kind(KIND_STARTED)
        code = _call_target(target, payload, channel)
    finally:
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                pass
        os._exit(code)


def _build_root(server: _ZygoteServer, workdir: str, limits: Limits) -> None:
    """Assemble the job's root on a fresh tmpfs and pivot_root into it.

    Everything is bound non-recursively (no host submount leaks in) and
    remounted read-only, nosuid, nodev; only /tmp and the workdir are writable.
    The old root is detached, so no path leads back to the host's files.
    """
    root = server.root_dir
    _mount(None, "/", None, MS_REC | MS_PRIVATE)  # nothing we do propagates to the host
    _mount("tmpfs", root, "tmpfs", MS_NOSUID | MS_NODEV, "size=4m,nr_inodes=8192,mode=755")
    # /tmp first: the venv, the package or the workdir may live below /tmp (a clone in /tmp/...), and
    # their binds must land on top of the job's /tmp, not be hidden under it.
    os.makedirs(root + "/tmp", exist_ok=True)
    tmp_size = max(limits.memory_bytes // 2, 16 << 20)
    _mount("tmpfs", root + "/tmp", "tmpfs", MS_NOSUID | MS_NODEV, f"size={tmp_size},mode=1777")
    ro = MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV
    for kind, path, link in server.plan:
        dst = root + path
        if kind == "symlink":
            os.makedirs(os.path.dirname(dst), mode=0o755, exist_ok=True)
            os.symlink(link, dst)
            continue
        if os.path.isdir(path):
            os.makedirs(dst, mode=0o755, exist_ok=True)
        else:
            os.makedirs(os.path.dirname(dst), mode=0o755, exist_ok=True)
            open(dst, "a").close()
        _mount(path, dst, None, MS_BIND)
        _mount(None, dst, None, ro)

    etc = root + "/etc"
    os.makedirs(etc, mode=0o755, exist_ok=True)
    uid, gid = server.uid, server.gid
    _write_file(etc + "/passwd", "root:x:0:0:root:/root:/usr/sbin/nologin\n"
                f"sandbox:x:{uid}:{gid}:sandbox:/tmp:/usr/sbin/nologin\n"
                "nobody:x:65534:65534:nobody:/nonexistent:/usr/sbin/nologin\n")
    _write_file(etc + "/group", f"root:x:0:\nsandbox:x:{gid}:\nnogroup:x:65534:\n")
    _write_file(etc + "/hosts", "127.0.0.1\tlocalhost sandbox\n::1\tlocalhost\n")
    _write_file(etc + "/hostname", "sandbox\n")
    _write_file(etc + "/nsswitch.conf", "passwd: files\ngroup: files\nshadow: files\nhosts: files\n")

    dev = root + "/dev"
    os.makedirs(dev, mode=0o755, exist_ok=True)
    for name in _DEV_NODES:
        if os.path.exists("/dev/" + name):
            open(f"{dev}/{name}", "a").close()
            _mount("/dev/" + name, f"{dev}/{name}", None, MS_BIND)
            _mount(None, f"{dev}/{name}", None, MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NOEXEC)
    for name, link in (("fd", "/proc/self/fd"), ("stdin", "/proc/self/fd/0"), ("stdout", "/proc/self/fd/1"),
                       ("stderr", "/proc/self/fd/2"), ("shm", "/tmp")):
        os.symlink(link, f"{dev}/{name}")

    os.makedirs(root + "/proc", mode=0o555, exist_ok=True)
    _mount("proc", root + "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC)
    # The workdir last: it may lie under /tmp or under a read-only bind.
    os.makedirs(root + workdir, mode=0o755, exist_ok=True)
    _mount(workdir, root + workdir, None, MS_BIND)
    _mount(None, root + workdir, None, MS_BIND | MS_REMOUNT | MS_NOSUID | MS_NODEV)

    os.chdir(root)
    _pivot_root(".", ".")  # the old root ends up stacked on "/" ...
    _check(_libc().umount2(b".", MNT_DETACH), "umount old root")  # ... and is detached here
    os.chdir("/")
    _mount(None, "/", None, MS_BIND | MS_REMOUNT | MS_RDONLY | MS_NOSUID | MS_NODEV)


def _chown_tree(top: str, uid: int, gid: int) -> None:
    """Give the workdir to the slot's user so the job can write there.

    Runs after pivot_root, on the sandbox's view; never follows symlinks (a
    previous job may have planted some).
    """
    os.lchown(top, uid, gid)
    for dirpath, dirnames, filenames in os.walk(top):
        for name in dirnames + filenames:
            path = os.path.join(dirpath, name)
            st = os.lstat(path)
            if st.st_uid != uid or st.st_gid != gid:
                os.lchown(path, uid, gid)


def _set_rlimits(server: _ZygoteServer, limits: Limits) -> None:
    def setr(which: int, soft: int, hard: int | None = None) -> None:
        resource.setrlimit(which, (soft, soft if hard is None else hard))

    setr(resource.RLIMIT_FSIZE, limits.file_size_bytes)
    # The soft limit sends SIGXCPU, which pid 1 of a namespace ignores by default;
    # the hard limit one second later is a SIGKILL that always lands.
    setr(resource.RLIMIT_CPU, limits.cpu_seconds, limits.cpu_seconds + 1)
    setr(resource.RLIMIT_NOFILE, limits.open_files)
    setr(resource.RLIMIT_CORE, 0)
    if not server.use_mem_cgroup:
        setr(resource.RLIMIT_AS, server.vm_baseline + limits.memory_bytes)
    if not server.use_pids_cgroup:
        # Counts every process of the real uid: exact with a per-slot uid, but the
        # caller's own processes count too when isolate=False.
        others = 0 if server.isolate else _count_user_tasks(os.getuid())
        setr(resource.RLIMIT_NPROC, others + limits.max_pids)


def _count_user_tasks(uid: int) -> int:
    count = 0
    for entry in os.listdir("/proc"):
        if entry.isdigit():
            try:
                status = _read_file(f"/proc/{entry}/status")
            except OSError:
                continue
            fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
            if int(fields.get("Uid", "-1").split()[0]) == uid:
                count += int(fields.get("Threads", "1"))
    return count


def _set_environment(server: _ZygoteServer, extra: Mapping[str, str]) -> None:
    env = {
        "PATH": f"{os.path.join(sys.prefix, 'bin')}:/usr/local/bin:/usr/bin:/bin",
        "LANG": "C.UTF-8",
        "PYTHONUTF8": "1",
        "TMPDIR": "/tmp",
        "MPLBACKEND": "Agg",
        "MPLCONFIGDIR": "/tmp/mpl",
        "IPYTHONDIR": "/tmp/ipython",
        **_THREAD_ENV,
    }
    if server.isolate:
        env.update(HOME="/tmp", USER="sandbox", LOGNAME="sandbox")
    else:
        env.update({k: os.environ[k] for k in ("HOME", "USER", "LOGNAME") if k in os.environ})
        env.update(MPLCONFIGDIR=os.path.join(tempfile.gettempdir(), f"coursegrader-mpl-{os.getuid()}"))
    env.update(extra)
    os.environ.clear()
    os.environ.update(env)
    tempfile.tempdir = None


def _redirect_stdio(frames_fd: int, out_fd: int) -> None:
    """fd 0 = /dev/null, fd 1 and 2 = the output pipe, fd 3 = the frame pipe, nothing else.

    Every other descriptor inherited from the zygote (its control socket, cgroup
    files, the slot lock) is closed, and the frame pipe is not inherited across
    exec, so programs the job runs cannot write frames.
    """
    devnull = os.open("/dev/null", os.O_RDONLY)
    frames_tmp = os.dup(frames_fd)
    os.dup2(devnull, 0)
    os.dup2(out_fd, 1)
    os.dup2(out_fd, 2)
    os.dup2(frames_tmp, 3, inheritable=False)
    os.closerange(4, _MAX_FD)  # one close_range() system call
    sys.stdin = open(0, "r", closefd=False)
    sys.stdout = open(1, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)
    sys.stderr = open(2, "w", buffering=1, encoding="utf-8", errors="backslashreplace", closefd=False)
    sys.__stdin__, sys.__stdout__, sys.__stderr__ = sys.stdin, sys.stdout, sys.stderr


def _call_target(target: str, payload: bytes, channel: Channel) -> int:
    """Import and call ``module:function``; map how it ended to an exit status."""
    try:
        module_name, _, func_name = target.partition(":")
        func = importlib.import_module(module_name)
        for part in func_name.split("."):
            func = getattr(func, part)
        func(payload, channel)
    except SystemExit as e:
        if e.code is None or isinstance(e.code, int):
            return (e.code or 0) & 0xFF
        print(e.code, file=sys.stderr)
        return 1
    except BaseException as e:
        traceback.print_exc()
        summary = f"{type(e).__name__}: {e}".splitlines()[0] if str(e) else type(e).__name__
        try:
            channel._send_kind(KIND_RAISED, summary[:500].encode(errors="replace"))
        except BaseException:
            pass
        return 1
    channel._send_kind(KIND_DONE)
    return 0


def _zygote_main(fd: int) -> None:
    """Entry point of the zygote process (started by Zygote, never by hand)."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the caller's business
    if sys.path and sys.path[0] in ("", "/"):
        del sys.path[0]
    sock = socket.socket(fileno=fd)
    server = _ZygoteServer(sock)
    try:
        server.start()
    except BaseException as e:
        try:
            server.send(op="fatal", error=f"{e}" if isinstance(e, SandboxError) else
                        f"{type(e).__name__}: {e}\n{traceback.format_exc()}")
        finally:
            os._exit(1)
    try:
        server.serve()
    finally:
        if server.job_pid:
            server._signal(server.job_pid, signal.SIGKILL)
        if server.cgroups:  # the (empty) groups stay, for the next zygote of this slot
            server.cgroups.kill_all()


# ------------------------------------------------------------------------ the caller


def free_slots(count: int, start: int = 0) -> list[int]:
    """The first ``count`` slots no zygote on this machine holds now, from ``start`` on.

    A batch picks its workers' slots with this, so two batches (or a batch and a test) on one machine
    use different uids and cgroups instead of waiting for each other. A slot taken between this check
    and the zygote's start is still safe: the zygote then waits for its lock."""
    state_dir = _STATE_DIR_ROOT if os.geteuid() == 0 else os.path.join(
        tempfile.gettempdir(), f"coursegrader-{os.geteuid()}")
    found: list[int] = []
    for slot in range(start, MAX_SLOT + 1):
        path = os.path.join(state_dir, f"slot{slot}.lock")
        try:
            fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
        except FileNotFoundError:
            found.append(slot)
        else:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                fcntl.flock(fd, fcntl.LOCK_UN)
                found.append(slot)
            except BlockingIOError:
                pass
            finally:
                os.close(fd)
        if len(found) == count:
            return found
    raise SandboxUnavailable(f"fewer than {count} free sandbox slots on this machine")



def _signal_name(num: int) -> str:
    try:
        return signal.Signals(num).name
    except ValueError:
        return f"signal {num}"


def _fmt_bytes(n: int) -> str:
    return f"{n / (1 << 20):.0f} MiB" if n >= 1 << 20 else f"{n} bytes"


def _fmt_s(x: float) -> str:
    return f"{x:g} s"


@dataclass
class _JobState:
    """What the caller learns about one job while supervising it."""

    frames: list[bytes] = field(default_factory=list)
    buf: bytearray = field(default_factory=bytearray)
    total: int = 0
    out: bytearray = field(default_factory=bytearray)
    started: bool = False  # the STARTED marker: untrusted code runs from here
    done: bool = False
    raised: str | None = None
    setup_error: str | None = None
    exited: dict | None = None
    zygote_lost: bool = False
    kill: tuple[str, str] | None = None  # (status, reason) when the caller decided to kill
    kill_sent_at: float | None = None
    interrupted_at: float | None = None
    interrupts: int = 0
    callback_error: BaseException | None = None


class Zygote:
    """A warm fork server for one parallel worker ("slot"); runs one job at a time.

    See the module docstring for the design. Thread-safety: ``run`` serialises
    jobs; ``interrupt`` and ``close`` may be called from other threads.
    """

    def __init__(self, preload: Sequence[str] = DEFAULT_PRELOAD, slot: int = 0, isolate: bool = True) -> None:
        """Start the zygote for ``slot`` and wait until it is ready (a few seconds: the imports).

        ``preload`` names modules to import in the zygote; an entry ``"module:function"``
        also calls ``function()`` there once, to warm caches every job would otherwise
        rebuild (it runs before forking, as root, so it must be the grader's code and
        must not leave threads running). Failures are listed in ``preload_errors``.
        """
        self._proc: subprocess.Popen | None = None
        self._sock: socket.socket | None = None
        self._closed = True
        if not isinstance(slot, int) or not 0 <= slot <= MAX_SLOT:
            raise ValueError(f"slot must be an int in 0..{MAX_SLOT}, got {slot!r}")
        self.preload = tuple(preload)
        self.slot = slot
        self.isolate = bool(isolate)
        self.uid = UID_BASE + slot if self.isolate else os.getuid()
        #: How each job is confined, filled in when the zygote starts (for reports).
        self.mechanisms: list[str] = []
        #: Preloaded modules that failed to import, with the error.
        self.preload_errors: dict[str, str] = {}
        self._run_lock = threading.Lock()
        self._send_lock = threading.Lock()
        if self.isolate and os.geteuid() != 0:
            raise SandboxUnavailable(
                "Zygote(isolate=True) needs root: namespaces, pivot_root and the switch to the sandbox "
                "uid require CAP_SYS_ADMIN and CAP_SETUID. Run as root, or pass isolate=False "
                "(rlimits and process-group kill only; not a security boundary).")
        self._closed = False
        self._start()

    # -- life cycle --------------------------------------------------------------------

    @property
    def pid(self) -> int | None:
        """The zygote process's pid (changes when it is restarted)."""
        return self._proc.pid if self._proc else None

    def _zygote_env(self) -> dict[str, str]:
        cache = os.path.join(os.environ.get("XDG_CACHE_HOME") or os.path.join(
            os.path.expanduser("~"), ".cache"), "coursegrader", "zygote")
        try:
            os.makedirs(cache, mode=0o700, exist_ok=True)
        except OSError:
            cache = tempfile.mkdtemp(prefix="coursegrader-zygote-")
        env = {
            "PATH": "/usr/local/bin:/usr/bin:/bin",
            "LANG": "C.UTF-8",
            "LC_ALL": "C.UTF-8",
            "PYTHONUTF8": "1",
            "PYTHONPATH": os.path.dirname(_package_dir()),
            "HOME": cache,
            "MPLBACKEND": "Agg",
            "MPLCONFIGDIR": os.path.join(cache, "matplotlib"),
            "PYTHONMALLOC": os.environ.get("COURSEGRADER_PYTHONMALLOC", "malloc"),
            **_THREAD_ENV,
        }
        env.update({k: os.environ[k] for k in _ENV_PASSTHROUGH if k in os.environ})
        return env

    def _start(self) -> None:
        parent, child = socket.socketpair(socket.AF_UNIX, socket.SOCK_SEQPACKET)
        try:
            code = "import sys; from coursegrader.sandbox import _zygote_main; _zygote_main(int(sys.argv[1]))"
            self._proc = subprocess.Popen(
                [sys.executable, "-c", code, str(child.fileno())],
                pass_fds=[child.fileno()], env=self._zygote_env(), cwd="/",
                stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, start_new_session=True)
        finally:
            child.close()
        self._sock = parent
        try:
            parent.send(json.dumps({
                "slot": self.slot, "isolate": self.isolate, "preload": list(self.preload),
                "sys_path": [p for p in sys.path if p], "cwd": os.getcwd(),
            }).encode())
            ready, _, _ = select.select([parent], [], [], _READY_TIMEOUT)
            msg = json.loads(parent.recv(1 << 20) or b"null") if ready else None
        except OSError:
            ready, msg = True, None
        if not msg or msg.get("op") != "ready":
            self._discard()
            if msg and msg.get("op") == "fatal":
                raise SandboxUnavailable(f"sandbox zygote (slot {self.slot}) failed to start: {msg['error']}")
            raise SandboxError(f"sandbox zygote (slot {self.slot}) did not start within {_READY_TIMEOUT:g} s"
                               if not ready else "sandbox zygote exited during start-up (see its stderr)")
        self.mechanisms = msg["mechanisms"]
        self.preload_errors = msg["preload_errors"]

    def _alive(self) -> bool:
        return self._proc is not None and self._proc.poll() is None and self._sock is not None

    def _discard(self) -> None:
        """Forget the zygote process (killing it if needed); the next run() starts a new one."""
        sock, proc = self._sock, self._proc
        self._sock = self._proc = None
        if sock is not None:
            sock.close()
        if proc is not None:
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()

    def close(self) -> None:
        """Stop the zygote (killing a running job). Safe to call twice."""
        if getattr(self, "_closed", True):
            return
        self._closed = True
        with self._send_lock:
            sock = self._sock
            if sock is not None:
                try:
                    sock.send(b'{"op": "exit"}')
                except OSError:
                    pass
        if self._run_lock.acquire(timeout=_KILL_ACK_TIMEOUT + 5):
            try:
                self._discard()
            finally:
                self._run_lock.release()
        elif self._proc is not None:
            self._proc.kill()

    def __enter__(self) -> Zygote:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    # -- jobs --------------------------------------------------------------------------

    def interrupt(self) -> None:
        """Send SIGINT to the running job (KeyboardInterrupt in Python); no-op when idle."""
        self._send_signal("SIGINT")

    def _send_signal(self, name: str) -> None:
        with self._send_lock:
            if self._sock is not None:
                try:
                    self._sock.send(json.dumps({"op": "signal", "sig": name}).encode())
                except OSError:
                    pass

    def run(self, target: str, payload: bytes, workdir: str | os.PathLike, limits: Limits = Limits(),
            on_frame: Callable[[bytes], None] | None = None,
            env: Mapping[str, str] | None = None) -> SandboxResult:
        """Run ``target(payload, channel)`` in a fresh sandboxed child; block until it ends.

        ``workdir`` is resolved (symlinks followed) and must be an existing
        directory; it must not contain this project or the Python installation.
        With isolation it is handed to the slot's uid (chown -R), so pass a
        scratch copy, not the only copy of a student's files.
        Raises SandboxError when the sandbox itself fails; everything the
        student's code does ends in a SandboxResult.
        """
        module, sep, func = target.partition(":")
        if not sep or not module or not func:
            raise ValueError(f"target must look like 'package.module:function', got {target!r}")
        for name, value in asdict(limits).items():
            if not value > 0:
                raise ValueError(f"Limits.{name} must be positive, got {value!r}")
        payload = bytes(payload)
        real = os.path.realpath(os.fspath(workdir))
        if not os.path.isdir(real):
            raise ValueError(f"workdir {real} is not a directory")
        for protected in (os.path.dirname(_package_dir()), sys.prefix, sys.base_prefix):
            if _is_within(protected, real):
                raise ValueError(f"workdir {real} would expose {protected} to the job")
        env = dict(env or {})
        for k, v in env.items():
            if not isinstance(k, str) or not isinstance(v, str) or "=" in k or "\0" in k + v:
                raise ValueError(f"bad environment entry {k!r}={v!r}")
        if self._closed:
            raise SandboxError("this Zygote is closed")
        with self._run_lock:
            for _attempt in range(2):
                if self._closed:
                    raise SandboxError("this Zygote is closed")
                if not self._alive():
                    self._discard()
                    self._start()
                result = self._run_once(target, payload, real, limits, on_frame, env)
                if result is not None:
                    return result
            raise SandboxError("the sandbox zygote died twice before the job could start")

    def _run_once(self, target: str, payload: bytes, workdir: str, limits: Limits,
                  on_frame: Callable[[bytes], None] | None, env: dict[str, str]) -> SandboxResult | None:
        """One attempt; None means the zygote died before forking (worth one retry)."""
        t0 = time.monotonic()
        req = _encode_request(workdir, limits, env, payload)
        frames_r, frames_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        out_r, out_w = os.pipe2(os.O_CLOEXEC | os.O_NONBLOCK)
        os.set_blocking(frames_w, True)
        os.set_blocking(out_w, True)
        try:
            try:
                with self._send_lock:
                    socket.send_fds(self._sock, [json.dumps({"op": "run", "target": target,
                                                             "limits": asdict(limits)}).encode()],
                                    [req, frames_w, out_w])
            except OSError:
                self._discard()
                return None
            finally:
                for fd in (req, frames_w, out_w):
                    os.close(fd)
            st = self._supervise(frames_r, out_r, limits, on_frame, t0)
        finally:
            os.close(frames_r)
            os.close(out_r)
        if st.zygote_lost and not st.started and not st.frames and st.exited is None and st.kill is None:
            return None
        if st.callback_error is not None:
            raise st.callback_error
        if st.setup_error is not None:
            raise SandboxError(f"the sandbox could not be set up for this job: {st.setup_error}")
        return self._result(st, limits, time.monotonic() - t0)

    def _supervise(self, frames_r: int, out_r: int, limits: Limits,
                   on_frame: Callable[[bytes], None] | None, t0: float) -> _JobState:
        """Collect frames and output, run the timers, until the job has ended."""
        st = _JobState()
        sock = self._sock
        assert sock is not None
        poller = select.poll()
        open_fds = {frames_r, out_r, sock.fileno()}
        for fd in open_fds:
            poller.register(fd, select.POLLIN)
        last_progress = t0
        wall_deadline = t0 + limits.wall_timeout
        drain_deadline: float | None = None

        def kill(status: str, reason: str) -> None:
            if st.kill is None:
                st.kill = (status, reason)
                st.kill_sent_at = time.monotonic()
                self._send_signal("SIGKILL")

        while True:
            now = time.monotonic()
            job_over = st.exited is not None or st.zygote_lost
            if job_over:
                if not ({frames_r, out_r} & open_fds):
                    break
                drain_deadline = drain_deadline or now + _DRAIN_AFTER_EXIT
                if now >= drain_deadline:
                    break
                deadline = drain_deadline
            elif st.kill is not None:
                if now - st.kill_sent_at > _KILL_ACK_TIMEOUT:  # the zygote is wedged: replace it
                    self._discard()
                    st.zygote_lost = True
                    continue
                deadline = st.kill_sent_at + _KILL_ACK_TIMEOUT
            else:
                if now >= wall_deadline:
                    kill("timeout", f"killed after the wall-clock limit of {_fmt_s(limits.wall_timeout)}")
                    continue
                if st.interrupted_at is None and now - last_progress >= limits.idle_timeout:
                    st.interrupted_at = now
                    st.interrupts += 1
                    self._send_signal("SIGINT")
                if st.interrupted_at is not None and now - st.interrupted_at >= limits.interrupt_grace:
                    kill("timeout", f"killed after {_fmt_s(limits.idle_timeout)} without progress "
                         "(interrupt ignored)")
                    continue
                deadline = min(wall_deadline, last_progress + limits.idle_timeout
                               if st.interrupted_at is None else st.interrupted_at + limits.interrupt_grace)
            timeout_ms = max(0, int((deadline - now) * 1000) + 1)
            for fd, _ev in poller.poll(timeout_ms):
                if fd == frames_r:
                    data = _read_some(fd)
                    if data is None:
                        continue
                    if not data:
                        poller.unregister(fd)
                        open_fds.discard(fd)
                        continue
                    if st.kill is not None and st.kill[0] == "protocol":
                        continue  # discard whatever follows a violation
                    st.buf += data
                    progressed = self._take_frames(st, limits, on_frame, kill)
                    if progressed:
                        last_progress = time.monotonic()
                        st.interrupted_at = None
                elif fd == out_r:
                    data = _read_some(fd)
                    if data is None:
                        continue
                    if not data:
                        poller.unregister(fd)
                        open_fds.discard(fd)
                        continue
                    st.out += data
                    if len(st.out) > 2 * STDERR_TAIL_BYTES:
                        del st.out[:-STDERR_TAIL_BYTES]
                else:
                    try:
                        raw = sock.recv(1 << 16)
                    except OSError:
                        raw = b""
                    if not raw:
                        poller.unregister(fd)
                        open_fds.discard(fd)
                        st.zygote_lost = True
                        self._discard()
                        continue
                    msg = json.loads(raw)
                    if msg.get("op") == "started":
                        pass
                    elif msg.get("op") == "exited":
                        st.exited = msg
                    elif msg.get("op") == "failed":
                        raise SandboxError(f"the sandbox could not start the job: {msg.get('error')}")
        return st

    def _take_frames(self, st: _JobState, limits: Limits, on_frame: Callable[[bytes], None] | None,
                     kill: Callable[[str, str], None]) -> bool:
        """Parse complete messages from the frame buffer; enforce the size caps early."""
        progressed = False
        while len(st.buf) >= _HEADER.size:
            n, kind = _HEADER.unpack_from(st.buf)
            if kind > KIND_STARTED:
                kill("protocol", "job wrote garbage to the frame channel")
                st.buf.clear()
                return progressed
            if n > limits.max_frame_bytes:
                kill("protocol", f"job sent a frame of {_fmt_bytes(n)}, above the limit of "
                     f"{_fmt_bytes(limits.max_frame_bytes)}")
                st.buf.clear()
                return progressed
            if kind == KIND_FRAME and st.total + n > limits.max_total_bytes:
                kill("protocol", f"job sent more than {_fmt_bytes(limits.max_total_bytes)} of frames in total")
                st.buf.clear()
                return progressed
            if len(st.buf) < _HEADER.size + n:
                return progressed
            body = bytes(st.buf[_HEADER.size:_HEADER.size + n])
            del st.buf[:_HEADER.size + n]
            # Only the trusted set-up code may report a set-up failure, before STARTED;
            # everything else is only valid after it.
            if kind == KIND_SETUP_FAILED and not st.started:
                st.setup_error = body.decode(errors="replace")
            elif kind == KIND_STARTED and not st.started:
                st.started = True
            elif not st.started or kind in (KIND_SETUP_FAILED, KIND_STARTED):
                kill("protocol", "job wrote an out-of-order control message to the frame channel")
                st.buf.clear()
                return progressed
            elif kind == KIND_FRAME:
                st.total += n
                st.frames.append(body)
                progressed = True
                if on_frame is not None and st.callback_error is None:
                    try:
                        on_frame(body)
                    except BaseException as e:  # the caller's bug: stop the job, re-raise later
                        st.callback_error = e
                        kill("killed", f"on_frame callback raised {type(e).__name__}")
            elif kind == KIND_DONE:
                st.done = True
            elif kind == KIND_RAISED:
                st.raised = body.decode(errors="replace")
        return progressed

    def _result(self, st: _JobState, limits: Limits, elapsed: float) -> SandboxResult:
        """Turn what was observed into a status and a one-line reason for a teacher."""
        ex = st.exited or {}
        ws = ex.get("wait_status")
        exit_code = None if ws is None else os.waitstatus_to_exitcode(ws)
        signaled = exit_code is not None and exit_code < 0
        sig = -exit_code if signaled else None
        oom = ex.get("oom_kills", 0) > 0 or (
            sig == signal.SIGKILL and ex.get("mem_failcnt", 0) > 0) or (
            sig == signal.SIGKILL and ex.get("mem_peak", 0) >= 0.95 * limits.memory_bytes)
        memory_error = bool(st.raised and st.raised.startswith("MemoryError"))
        pids_note = (f" (hit the limit of {limits.max_pids} processes)" if ex.get("pids_max_hits", 0) > 0
                     else "")
        mem_reason = (f"ran out of memory: the limit is {_fmt_bytes(limits.memory_bytes)}"
                      + (f", peak {_fmt_bytes(ex['mem_peak'])}" if ex.get("mem_peak") else ""))
        interrupted = (f"interrupted after {_fmt_s(limits.idle_timeout)} without progress"
                       if st.interrupts else "")

        if st.kill is not None:
            status, reason = st.kill
        elif st.zygote_lost:
            status, reason = "killed", "the sandbox's zygote process died or was closed during the job"
        elif st.done and exit_code == 0:
            status, reason = "ok", "target returned" + (f" ({interrupted}, then recovered)" if interrupted else "")
        elif oom and (signaled or st.raised or exit_code != 0):
            status, reason = "memory", mem_reason
        elif memory_error:
            status, reason = "memory", mem_reason + " (MemoryError)"
        elif signaled:
            cpu = ex.get("cpu", 0.0)
            if sig in (signal.SIGKILL, signal.SIGXCPU) and cpu >= limits.cpu_seconds:
                status, reason = "timeout", f"killed at the CPU time limit of {_fmt_s(limits.cpu_seconds)}"
            elif sig == signal.SIGKILL:
                status, reason = "killed", "killed by SIGKILL from outside the sandbox"
            else:
                status, reason = "crashed", f"crashed with {_signal_name(sig)}"
        elif interrupted and st.raised and st.raised.startswith("KeyboardInterrupt"):
            status, reason = "timeout", interrupted
        elif exit_code == 0:
            status, reason = "ok", "exited with status 0 before the target returned"
        elif st.raised is not None:
            status, reason = "error", f"target raised {st.raised}"
        else:
            status, reason = "error", f"exited with status {exit_code}"
        if status not in ("ok", "memory"):
            reason += pids_note
        tail = bytes(st.out[-STDERR_TAIL_BYTES:]).decode("utf-8", errors="replace")
        return SandboxResult(status=status, reason=reason, frames=st.frames, exit_code=exit_code,
                             stderr_tail=tail, elapsed=elapsed)


def _read_some(fd: int) -> bytes | None:
    """Read what a non-blocking pipe holds: b"" at end of file, None if nothing yet."""
    try:
        return os.read(fd, 1 << 20)
    except BlockingIOError:
        return None


# ----------------------------------------------------------------------- benchmark


def _benchmark(n: int = 100, slot: int = 0) -> None:
    """Print the end-to-end cost of a trivial job on a warm zygote."""
    t = time.monotonic()
    with Zygote(slot=slot, isolate=os.geteuid() == 0) as z:
        print(f"zygote start: {time.monotonic() - t:.2f} s (pid {z.pid})")
        for m in z.mechanisms:
            print("  -", m)
        with tempfile.TemporaryDirectory() as work:
            for _ in range(5):
                z.run("coursegrader.sandbox:_probe_target", b"warm", work)
            times = []
            for i in range(n):
                t = time.perf_counter()
                r = z.run("coursegrader.sandbox:_probe_target", b"%d" % i, work)
                times.append(time.perf_counter() - t)
                assert r.status == "ok", r
            times.sort()
            print(f"{n} trivial jobs: median {statistics.median(times) * 1e3:.1f} ms, "
                  f"p90 {times[int(n * 0.9)] * 1e3:.1f} ms, min {times[0] * 1e3:.1f} ms")


if __name__ == "__main__":
    _benchmark(int(sys.argv[1]) if len(sys.argv) > 1 else 100)
