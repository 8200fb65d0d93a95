"""Feedback as the student reads it: the diagnosis of each test cell, never the test code behind it."""

from __future__ import annotations

from nbconvert.exporters.exporter import ResourcesDict
from nbformat import NotebookNode
from nbgrader.preprocessors import NbGraderPreprocessor
from traitlets import Unicode

from .execute import is_test_cell


class HideTestCode(NbGraderPreprocessor):
    """Replace every test cell's source with a one-line caption (used by ``nbgrader generate_feedback``).

    Hidden tests, their inputs and references live in the source; the verdict in the outputs already
    says what was checked and what went wrong, in Japanese."""

    caption = Unicode("# 採点用テスト「{grade_id}」({points:g} 点): 結果は下の出力を見てください",
                      help="What a test cell shows in the feedback instead of its code.").tag(config=True)

    def preprocess_cell(self, cell: NotebookNode, resources: ResourcesDict, index: int):
        if is_test_cell(cell):
            meta = cell.metadata.nbgrader
            cell.source = self.caption.format(grade_id=meta.get("grade_id", ""), points=float(meta.get("points", 0)))
        return cell, resources
