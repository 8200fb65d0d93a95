"""Fake students: what typical submissions look like, and what each must score.

Plain data for the graders and the tests (no I/O at import):

* :data:`VARIANTS` — assignment -> variant -> {solution cell grade_id: code that replaces that cell}. A
  variant lists every solution cell it answers; ``unanswered`` lists none (the release stub stays).
* :data:`EXPECTED_POINTS` — assignment -> variant -> {test cell grade_id: points it must get}.
* :data:`EXPECTED_DIAGNOSES` — assignment -> variant -> {test cell grade_id: catalog keys
  (:mod:`coursegrader.messages`) that must appear in that cell's failure}; failing cells only.
* :data:`DEMO_CLASS` — named fake students -> {assignment: variant}.
* :func:`build_submission` — a release notebook with some solution cells replaced.

The verdicts do not depend on the seed of the hidden points (``COURSEGRADER_SEED``); the points do.
"""
from __future__ import annotations

import os
from typing import Mapping

import nbformat

__all__ = ["VARIANTS", "EXPECTED_POINTS", "EXPECTED_DIAGNOSES", "DEMO_CLASS", "TEST_POINTS",
           "build_submission"]

# ---------------------------------------------------------------------------------------------------
# Points of every test cell (the notebooks' metadata must agree; a test checks it)
# ---------------------------------------------------------------------------------------------------

TEST_POINTS: dict[str, dict[str, float]] = {
    "ps1": {
        "ps1-partials-visible": 2,
        "ps1-partials-hidden": 4,
        "ps1-partials-not-swapped": 2,
        "ps1-numerical-visible": 2,
        "ps1-numerical-order": 2,
        "ps1-numerical-hidden": 4,
        "ps1-numerical-unchanged": 2,
        "ps1-numerical-integer": 2,
    },
    "ps2": {
        "ps2-gradient-visible": 3,
        "ps2-gradient-order": 3,
        "ps2-gradient-hidden": 6,
        "ps2-gradient-unchanged": 2,
        "ps2-gradient-integer": 3,
        "ps2-gradient-shape": 3,
    },
    "ps3": {
        "ps3-gradient-check": 2,
        "ps3-descent-visible": 2,
        "ps3-descent-hidden": 4,
        "ps3-descent-direction": 2,
        "ps3-descent-init": 2,
        "ps3-plot-visible": 2,
        "ps3-plot-hidden": 2,
        "ps3-fit-ls": 2,
        "ps3-fit-gd": 2,
    },
}

# ---------------------------------------------------------------------------------------------------
# ps1: partial derivatives of the teaching risk score
# ---------------------------------------------------------------------------------------------------

_PS1_PARTIALS = '''\
def partial_age(age, bmi):
    """リスクスコアを年齢で偏微分した値 ∂f/∂年齢 を返す(BMI は定数として扱う)。"""
    return 0.4 + 0.02 * (bmi - 22.0)


def partial_bmi(age, bmi):
    """リスクスコアを BMI で偏微分した値 ∂f/∂BMI を返す(年齢は定数として扱う)。"""
    return 0.5 * (bmi - 22.0) + 0.02 * age
'''

_PS1_NUMERICAL = '''\
def numerical_partial(f, point, i, h=1e-4):
    """f を point で i 番目の変数だけについて中心差分で偏微分した値(float)を返す。

    f は 1 つの配列を受け取って数値を返す関数。point(リストや配列、整数でもよい)は書き換えない。
    """
    x = np.array(point, dtype=float)  # float のコピー: 元の point は変わらず、整数でも切り捨てが起きない
    original = x[i]
    x[i] = original + h
    f_plus = f(x)
    x[i] = original - h
    f_minus = f(x)
    x[i] = original
    return float((f_plus - f_minus) / (2 * h))
'''

_PS1_PARTIALS_EXPANDED = '''\
def partial_age(age, bmi):
    # f = 0.4·age + 0.25·(bmi² − 44·bmi + 484) + 0.02·age·bmi − 0.44·age を展開してから微分
    return 0.4 - 0.44 + 0.02 * bmi


def partial_bmi(age, bmi):
    return 0.25 * (2 * bmi - 44) + 0.02 * age
'''

_PS1_NUMERICAL_STEP_VECTOR = '''\
def numerical_partial(f, point, i, h=1e-4):
    x = np.asarray(point, dtype=float)
    step = np.zeros(x.shape)
    step[i] = h                      # i 番目だけ h の「方向ベクトル」
    return float((f(x + step) - f(x - step)) / (2 * h))
'''

_PS1_NUMERICAL_FORWARD = '''\
def numerical_partial(f, point, i, h=1e-4):
    x = np.array(point, dtype=float)
    f_here = f(x)
    x[i] = x[i] + h
    return float((f(x) - f_here) / h)          # 前方差分
'''

_PS1_NUMERICAL_NOT_RESTORED = '''\
def numerical_partial(f, point, i, h=1e-4):
    x = np.asarray(point, dtype=float)   # float の配列ならコピーされず、point そのものを動かしてしまう
    original = x[i]
    x[i] = original + h
    f_plus = f(x)
    x[i] = original - h
    f_minus = f(x)
    return (f_plus - f_minus) / (2 * h)     # x[i] を元に戻していない
'''

_PS1_NUMERICAL_LESSON = '''\
def numerical_partial(f, point, i, h=1e-4):
    x = np.array(point)                 # 教材のコードのまま: 整数のリストや配列なら整数型の配列になる
    tmp_val = x[i]
    x[i] = float(tmp_val) + h
    fxh1 = f(x)
    x[i] = float(tmp_val) - h
    fxh2 = f(x)
    x[i] = tmp_val
    return (fxh1 - fxh2) / (2 * h)
'''

_PS1_NUMERICAL_SIGN = '''\
def numerical_partial(f, point, i, h=1e-4):
    x = np.array(point, dtype=float)
    original = x[i]
    x[i] = original + h
    f_plus = f(x)
    x[i] = original - h
    f_minus = f(x)
    x[i] = original
    return float((f_minus - f_plus) / (2 * h))   # 引き算の順序が逆
'''

_PS1_NUMERICAL_DIVIDES_BY_H = '''\
def numerical_partial(f, point, i, h=1e-4):
    x = np.array(point, dtype=float)
    original = x[i]
    x[i] = original + h
    f_plus = f(x)
    x[i] = original - h
    f_minus = f(x)
    x[i] = original
    return float((f_plus - f_minus) / h)         # 2h ではなく h で割っている
'''

_PS1_PARTIALS_SWAPPED = '''\
def partial_age(age, bmi):
    return 0.5 * (bmi - 22.0) + 0.02 * age   # これは BMI についての偏微分


def partial_bmi(age, bmi):
    return 0.4 + 0.02 * (bmi - 22.0)          # これは年齢についての偏微分
'''

_PS1_PARTIALS_NO_INTERACTION = '''\
def partial_age(age, bmi):
    return 0.4                       # 交互作用項 0.02·age·(bmi − 22) の微分を忘れた


def partial_bmi(age, bmi):
    return 0.5 * (bmi - 22.0)
'''

_PS1_PARTIALS_HARD_CODED = '''\
def partial_age(age, bmi):
    answers = {(50, 22): 0.4, (60, 30): 0.56}       # 見本の点の答えを書き写しただけ
    return answers.get((age, bmi), 0.4)


def partial_bmi(age, bmi):
    answers = {(50, 22): 1.0, (60, 30): 5.2}
    return answers.get((age, bmi), 1.0)
'''

_PS1_NUMERICAL_HARD_CODED = '''\
def numerical_partial(f, point, i, h=1e-4):
    return 6.0 if i == 0 else 8.0       # 見本 f = x0² + x1² の (3, 4) での答え
'''

_PS1_NUMERICAL_STDERR = '''\
import sys


def numerical_partial(f, point, i, h=1e-4):
    print(f"numerical_partial: i = {i}, h = {h}", file=sys.stderr)   # 途中経過を標準エラーに出す
    np.array([1.0]) / np.array([0.0])                                 # numpy の RuntimeWarning が出る
    x = np.array(point, dtype=float)
    original = x[i]
    x[i] = original + h
    f_plus = f(x)
    x[i] = original - h
    f_minus = f(x)
    x[i] = original
    return float((f_plus - f_minus) / (2 * h))
'''

_PS1_CORRECT = {"ps1-partials": _PS1_PARTIALS, "ps1-numerical-partial": _PS1_NUMERICAL}

# ---------------------------------------------------------------------------------------------------
# ps2: the gradient vector
# ---------------------------------------------------------------------------------------------------

_PS2_GRADIENT = '''\
def numerical_gradient(f, x):
    """f の点 x での勾配(各変数の偏微分を x と同じ形に並べた float 配列)を中心差分で求める。

    x はどんな形の配列でもよく(ベクトル、重み行列など)、整数型でもよい。x 自体は書き換えない。
    """
    h = 1e-4
    x = np.array(x, dtype=float)      # float のコピー: 整数配列でも切り捨てが起きず、呼び出し元の x も変わらない
    grad = np.zeros_like(x)           # x が float なので grad も float
    for idx in np.ndindex(x.shape):   # 形によらず、すべての成分の添字 (i,), (i, j), ... を順に
        original = x[idx]
        x[idx] = original + h
        f_plus = f(x)
        x[idx] = original - h
        f_minus = f(x)
        x[idx] = original             # 元に戻す: 次の変数の偏微分は、元の点で求める
        grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad
'''

_PS2_GRADIENT_VECTORIZED = '''\
def numerical_gradient(f, x):
    h = 1e-5
    x = np.asarray(x, dtype=float)
    flat = x.ravel()
    steps = h * np.eye(flat.size)          # 各行が「1 つの変数だけを h 動かす」方向
    grad = np.array([(f((flat + e).reshape(x.shape)) - f((flat - e).reshape(x.shape))) / (2 * h)
                     for e in steps])
    return grad.reshape(x.shape)
'''

_PS2_GRADIENT_FORWARD = '''\
def numerical_gradient(f, x):
    h = 1e-4
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    f_here = f(x)
    for idx in np.ndindex(x.shape):
        original = x[idx]
        x[idx] = original + h
        grad[idx] = (f(x) - f_here) / h     # 前方差分
        x[idx] = original
    return grad
'''

_PS2_GRADIENT_NOT_RESTORED = '''\
def numerical_gradient(f, x):
    h = 1e-4
    x = np.asarray(x, dtype=float)    # float の配列ならコピーされない
    grad = np.zeros(x.shape)
    for idx in np.ndindex(x.shape):
        original = x[idx]
        x[idx] = original + h
        f_plus = f(x)
        x[idx] = original - h
        f_minus = f(x)
        grad[idx] = (f_plus - f_minus) / (2 * h)   # x[idx] を元に戻していない
    return grad
'''

_PS2_GRADIENT_LESSON = '''\
def numerical_gradient(f, x):
    h = 1e-4  # 0.0001
    grad = np.zeros_like(x)  # x と同じ形(と型)の配列

    for idx in range(x.size):
        tmp_val = x[idx]

        x[idx] = float(tmp_val) + h
        fxh1 = f(x)

        x[idx] = float(tmp_val) - h
        fxh2 = f(x)

        grad[idx] = (fxh1 - fxh2) / (2 * h)
        x[idx] = tmp_val  # 値を元に戻す

    return grad
'''

_PS2_GRADIENT_VECTOR_ONLY = '''\
def numerical_gradient(f, x):
    h = 1e-4
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    for idx in range(x.size):          # 1 次元の配列しか考えていない(x[idx] は 2 次元だと「行」)
        original = x[idx]
        x[idx] = original + h
        f_plus = f(x)
        x[idx] = original - h
        f_minus = f(x)
        x[idx] = original
        grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad
'''

_PS2_GRADIENT_SIGN = _PS2_GRADIENT.replace(
    "grad[idx] = (f_plus - f_minus) / (2 * h)", "grad[idx] = (f_minus - f_plus) / (2 * h)")

_PS2_GRADIENT_DIVIDES_BY_H = _PS2_GRADIENT.replace(
    "grad[idx] = (f_plus - f_minus) / (2 * h)", "grad[idx] = (f_plus - f_minus) / h")

_PS2_GRADIENT_RETURNS_LIST = _PS2_GRADIENT.replace("    return grad\n", "    return grad.tolist()\n")

_PS2_GRADIENT_HARD_CODED = '''\
def numerical_gradient(f, x):
    answers = {(3.0, 4.0): [6.0, 8.0], (-8.0, 6.0): [-16.0, 12.0]}   # 見本の答えを書き写しただけ
    return np.array(answers.get(tuple(np.ravel(x).tolist()), [6.0, 8.0]))
'''

_PS2_GRADIENT_STDERR = '''\
import sys


def numerical_gradient(f, x):
    h = 1e-4
    x = np.array(x, dtype=float)
    grad = np.zeros_like(x)
    for idx in np.ndindex(x.shape):
        print("偏微分を計算中:", idx, file=sys.stderr)     # 途中経過を標準エラーに出す
        np.log(np.zeros(1))                                 # numpy の RuntimeWarning(log(0))
        original = x[idx]
        x[idx] = original + h
        f_plus = f(x)
        x[idx] = original - h
        f_minus = f(x)
        x[idx] = original
        grad[idx] = (f_plus - f_minus) / (2 * h)
    return grad
'''

_PS2_CORRECT = {"ps2-numerical-gradient": _PS2_GRADIENT}

# ---------------------------------------------------------------------------------------------------
# ps3: gradient descent, the picture, and a fit on the diabetes data
# ---------------------------------------------------------------------------------------------------

_PS3_GRADIENT = _PS2_GRADIENT

_PS3_DESCENT = '''\
def gradient_descent(f, init_x, lr, step_num):
    """init_x から x ← x − lr·∇f(x) を step_num 回くり返し、最後の x を返す(init_x は書き換えない)。"""
    x = np.array(init_x, dtype=float)   # コピーしてから動かす
    for _ in range(step_num):
        x = x - lr * numerical_gradient(f, x)
    return x
'''

_PS3_PLOT = '''\
def plot_negative_gradients(f, points, ax):
    """ax に f の等高線と、各点 p から伸びる −∇f(p) の矢印を描き、矢印(Quiver)を返す。"""
    points = np.asarray(points, dtype=float)
    low = points.min(axis=0) - 2.0
    high = points.max(axis=0) + 2.0
    xs = np.linspace(low[0], high[0], 60)
    ys = np.linspace(low[1], high[1], 60)
    X0, X1 = np.meshgrid(xs, ys)
    Z = np.array([[f(np.array([a, b])) for a in xs] for b in ys])
    ax.contour(X0, X1, Z, levels=15, colors="gray")
    grads = np.array([numerical_gradient(f, p) for p in points])
    ax.plot(points[:, 0], points[:, 1], "bo")
    arrows = ax.quiver(points[:, 0], points[:, 1], -grads[:, 0], -grads[:, 1],
                       angles="xy", color="red")
    ax.set_aspect("equal")
    return arrows
'''

_PS3_FIT = '''\
def mse_loss(w):
    """平均二乗誤差 L(w) = mean((y − Xw)²)。"""
    return np.mean((y - X @ w) ** 2)


w_gd = gradient_descent(mse_loss, np.zeros(3), 0.1, 500)
w_ls = np.linalg.lstsq(X, y, rcond=None)[0]
print("勾配降下法:", w_gd)
print("最小二乗法:", w_ls)
'''

_PS3_DESCENT_ASCENT = _PS3_DESCENT.replace("x = x - lr * numerical_gradient(f, x)",
                                           "x = x + lr * numerical_gradient(f, x)   # 上り坂へ進んでいる")

_PS3_DESCENT_MODIFIES_INIT = '''\
def gradient_descent(f, init_x, lr, step_num):
    x = init_x                      # コピーしていない: x と init_x は同じ配列
    for _ in range(step_num):
        x -= lr * numerical_gradient(f, x)
    return x
'''

_PS3_DESCENT_HARD_CODED = '''\
def gradient_descent(f, init_x, lr, step_num):
    # 見本の答えを書き写しただけ
    if list(init_x) == [3.0, 4.0] and step_num == 1:
        return np.array([2.4, 3.2])
    return np.zeros_like(init_x)
'''

_PS3_DESCENT_STDERR = '''\
import sys


def gradient_descent(f, init_x, lr, step_num):
    x = np.array(init_x, dtype=float)
    np.float64(1.0) / np.float64(0.0)              # numpy の RuntimeWarning(0 での割り算)
    for step in range(step_num):
        x = x - lr * numerical_gradient(f, x)
        if step % 100 == 0:
            print(f"step {step}: f(x) = {f(x):.4g}", file=sys.stderr)   # 途中経過を標準エラーに出す
    return x
'''

_PS3_PLOT_POSITIVE = _PS3_PLOT.replace("-grads[:, 0], -grads[:, 1]", "grads[:, 0], grads[:, 1]")

_PS3_PLOT_NO_CONTOUR = '''\
def plot_negative_gradients(f, points, ax):
    points = np.asarray(points, dtype=float)
    grads = np.array([numerical_gradient(f, p) for p in points])
    ax.plot(points[:, 0], points[:, 1], "bo")
    return ax.quiver(points[:, 0], points[:, 1], -grads[:, 0], -grads[:, 1], angles="xy", color="red")
'''

_PS3_FIT_FEW_STEPS = _PS3_FIT.replace("np.zeros(3), 0.1, 500)", "np.zeros(3), 0.1, 10)   # 収束する前に止めた")

_PS3_CORRECT = {
    "ps3-numerical-gradient": _PS3_GRADIENT,
    "ps3-gradient-descent": _PS3_DESCENT,
    "ps3-plot": _PS3_PLOT,
    "ps3-fit": _PS3_FIT,
}

# ---------------------------------------------------------------------------------------------------
# Variants
# ---------------------------------------------------------------------------------------------------

VARIANTS: dict[str, dict[str, dict[str, str]]] = {
    "ps1": {
        "correct": dict(_PS1_CORRECT),
        "unanswered": {},
        "correct_vectorized": {"ps1-partials": _PS1_PARTIALS_EXPANDED,
                               "ps1-numerical-partial": _PS1_NUMERICAL_STEP_VECTOR},
        "forward_difference": {**_PS1_CORRECT, "ps1-numerical-partial": _PS1_NUMERICAL_FORWARD},
        "not_restored": {**_PS1_CORRECT, "ps1-numerical-partial": _PS1_NUMERICAL_NOT_RESTORED},
        "integer_truncation": {**_PS1_CORRECT, "ps1-numerical-partial": _PS1_NUMERICAL_LESSON},
        "sign_error": {**_PS1_CORRECT, "ps1-numerical-partial": _PS1_NUMERICAL_SIGN},
        "divides_by_h": {**_PS1_CORRECT, "ps1-numerical-partial": _PS1_NUMERICAL_DIVIDES_BY_H},
        "swapped_partials": {**_PS1_CORRECT, "ps1-partials": _PS1_PARTIALS_SWAPPED},
        "forgot_interaction": {**_PS1_CORRECT, "ps1-partials": _PS1_PARTIALS_NO_INTERACTION},
        "hard_coded": {"ps1-partials": _PS1_PARTIALS_HARD_CODED,
                       "ps1-numerical-partial": _PS1_NUMERICAL_HARD_CODED},
        "prints_to_stderr": {**_PS1_CORRECT, "ps1-numerical-partial": _PS1_NUMERICAL_STDERR},
    },
    "ps2": {
        "correct": dict(_PS2_CORRECT),
        "unanswered": {},
        "correct_vectorized": {"ps2-numerical-gradient": _PS2_GRADIENT_VECTORIZED},
        "forward_difference": {"ps2-numerical-gradient": _PS2_GRADIENT_FORWARD},
        "not_restored": {"ps2-numerical-gradient": _PS2_GRADIENT_NOT_RESTORED},
        "integer_truncation": {"ps2-numerical-gradient": _PS2_GRADIENT_LESSON},
        "vector_only": {"ps2-numerical-gradient": _PS2_GRADIENT_VECTOR_ONLY},
        "sign_error": {"ps2-numerical-gradient": _PS2_GRADIENT_SIGN},
        "divides_by_h": {"ps2-numerical-gradient": _PS2_GRADIENT_DIVIDES_BY_H},
        "returns_list": {"ps2-numerical-gradient": _PS2_GRADIENT_RETURNS_LIST},
        "hard_coded": {"ps2-numerical-gradient": _PS2_GRADIENT_HARD_CODED},
        "prints_to_stderr": {"ps2-numerical-gradient": _PS2_GRADIENT_STDERR},
    },
    "ps3": {
        "correct": dict(_PS3_CORRECT),
        "unanswered": {},
        "ascent": {**_PS3_CORRECT, "ps3-gradient-descent": _PS3_DESCENT_ASCENT},
        "modifies_init": {**_PS3_CORRECT, "ps3-gradient-descent": _PS3_DESCENT_MODIFIES_INIT},
        "hard_coded": {**_PS3_CORRECT, "ps3-gradient-descent": _PS3_DESCENT_HARD_CODED},
        "plot_positive_gradient": {**_PS3_CORRECT, "ps3-plot": _PS3_PLOT_POSITIVE},
        "no_contour": {**_PS3_CORRECT, "ps3-plot": _PS3_PLOT_NO_CONTOUR},
        "fit_too_few_steps": {**_PS3_CORRECT, "ps3-fit": _PS3_FIT_FEW_STEPS},
        "prints_to_stderr": {**_PS3_CORRECT, "ps3-gradient-descent": _PS3_DESCENT_STDERR},
    },
}

# ---------------------------------------------------------------------------------------------------
# Expected verdicts: only the failing cells are listed; every other test cell gets full points
# ---------------------------------------------------------------------------------------------------

_FAILS: dict[str, dict[str, dict[str, list[str]]]] = {
    "ps1": {
        "correct": {},
        "unanswered": {cell: ["not_implemented"] for cell in TEST_POINTS["ps1"]},
        "correct_vectorized": {},
        "forward_difference": {
            "ps1-numerical-visible": ["wrong_values", "mistake_forward_difference"],
            "ps1-numerical-order": ["order_too_low", "mistake_forward_difference"],
            "ps1-numerical-hidden": ["wrong_values", "mistake_forward_difference"],
        },
        "not_restored": {"ps1-numerical-unchanged": ["mistake_not_restored"]},
        "integer_truncation": {"ps1-numerical-integer": ["wrong_values", "mistake_integer_truncation"]},
        "sign_error": {
            "ps1-numerical-visible": ["wrong_values", "mistake_sign"],
            "ps1-numerical-order": ["order_too_low"],
            "ps1-numerical-hidden": ["wrong_values", "mistake_sign"],
            "ps1-numerical-integer": ["wrong_values", "mistake_sign"],
        },
        "divides_by_h": {
            "ps1-numerical-visible": ["wrong_values", "mistake_divides_by_h"],
            "ps1-numerical-order": ["order_too_low"],
            "ps1-numerical-hidden": ["wrong_values", "mistake_divides_by_h"],
            "ps1-numerical-integer": ["wrong_values", "mistake_divides_by_h"],
        },
        "swapped_partials": {
            "ps1-partials-visible": ["wrong_values", "mistake_swapped_partials"],
            "ps1-partials-hidden": ["wrong_values", "mistake_swapped_partials"],
            "ps1-partials-not-swapped": ["wrong_values", "mistake_swapped_partials"],
        },
        "forgot_interaction": {
            "ps1-partials-visible": ["wrong_values"],
            "ps1-partials-hidden": ["wrong_values"],
        },
        "hard_coded": {
            "ps1-partials-hidden": ["wrong_values", "hard_coded"],
            "ps1-partials-not-swapped": ["wrong_values"],
            "ps1-numerical-order": ["order_too_low"],
            "ps1-numerical-hidden": ["wrong_values", "hard_coded"],
            "ps1-numerical-integer": ["wrong_values"],
        },
        "prints_to_stderr": {},
    },
    "ps2": {
        "correct": {},
        "unanswered": {cell: ["not_implemented"] for cell in TEST_POINTS["ps2"]},
        "correct_vectorized": {},
        "forward_difference": {
            "ps2-gradient-visible": ["wrong_values", "mistake_forward_difference"],
            "ps2-gradient-order": ["order_too_low", "mistake_forward_difference"],
            "ps2-gradient-hidden": ["wrong_values", "mistake_forward_difference"],
        },
        "not_restored": {
            "ps2-gradient-hidden": ["wrong_values", "mistake_not_restored"],
            "ps2-gradient-unchanged": ["mistake_not_restored"],
        },
        "integer_truncation": {
            "ps2-gradient-integer": ["integer_dtype", "mistake_integer_truncation"],
            "ps2-gradient-shape": ["raised"],
        },
        "vector_only": {"ps2-gradient-shape": ["raised"]},
        "sign_error": {
            "ps2-gradient-visible": ["wrong_values", "mistake_sign"],
            "ps2-gradient-order": ["order_too_low"],
            "ps2-gradient-hidden": ["wrong_values", "mistake_sign"],
            "ps2-gradient-integer": ["wrong_values", "mistake_sign"],
            "ps2-gradient-shape": ["wrong_values", "mistake_sign"],
        },
        "divides_by_h": {
            "ps2-gradient-visible": ["wrong_values", "mistake_divides_by_h"],
            "ps2-gradient-order": ["order_too_low"],
            "ps2-gradient-hidden": ["wrong_values", "mistake_divides_by_h"],
            "ps2-gradient-integer": ["wrong_values", "mistake_divides_by_h"],
            "ps2-gradient-shape": ["wrong_values", "mistake_divides_by_h"],
        },
        "returns_list": {
            "ps2-gradient-visible": ["returns_list"],
            "ps2-gradient-order": ["returns_list"],
            "ps2-gradient-hidden": ["returns_list"],
            "ps2-gradient-integer": ["returns_list"],
            "ps2-gradient-shape": ["returns_list"],
        },
        "hard_coded": {
            "ps2-gradient-order": ["wrong_shape"],
            "ps2-gradient-hidden": ["wrong_values", "hard_coded"],
            "ps2-gradient-integer": ["wrong_values"],
            "ps2-gradient-shape": ["wrong_shape"],
        },
        "prints_to_stderr": {},
    },
    "ps3": {
        "correct": {},
        "unanswered": {cell: ["not_implemented"] for cell in TEST_POINTS["ps3"]
                       if cell not in ("ps3-fit-ls", "ps3-fit-gd")}
        | {"ps3-fit-ls": ["missing"], "ps3-fit-gd": ["missing"]},
        "ascent": {
            "ps3-descent-visible": ["descent_wrong_end", "mistake_ascent"],
            "ps3-descent-hidden": ["wrong_values", "mistake_ascent"],
            "ps3-descent-direction": ["descent_wrong_end", "mistake_ascent"],
            "ps3-fit-gd": ["wrong_values", "fit_mismatch"],   # 500 ascent steps: huge (~1e46) but finite
        },
        "modifies_init": {"ps3-descent-init": ["mistake_init_modified"]},
        "hard_coded": {
            "ps3-descent-hidden": ["wrong_values", "hard_coded"],
            "ps3-descent-direction": ["descent_wrong_end"],
            "ps3-fit-gd": ["wrong_values", "fit_mismatch"],
        },
        "plot_positive_gradient": {
            "ps3-plot-visible": ["quiver_positive_gradient"],
            "ps3-plot-hidden": ["quiver_positive_gradient"],
        },
        "no_contour": {
            "ps3-plot-visible": ["contour_missing"],
            "ps3-plot-hidden": ["contour_missing"],
        },
        "fit_too_few_steps": {"ps3-fit-gd": ["wrong_values", "fit_mismatch"]},
        "prints_to_stderr": {},
    },
}

EXPECTED_DIAGNOSES: dict[str, dict[str, dict[str, list[str]]]] = {
    assignment: {variant: {cell: list(keys) for cell, keys in fails.items()}
                 for variant, fails in variants.items()}
    for assignment, variants in _FAILS.items()
}

EXPECTED_POINTS: dict[str, dict[str, dict[str, float]]] = {
    assignment: {variant: {cell: (0.0 if cell in fails else float(points))
                           for cell, points in TEST_POINTS[assignment].items()}
                 for variant, fails in variants.items()}
    for assignment, variants in _FAILS.items()
}

# ---------------------------------------------------------------------------------------------------
# A demo class: correct work and the typical mistakes, on every assignment
# ---------------------------------------------------------------------------------------------------

DEMO_CLASS: dict[str, dict[str, str]] = {
    "sato_hanako": {"ps1": "correct", "ps2": "correct", "ps3": "correct"},
    "suzuki_taro": {"ps1": "forward_difference", "ps2": "forward_difference", "ps3": "correct"},
    "takahashi_yuki": {"ps1": "swapped_partials", "ps2": "integer_truncation", "ps3": "ascent"},
    "tanaka_kenji": {"ps1": "correct_vectorized", "ps2": "correct_vectorized", "ps3": "plot_positive_gradient"},
    "watanabe_aoi": {"ps1": "not_restored", "ps2": "not_restored", "ps3": "modifies_init"},
    "ito_shota": {"ps1": "hard_coded", "ps2": "hard_coded", "ps3": "hard_coded"},
    "yamamoto_miki": {"ps1": "sign_error", "ps2": "sign_error", "ps3": "no_contour"},
    "nakamura_ren": {"ps1": "unanswered", "ps2": "returns_list", "ps3": "unanswered"},
    "kobayashi_mei": {"ps1": "prints_to_stderr", "ps2": "prints_to_stderr", "ps3": "prints_to_stderr"},
    "kato_daiki": {"ps1": "divides_by_h", "ps2": "divides_by_h", "ps3": "fit_too_few_steps"},
    "yoshida_sakura": {"ps1": "forgot_interaction", "ps2": "vector_only", "ps3": "correct"},
    "yamada_sota": {"ps1": "integer_truncation", "ps2": "unanswered", "ps3": "correct"},
}


def build_submission(release_notebook: str | os.PathLike,
                     code_by_grade_id: Mapping[str, str]) -> nbformat.NotebookNode:
    """The release notebook with the given solution cells' sources replaced (every other cell untouched).

    Raises ``KeyError`` for a grade_id that is not a solution cell of the notebook."""
    nb = nbformat.read(os.fspath(release_notebook), as_version=4)
    remaining = dict(code_by_grade_id)
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        grade_id = meta.get("grade_id")
        if grade_id in remaining and meta.get("solution", False):
            cell.source = remaining.pop(grade_id)
    if remaining:
        raise KeyError(f"no solution cell with grade_id {sorted(remaining)} in {os.fspath(release_notebook)}")
    return nb
