"""Unit tests of the judge: layered checks, diagnoses, the wire format and record/replay."""

import numpy as np
import pytest

from coursegrader import judge
from coursegrader.judge import Case, GradingFailure, central_difference_tolerance
from coursegrader.messages import MESSAGES, say

H = 1e-4


def central(f, x):
    x = np.asarray(x, dtype=float).copy()
    grad = np.zeros_like(x)
    for i in np.ndindex(x.shape):
        keep = x[i]
        x[i] = keep + H
        up = f(x)
        x[i] = keep - H
        down = f(x)
        x[i] = keep
        grad[i] = (up - down) / (2 * H)
    return grad


def forward(f, x):
    x = np.asarray(x, dtype=float).copy()
    grad = np.zeros_like(x)
    base = f(x)
    for i in np.ndindex(x.shape):
        keep = x[i]
        x[i] = keep + H
        grad[i] = (f(x) - base) / H
        x[i] = keep
    return grad


def not_restored(f, x):
    grad = np.zeros_like(x, dtype=float)
    for i in range(x.size):
        keep = x[i]
        x[i] = keep + H
        up = f(x)
        x[i] = keep - H
        down = f(x)
        grad[i] = (up - down) / (2 * H)
    return grad


def lesson_code(f, x):
    """The lesson's own loop, which truncates on integer arrays."""
    grad = np.zeros_like(x)
    for idx in range(x.size):
        tmp = x[idx]
        x[idx] = float(tmp) + H
        up = f(x)
        x[idx] = float(tmp) - H
        down = f(x)
        grad[idx] = (up - down) / (2 * H)
        x[idx] = tmp
    return grad


def cubic(x):
    return np.sum(x ** 3) + x.flat[0] * x.flat[-1]


def exact_cubic(x):
    g = 3 * x ** 2
    g.flat[0] += x.flat[-1]
    g.flat[-1] += x.flat[0]
    return g


def grade(student_function, body, visible=False):
    """Run a check body against ``numerical_gradient = student_function``; return (passed, message)."""
    with judge.student_namespace({"numerical_gradient": student_function}):
        try:
            with Case("テスト", key="unit", visible=visible) as case:
                body(case)
        except GradingFailure as failure:
            return False, str(failure), failure.case.diagnoses
    return True, "", []


def values_body(case):
    x = np.array([1.5, -2.0, 3.0])
    out = case.call("numerical_gradient", cubic, x.copy())
    expected = exact_cubic(x)
    tol = central_difference_tolerance(H, third_derivative=6, value_scale=50)
    case.expect_array(out, expected, rtol=1e-7, atol=tol, mistakes={
        "mistake_forward_difference": forward(cubic, x),
        "mistake_divides_by_h": 2 * expected,
        "mistake_sign": -expected,
    })


def test_correct_central_difference_passes():
    """Does a correct central difference pass the value check within the derived tolerance?"""
    assert grade(central, values_body)[0]


@pytest.mark.parametrize("student,diagnosis", [
    (forward, "mistake_forward_difference"),
    (lambda f, x: 2 * central(f, x), "mistake_divides_by_h"),
    (lambda f, x: -central(f, x), "mistake_sign"),
])
def test_typical_mistakes_are_named(student, diagnosis):
    """Is each typical mistake failed and named with its own Japanese diagnosis?"""
    passed, message, diagnoses = grade(student, values_body)
    assert not passed
    assert diagnosis in diagnoses
    assert MESSAGES[diagnosis] in message
    assert "成分ごとの相対誤差" in message


@pytest.mark.parametrize("student,diagnosis", [
    (lambda f, x: list(central(f, x)), "returns_list"),
    (lambda f, x: float(np.sum(central(f, x))), "returns_scalar"),
    (lambda f, x: None, "returns_none"),
    (lambda f, x: central(f, x)[:2], "wrong_shape"),
    (lambda f, x: central(f, x) * np.nan, "not_finite"),
    (lambda f, x: 1 / 0, "raised"),
])
def test_layers_fail_with_their_own_message(student, diagnosis):
    """Does each layer (type, shape, finite, the call itself) fail with its own message naming the function?"""
    passed, message, diagnoses = grade(student, values_body)
    assert not passed and diagnoses[0] == diagnosis
    assert "`numerical_gradient`" in message


def test_missing_and_not_implemented():
    """Are a missing function and an untouched stub reported as such, not as a crash of the grader?"""
    with judge.student_namespace({}):
        with pytest.raises(GradingFailure, match="定義されていません"):
            with Case("t") as case:
                case.expect_array(case.call("numerical_gradient", cubic, np.ones(2)), [3, 3], rtol=0, atol=1)

    def stub(f, x):
        raise NotImplementedError()

    passed, message, diagnoses = grade(stub, values_body)
    assert diagnoses == ["not_implemented"]


def test_hostile_return_values_are_not_trusted():
    """Do objects that override __eq__, __array__ or __float__, or ndarray subclasses, fail the type layer?"""

    class Liar:
        def __eq__(self, other):
            return True

        def __array__(self, *a, **k):
            return np.array([0.0, 0.0, 0.0])

        def __float__(self):
            return 0.0

    class Sub(np.ndarray):
        pass

    for value in (Liar(), central(cubic, np.array([1.5, -2.0, 3.0])).view(Sub)):
        passed, message, diagnoses = grade(lambda f, x, v=value: v, values_body)
        assert not passed and diagnoses == ["wrong_type"], message


def test_unchanged_input_is_checked():
    """Is a gradient that leaves x shifted (not restored) diagnosed as 元の値に戻していない?"""

    def body(case):
        x = np.array([1.0, 2.0])
        before = x.copy()
        out = case.call("numerical_gradient", cubic, x)
        case.expect_unchanged(out, before, arg=1)

    assert grade(central, body)[0]
    passed, message, diagnoses = grade(not_restored, body)
    assert diagnoses == ["mistake_not_restored"] and "元の値に戻していない" in message


def test_integer_input_truncation_is_named():
    """Does the lesson's code on an integer array fail with the integer dtype and truncation diagnoses?"""

    def body(case):
        x = np.array([3, 4])
        out = case.call("numerical_gradient", lambda v: np.sum(v ** 2), x.copy())
        case.expect_array(out, [6.0, 8.0], rtol=1e-6, atol=1e-6,
                          mistakes={"mistake_integer_truncation": lesson_code(lambda v: np.sum(v ** 2), x.copy())})

    passed, message, diagnoses = grade(lesson_code, body)
    assert diagnoses == ["integer_dtype", "mistake_integer_truncation"]
    assert "整数" in message


def order_body(case):
    u = np.array([0.7, -0.4])
    g = lambda v: np.sum(np.sin(v))  # noqa: E731
    outs, exacts = [], []
    for s in (1e-2, 1e-1):
        outs.append(case.call("numerical_gradient", lambda x, s=s: g(x / s), u * s))
        exacts.append(np.cos(u) / s)
    case.expect_order(outs, exacts, step_ratio=10)


def test_order_of_accuracy_separates_central_from_forward():
    """Does the convergence-order check accept central differences with any reasonable h and reject forward?"""
    assert grade(central, order_body)[0]

    def central_small_h(f, x):
        x = x.astype(float)
        return np.array([(f(x + e) - f(x - e)) / 2e-5 for e in np.eye(x.size) * 1e-5])

    assert grade(central_small_h, order_body)[0]
    passed, message, diagnoses = grade(forward, order_body)
    assert "order_too_low" in diagnoses and "mistake_forward_difference" in diagnoses
    assert "前方差分" in message


def test_hard_coded_answers_are_named():
    """Is an answer right only at the visible point diagnosed as hard-coded?"""

    def body(case):
        f = lambda v: np.sum(v ** 2)  # noqa: E731
        visible = case.call("numerical_gradient", f, np.array([3.0, 4.0]))
        case.expect_array(visible, [6.0, 8.0], rtol=1e-6, atol=1e-6, role="visible")
        x = case.rng.uniform(-5, 5, size=2)
        case.expect_array(case.call("numerical_gradient", f, x), 2 * x, rtol=1e-6, atol=1e-6)

    passed, message, diagnoses = grade(lambda f, x: np.array([6.0, 8.0]), body)
    assert "hard_coded" in diagnoses and say("hard_coded") in message


def test_stderr_and_warnings_inside_a_call_cost_nothing(capsys):
    """Does a correct answer that prints to stderr and triggers a RuntimeWarning still pass, silently?"""
    import sys

    def noisy(f, x):
        print("計算中...", file=sys.stderr)
        np.log(np.array([-1.0]))
        return central(f, x)

    assert grade(noisy, values_body)[0]
    assert capsys.readouterr().err == ""


def test_record_then_replay_matches_direct_verdict():
    """Does replaying a recorded tape in the grader give the same verdict as judging directly?"""
    source = (
        "import numpy as np\nfrom coursegrader.judge import Case\n"
        "with Case('再生', key='k') as case:\n"
        "    x = case.rng.uniform(-3, 3, size=3)\n"
        "    out = case.call('numerical_gradient', lambda v: np.sum(v ** 2), x.copy())\n"
        "    case.expect_array(out, 2 * x, rtol=1e-6, atol=1e-6, mistakes={'mistake_sign': -2 * x})\n"
    )
    for student, passes in ((central, True), (lambda f, x: -central(f, x), False)):
        namespace = {"numerical_gradient": student}
        with judge.recording(namespace, seed=7) as tape:
            exec(source, {})
        verdict = judge.replay(source, tape, seed=7)
        assert verdict.passed is passes
        if not passes:
            assert "mistake_sign" in verdict.diagnoses


def test_replay_is_immune_to_tampering_in_the_sandbox():
    """Can student code in the recording process forge a pass (patched allclose, patched rng, fake tape)?"""
    source = (
        "import numpy as np\nfrom coursegrader.judge import Case\n"
        "with Case('改ざん', key='k2') as case:\n"
        "    x = case.rng.uniform(-3, 3, size=2)\n"
        "    out = case.call('numerical_gradient', lambda v: np.sum(v ** 2), x)\n"
        "    case.expect_array(out, 2 * x, rtol=1e-6, atol=1e-6)\n"
    )
    wrong = lambda f, x: np.zeros(2)  # noqa: E731
    original = np.allclose
    np.allclose = lambda *a, **k: True  # what a student might do inside the sandbox
    try:
        with judge.recording({"numerical_gradient": wrong}, seed=3) as tape:
            exec(source, {})
    finally:
        np.allclose = original
    assert not judge.replay(source, tape, seed=3).passed
    # a tape made with other inputs (e.g. a patched random generator) is rejected, not trusted
    with judge.recording({"numerical_gradient": lambda f, x: 2 * x}, seed=4) as other:
        exec(source, {})
    verdict = judge.replay(source, other, seed=3)
    assert not verdict.passed and "input_mismatch" in verdict.diagnoses
    # an empty or reordered tape fails
    assert not judge.replay(source, [], seed=3).passed
    assert not judge.replay(source, [{"name": "other"}], seed=3).passed


def test_wire_round_trip_keeps_types():
    """Does the wire format carry arrays, scalars and containers exactly, and reject everything else?"""
    values = [np.arange(6, dtype=np.int32).reshape(2, 3), np.float32(1.5), 2.5, 3, True, None, "文字",
              [1.0, (2, 3)], {"a": np.ones(2)}, 1 + 2j]
    for value in values:
        back = judge.decode(judge.encode(value))
        if isinstance(value, np.ndarray):
            assert back.dtype == value.dtype and np.array_equal(back, value)
        elif isinstance(value, dict):
            assert np.array_equal(back["a"], value["a"])
        else:
            assert back == value and type(back) is type(value)
    assert isinstance(judge.decode(judge.encode(object())), judge.Opaque)
    assert isinstance(judge.decode(judge.encode(np.array(["a"]))), judge.Opaque)
    assert isinstance(judge.decode({"t": "ndarray", "dtype": "|O", "shape": [1], "data": ""}), judge.Opaque)


def test_quiver_check_reads_meaning_not_pixels():
    """Does the plot check accept −∇f arrows over contours, and name +∇f arrows and missing contours?"""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    points = np.array([[-2.0, 1.0], [1.5, -0.5], [0.5, 2.0]])
    neg = -2 * points

    def plot(sign, contour):
        def draw(f, pts, ax):
            if contour:
                grid = np.linspace(-3, 3, 20)
                X, Y = np.meshgrid(grid, grid)
                ax.contour(X, Y, X ** 2 + Y ** 2)
            g = np.array([2 * p for p in pts])
            return ax.quiver(pts[:, 0], pts[:, 1], sign * g[:, 0], sign * g[:, 1])
        return draw

    for student, expected in ((plot(-1, True), []), (plot(1, True), ["quiver_positive_gradient"]),
                              (plot(-1, False), ["contour_missing"])):
        fig, ax = plt.subplots()
        with judge.student_namespace({"plot_negative_gradients": student}):
            try:
                with Case("図") as case:
                    out = case.call("plot_negative_gradients", None, points, ax,
                                    summarize=judge.summarize_quiver)
                    case.expect_quiver(out, points, neg)
                diagnoses = []
            except GradingFailure as failure:
                diagnoses = failure.case.diagnoses
        plt.close(fig)
        assert diagnoses == expected
