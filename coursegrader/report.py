"""The teacher's report after a batch: scores, a histogram, item analysis, and a CSV for the LMS."""

from __future__ import annotations

import csv
import html
from collections import Counter, defaultdict
from pathlib import Path
from typing import Iterable

from .batch import Outcome
from .messages import MESSAGES

def fill_max_scores(root: Path, outcomes: Iterable[Outcome]) -> None:
    """Missing and failed submissions still show the assignment's maximum, from the gradebook."""
    from nbgrader.api import Gradebook

    from .cli import _db_url

    maxima: dict[str, float] = {}
    with Gradebook(_db_url(root)) as gb:
        for assignment in gb.assignments:
            maxima[assignment.name] = float(assignment.max_score)
    for outcome in outcomes:
        if not outcome.max_score:
            outcome.max_score = maxima.get(outcome.assignment, 0.0)


def export_grades(root: Path) -> Path:
    """grades.csv for the LMS, by nbgrader's own export app (status plugin: graded / failed / missing)."""
    from .cli import nbgrader

    path = root / "grades.csv"
    result = nbgrader(root, "export", "--to", str(path), check=False)
    if result.returncode != 0:
        raise RuntimeError(f"nbgrader export failed:\n{result.stdout}\n{result.stderr}")
    return path


def item_analysis(outcomes: Iterable[Outcome]) -> tuple[dict, Counter]:
    """Failure rate of every test cell, and how often each diagnosed mistake occurred."""
    cells: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0])
    mistakes: Counter = Counter()
    for outcome in outcomes:
        for grade_id, cell in outcome.cells.items():
            entry = cells[(outcome.assignment, grade_id)]
            entry[1] += 1
            if (cell.get("score") or 0) < cell.get("max", 0):
                entry[0] += 1
            for key in cell.get("diagnoses", []):
                mistakes[(outcome.assignment, key)] += 1
    return cells, mistakes


def histogram(path: Path, outcomes: list[Outcome]) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.ticker import MaxNLocator

    from .fonts import use_japanese_font

    use_japanese_font()
    assignments = sorted({o.assignment for o in outcomes})
    fig, axes = plt.subplots(1, max(1, len(assignments)), figsize=(4 * max(1, len(assignments)), 3.2),
                             squeeze=False)
    for ax, assignment in zip(axes[0], assignments):
        scores = [o.score for o in outcomes if o.assignment == assignment and o.status != "missing"
                  and o.score is not None]
        top = max([o.max_score for o in outcomes if o.assignment == assignment] + [1])
        ax.hist(scores, bins=min(10, max(1, int(top))), range=(0, top), color="#4c72b0", edgecolor="white")
        ax.set_title(f"{assignment} の得点分布")
        ax.set_xlabel("得点")
        ax.set_ylabel("人数")
        ax.yaxis.set_major_locator(MaxNLocator(integer=True))
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def write(root: Path, outcomes: list[Outcome], demo: bool = False) -> dict[str, Path]:
    folder = root / "reports"
    paths = {
        "grades (CSV for the LMS)": export_grades(root),
        "histogram": histogram(folder / "histogram.png", outcomes),
    }
    cells, mistakes = item_analysis(outcomes)
    items = folder / "items.csv"
    with items.open("w", encoding="utf-8", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(["assignment", "test_cell", "failed", "graded", "failure_rate"])
        for (assignment, grade_id), (failed, total) in sorted(cells.items()):
            writer.writerow([assignment, grade_id, failed, total, f"{failed / total:.3f}" if total else ""])
    paths["item analysis"] = items
    paths["report"] = _html(folder / "report.html", outcomes, cells, mistakes, demo)
    return paths


def summary_table(outcomes: list[Outcome], demo: bool = False) -> str:
    """A plain-text table: one row per student, one column per assignment (score/max or status)."""
    assignments = sorted({o.assignment for o in outcomes})
    students = sorted({o.student for o in outcomes})
    by_key = {(o.student, o.assignment): o for o in outcomes}
    width = max([len(s) for s in students] + [7])
    lines = [("DEMO CLASS (fake students)" if demo else "Grades")]
    lines.append("student".ljust(width) + "".join(a.rjust(14) for a in assignments))
    for student in students:
        row = student.ljust(width)
        for assignment in assignments:
            o = by_key.get((student, assignment))
            if o is None or o.status == "missing":
                cell = "missing"
            elif o.score is None:
                cell = "failed"
            else:
                cell = f"{o.score:g}/{o.max_score:g}" + ("!" if o.status == "failed" else "")
            row += cell.rjust(14)
        lines.append(row)
    counts = Counter(o.status for o in outcomes)
    lines.append(f"graded {counts['graded']}, failed {counts['failed']}, missing {counts['missing']}"
                 + ("  (! = run stopped early; see reason in grades.csv)" if counts["failed"] else ""))
    return "\n".join(lines)


def _html(path: Path, outcomes, cells, mistakes, demo: bool) -> Path:
    e = html.escape
    assignments = sorted({o.assignment for o in outcomes})
    rows = []
    for o in outcomes:
        score = "" if o.score is None or o.status == "missing" else f"{o.score:g}"
        rows.append(f"<tr class='{e(o.status)}'><td>{e(o.student)}</td><td>{e(o.assignment)}</td>"
                    f"<td>{e(o.status)}</td><td>{score}</td><td>{o.max_score:g}</td><td>{e(o.reason)}</td></tr>")
    by_key = {(o.student, o.assignment): o for o in outcomes}
    pivot = []
    for student in sorted({o.student for o in outcomes}):
        row = []
        for assignment in assignments:
            o = by_key.get((student, assignment))
            text = "missing" if o is None or o.status == "missing" else (
                "failed" if o.score is None else f"{o.score:g} / {o.max_score:g}")
            row.append(f"<td class='{e(o.status if o else 'missing')}'>{e(text)}</td>")
        pivot.append(f"<tr><td>{e(student)}</td>{''.join(row)}</tr>")
    items = [f"<tr><td>{e(a)}</td><td>{e(g)}</td><td>{f}/{t}</td><td>{(f / t if t else 0):.0%}</td></tr>"
             for (a, g), (f, t) in sorted(cells.items())]
    common = [f"<tr><td>{e(a)}</td><td><code>{e(k)}</code></td><td>{n}</td>"
              f"<td>{e(MESSAGES.get(k, '')[:90])}</td></tr>" for (a, k), n in mistakes.most_common(30)]
    title = "M3.2 偏微分: 採点レポート" + (" (DEMO CLASS — fake students)" if demo else "")
    page = f"""<!doctype html><html lang="ja"><meta charset="utf-8"><title>{e(title)}</title>
<style>body{{font-family:sans-serif;margin:2em}}table{{border-collapse:collapse;margin-bottom:2em}}
td,th{{border:1px solid #ccc;padding:.3em .6em}}.failed{{background:#fde2e1}}.missing{{background:#eee}}
img{{max-width:100%}}</style>
<h1>{e(title)}</h1>
<p>{len({o.student for o in outcomes})} students × {len(assignments)} assignments.
Status: graded = autograded normally; failed = the run stopped early or could not be graded (reason given);
missing = nothing submitted.</p>
<h2>課題ごとの得点 (score per assignment)</h2><table><tr><th>student</th>{''.join(f"<th>{e(a)}</th>" for a in assignments)}</tr>
{''.join(pivot)}</table>
<h2>得点と状態 (every submission, with the reason of a failure)</h2><table><tr><th>student</th><th>assignment</th>
<th>status</th><th>score</th><th>max</th><th>reason</th></tr>{''.join(rows)}</table>
<h2>得点分布 (histogram)</h2><img src="histogram.png" alt="histogram">
<h2>テストごとの不合格率 (failure rate of every test cell)</h2>
<table><tr><th>assignment</th><th>test cell</th><th>failed/graded</th><th>rate</th></tr>{''.join(items)}</table>
<h2>よくある間違い (diagnosed mistakes, most common first)</h2>
<table><tr><th>assignment</th><th>diagnosis</th><th>count</th><th>message (start)</th></tr>{''.join(common)}</table>
</html>"""
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(page, encoding="utf-8")
    return path
