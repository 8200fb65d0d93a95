"""The judge every test cell uses: student calls as plain data, comparisons in layers, verdicts in Japanese.

A test cell names the student's functions by string and compares what they return with references the
cell computes itself::

    from coursegrader.judge import Case
    with Case("勾配ベクトルの値", key="ps2.values") as case:
        x = case.rng.uniform([20, 15], [90, 45])
        out = case.call("numerical_gradient", risk, x)
        case.expect_array(out, reference_gradient(x), rtol=1e-6, atol=1e-8)

The same cell source runs in one of three modes:

* ``direct`` (default): a student's kernel, ``nbgrader validate`` or stock ``nbgrader autograde``. Calls and
  comparisons happen in this process; a failed check raises :class:`GradingFailure`.
* ``record``: inside the grading sandbox. Calls run and their results are written to a *tape* as plain
  data (JSON with raw array bytes); checks do nothing.
* ``replay``: in the grader's own process, which never runs student code. ``call`` returns the next
  entry of the tape; checks compare it with references computed here, with the grader's own numpy.

Whatever the student's code does to numpy, builtins, IPython or this module inside the sandbox, only data
crosses into the grader, and the verdict is computed where it cannot reach. Every result goes through the
same encode/decode round trip in all three modes, so a verdict never depends on the mode.
"""

from __future__ import annotations

import base64
import contextlib
import hashlib
import io
import json
import math
import os
import sys
import warnings
import zlib
from dataclasses import dataclass, field
from typing import Any, Callable, Iterable, Mapping

import numpy as np

from .messages import say

__all__ = [
    "Case",
    "GradingFailure",
    "Outcome",
    "central_difference_tolerance",
    "summarize_quiver",
]

# ---------------------------------------------------------------------------------------------------
# Plain data on the wire
# ---------------------------------------------------------------------------------------------------

MAX_ARRAY_ELEMENTS = 1_000_000
MAX_ITEMS = 10_000
MAX_DEPTH = 6
MAX_TEXT = 2_000
_NUMERIC_KINDS = "biufc"


def _type_name(obj: object) -> str:
    """The name of obj's type, read without trusting the object (a metaclass may lie)."""
    try:
        name = type.__dict__["__qualname__"].__get__(type(obj))
        module = type.__dict__["__module__"].__get__(type(obj))
    except Exception:  # pragma: no cover - exotic types
        return "?"
    if not isinstance(name, str):
        return "?"
    if isinstance(module, str) and module not in ("builtins", "numpy"):
        return f"{module}.{name}"[:200]
    return name[:200]


def _float_text(value: float) -> str:
    return repr(float(value))


def encode(obj: object, depth: int = 0) -> dict:
    """Turn a result into plain data. Exact types only: a subclass or an object that imitates an array is
    recorded as ``other`` with its type name, never converted through methods it could override."""
    t = type(obj)
    if obj is None:
        return {"t": "none"}
    if t is bool:
        return {"t": "bool", "v": bool(obj)}
    if t is int:
        if abs(obj) > 10**300:
            return {"t": "float", "v": "inf" if obj > 0 else "-inf"}
        return {"t": "int", "v": str(int.__repr__(obj))}
    if t is float:
        return {"t": "float", "v": float.__repr__(obj)}
    if t is complex:
        return {"t": "complex", "re": float.__repr__(obj.real), "im": float.__repr__(obj.imag)}
    if t is str:
        return {"t": "str", "v": str.__str__(obj)[:MAX_TEXT]}
    if t is np.ndarray:
        dtype = obj.dtype
        if dtype.kind not in _NUMERIC_KINDS or dtype.fields is not None or obj.size > MAX_ARRAY_ELEMENTS:
            return {"t": "other", "type": f"ndarray[{dtype.str}]", "shape": list(obj.shape)}
        data = np.ascontiguousarray(obj).tobytes()
        return {"t": "ndarray", "dtype": dtype.str, "shape": [int(n) for n in obj.shape],
                "data": base64.b64encode(data).decode("ascii")}
    if isinstance(obj, np.generic) and t.__module__ == "numpy" and np.dtype(t).kind in _NUMERIC_KINDS:
        arr = np.array(obj)
        if type(arr) is np.ndarray and arr.dtype == np.dtype(t):
            return {"t": "npscalar", "dtype": arr.dtype.str,
                    "data": base64.b64encode(arr.tobytes()).decode("ascii")}
    if t in (list, tuple):
        if depth >= MAX_DEPTH or len(obj) > MAX_ITEMS:
            return {"t": "other", "type": t.__name__ + "(too large)"}
        return {"t": t.__name__, "items": [encode(item, depth + 1) for item in obj]}
    if t is dict:
        if depth >= MAX_DEPTH or len(obj) > MAX_ITEMS:
            return {"t": "other", "type": "dict(too large)"}
        items = {}
        for key, value in dict.items(obj):
            if type(key) is str:
                items[key[:MAX_TEXT]] = encode(value, depth + 1)
        return {"t": "dict", "items": items}
    return {"t": "other", "type": _type_name(obj)}


def decode(data: object) -> Any:
    """Rebuild a value from plain data, strictly: anything unexpected becomes an :class:`Opaque`."""
    if not isinstance(data, dict):
        return Opaque("malformed")
    tag = data.get("t")
    try:
        if tag == "none":
            return None
        if tag == "bool":
            return bool(data["v"] is True)
        if tag == "int":
            return int(str(data["v"])[:400])
        if tag == "float":
            return float(str(data["v"]))
        if tag == "complex":
            return complex(float(str(data["re"])), float(str(data["im"])))
        if tag == "str":
            return str(data["v"])[:MAX_TEXT]
        if tag in ("ndarray", "npscalar"):
            dtype = np.dtype(str(data["dtype"]))
            if dtype.kind not in _NUMERIC_KINDS or dtype.fields is not None:
                return Opaque("ndarray[?]")
            raw = base64.b64decode(str(data["data"]), validate=True)
            if tag == "npscalar":
                arr = np.frombuffer(raw, dtype=dtype)
                return arr[0] if arr.size == 1 else Opaque("npscalar[?]")
            shape = tuple(int(n) for n in data["shape"])
            if any(n < 0 for n in shape) or math.prod(shape) > MAX_ARRAY_ELEMENTS:
                return Opaque("ndarray[?]")
            return np.frombuffer(raw, dtype=dtype).reshape(shape).copy()
        if tag == "list":
            return [decode(item) for item in list(data["items"])[:MAX_ITEMS]]
        if tag == "tuple":
            return tuple(decode(item) for item in list(data["items"])[:MAX_ITEMS])
        if tag == "dict":
            return {str(k)[:MAX_TEXT]: decode(v) for k, v in dict(data["items"]).items()}
        if tag == "other":
            return Opaque(str(data.get("type", "?"))[:200])
    except (KeyError, TypeError, ValueError, OverflowError):
        pass
    return Opaque("malformed")


@dataclass(frozen=True)
class Opaque:
    """A value the wire could not carry as data: only its type name is known."""

    type_name: str


def wire_kind(value: object) -> str:
    """The kind of a decoded value, as the layered checks see it."""
    if value is None:
        return "none"
    if isinstance(value, Opaque):
        return "other"
    if isinstance(value, np.ndarray):
        return "ndarray"
    if isinstance(value, (list, tuple)):
        return "list"
    if isinstance(value, (bool, int, float, np.generic)):
        return "scalar"
    if isinstance(value, dict):
        return "dict"
    return "other"


def _digest(args: tuple, kwargs: Mapping[str, object]) -> str:
    """A fingerprint of the data inputs of a call, so replay can tell when the sandbox used other inputs."""

    def plain(value: object, depth: int = 0) -> object:
        if callable(value) and not isinstance(value, np.ndarray):
            return "callable"
        if type(value) in (list, tuple) and depth < MAX_DEPTH:
            return [plain(item, depth + 1) for item in value]
        encoded = encode(value, depth)
        return "object" if encoded["t"] == "other" else encoded

    payload = json.dumps([plain(a) for a in args] + [[k, plain(v)] for k, v in sorted(kwargs.items())],
                         sort_keys=True)
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


# ---------------------------------------------------------------------------------------------------
# Modes, seed and tape
# ---------------------------------------------------------------------------------------------------

@dataclass
class _State:
    mode: str = "direct"
    tape: list = field(default_factory=list)
    position: int = 0
    namespace: dict | None = None
    seed: int | None = None
    verdicts: list = field(default_factory=list)


_state = _State()


def run_seed() -> int:
    """The seed of this grading run: set by the grader, else ``COURSEGRADER_SEED``, else drawn once."""
    if _state.seed is None:
        env = os.environ.get("COURSEGRADER_SEED", "").strip()
        _state.seed = int(env) if env.isdigit() else int.from_bytes(os.urandom(4), "little")
    return _state.seed


def set_run_seed(seed: int | None) -> None:
    _state.seed = seed


@contextlib.contextmanager
def recording(namespace: dict, seed: int):
    """Sandbox side: run one test cell, collecting its calls on a fresh tape (yielded, filled in place)."""
    saved = (_state.mode, _state.tape, _state.position, _state.namespace, _state.seed)
    tape: list = []
    _state.mode, _state.tape, _state.position, _state.namespace, _state.seed = "record", tape, 0, namespace, seed
    try:
        yield tape
    finally:
        _state.mode, _state.tape, _state.position, _state.namespace, _state.seed = saved


@contextlib.contextmanager
def student_namespace(namespace: dict):
    """Direct mode with an explicit namespace for the student's names (scripts and tests, not kernels)."""
    saved = _state.namespace
    _state.namespace = namespace
    try:
        yield namespace
    finally:
        _state.namespace = saved


@dataclass
class Verdict:
    """What replaying one test cell concluded: what the student sees, and what the report counts."""

    passed: bool
    text: str
    diagnoses: list[str]
    checks: list[tuple[str, bool]]


def replay(source: str, tape: list, seed: int) -> Verdict:
    """Grader side: run an instructor's test cell against a recorded tape and return its verdict.

    The cell runs in a fresh namespace of this process; student code never runs here. A tape that does
    not match the calls the cell makes (missing, reordered, other inputs) fails the cell."""
    saved = (_state.mode, _state.tape, _state.position, _state.namespace, _state.seed, _state.verdicts)
    _state.mode, _state.tape, _state.position, _state.namespace, _state.seed = "replay", list(tape), 0, {}, seed
    _state.verdicts = []
    out = io.StringIO()
    namespace = {"__name__": "__test_cell__"}
    try:
        with contextlib.redirect_stdout(out), warnings.catch_warnings(), np.errstate(all="ignore"):
            warnings.simplefilter("ignore")
            exec(compile(source, "<test cell>", "exec"), namespace)  # noqa: S102 - instructor's source
    except GradingFailure as failure:
        case = failure.case
        return Verdict(False, _join(out.getvalue(), str(failure)), case.diagnoses if case else [],
                       case.checks if case else [])
    except Exception as exc:  # a broken tape or a broken test cell: fail, and say which
        return Verdict(False, _join(out.getvalue(), f"{type(exc).__name__}: {exc}"), ["grader_error"], [])
    finally:
        verdicts = _state.verdicts
        _state.mode, _state.tape, _state.position, _state.namespace, _state.seed, _state.verdicts = saved
    checks = [c for case in verdicts for c in case.checks]
    return Verdict(True, out.getvalue(), [], checks)


def _join(*parts: str) -> str:
    return "\n".join(p.rstrip("\n") for p in parts if p)


class _CappedText(io.TextIOBase):
    """A write-only text sink that keeps the first few kilobytes (student prints inside a check)."""

    def __init__(self, limit: int = 4096):
        self.limit, self.size, self.parts = limit, 0, []

    def writable(self) -> bool:
        return True

    def write(self, text: str) -> int:
        text = str(text)
        if self.size < self.limit:
            self.parts.append(text[: self.limit - self.size])
        self.size += len(text)
        return len(text)


def _student_namespace() -> dict:
    if _state.namespace is not None:
        return _state.namespace
    ip = _ipython()
    if ip is not None:
        return ip.user_ns
    # _student_namespace <- _invoke <- _exchange <- call/value <- the test cell
    return sys._getframe(4).f_globals


def _ipython():
    try:
        from IPython import get_ipython
    except ImportError:  # pragma: no cover - IPython is a dependency
        return None
    return get_ipython()


# ---------------------------------------------------------------------------------------------------
# Outcomes and the case
# ---------------------------------------------------------------------------------------------------

class GradingFailure(AssertionError):
    """A test cell failed; its message is the diagnosis, in Japanese, without any test code."""

    def __init__(self, message: str, case: "Case | None" = None):
        super().__init__(message)
        self.case = case

    def _render_traceback_(self) -> list[str]:
        """IPython shows this instead of a traceback, so a kernel's error output holds no test code."""
        return [f"{type(self).__name__}:", *str(self).splitlines()]


@dataclass
class Outcome:
    """What one student call (or variable look-up) produced, as data."""

    name: str
    status: str  # ok | missing | not_callable | raised | not_run | input_mismatch
    value: Any = None
    error: str = ""
    error_type: str = ""
    args_after: list = field(default_factory=list)

    @property
    def ok(self) -> bool:
        return self.status == "ok"

    @property
    def kind(self) -> str:
        return wire_kind(self.value)


def _outcome_from_record(record: Mapping) -> Outcome:
    return Outcome(
        name=str(record.get("name", "?"))[:100],
        status=str(record.get("status", "not_run")),
        value=decode(record.get("value", {"t": "none"})),
        error=str(record.get("error", ""))[:MAX_TEXT],
        error_type=str(record.get("error_type", ""))[:100],
        args_after=[None if a is None else decode(a) for a in list(record.get("args_after", []))[:64]],
    )


def _invoke(name: str, args: tuple, kwargs: dict, summarize: Callable | None, is_value: bool) -> dict:
    """Run (or read) the student's object and describe the result as plain data."""
    namespace = _student_namespace()
    record: dict = {"name": name, "digest": _digest(args, kwargs)}
    if name not in namespace:
        record["status"] = "missing"
        return record
    target = namespace[name]
    if is_value:
        result = target
    elif not callable(target):
        record.update(status="not_callable", error=_type_name(target))
        return record
    else:
        sink = _CappedText()
        try:
            with contextlib.redirect_stdout(sink), contextlib.redirect_stderr(sink), \
                    warnings.catch_warnings(), np.errstate(all="ignore"):
                warnings.simplefilter("ignore")
                result = target(*args, **kwargs)
        except KeyboardInterrupt:
            raise
        except BaseException as exc:  # noqa: BLE001 - SystemExit from student code is feedback too
            record.update(status="raised", error_type=_type_name(exc), error=_safe_str(exc))
            return record
    if summarize is not None:
        try:
            result = summarize(result, *args, **kwargs)
        except Exception as exc:  # noqa: BLE001
            result = {"kind": "unreadable", "type": _type_name(exc)}
    record.update(status="ok", value=encode(result),
                  args_after=[encode(a) if type(a) is np.ndarray else None for a in args])
    return record


def _safe_str(exc: BaseException) -> str:
    try:
        return BaseException.__str__(exc)[:MAX_TEXT]
    except Exception:  # noqa: BLE001
        return ""


class Case:
    """One test cell's checks. Use as a context manager; failures are collected and raised together."""

    def __init__(self, title: str, key: str | None = None, *, visible: bool = False):
        self.title = title
        self.key = key or title
        self.visible = visible
        self.failures: list[str] = []
        self.diagnoses: list[str] = []
        self.checks: list[tuple[str, bool]] = []
        self.rng = np.random.default_rng([run_seed(), zlib.crc32(self.key.encode("utf-8"))])
        self._visible_ok = False
        self._visible_failed = False
        self._hidden_wrong_values = False
        self._said: set[str] = set()

    # -- context --------------------------------------------------------------------------------
    def __enter__(self) -> "Case":
        return self

    def __exit__(self, exc_type, exc, tb) -> bool:
        if exc_type is not None or _state.mode == "record":
            return False
        if self._visible_ok and not self._visible_failed and self._hidden_wrong_values and not any(
                d.startswith("mistake_") for d in self.diagnoses):
            self._fail("hard_coded")
        _state.verdicts.append(self)
        if self.failures:
            lines = [say("failed", title=self.title)] + ["・" + line for line in self.failures]
            if self.visible:
                lines.append(say("hidden_note"))
            raise GradingFailure("\n".join(lines), self)
        print(say("passed", title=self.title))
        return False

    def _fail(self, key: str, **fields: object) -> None:
        """Record one failure; the same diagnosis from several points is said once."""
        message = say(key, **fields)
        if key not in self.diagnoses and key != "rel_errors":
            self.diagnoses.append(key)
        if key in ("wrong_values", "rel_errors") and key in self._said:
            return
        if message not in self.failures:
            self.failures.append(message)
        self._said.add(key)

    def _check(self, label: str, ok: bool) -> bool:
        self.checks.append((label, ok))
        return ok

    # -- talking to the student's code ----------------------------------------------------------
    def call(self, name: str, *args: object, summarize: Callable | None = None, **kwargs: object) -> Outcome:
        """Call the student's function ``name`` with these arguments; never raises for student errors."""
        return self._exchange(name, args, kwargs, summarize, is_value=False)

    def value(self, name: str, summarize: Callable | None = None) -> Outcome:
        """Read the student's variable ``name`` as data."""
        return self._exchange(name, (), {}, summarize, is_value=True)

    def _exchange(self, name, args, kwargs, summarize, is_value) -> Outcome:
        if _state.mode == "replay":
            if _state.position >= len(_state.tape):
                return Outcome(name, "not_run", error="no record")
            record = _state.tape[_state.position]
            _state.position += 1
            if not isinstance(record, Mapping) or record.get("name") != name:
                return Outcome(name, "not_run", error="record out of order")
            if record.get("digest") != _digest(args, kwargs):
                return Outcome(name, "input_mismatch")
            outcome = _outcome_from_record(record)
        else:
            record = _invoke(name, args, kwargs, summarize, is_value)
            if _state.mode == "record":
                _state.tape.append(record)
            outcome = _outcome_from_record(json.loads(json.dumps(record)))
        # replay the call's effect on array arguments, so checks on them see what the student did
        for arg, after in zip(args, outcome.args_after):
            if type(arg) is np.ndarray and isinstance(after, np.ndarray) and after.shape == arg.shape \
                    and arg.flags.writeable:
                np.copyto(arg, after, casting="unsafe")
        return outcome

    # -- layered checks ---------------------------------------------------------------------------
    def _reached(self, out: Outcome) -> bool:
        """Layer 1 and 2: the object exists, is callable, and the call returned."""
        if _state.mode == "record":
            return False
        if out.status == "ok":
            return True
        if out.status == "missing":
            self._fail("missing", name=out.name)
        elif out.status == "not_callable":
            self._fail("not_callable", name=out.name, type=out.error)
        elif out.status == "raised" and out.error_type == "NotImplementedError":
            self._fail("not_implemented", name=out.name)
        elif out.status == "raised":
            self._fail("raised", name=out.name, error=f"{out.error_type}: {out.error}".rstrip(": "))
        elif out.status == "input_mismatch":
            self._fail("input_mismatch")
        else:
            self._fail("not_run", reason=out.error or "記録なし")
        return False

    def expect_array(self, out: Outcome, expected: object, *, rtol: float, atol: float,
                     mistakes: Mapping[str, object] | None = None, label: str = "values",
                     role: str = "hidden", mistake_rtol: float | None = None) -> bool:
        """Compare an array result in layers: type, shape, dtype, finite, values.

        Pass rule, per component: ``|got - expected| <= atol + rtol * |expected|`` (numpy's allclose).
        When the values fail, each entry of ``mistakes`` (diagnosis key -> the answer that mistake would
        give) is tried with the same rule; the first that matches names the mistake. ``role="visible"``
        marks a point the student has seen: when every visible check of the case passes and a hidden
        one does not, the answer is named as hard-coded. ``mistake_rtol`` (default ``max(rtol, 1e-6)``) is
        the relative tolerance for matching a mistake's prediction.
        """
        if not self._reached(out):
            return self._check(label, False)
        expected = np.asarray(expected, dtype=float)
        got = self._float_array(out, expected.shape)
        if got is None:
            if out.kind == "ndarray" and np.shape(out.value) == expected.shape and out.value.dtype.kind in "biu":
                self._diagnose_values(out, out.value.astype(float), expected, rtol, atol, mistakes,
                                      only_mistakes=True)
            return self._check(label, False)
        if np.all(np.abs(got - expected) <= atol + rtol * np.abs(expected)):
            if role == "visible":
                self._visible_ok = True
            return self._check(label, True)
        if role == "hidden":
            self._hidden_wrong_values = True
        else:
            self._visible_failed = True
        self._diagnose_values(out, got, expected, rtol, atol, mistakes, mistake_rtol=mistake_rtol)
        return self._check(label, False)

    def _float_array(self, out: Outcome, shape: tuple) -> np.ndarray | None:
        """Layers 3 and 4 for a reached outcome: type, shape, dtype, finite. Fails and returns None, or
        returns the result as a float array of ``shape``."""
        got, kind = out.value, out.kind
        if kind == "none":
            self._fail("returns_none", name=out.name)
        elif kind == "list":
            self._fail("returns_list", name=out.name)
        elif kind == "scalar" and shape != ():
            self._fail("returns_scalar", name=out.name, type=type(got).__name__)
        elif kind not in ("ndarray", "scalar"):
            self._fail("wrong_type", name=out.name, type=getattr(got, "type_name", type(got).__name__),
                       expected="numpy.ndarray")
        elif np.shape(got) != shape:
            self._fail("wrong_shape", name=out.name, shape=np.shape(got), expected=shape)
        elif np.asarray(got).dtype.kind in "biu":
            self._fail("integer_dtype", name=out.name, dtype=np.asarray(got).dtype)
        else:
            array = np.asarray(got)
            array = (array.real if array.dtype.kind == "c" else array).astype(float)
            bad = ~np.isfinite(array)
            if not bad.any():
                return array
            self._fail("not_finite", name=out.name, count=int(bad.sum()))
        return None

    def _diagnose_values(self, out, got, expected, rtol, atol, mistakes, only_mistakes=False,
                         mistake_rtol=None) -> None:
        """Name the mistake whose predicted answer the result matches; then the size of the error."""
        mistake = next((key for key, predicted in (mistakes or {}).items()
                        if _matches(got, np.asarray(predicted, dtype=float), expected, rtol, atol,
                                    mistake_rtol)), None)
        if not only_mistakes:
            errors = relative_errors(got, expected, atol / max(rtol, 1e-300))
            self._fail("wrong_values", name=out.name, max_rel_err=float(np.max(errors)), tol=rtol)
        if mistake:
            self._fail(mistake)
        if not only_mistakes:
            shown = ", ".join(f"{e:.1e}" for e in np.ravel(errors)[:6]) + (" …" if errors.size > 6 else "")
            self._fail("rel_errors", errors=shown)

    def expect_scalar(self, out: Outcome, expected: float, *, rtol: float, atol: float,
                      mistakes: Mapping[str, float] | None = None, label: str = "values",
                      role: str = "hidden") -> bool:
        """Like :meth:`expect_array` for a number (a float, a numpy scalar or a 0-d / size-1 array)."""
        if not self._reached(out):
            return self._check(label, False)
        got = out.value
        if out.kind == "ndarray" and got.size == 1:
            got = got.reshape(())
        elif out.kind == "none":
            self._fail("returns_none", name=out.name)
            return self._check(label, False)
        elif out.kind != "scalar":
            self._fail("not_scalar", name=out.name, type=getattr(got, "type_name", type(got).__name__))
            return self._check(label, False)
        wrapped = Outcome(out.name, "ok", value=np.asarray(got, dtype=float))
        return self.expect_array(wrapped, np.asarray(expected, dtype=float), rtol=rtol, atol=atol,
                                 mistakes=mistakes, label=label, role=role)

    def expect_unchanged(self, out: Outcome, before: object, *, arg: int = 1,
                         diagnosis: str = "mistake_not_restored", label: str = "unchanged") -> bool:
        """The array passed as positional argument ``arg`` is, after the call, exactly what it was."""
        if not self._reached(out):
            return self._check(label, False)
        after = out.args_after[arg] if arg < len(out.args_after) else None
        if after is None or (isinstance(after, np.ndarray) and np.array_equal(after, np.asarray(before))):
            return self._check(label, True)
        self._fail(diagnosis)
        return self._check(label, False)

    def expect_order(self, outs: Iterable[Outcome], exacts: Iterable[object], *, step_ratio: float,
                     min_order: float = 1.6, floor: float = 1e-11, label: str = "order") -> bool:
        """Estimate the order of accuracy from two results whose effective step differs by ``step_ratio``.

        With relative errors e1 (coarse step) and e2 (fine step), the observed order is
        ``p = log(e1 / e2) / log(step_ratio)``: about 2 for the central difference (error ~ h²·|f'''|/6),
        about 1 for the forward difference (error ~ h·|f''|/2). Any step h works; errors below ``floor``
        (exact or near-exact methods) pass.
        """
        outs, exacts = list(outs), list(exacts)
        reached = [self._reached(out) for out in outs]
        if not all(reached):
            return self._check(label, False)
        errors = []
        for out, exact in zip(outs, exacts):
            exact = np.asarray(exact, dtype=float)
            got = self._float_array(out, exact.shape)
            if got is None:
                return self._check(label, False)
            errors.append(float(np.max(np.abs(got - exact)) / max(float(np.max(np.abs(exact))), 1e-300)))
        coarse, fine = errors[0], errors[1]
        if coarse <= floor:
            return self._check(label, True)
        order = math.log(coarse / max(fine, floor * 1e-3)) / math.log(step_ratio)
        if order >= min_order:
            return self._check(label, True)
        self._fail("order_too_low", ratio=step_ratio, observed_ratio=coarse / max(fine, 1e-300), order=order)
        if 0.6 <= order <= 1.4:
            self._fail("mistake_forward_difference")
        return self._check(label, False)

    def expect_point(self, out: Outcome, expected: object, *, atol: float,
                     mistakes: Mapping[str, object] | None = None, label: str = "end point") -> bool:
        """An end point (e.g. of gradient descent) within Euclidean distance ``atol`` of ``expected``."""
        if not self._reached(out):
            return self._check(label, False)
        expected = np.asarray(expected, dtype=float)
        got = out.value
        if out.kind == "ndarray" and got.shape == expected.shape and got.dtype.kind in "biu":
            out = Outcome(out.name, "ok", value=got.astype(float))  # an integer end point is still a point
        got = self._float_array(out, expected.shape)
        if got is None:
            return self._check(label, False)
        distance = float(np.linalg.norm(got - expected))
        if distance <= atol:
            return self._check(label, True)
        self._fail("descent_wrong_end", name=out.name, distance=distance)
        for key, predicted in (mistakes or {}).items():
            if float(np.linalg.norm(got - np.asarray(predicted, dtype=float))) <= max(atol, 1e-6 * (
                    1 + float(np.linalg.norm(predicted)))):
                self._fail(key)
                break
        return self._check(label, False)

    def expect_quiver(self, out: Outcome, points: object, negative_gradients: object, *,
                      max_angle_deg: float = 3.0, label: str = "quiver") -> bool:
        """The plot's meaning, not its pixels: one arrow at each point, along −∇f, over contour lines.

        ``out`` must come from a call with ``summarize=summarize_quiver``."""
        if not self._reached(out):
            return self._check(label, False)
        summary = out.value if isinstance(out.value, dict) else {}
        if summary.get("kind") != "quiver":
            self._fail("quiver_missing", name=out.name, type=summary.get("type", "?"))
            return self._check(label, False)
        points = np.asarray(points, dtype=float).reshape(-1, 2)
        expected = np.asarray(negative_gradients, dtype=float).reshape(-1, 2)
        xy = np.asarray(summary.get("xy", np.zeros((0, 2))), dtype=float).reshape(-1, 2)
        uv = np.asarray(summary.get("uv", np.zeros((0, 2))), dtype=float).reshape(-1, 2)
        ok = True
        matched = []
        for p in points:
            distance = np.linalg.norm(xy - p, axis=1) if len(xy) else np.array([np.inf])
            index = int(np.argmin(distance))
            if distance[index] > 1e-6 * (1 + np.linalg.norm(p)):
                matched = None
                break
            matched.append(index)
        if matched is None or len(xy) != len(points):
            self._fail("quiver_wrong_points", count=len(xy), expected=len(points))
            ok = False
        else:
            angles = [_angle_deg(uv[i], e) for i, e in zip(matched, expected)]
            worst = max(angles) if angles else 0.0
            if worst > max_angle_deg:
                if min(angles) > 180 - max_angle_deg:
                    self._fail("quiver_positive_gradient")
                else:
                    self._fail("quiver_wrong_direction", angle=worst)
                ok = False
        if int(summary.get("contours", 0)) < 1:
            self._fail("contour_missing")
            ok = False
        return self._check(label, ok)

    def fail(self, key: str, **fields: object) -> None:
        """A check written in the test cell itself failed: record its catalog message."""
        if _state.mode != "record":
            self._fail(key, **fields)
            self._check(key, False)


def _matches(got: np.ndarray, predicted: np.ndarray, expected: np.ndarray, rtol: float, atol: float,
             mistake_rtol: float | None = None) -> bool:
    """Does the result equal what a given mistake predicts (and does that mistake change the answer)?"""
    return (predicted.shape == got.shape
            and not np.allclose(predicted, expected, rtol=rtol, atol=atol)
            and np.allclose(got, predicted, rtol=max(rtol, 1e-6) if mistake_rtol is None else mistake_rtol,
                            atol=atol))


def _angle_deg(u: np.ndarray, v: np.ndarray) -> float:
    nu, nv = float(np.linalg.norm(u)), float(np.linalg.norm(v))
    if nu == 0.0 or nv == 0.0:
        return 0.0 if nu == nv else 180.0
    cosine = float(np.clip(np.dot(u, v) / (nu * nv), -1.0, 1.0))
    return math.degrees(math.acos(cosine))


def relative_errors(got: np.ndarray, expected: np.ndarray, scale_floor: float) -> np.ndarray:
    """Per-component ``|got - expected| / max(|expected|, scale_floor)``."""
    return np.abs(got - expected) / np.maximum(np.abs(expected), scale_floor)


def central_difference_tolerance(h: float, third_derivative: float, value_scale: float,
                                 safety: float = 10.0) -> float:
    """Absolute error bound of one central-difference partial derivative.

    ``(f(x+h) - f(x-h)) / 2h`` differs from ∂f/∂x by a truncation term ``h²/6 · |f'''|`` and a roundoff
    term of about ``ε · |f| / h`` (ε = 2.2e-16, machine epsilon): ``atol = safety · (h²/6 · M3 + ε · F / h)``
    where M3 bounds |f'''| near the point and F bounds |f|. The safety factor admits a slightly different
    h and vectorized implementations.
    """
    eps = float(np.finfo(float).eps)
    return safety * (h * h / 6.0 * abs(third_derivative) + eps * abs(value_scale) / h)


def summarize_quiver(result: object, *args: object, **kwargs: object) -> dict:
    """Sandbox side: describe a plot as data: every arrow on the axes, and how many contour sets.

    Used as ``case.call("plot_negative_gradients", f, points, ax, summarize=summarize_quiver)``; the axes
    is taken from the call's arguments (or from the Quiver)."""
    from matplotlib.axes import Axes
    from matplotlib.contour import ContourSet
    from matplotlib.quiver import Quiver

    ax = next((a for a in list(args) + list(kwargs.values()) if isinstance(a, Axes)), None)
    if not isinstance(result, Quiver):
        return {"kind": "not_quiver", "type": _type_name(result)}
    ax = ax or result.axes
    quivers = [c for c in ax.collections if isinstance(c, Quiver)] or [result]
    xy, uv = [], []
    for q in quivers:
        x = np.broadcast_to(np.asarray(q.X, dtype=float).ravel(), (q.N,))
        y = np.broadcast_to(np.asarray(q.Y, dtype=float).ravel(), (q.N,))
        u = np.ma.filled(np.ma.asarray(q.U, dtype=float), np.nan).ravel()
        v = np.ma.filled(np.ma.asarray(q.V, dtype=float), np.nan).ravel()
        xy.append(np.column_stack([x, y]))
        uv.append(np.column_stack([np.broadcast_to(u, (q.N,)), np.broadcast_to(v, (q.N,))]))
    contours = sum(1 for c in ax.collections if isinstance(c, ContourSet))
    return {"kind": "quiver", "xy": np.vstack(xy), "uv": np.vstack(uv), "contours": contours}
