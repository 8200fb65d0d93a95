"""Unit tests of the teacher's report: item analysis, the summary table, the HTML page."""

from __future__ import annotations

from coursegrader.batch import Outcome
from coursegrader.report import _html, item_analysis, summary_table


def outcomes() -> list[Outcome]:
    cell = lambda score, diagnoses=(): {"score": score, "max": 2.0, "diagnoses": list(diagnoses)}  # noqa: E731
    return [
        Outcome("ps2", "sato_hanako", "graded", score=4.0, max_score=4.0,
                cells={"ps2-a": cell(2.0), "ps2-b": cell(2.0)}),
        Outcome("ps2", "suzuki_taro", "graded", score=2.0, max_score=4.0,
                cells={"ps2-a": cell(2.0), "ps2-b": cell(0, ["wrong_values", "mistake_forward_difference"])}),
        Outcome("ps2", "ito_shota", "failed", "timeout: killed after 30 s", score=None, max_score=4.0),
        Outcome("ps2", "kato_daiki", "missing", "no submission", max_score=4.0),
    ]


def test_item_analysis_counts_failures_and_mistakes():
    """Does the item analysis give each test cell's failure rate and count each diagnosed mistake?"""
    cells, mistakes = item_analysis(outcomes())
    assert cells[("ps2", "ps2-a")] == [0, 2]
    assert cells[("ps2", "ps2-b")] == [1, 2]
    assert mistakes[("ps2", "mistake_forward_difference")] == 1


def test_summary_table_tells_graded_failed_and_missing_apart():
    """Does the terminal table show a score, 'failed' and 'missing' distinctly, never a 0 for them?"""
    table = summary_table(outcomes())
    assert "4/4" in table and "2/4" in table
    lines = {line.split()[0]: line for line in table.splitlines()[2:-1]}
    assert lines["ito_shota"].split()[-1] == "failed"
    assert lines["kato_daiki"].split()[-1] == "missing"
    assert "graded 2, failed 1, missing 1" in table


def test_html_report_names_the_mistakes_in_japanese(tmp_path):
    """Does the HTML report hold the score table, the failure reason and the Japanese mistake message?"""
    cells, mistakes = item_analysis(outcomes())
    page = _html(tmp_path / "report.html", outcomes(), cells, mistakes, demo=False).read_text(encoding="utf-8")
    assert "timeout: killed after 30 s" in page
    assert "mistake_forward_difference" in page and "前方差分" in page
    assert "50%" in page  # ps2-b failed by one of two graded students
