"""Japanese text in matplotlib figures, for the notebooks' setup cells and the teacher's report.

One call, no download at run time::

    from coursegrader.fonts import use_japanese_font
    use_japanese_font()          # -> "IPAexGothic"

The font comes from the PyPI package ``matplotlib-fontja`` (the maintained fork of the abandoned
``japanize-matplotlib``, which imports ``distutils`` and so breaks on Python 3.12+). Its wheel ships the
IPAex Gothic font file (IPA Font License), so a ``pip install`` is all a student or CI needs: no system
font, no network. We register that file with matplotlib ourselves instead of importing
``matplotlib_fontja`` (whose import has the side effect of rewriting ``rcParams``), so the function is
idempotent and keeps matplotlib's default fonts as per-glyph fallbacks (Latin, Greek and math symbols
that a Japanese font may lack still come from DejaVu Sans).

If the package is missing, a system Japanese font is used instead (Debian's ``fonts-noto-cjk`` or
``fonts-ipaexfont``/``fonts-ipafont``, which ``make browser-deps`` installs for Chromium anyway).
"""
from __future__ import annotations

import importlib.util
import os
import warnings

__all__ = ["use_japanese_font", "japanese_font_path", "JAPANESE_FONT_FAMILIES"]

#: Family names tried, in order, when looking for an installed Japanese font.
JAPANESE_FONT_FAMILIES = (
    "IPAexGothic",
    "Noto Sans CJK JP",
    "IPAGothic",
    "IPAPGothic",
    "Noto Sans JP",
    "TakaoGothic",
    "VL Gothic",
)


def _fontja_file() -> str | None:
    """The IPAex Gothic file shipped in the matplotlib-fontja wheel, found without importing it."""
    spec = importlib.util.find_spec("matplotlib_fontja")
    if spec is None or not spec.submodule_search_locations:
        return None
    for folder in spec.submodule_search_locations:
        path = os.path.join(folder, "fonts", "ipaexg.ttf")
        if os.path.isfile(path):
            return path
    return None


def japanese_font_path() -> str | None:
    """Path of the font file that :func:`use_japanese_font` would use, or None if there is none."""
    path = _fontja_file()
    if path:
        return path
    from matplotlib import font_manager

    names = {f.name: f.fname for f in font_manager.fontManager.ttflist}
    for family in JAPANESE_FONT_FAMILIES:
        if family in names:
            return names[family]
    return None


def use_japanese_font(*, strict: bool = False) -> str | None:
    """Configure matplotlib so that Japanese text (titles, labels, legends) renders with real glyphs.

    Registers the bundled IPAex Gothic font (or a system Japanese font), puts it first in the
    sans-serif family list, and keeps the previous fonts behind it as fallbacks. Safe to call more
    than once. Returns the family name used; if no Japanese font exists at all, warns (or raises
    ``RuntimeError`` when ``strict``) and returns None.
    """
    import matplotlib
    from matplotlib import font_manager

    family = None
    path = _fontja_file()
    if path:
        # addfont is in-memory only: nothing is written to matplotlib's font cache.
        if not any(f.fname == path for f in font_manager.fontManager.ttflist):
            font_manager.fontManager.addfont(path)
        family = font_manager.FontProperties(fname=path).get_name()
    else:
        installed = {f.name for f in font_manager.fontManager.ttflist}
        family = next((name for name in JAPANESE_FONT_FAMILIES if name in installed), None)

    if family is None:
        message = (
            "No Japanese font found for matplotlib: install the Python package matplotlib-fontja "
            "(pip install matplotlib-fontja) or Debian's fonts-noto-cjk."
        )
        if strict:
            raise RuntimeError(message)
        warnings.warn(message, RuntimeWarning, stacklevel=2)
        return None

    rc = matplotlib.rcParams
    sans = [name for name in rc["font.sans-serif"] if name != family]
    rc["font.sans-serif"] = [family, *sans]
    rc["font.family"] = ["sans-serif"]
    # Keep the real minus sign; the fallback chain supplies U+2212 if a font lacks it.
    return family


if __name__ == "__main__":  # pragma: no cover - manual check: python -m coursegrader.fonts
    print(use_japanese_font(strict=True), japanese_font_path())
