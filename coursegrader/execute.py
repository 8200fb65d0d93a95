"""Grader side of execution: nbgrader's Execute step, replaced by a sandboxed run plus a trusted replay.

:class:`SandboxedExecute` is an nbgrader preprocessor (configured in ``nbgrader_config.py`` as the first
of ``Autograde.autograde_preprocessors``), so ``nbgrader autograde``, formgrader and the batch engine all
grade the same way. For one notebook it

1. sends the code cells to a forked, isolated child (:mod:`coursegrader.sandbox`, :mod:`coursegrader.kernel`),
2. copies the student cells' outputs back (already size-capped in the child),
3. replays each test cell's tape with the instructor's test code *in this process*
   (:func:`coursegrader.judge.replay`) and writes the verdict as the cell's output,
4. records the run (seed, status, reason) in the notebook's metadata under ``coursegrader``.

A test cell whose student-side run never happened (timeout, memory, crash) fails with the reason; the
notebook is still written, so every student gets feedback.
"""

from __future__ import annotations

import atexit
import json
import os
import shutil
import tempfile
import threading
from typing import Any

from nbconvert.exporters.exporter import ResourcesDict
from nbformat import NotebookNode
from nbgrader import utils
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Bool, Float, Integer, Unicode

from . import judge
from .messages import say

#: Reasons a run may stop early, as the student reads them (the teacher's report keeps the English reason).
STOPPED = {
    "timeout": "時間切れ(無限ループや非常に重い計算)で実行を打ち切りました",
    "memory": "メモリ上限を超えたため実行を打ち切りました",
    "crashed": "Python が異常終了しました",
    "error": "実行が途中で終了しました(sys.exit / os._exit など)",
    "killed": "実行が強制終了されました",
    "protocol": "出力が大きすぎるか不正な形式だったため実行を打ち切りました",
}

#: Warmed once in the zygote: the notebook runner with its shell, and the Japanese font for figures.
PRELOAD = ("coursegrader.kernel:prepare", "matplotlib_inline.backend_inline", "coursegrader.fonts:use_japanese_font")

_zygotes: dict[tuple[int, bool], Any] = {}
_zygote_lock = threading.Lock()


def zygote_for(slot: int, isolate: bool):
    """One warm fork server per (worker slot, isolation) in this process, closed at exit."""
    from .sandbox import DEFAULT_PRELOAD, Zygote, free_slots

    key = (slot, isolate)
    with _zygote_lock:
        if key not in _zygotes:
            chosen = slot if slot >= 0 else free_slots(1)[0]
            _zygotes[key] = Zygote(preload=PRELOAD + DEFAULT_PRELOAD, slot=chosen, isolate=isolate)
        return _zygotes[key]


@atexit.register
def _close_zygotes() -> None:
    for zygote in list(_zygotes.values()):
        try:
            zygote.close()
        except Exception:  # noqa: BLE001 - best effort at interpreter exit
            pass
    _zygotes.clear()


def is_test_cell(cell: NotebookNode) -> bool:
    return cell.cell_type == "code" and utils.is_grade(cell) and not utils.is_solution(cell)


class SandboxedExecute(NbGraderPreprocessor):
    """Run a submission in the sandbox and judge its test cells in the grader's own process."""

    timeout = Integer(30, help="Seconds a single cell may run without finishing before it is interrupted.").tag(
        config=True)
    notebook_timeout = Integer(300, help="Seconds the whole notebook may run.").tag(config=True)
    memory_limit_mb = Integer(1024, help="Memory limit of the student's process tree, in MiB.").tag(config=True)
    max_processes = Integer(64, help="Maximum number of processes and threads of one run.").tag(config=True)
    file_size_limit_mb = Integer(16, help="Largest file the student's code may write, in MiB.").tag(config=True)
    output_limit = Integer(100_000, help="Characters of output kept per cell (the rest is cut with a note).").tag(
        config=True)
    isolate = Bool(True, help="Run in Linux namespaces as an unprivileged user (needs root).").tag(config=True)
    slot = Integer(-1, help="Worker slot: selects the sandbox user and cgroup of this process "
                            "(-1: the first slot no other grader on this machine holds).").tag(config=True)
    seed = Unicode("", help="Seed of the hidden test points; empty: COURSEGRADER_SEED or a new random seed.").tag(
        config=True)
    interrupt_grace = Float(2.0, help="Seconds an interrupted cell gets before the run is killed.").tag(config=True)

    def preprocess(self, nb: NotebookNode, resources: ResourcesDict) -> tuple[NotebookNode, ResourcesDict]:
        from .sandbox import Limits

        seed = self._seed()
        cells = []
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            cell.outputs, cell.execution_count = [], None
            cells.append({"index": index, "source": cell.source, "kind": "test" if is_test_cell(cell) else "code"})
        payload = json.dumps({"cells": cells, "seed": seed, "output_limit": self.output_limit}).encode("utf-8")
        limits = Limits(
            memory_bytes=self.memory_limit_mb << 20,
            max_pids=self.max_processes,
            file_size_bytes=self.file_size_limit_mb << 20,
            idle_timeout=float(self.timeout),
            interrupt_grace=float(self.interrupt_grace),
            wall_timeout=float(self.notebook_timeout),
        )
        done: dict[int, dict] = {}
        started: list[int] = []

        def on_frame(frame: bytes) -> None:
            try:
                message = json.loads(frame.decode("utf-8"))
            except (UnicodeDecodeError, json.JSONDecodeError):
                return
            if not isinstance(message, dict) or not isinstance(message.get("index"), int):
                return
            if message.get("event") == "start":
                started.append(message["index"])
            elif message.get("event") == "done":
                done[message["index"]] = message

        workdir = self._workdir(resources)
        try:
            result = zygote_for(self.slot, self.isolate).run(
                "coursegrader.kernel:run_notebook", payload, workdir, limits, on_frame=on_frame)
        finally:
            shutil.rmtree(workdir, ignore_errors=True)

        stopped_at = started[-1] if started and started[-1] not in done else None
        reason_ja = STOPPED.get(result.status, "")
        for index, cell in enumerate(nb.cells):
            if cell.cell_type != "code":
                continue
            message = done.get(index)
            if is_test_cell(cell):
                tape = message.get("tape") if message else None
                if not isinstance(tape, list):
                    tape = []
                verdict = judge.replay(cell.source, tape, seed) if message else _not_run(cell, reason_ja)
                cell.outputs = _verdict_outputs(verdict)
                cell.metadata.setdefault("coursegrader", {})["diagnoses"] = verdict.diagnoses
            elif message:
                cell.outputs = [NotebookNode(o) for o in _valid_outputs(message.get("outputs"))]
                count = message.get("execution_count")
                cell.execution_count = count if isinstance(count, int) else None
            if index == stopped_at and reason_ja:
                cell.outputs.append(NotebookNode(output_type="error", ename="GradingStopped", evalue=reason_ja,
                                                 traceback=[f"GradingStopped: {reason_ja}"]))
        interrupted = [i for i, message in done.items() if "outputs" in message and any(
            isinstance(o, dict) and o.get("ename") == "KeyboardInterrupt" for o in message["outputs"] or [])]
        note = ""
        if interrupted:
            note = (f"timeout: cell {', '.join(str(i) for i in sorted(interrupted))} interrupted after "
                    f"{self.timeout} s without finishing (infinite loop?)")
        nb.metadata["coursegrader"] = {
            "seed": seed,
            "status": result.status,
            "reason": result.reason if result.status != "ok" else note,
            "elapsed": round(result.elapsed, 3),
        }
        resources.setdefault("coursegrader", {}).update(nb.metadata["coursegrader"])
        return nb, resources

    def _seed(self) -> int:
        text = self.seed.strip() or os.environ.get("COURSEGRADER_SEED", "").strip()
        return int(text) if text.isdigit() else int.from_bytes(os.urandom(4), "little")

    def _workdir(self, resources: ResourcesDict) -> str:
        """A private copy of the files beside the notebook: the student's code never sees the originals."""
        workdir = tempfile.mkdtemp(prefix="coursegrader-job-")
        source = resources.get("metadata", {}).get("path") or ""
        if source and os.path.isdir(source):
            for name in os.listdir(source):
                path = os.path.join(source, name)
                if os.path.isfile(path) and not name.endswith(".ipynb") and os.path.getsize(path) < (64 << 20):
                    shutil.copy(path, os.path.join(workdir, name))
        os.chmod(workdir, 0o777)
        for name in os.listdir(workdir):
            os.chmod(os.path.join(workdir, name), 0o666)
        return workdir


def _not_run(cell: NotebookNode, reason: str) -> judge.Verdict:
    text = say("not_run", reason=reason or "前のセルで実行が止まりました")
    return judge.Verdict(False, say("failed", title=cell.metadata.nbgrader.get("grade_id", "")) + "\n・" + text,
                         ["not_run"], [])


def _verdict_outputs(verdict: judge.Verdict) -> list[NotebookNode]:
    """A passed cell prints its checks; a failed one ends in an error whose text is only the diagnosis."""
    if verdict.passed:
        return [NotebookNode(output_type="stream", name="stdout", text=verdict.text + "\n")] if verdict.text else []
    return [NotebookNode(output_type="error", ename="GradingFailure", evalue=verdict.text,
                         traceback=verdict.text.splitlines())]


_OUTPUT_KEYS = {
    "stream": ("name", "text"),
    "execute_result": ("data", "metadata", "execution_count"),
    "display_data": ("data", "metadata"),
    "error": ("ename", "evalue", "traceback"),
}


def _valid_outputs(outputs: Any) -> list[dict]:
    """Keep only well-formed nbformat outputs from the untrusted child (anything else is dropped)."""
    kept = []
    for output in outputs if isinstance(outputs, list) else []:
        if not isinstance(output, dict) or output.get("output_type") not in _OUTPUT_KEYS:
            continue
        kind = output["output_type"]
        clean = {"output_type": kind}
        for key in _OUTPUT_KEYS[kind]:
            clean[key] = output.get(key)
        if kind == "stream":
            if clean["name"] not in ("stdout", "stderr") or not isinstance(clean["text"], str):
                continue
        elif kind == "error":
            clean["ename"] = str(clean["ename"])[:200]
            clean["evalue"] = str(clean["evalue"])[:2000]
            tb = clean["traceback"]
            clean["traceback"] = [str(line) for line in tb][:100] if isinstance(tb, list) else []
        else:
            if not isinstance(clean["data"], dict):
                continue
            clean["data"] = {str(k): v for k, v in clean["data"].items() if isinstance(v, (str, list, dict))}
            clean["metadata"] = clean["metadata"] if isinstance(clean["metadata"], dict) else {}
            if kind == "execute_result" and not isinstance(clean["execution_count"], int):
                clean["execution_count"] = None
        kept.append(clean)
    return kept
