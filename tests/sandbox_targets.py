"""Jobs that tests/test_sandbox.py runs inside the sandbox.

Each function has the sandbox's target signature ``f(payload: bytes, channel)``.
Arguments come as JSON in the payload and observations go back as JSON frames,
so the test (outside) decides what is right; the jobs only try things.
The zygote imports this module before forking, which is how a module outside
the directories bound into the sandbox can still be a target.
"""

from __future__ import annotations

import errno
import json
import os
import signal
import socket
import sys
import time


def _args(payload: bytes) -> dict:
    return json.loads(payload) if payload else {}


def _report(channel, **data) -> None:
    channel.send(json.dumps(data).encode())


def _outcome(exc: BaseException | None, value: str = "ok") -> str:
    """'ok', or the errno name of the failure (ENOENT, EROFS, ...), or the exception type."""
    if exc is None:
        return value
    if isinstance(exc, OSError) and exc.errno:
        return errno.errorcode.get(exc.errno, str(exc.errno))
    return type(exc).__name__


def echo(payload: bytes, channel) -> None:
    channel.send(payload)


def count(payload: bytes, channel) -> None:
    for i in range(_args(payload)["n"]):
        channel.send(b"%d" % i)


def try_read(payload: bytes, channel) -> None:
    results = {}
    for path in _args(payload)["paths"]:
        try:
            if os.path.isdir(path):
                os.listdir(path)
            else:
                with open(path, "rb") as f:
                    f.read(100)
            results[path] = "ok"
        except BaseException as e:
            results[path] = _outcome(e)
    _report(channel, results=results)


def list_dir(payload: bytes, channel) -> None:
    _report(channel, entries=sorted(os.listdir(_args(payload)["path"])))


def try_write(payload: bytes, channel) -> None:
    results = {}
    for path in _args(payload)["paths"]:
        try:
            with open(path, "w") as f:
                f.write("written from the sandbox\n")
            results[path] = "ok"
        except BaseException as e:
            results[path] = _outcome(e)
    _report(channel, results=results)


def try_connect(payload: bytes, channel) -> None:
    args = _args(payload)
    try:
        with socket.create_connection((args["host"], args["port"]), timeout=2) as s:
            s.sendall(b"hello from the sandbox")
        result = "connected"
    except BaseException as e:
        result = _outcome(e)
    _report(channel, connect=result, interfaces=[n for _i, n in socket.if_nameindex()])


def look_for_host(payload: bytes, channel) -> None:
    args = _args(payload)
    try:
        os.kill(args["host_pid"], 0)
        kill = "ok"
    except BaseException as e:
        kill = _outcome(e)
    pids = sorted(int(p) for p in os.listdir("/proc") if p.isdigit())
    _report(channel, kill=kill, proc_pids=pids, my_pid=os.getpid())


def identity(payload: bytes, channel) -> None:
    import getpass

    status = dict(line.split(":", 1) for line in open("/proc/self/status").read().splitlines() if ":" in line)
    _report(
        channel,
        uid=os.getuid(), euid=os.geteuid(), gid=os.getgid(), groups=os.getgroups(),
        user=getpass.getuser(), hostname=socket.gethostname(), cwd=os.getcwd(),
        env=dict(os.environ), cap_eff=status["CapEff"].strip(), cap_bnd=status["CapBnd"].strip(),
        no_new_privs=status["NoNewPrivs"].strip(), root=sorted(os.listdir("/")),
        environ_block=open("/proc/self/environ", "rb").read().decode(errors="replace"),
        cgroup=open("/proc/self/cgroup").read(),
    )


def detach(payload: bytes, channel) -> None:
    """Leave a daemon behind (double fork + setsid) that writes a file after a delay."""
    args = _args(payload)
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            signal.signal(signal.SIGHUP, signal.SIG_IGN)
            time.sleep(args["delay"])
            with open(args["marker"], "w") as f:
                f.write("the detached child survived\n")
        os._exit(0)
    os.wait()
    channel.send(b"detached")


def memory_bomb(payload: bytes, channel) -> None:
    chunks = []
    channel.send(b"allocating")
    while True:
        chunks.append(b"\x01" * (32 << 20))  # written, so really resident


def fork_bomb(payload: bytes, channel) -> None:
    channel.send(b"forking")
    while True:
        try:
            os.fork()
        except OSError:
            pass


def spin(payload: bytes, channel) -> None:
    channel.send(b"spinning")
    while True:
        pass


def spin_ignoring_sigint(payload: bytes, channel) -> None:
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    channel.send(b"spinning deaf")
    while True:
        pass


def spin_catching_interrupt(payload: bytes, channel) -> None:
    """Like a notebook cell interrupted by the grader: the runner reports and goes on."""
    try:
        while True:
            pass
    except KeyboardInterrupt:
        channel.send(b"interrupted, going on")


def exit_with(payload: bytes, channel) -> None:
    args = _args(payload)
    channel.send(b"exiting")
    if args.get("how") == "sys.exit":
        sys.exit(args["code"])
    os._exit(args["code"])


def raise_error(payload: bytes, channel) -> None:
    print("about to fail", file=sys.stderr)
    raise ValueError("boom")


def segfault(payload: bytes, channel) -> None:
    import ctypes

    channel.send(b"crashing")
    ctypes.string_at(0)


def flood_stdout(payload: bytes, channel) -> None:
    megabytes = _args(payload)["megabytes"]
    block = b"spam " * 200 + b"\n"
    written = 0
    while written < megabytes << 20:
        written += os.write(1, block)
    print("end of the flood", flush=True)
    channel.send(b"after the flood")


def heartbeat(payload: bytes, channel) -> None:
    args = _args(payload)
    end = time.monotonic() + args["seconds"]
    while time.monotonic() < end:
        channel.send(b"beat")
        time.sleep(args["every"])


def send_bytes(payload: bytes, channel) -> None:
    args = _args(payload)
    for _ in range(args.get("frames", 1)):
        channel.send(b"x" * args["size"])


def write_garbage(payload: bytes, channel) -> None:
    channel.send(b"fine so far")
    os.write(channel.fileno(), b"\xff" * 64)
    time.sleep(5)


def scientific(payload: bytes, channel) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import numpy as np
    from sklearn.datasets import load_diabetes
    from sklearn.linear_model import LinearRegression

    x = np.linspace(0, 1, 50)
    fig, ax = plt.subplots()
    ax.plot(x, x**2)
    fig.savefig("plot.png")
    plt.close(fig)
    data = load_diabetes()
    model = LinearRegression().fit(data.data, data.target)
    _report(channel, n_samples=int(data.data.shape[0]), r2=float(model.score(data.data, data.target)),
            plot_bytes=os.path.getsize("plot.png"), numpy=np.__version__)


def import_module(payload: bytes, channel) -> None:
    args = _args(payload)
    was_loaded = args["name"] in sys.modules
    module = __import__(args["name"])
    _report(channel, was_loaded=was_loaded, file=getattr(module, "__file__", None))


def write_big_file(payload: bytes, channel) -> None:
    args = _args(payload)
    try:
        with open(args["path"], "wb") as f:
            f.write(b"\0" * args["size"])
        result = "ok"
    except BaseException as e:
        result = _outcome(e)
    _report(channel, result=result)


def payload_digest(payload: bytes, channel) -> None:
    import hashlib

    channel.send(hashlib.sha256(payload).hexdigest().encode())


def try_kernel_features(payload: bytes, channel) -> None:
    """Ask for what the seccomp filter refuses, and for what it must still allow."""
    import ctypes
    import platform
    import subprocess
    import threading

    libc = ctypes.CDLL(None, use_errno=True)

    def attempt(call) -> str:
        ctypes.set_errno(0)
        ret = call()
        return "ok" if ret >= 0 else errno.errorcode.get(ctypes.get_errno(), "?")

    add_key_nr = {"x86_64": 248, "aarch64": 217}[platform.machine()]
    results = {
        "unshare_user": attempt(lambda: libc.unshare(0x10000000)),
        "add_key": attempt(lambda: libc.syscall(add_key_nr, b"user", b"note", b"answer", 6, -4)),
        "mount": attempt(lambda: libc.mount(b"none", b"/tmp", b"tmpfs", 0, None)),
    }
    box = []
    thread = threading.Thread(target=lambda: box.append("thread ran"))
    thread.start()
    thread.join()
    results["thread"] = box[0] if box else "no"
    results["subprocess"] = subprocess.run(["/bin/echo", "child ran"], capture_output=True, text=True).stdout.strip()
    _report(channel, **results)


WARMED = []


def warm_up() -> None:
    """A preload warm-up: runs once in the zygote, before any job is forked."""
    WARMED.append(os.getpid())


def report_warm_up(payload: bytes, channel) -> None:
    _report(channel, warmed=WARMED, my_pid=os.getpid())
