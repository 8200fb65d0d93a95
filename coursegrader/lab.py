"""`make lab`: JupyterLab 4 for this course, as a student or as the instructor.

    python -m coursegrader.lab                       # student "student01", Japanese UI
    python -m coursegrader.lab --student-id s002     # another student, own folder
    python -m coursegrader.lab --role instructor     # formgrader at the course root

Student: the server runs in its own folder, build/lab/student-<id>/, which holds a student's
nbgrader_config.py (course id and the course's exchange only, as on a student's machine), its own
JupyterLab settings and workspaces, and the assignments it fetches (<folder>/m32/<assignment>/).
nbgrader's student extensions are on (Assignments tab, Validate button); the instructor ones
(formgrader, create-assignment toolbar, course list) are off. The user name that nbgrader puts on a
submission is the student id (CourseDirectory.student_id in that config). The UI is in Japanese by default
(jupyterlab-language-pack-ja-JP); Settings > Language switches it back to English.

Instructor: the server runs at the course root with the course's nbgrader_config.py (gradebook,
exchange), all of nbgrader's extensions, formgrader at /formgrader. The Japanese pack is installed
and selectable (Settings > Language); the default stays English unless --locale ja_JP.

The exchange is $COURSEGRADER_EXCHANGE, else <course root>/exchange, or --exchange. The launcher
waits until the server answers and prints the URL with its token.
"""
from __future__ import annotations

import argparse
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

COURSE_ID = "m32"
DEFAULT_STUDENT = "student01"
DEFAULT_PORTS = {"student": 8888, "instructor": 8890}
JA_LOCALE = "ja_JP"
LANGUAGE_PACK_MODULE = "jupyterlab_language_pack_ja_JP"

# JupyterLab (front-end) plugins of nbgrader that only an instructor uses.
INSTRUCTOR_LAB_PLUGINS = (
    "@jupyter/nbgrader:formgrader",
    "@jupyter/nbgrader:create-assignment",
    "@jupyter/nbgrader:course-list",
)
# Server extensions of nbgrader that only an instructor uses.
INSTRUCTOR_SERVER_EXTENSIONS = (
    "nbgrader.server_extensions.formgrader",
    "nbgrader.server_extensions.course_list",
)

STUDENT_NBGRADER_CONFIG = '''\
"""nbgrader configuration of a student's JupyterLab (written by coursegrader.lab; regenerated at start)."""
c = get_config()  # noqa: F821
c.CourseDirectory.course_id = {course_id!r}
# The name on submissions (nbgrader would take the OS account's name, the same for every local student).
c.CourseDirectory.student_id = {student_id!r}
c.Exchange.root = {exchange!r}
c.Exchange.path_includes_course = True
c.Exchange.timezone = "Asia/Tokyo"
c.Exchange.cache = {cache!r}
'''


def default_course_root() -> Path:
    cwd = Path.cwd()
    if (cwd / "nbgrader_config.py").is_file():
        return cwd
    return Path(__file__).resolve().parents[1]


def free_port(ip: str = "127.0.0.1") -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.bind((ip, 0))
        return s.getsockname()[1]


def port_is_free(port: int, ip: str = "127.0.0.1") -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as s:
        s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            s.bind((ip, port))
        except OSError:
            return False
        return True


def language_pack_installed() -> bool:
    import importlib.util

    return importlib.util.find_spec(LANGUAGE_PACK_MODULE) is not None


@dataclass
class LabLaunch:
    """Everything needed to start one JupyterLab server: command, environment, folder, URL."""

    role: str
    argv: list[str]
    env: dict[str, str]
    cwd: Path
    root_dir: Path
    ip: str
    port: int
    token: str
    notes: list[str] = field(default_factory=list)

    @property
    def base_url(self) -> str:
        host = "127.0.0.1" if self.ip in ("0.0.0.0", "", "*") else self.ip
        return f"http://{host}:{self.port}"

    @property
    def url(self) -> str:
        return f"{self.base_url}/lab?token={self.token}"


def _write_json(path: Path, data: dict) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def prepare(
    role: str = "student",
    *,
    student_id: str = DEFAULT_STUDENT,
    course_root: Path | None = None,
    lab_dir: Path | None = None,
    exchange: Path | None = None,
    ip: str = "127.0.0.1",
    port: int | None = None,
    token: str | None = None,
    locale: str | None = None,
    open_browser: bool = False,
    python: str | None = None,
) -> LabLaunch:
    """Write the role's folders and config files; return how to start its JupyterLab."""
    if role not in ("student", "instructor"):
        raise ValueError(f"role must be student or instructor, not {role!r}")
    if role == "student" and (not student_id or any(ch in student_id for ch in "*+/ \\")):
        raise ValueError(f"invalid student id {student_id!r} (no '*', '+', '/', spaces)")
    course_root = Path(course_root or default_course_root()).resolve()
    lab_dir = Path(lab_dir or course_root / "build" / "lab").resolve()
    if exchange is None:
        exchange = Path(os.environ.get("COURSEGRADER_EXCHANGE") or course_root / "exchange")
    exchange = Path(exchange).resolve()
    exchange.mkdir(parents=True, exist_ok=True)
    if locale is None:
        locale = JA_LOCALE if role == "student" else "en"
    if port is None:
        port = DEFAULT_PORTS[role] if port_is_free(DEFAULT_PORTS[role], ip) else free_port(ip)
    token = token or secrets.token_hex(24)
    notes: list[str] = []

    env = dict(os.environ)
    env["COURSEGRADER_EXCHANGE"] = str(exchange)
    env.setdefault("LANG", "C.UTF-8")
    env["PYTHONUTF8"] = "1"

    if role == "student":
        home = lab_dir / f"student-{student_id}"
        root_dir = home
        cwd = home
        home.mkdir(parents=True, exist_ok=True)
        (home / "nbgrader_config.py").write_text(
            STUDENT_NBGRADER_CONFIG.format(
                course_id=COURSE_ID, student_id=student_id, exchange=str(exchange), cache=str(home / ".nbgrader_cache")
            ),
            encoding="utf-8",
        )
        state = home / ".jupyter"
        disabled_lab = list(INSTRUCTOR_LAB_PLUGINS)
        server_ext = {name: False for name in INSTRUCTOR_SERVER_EXTENSIONS}
    else:
        root_dir = course_root
        cwd = course_root
        state = lab_dir / "instructor" / ".jupyter"
        disabled_lab = []
        server_ext = {}

    app_settings = state / "lab" / "app-settings"
    # No "get Jupyter news?" toast: this machine (and a classroom) may have no internet.
    overrides: dict = {"@jupyterlab/apputils-extension:notification": {"fetchNews": "false"}}
    if locale and locale != "en":
        overrides["@jupyterlab/translation-extension:plugin"] = {"locale": locale}
    _write_json(app_settings / "overrides.json", overrides)
    _write_json(app_settings / "page_config.json", {"disabledExtensions": disabled_lab})
    server_config = state / "jupyter_server_config.json"
    _write_json(server_config, {"ServerApp": {"jpserver_extensions": server_ext}} if server_ext else {})

    if locale == JA_LOCALE and not language_pack_installed():
        notes.append(
            "jupyterlab-language-pack-ja-JP is not installed: the UI stays in English "
            "(pip install jupyterlab-language-pack-ja-JP)"
        )

    py = python or sys.executable
    argv = [
        py, "-m", "jupyterlab",
        f"--config={server_config}",
        f"--ServerApp.root_dir={root_dir}",
        f"--ServerApp.ip={ip}",
        f"--ServerApp.port={port}",
        "--ServerApp.port_retries=0",
        f"--ServerApp.open_browser={open_browser}",
        f"--IdentityProvider.token={token}",
        f"--LabApp.app_settings_dir={app_settings}",
        f"--LabApp.user_settings_dir={state / 'lab' / 'user-settings'}",
        f"--LabApp.workspaces_dir={state / 'lab' / 'workspaces'}",
        # Nothing to fetch from the internet: no news feed, no update check.
        "--LabApp.news_url=",
        "--LabApp.check_for_updates_class=jupyterlab.NeverCheckForUpdate",
    ]
    if hasattr(os, "geteuid") and os.geteuid() == 0:
        argv.append("--allow-root")
    return LabLaunch(role, argv, env, cwd, root_dir, ip, port, token, notes)


def start(launch: LabLaunch, *, log=None) -> subprocess.Popen:
    """Start the server in its own process group (so that stop() also ends its kernels)."""
    return subprocess.Popen(
        launch.argv,
        cwd=launch.cwd,
        env=launch.env,
        stdout=log if log is not None else None,
        stderr=subprocess.STDOUT if log is not None else None,
        start_new_session=True,
    )


def wait_ready(launch: LabLaunch, proc: subprocess.Popen | None = None, timeout: float = 60.0) -> None:
    """Wait until the server answers /api/status with its token."""
    deadline = time.monotonic() + timeout
    url = f"{launch.base_url}/api/status?token={launch.token}"
    last = None
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"JupyterLab ({launch.role}) exited with code {proc.returncode}")
        try:
            with urllib.request.urlopen(url, timeout=2) as response:
                if response.status == 200:
                    return
        except Exception as exc:  # noqa: BLE001 - not up yet
            last = exc
        time.sleep(0.25)
    raise TimeoutError(f"JupyterLab ({launch.role}) not ready at {launch.base_url} after {timeout}s: {last}")


def stop(proc: subprocess.Popen, timeout: float = 10.0) -> None:
    """End the server and everything it started (kernels), by process group."""
    if proc.poll() is not None:
        return
    try:
        pgid = os.getpgid(proc.pid)
    except ProcessLookupError:
        return
    for sig, wait in ((signal.SIGTERM, timeout), (signal.SIGKILL, 5.0)):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return
        try:
            proc.wait(wait)
            return
        except subprocess.TimeoutExpired:
            continue


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m coursegrader.lab", description="JupyterLab for the course, as a student or the instructor."
    )
    parser.add_argument("--role", choices=("student", "instructor"), default=os.environ.get("ROLE") or "student")
    parser.add_argument("--student-id", default=os.environ.get("STUDENT") or DEFAULT_STUDENT)
    parser.add_argument("--ip", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    parser.add_argument("--port", type=int, default=None, help="default 8888 (student) / 8890 (instructor), else a free one")
    parser.add_argument("--token", default=None, help="default: a new random token")
    parser.add_argument("--locale", default=None, help="UI language: ja_JP (student default) or en (instructor default)")
    parser.add_argument("--no-browser", action="store_true", help="do not open a web browser")
    parser.add_argument("--course-root", type=Path, default=None, help="folder with nbgrader_config.py (default: this course)")
    parser.add_argument("--lab-dir", type=Path, default=None, help="where students' folders go (default <course>/build/lab)")
    parser.add_argument("--exchange", type=Path, default=None, help="default $COURSEGRADER_EXCHANGE or <course>/exchange")
    parser.add_argument("--print-command", action="store_true", help="print the jupyter command and exit")
    args = parser.parse_args(argv)

    launch = prepare(
        args.role,
        student_id=args.student_id,
        course_root=args.course_root,
        lab_dir=args.lab_dir,
        exchange=args.exchange,
        ip=args.ip,
        port=args.port,
        token=args.token,
        locale=args.locale,
        open_browser=not args.no_browser,
    )
    for note in launch.notes:
        print(f"note: {note}", file=sys.stderr)
    if args.print_command:
        print(f"cd {launch.cwd} && " + " ".join(launch.argv))
        return 0
    def _terminate(signum, frame):  # SIGTERM/SIGHUP: stop the server too, via finally
        raise SystemExit(128 + signum)

    signal.signal(signal.SIGINT, signal.default_int_handler)  # Ctrl-C, even if started with SIGINT ignored
    signal.signal(signal.SIGTERM, _terminate)
    signal.signal(signal.SIGHUP, _terminate)
    proc = start(launch)
    try:
        wait_ready(launch, proc, timeout=120)
        who = f"student {args.student_id}" if launch.role == "student" else "instructor"
        print("", flush=True)
        print(f"JupyterLab for {COURSE_ID} ({who}) is running in {launch.root_dir}", flush=True)
        print(f"  exchange: {launch.env['COURSEGRADER_EXCHANGE']}", flush=True)
        print(f"  open:     {launch.url}", flush=True)
        if launch.role == "instructor":
            print(f"  grading:  {launch.base_url}/formgrader?token={launch.token}", flush=True)
        print("  stop with Ctrl-C", flush=True)
        return proc.wait()
    except KeyboardInterrupt:
        return 0
    finally:
        stop(proc)


if __name__ == "__main__":
    sys.exit(main())
