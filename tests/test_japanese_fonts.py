"""Japanese labels in matplotlib figures draw real glyphs, not empty boxes (tofu).

matplotlib reports a glyph that the chosen fonts lack as a warning ("Glyph 20559 (\\N{...}) missing
from font(s) DejaVu Sans.") and draws a box. These tests draw figures with Japanese text and check
that no such warning appears, that the characters really differ from one another on the canvas (all
tofu boxes look alike), and, as a control, that the detector does fire without the Japanese font.
"""
from __future__ import annotations

import json
import logging
import os
import re
import sys
import warnings
from pathlib import Path

import matplotlib

matplotlib.use("Agg")

import numpy as np  # noqa: E402
import pytest  # noqa: E402
from matplotlib import font_manager  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

from coursegrader.fonts import japanese_font_path, use_japanese_font  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
JA_TEXT = {
    "title": "偏微分 ∂f/∂x と勾配 ∇f の等高線",
    "xlabel": "$x$ 軸（入力）",
    "ylabel": "損失関数の値 −1 〜 1",
    "legend": "学習率 η = 0.1",
    "note": "ヘッセ行列・鞍点・極小値",
}
MISSING = re.compile(r"Glyph \d+ .*missing from font", re.IGNORECASE)


@pytest.fixture
def rc_restored():
    with matplotlib.rc_context():
        yield


def _draw_japanese_figure(fmt="png") -> tuple[list[str], bytes]:
    """Draw a figure full of Japanese text; return the glyph warnings seen and the image bytes."""
    import io

    messages: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record):
            messages.append(record.getMessage())

    handler = _Collect()
    mpl_logger = logging.getLogger("matplotlib")
    mpl_logger.addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            fig = Figure(figsize=(6, 4), dpi=80)
            ax = fig.add_subplot()
            x = np.linspace(-2, 2, 50)
            ax.plot(x, x**2, label=JA_TEXT["legend"])
            ax.set_title(JA_TEXT["title"])
            ax.set_xlabel(JA_TEXT["xlabel"])
            ax.set_ylabel(JA_TEXT["ylabel"])
            ax.set_xticks([-2, 0, 2], ["左", "中央", "右"])
            ax.text(0, 2, JA_TEXT["note"])
            ax.legend()
            buf = io.BytesIO()
            fig.savefig(buf, format=fmt)
        messages += [str(w.message) for w in caught]
    finally:
        mpl_logger.removeHandler(handler)
    return [m for m in messages if MISSING.search(m)], buf.getvalue()


def _glyph_bitmap(char: str) -> np.ndarray:
    from matplotlib.backends.backend_agg import FigureCanvasAgg

    fig = Figure(figsize=(1, 1), dpi=64)
    FigureCanvasAgg(fig)
    fig.text(0.5, 0.5, char, fontsize=40, ha="center", va="center")
    fig.canvas.draw()
    return np.asarray(fig.canvas.buffer_rgba())[..., 0].copy()


def test_font_ships_in_a_package_and_is_registered(rc_restored):
    family = use_japanese_font(strict=True)
    path = japanese_font_path()
    assert family and path and os.path.isfile(path)
    # The font file comes from an installed package (the venv), not from a download cache.
    assert Path(path).resolve().is_relative_to(Path(sys.prefix).resolve()) or path.startswith("/usr/share/fonts")
    assert matplotlib.rcParams["font.sans-serif"][0] == family
    found = font_manager.findfont(font_manager.FontProperties(family=family), fallback_to_default=False)
    assert Path(found).resolve() == Path(path).resolve()
    # Calling again neither fails nor duplicates anything.
    assert use_japanese_font() == family
    assert matplotlib.rcParams["font.sans-serif"].count(family) == 1
    assert sum(f.fname == path for f in font_manager.fontManager.ttflist) == 1


def test_missing_glyph_detector_fires_without_japanese_font(rc_restored):
    """Control: with matplotlib's default DejaVu Sans alone, Japanese text is tofu and warns."""
    matplotlib.rcParams["font.family"] = ["DejaVu Sans"]
    missing, _ = _draw_japanese_figure()
    assert missing, "expected missing-glyph warnings with DejaVu Sans only"
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        tofu = [_glyph_bitmap(c) for c in "偏微"]
    assert np.array_equal(tofu[0], tofu[1]), "without a Japanese font both characters are the same box"


def test_japanese_labels_render_real_glyphs(rc_restored):
    use_japanese_font(strict=True)
    missing, png = _draw_japanese_figure()
    assert missing == []
    assert png.startswith(b"\x89PNG")
    bitmaps = [_glyph_bitmap(c) for c in "偏微分勾配"]
    for bitmap in bitmaps:
        assert (bitmap < 128).sum() > 40, "a glyph draws ink"
    for i in range(len(bitmaps)):
        for j in range(i + 1, len(bitmaps)):
            assert not np.array_equal(bitmaps[i], bitmaps[j]), "distinct characters, distinct glyphs"


def test_pdf_report_embeds_the_japanese_font(rc_restored):
    """The teacher's report (PDF or PNG figures) gets the same font, embedded."""
    family = use_japanese_font(strict=True)
    missing, pdf = _draw_japanese_figure("pdf")
    assert missing == []
    assert pdf.startswith(b"%PDF")
    assert family.encode() in pdf


@pytest.mark.slow
def test_japanese_figure_in_a_notebook_kernel(tmp_path):
    """The setup cell of a course notebook, run in a real kernel, gives a figure with no glyph warning."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    nb = nbformat.v4.new_notebook()
    nb.cells = [
        nbformat.v4.new_code_cell(
            "import warnings\nwarnings.simplefilter('always')\n"
            "import matplotlib.pyplot as plt\n"
            "from coursegrader.fonts import use_japanese_font\n"
            "print(use_japanese_font(strict=True))"
        ),
        nbformat.v4.new_code_cell(
            "fig, ax = plt.subplots()\n"
            f"ax.plot([0, 1], [1, 0], label={JA_TEXT['legend']!r})\n"
            f"ax.set_title({JA_TEXT['title']!r}); ax.set_xlabel({JA_TEXT['xlabel']!r})\n"
            "ax.legend(); plt.show()"
        ),
    ]
    nb.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    client = nbclient.NotebookClient(nb, timeout=120, kernel_name="python3", resources={"metadata": {"path": str(tmp_path)}})
    client.execute()
    outputs = [o for cell in nb.cells for o in cell.outputs]
    text = "".join(o.get("text", "") for o in outputs if o.output_type == "stream")
    assert "IPAexGothic" in text or "CJK" in text or "IPA" in text
    assert not MISSING.search(text), text
    assert any("image/png" in o.get("data", {}) for o in outputs), json.dumps(outputs)[:500]


def test_teachers_report_histogram_has_japanese_glyphs(tmp_path, rc_restored):
    """The teacher's report draws its histogram (Japanese title and labels) with the Japanese font."""
    report = pytest.importorskip("coursegrader.report")
    batch = pytest.importorskip("coursegrader.batch")
    histogram = getattr(report, "histogram", None)
    if histogram is None:
        pytest.skip("coursegrader.report.histogram is gone; adapt this test")
    outcomes = [
        batch.Outcome(assignment="ps1", student=f"s{i:03d}", status="graded", score=float(i % 5), max_score=5.0)
        for i in range(12)
    ]
    messages: list[str] = []

    class _Collect(logging.Handler):
        def emit(self, record):
            messages.append(record.getMessage())

    handler = _Collect()
    logging.getLogger("matplotlib").addHandler(handler)
    try:
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            path = histogram(tmp_path / "histogram.png", outcomes)
    finally:
        logging.getLogger("matplotlib").removeHandler(handler)
    messages += [str(w.message) for w in caught]
    assert [m for m in messages if MISSING.search(m)] == []
    assert Path(path).read_bytes().startswith(b"\x89PNG")


def _notebook_sources(nb_path: Path) -> list[str]:
    nb = json.loads(nb_path.read_text(encoding="utf-8"))
    return ["".join(c["source"]) if isinstance(c["source"], list) else c["source"]
            for c in nb["cells"] if c["cell_type"] == "code"]


@pytest.mark.parametrize(
    "nb_path",
    sorted((ROOT / "source").glob("*/*.ipynb")) or [pytest.param(None, marks=pytest.mark.skip("no notebooks yet"))],
    ids=lambda p: p.parent.name if p else "none",
)
def test_course_notebooks_plot_with_the_japanese_font(nb_path):
    """Every course notebook that plots sets up the Japanese font before its first plot."""
    sources = _notebook_sources(nb_path)
    plots = [i for i, src in enumerate(sources) if re.search(r"\bplt\.|\.subplots\(|matplotlib", src)]
    if not plots:
        pytest.skip("no matplotlib in this notebook")
    setup = [i for i, src in enumerate(sources) if "use_japanese_font(" in src]
    assert setup, f"{nb_path.name}: plots but never calls coursegrader.fonts.use_japanese_font()"
    first_figure = next((i for i in plots if re.search(r"plt\.(show|subplots|figure)|\.subplots\(", sources[i])), None)
    if first_figure is not None:
        assert setup[0] <= first_figure, f"{nb_path.name}: use_japanese_font() comes after the first figure"
