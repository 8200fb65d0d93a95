"""A student's check before submitting: runs the notebook and says truthfully what passed.

Unlike a plain "Success!", it lists every visible test cell with its result and diagnosis, reminds that
hidden tests will check more after submission, and exits non-zero when a visible test fails.
"""

from __future__ import annotations

import ast
import sys
from pathlib import Path

import nbformat
from nbclient import NotebookClient
from nbgrader.utils import determine_grade, is_grade, is_solution


def check_notebook(path: Path, timeout: int = 60) -> int:
    try:
        nb = nbformat.read(path, as_version=4)
    except Exception as exc:  # noqa: BLE001
        print(f"✘ {path} を読み込めませんでした(ノートブックの形式が壊れています): {exc}")
        return 2
    client = NotebookClient(nb, timeout=timeout, allow_errors=True, kernel_name="python3",
                            resources={"metadata": {"path": str(path.parent.resolve())}})
    client.execute()
    failed = passed = hidden = 0
    print(f"{path.name} の確認結果:")
    for cell in nb.cells:
        if not (is_grade(cell) and not is_solution(cell) and cell.cell_type == "code"):
            continue
        grade_id = cell.metadata.nbgrader.get("grade_id", "?")
        if _only_comments(cell.source):
            hidden += 1
            print(f"  … {grade_id}: 隠しテスト(提出後の採点で実行されます。ここでは確かめられません)")
            continue
        score, max_score = determine_grade(cell)
        if score == max_score:
            passed += 1
            print(f"  ✔ {grade_id}: 見えているテストに合格")
            continue
        failed += 1
        print(f"  ✘ {grade_id}: 不合格")
        for output in cell.outputs:
            if output.output_type == "error":
                text = output.evalue if output.ename == "GradingFailure" else f"{output.ename}: {output.evalue}"
                for line in str(text).splitlines():
                    print(f"      {line}")
    print(f"見えているテスト: {passed} 個合格、{failed} 個不合格。隠しテスト: {hidden} 個(未実行)。")
    print("注意: 提出後の採点では、隠しテスト(別のランダムな点、精度、入力を書き換えないこと など)でさらに確かめます。")
    return 1 if failed else 0


def _only_comments(source: str) -> bool:
    """A test cell whose hidden tests were removed for the student version has no code left."""
    try:
        return not ast.parse(source).body
    except SyntaxError:
        return False


if __name__ == "__main__":
    sys.exit(check_notebook(Path(sys.argv[1])))
