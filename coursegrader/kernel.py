"""Sandbox side: run a submitted notebook's code cells in an IPython shell and stream the results as data.

This module runs inside the isolated child (see :mod:`coursegrader.sandbox`); nothing it produces is
trusted. For every code cell it sends two JSON frames, ``start`` and ``done``. A student cell's ``done``
carries its outputs in nbformat shape (streams, results, displays, errors). A test cell's ``done`` carries
only the *tape* of the student calls the judge recorded; the grader replays the tape in its own process
(:func:`coursegrader.judge.replay`) and writes the test cell's outputs itself.
"""

from __future__ import annotations

import json
import sys
import tempfile
from typing import Any

from IPython.core.displayhook import DisplayHook
from IPython.core.displaypub import DisplayPublisher
from IPython.core.interactiveshell import InteractiveShell
from traitlets.config import Config

from . import judge

TRUNCATED = "\n… (出力が長すぎるため、ここから先は省略しました: 全 {size} 文字)\n"


class _Outputs:
    """The outputs of the running cell, capped in total size so a huge print cannot flood the grader."""

    def __init__(self, limit: int):
        self.limit = limit
        self.items: list[dict] = []
        self.size = 0
        self.dropped = 0

    def reset(self) -> None:
        self.items, self.size, self.dropped = [], 0, 0

    def stream(self, name: str, text: str) -> None:
        room = self.limit - self.size
        if room <= 0:
            self.dropped += len(text)
            return
        if len(text) > room:
            self.dropped += len(text) - room
            text = text[:room]
        self.size += len(text)
        last = self.items[-1] if self.items else None
        if last and last["output_type"] == "stream" and last["name"] == name:
            last["text"] += text
        else:
            self.items.append({"output_type": "stream", "name": name, "text": text})

    def rich(self, output: dict) -> None:
        size = sum(len(str(v)) for v in output.get("data", {}).values())
        if self.size + size > self.limit:
            self.dropped += size
            return
        self.size += size
        self.items.append(output)

    def finish(self) -> list[dict]:
        if self.dropped:
            self.stream("stdout", "")
            self.items.append({"output_type": "stream", "name": "stdout",
                               "text": TRUNCATED.format(size=self.size + self.dropped)})
        return self.items


class _Stream:
    """sys.stdout / sys.stderr for the student's code."""

    def __init__(self, outputs: _Outputs, name: str):
        self.outputs, self.name = outputs, name
        self.encoding = "utf-8"

    def write(self, text: Any) -> int:
        text = str(text)
        self.outputs.stream(self.name, text)
        return len(text)

    def writelines(self, lines) -> None:
        for line in lines:
            self.write(line)

    def flush(self) -> None:
        pass

    def isatty(self) -> bool:
        return False

    def fileno(self) -> int:
        raise OSError("no file descriptor in the grading sandbox")


def _json_safe(data: dict) -> dict:
    return {str(k): (v if isinstance(v, (str, list, dict, int, float, bool)) or v is None else str(v))
            for k, v in data.items()}


def _make_shell(outputs: _Outputs) -> InteractiveShell:
    class CapturingDisplayHook(DisplayHook):
        def write_output_prompt(self) -> None:
            pass

        def write_format_data(self, format_dict, md_dict=None) -> None:
            outputs.rich({"output_type": "execute_result", "execution_count": self.prompt_count,
                          "data": _json_safe(format_dict), "metadata": _json_safe(md_dict or {})})

        def finish_displayhook(self) -> None:
            pass

    class CapturingDisplayPublisher(DisplayPublisher):
        def publish(self, data, metadata=None, source=None, *, transient=None, update=False, **kwargs):
            outputs.rich({"output_type": "display_data", "data": _json_safe(data),
                          "metadata": _json_safe(metadata or {})})

        def clear_output(self, wait=False) -> None:
            outputs.reset()

    class GradingShell(InteractiveShell):
        def _showtraceback(self, etype, evalue, stb) -> None:
            try:
                text = str(evalue)
            except Exception:  # noqa: BLE001 - a student's exception may refuse str()
                text = ""
            outputs.rich({"output_type": "error", "ename": getattr(etype, "__name__", "Error"),
                          "evalue": text[:2000], "traceback": [str(line)[:4000] for line in stb][:100]})

    GradingShell.displayhook_class = CapturingDisplayHook
    GradingShell.display_pub_class = CapturingDisplayPublisher
    config = Config()
    config.HistoryManager.enabled = False  # no sqlite file, no saving thread (the zygote forks this process)
    shell = GradingShell.instance(config=config, colors="nocolor", history_length=0,
                                  ipython_dir=tempfile.mkdtemp(prefix="coursegrader-ipython-"))
    try:
        shell.enable_matplotlib("inline")
    except Exception:  # noqa: BLE001 - matplotlib is optional for a notebook without plots
        pass
    return shell


_prepared: tuple[_Outputs, InteractiveShell] | None = None


def prepare() -> None:
    """Build the shell once in the zygote, so every forked job starts from a pristine, ready copy."""
    global _prepared
    if _prepared is None:
        outputs = _Outputs(100_000)
        _prepared = (outputs, _make_shell(outputs))


def run_notebook(payload: bytes, channel) -> None:
    """Entry point in the sandbox: ``payload`` is JSON ``{"cells": [...], "seed": int, "output_limit": int}``."""
    job = json.loads(payload.decode("utf-8"))
    prepare()
    outputs, shell = _prepared
    outputs.limit = int(job.get("output_limit", 100_000))
    stdout, stderr = _Stream(outputs, "stdout"), _Stream(outputs, "stderr")
    sys.stdout, sys.stderr = stdout, stderr
    seed = int(job["seed"])
    judge.set_run_seed(seed)
    count = 0
    for cell in job["cells"]:
        index = int(cell["index"])
        channel.send(json.dumps({"event": "start", "index": index}).encode("utf-8"))
        outputs.reset()
        sys.stdout, sys.stderr = stdout, stderr
        if cell["kind"] == "test":
            with judge.recording(shell.user_ns, seed) as tape:
                shell.run_cell(cell["source"], store_history=False)
            frame = {"event": "done", "index": index, "tape": tape}
        else:
            count += 1
            shell.execution_count = count
            shell.run_cell(cell["source"], store_history=False)
            items = outputs.finish()
            for item in items:
                if item["output_type"] == "execute_result":
                    item["execution_count"] = count
            frame = {"event": "done", "index": index, "execution_count": count, "outputs": items}
        channel.send(json.dumps(frame, ensure_ascii=False, default=str).encode("utf-8"))
