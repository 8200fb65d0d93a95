"""Every message a student reads, in one catalog (Japanese, in the course's own terms).

Keys are stable identifiers used by the judge and counted by the teacher's report (item analysis);
the templates are `str.format` strings. Review wording here, nowhere else.
"""

MESSAGES: dict[str, str] = {
    # --- layer: the callable / variable exists ---------------------------------------------------
    "missing": "`{name}` が定義されていません。指定された名前で関数(または変数)を定義し、そのセルを実行してから提出してください。",
    "not_callable": "`{name}` は関数ではありません(型: {type})。`def {name}(...):` で関数として定義してください。",
    "not_implemented": "`{name}` がまだ実装されていません(NotImplementedError)。`raise NotImplementedError()` の行を消して、解答を書いてください。",
    # --- layer: the call returns -------------------------------------------------------------
    "raised": "`{name}` を呼び出すとエラーになりました: {error}",
    "not_run": "このテストは実行されませんでした({reason})。それより前のセルで処理が止まっていないか確認してください。",
    # --- layer: type, shape, dtype, finite -----------------------------------------------------
    "returns_none": "`{name}` が値を返していません(None)。関数の最後で `return` を書き忘れていないか確認してください。",
    "returns_list": "`{name}` の戻り値がリスト(list)です。NumPy 配列(np.ndarray)で返してください(例: `np.array(...)` や `np.zeros_like(x, dtype=float)`)。",
    "returns_scalar": "`{name}` の戻り値がスカラー({type})です。各変数の偏微分を並べた配列(勾配ベクトル)を返してください。",
    "wrong_type": "`{name}` の戻り値の型が {type} です。期待している型は {expected} です。",
    "not_scalar": "`{name}` の戻り値は数値(スカラー)であるべきですが、{type} が返されました。",
    "wrong_shape": "`{name}` の戻り値の形状が {shape} です。入力 x と同じ形状 {expected} にしてください。",
    "integer_dtype": "`{name}` の戻り値が整数型({dtype})です。勾配は小数になるので float 型の配列で返してください。整数配列を入力すると `np.zeros_like(x)` も整数型になる点に注意しましょう。",
    "not_finite": "`{name}` の戻り値に NaN または無限大が含まれています({count} 個)。0 での割り算や h の扱いを確認してください。",
    # --- layer: values ---------------------------------------------------------------------------
    "wrong_values": "`{name}` の値が正しくありません(最大相対誤差 {max_rel_err:.2e}、許容 {tol:.1e})。",
    "rel_errors": "成分ごとの相対誤差: {errors}",
    "hard_coded": "見本の点では正しい値ですが、別の点では正しくありません。特定の点の答えを書き込むのではなく、どの点でも計算できるようにしてください。",
    # --- diagnosed mistakes (each with its own cause, in the course's terms) ----------------------
    "mistake_forward_difference": "前方差分 (f(x+h) - f(x)) / h で計算しているようです。この課題では中心差分 (f(x+h) - f(x-h)) / (2h) を使ってください。中心差分の誤差は h² に比例し、前方差分(h に比例)よりずっと小さくなります。",
    "mistake_backward_difference": "後退差分 (f(x) - f(x-h)) / h で計算しているようです。中心差分 (f(x+h) - f(x-h)) / (2h) を使ってください。",
    "mistake_divides_by_h": "値がちょうど 2 倍になっています。中心差分では 2 点の間隔が 2h なので、h ではなく 2h で割ってください。",
    "mistake_sign": "符号が逆になっています。偏微分の向き(f(x+h) と f(x-h) の引き算の順序)を確認してください。",
    "mistake_swapped_partials": "偏微分の取り違えのようです: 年齢についての偏微分と BMI についての偏微分が入れ替わっています。どの変数を動かし、どの変数を固定しているかを確認してください。",
    "mistake_not_restored": "入力配列 x が呼び出しの後に変わっています。x[idx] を動かした後、元の値に戻していない(元の値に戻していない)ようです。計算が終わったら x[idx] = tmp_val のように戻してください。",
    "mistake_integer_truncation": "整数配列を入力すると値が大きくずれています。整数配列 (dtype=int) では x[idx] = tmp_val + h の h が切り捨てられてしまいます。x を float 型にコピー(`x.astype(float)`)してから計算してください。",
    "mistake_uses_partial_at_wrong_point": "別の点での偏微分を計算しているようです。他の変数は固定したまま、指定された点で傾きを求めてください。",
    "mistake_ascent": "勾配の方向に進んでいます(勾配上昇)。勾配降下法では、勾配ベクトルと反対の向き x ← x − lr·∇f(x) に進みます(符号を確認してください)。",
    "mistake_no_update": "x が初期値からほとんど動いていません。ループの中で x を更新しているか、step_num 回繰り返しているか確認してください。",
    "mistake_init_modified": "引数 init_x が書き換えられています。関数の最初で `x = init_x.astype(float)` のようにコピーを作ってから更新してください。",
    # --- the method (order of accuracy) ----------------------------------------------------------
    "order_too_low": "中心差分の精度(2 次精度)が確認できませんでした: 刻みを 1/{ratio:g} にしたとき誤差は約 1/{observed_ratio:.3g} になりました(観測された精度の次数 {order:.2f}、期待値は 2 付近)。",
    "order_ok": "中心差分の精度: 観測された次数 {order:.2f}(2 次精度)",
    # --- gradient descent and the picture ---------------------------------------------------------
    "descent_wrong_end": "`{name}` の結果が期待される点に近づいていません(到達点と期待値の距離 {distance:.3g})。",
    "quiver_missing": "`{name}` が quiver の矢印(Quiver オブジェクト)を返していません(戻り値の型: {type})。`return ax.quiver(...)` のように返してください。",
    "quiver_wrong_points": "矢印の始点が指定された点と一致しません(矢印 {count} 本、点 {expected} 個)。各点 p を始点 (p[0], p[1]) にしてください。",
    "quiver_wrong_direction": "矢印の向きが −∇f(負の勾配)と一致しません(最大のずれ {angle:.1f}°)。最も急な下り坂の向き、つまり勾配にマイナスを付けた向きに描いてください。",
    "quiver_positive_gradient": "矢印が +∇f(上り坂の向き)を指しています。負の勾配 −∇f を描いてください(符号)。",
    "contour_missing": "等高線が描かれていません。`ax.contour(...)` で関数の等高線を描いてから矢印を重ねてください。",
    # --- data fitting ------------------------------------------------------------------------------
    "fit_mismatch": "勾配降下法で求めた係数 `{name}` が最小二乗法の解と一致しません(最大相対誤差 {max_rel_err:.2e})。学習率と反復回数、損失関数の定義を確認してください。",
    # --- tampering / infrastructure (the grader, not the student's math) ----------------------------
    "input_mismatch": "採点用の入力が採点側と一致しませんでした(NumPy や採点モジュールを書き換えていませんか)。このテストは 0 点です。",
    "record_missing": "このテストの実行記録がありません({reason})。",
    # --- summary lines ------------------------------------------------------------------------------
    "passed": "✔ {title}: 合格",
    "failed": "✘ {title}: 不合格",
    "hidden_note": "(提出後の採点では、ここに見えていない別の点でも確かめます)",
}


def say(key: str, **fields: object) -> str:
    """Render one catalog message; an unknown key or a missing field is a bug in the grader, so it raises."""
    return MESSAGES[key].format(**fields)
