"""nbgrader configuration for the course "Math for Medical AI - M3.2 partial derivatives".

One file for the instructor's apps and for JupyterLab. Paths are anchored at this file's folder, so the
course works from any clone without system paths. The exchange lives in ./exchange (gitignored).
"""
import os

_here = os.path.dirname(os.path.abspath(__file__))

c = get_config()  # noqa: F821 (provided by traitlets when nbgrader loads this file)

c.CourseDirectory.root = _here
c.CourseDirectory.course_id = "m32"
c.CourseDirectory.db_url = os.environ.get(
    "COURSEGRADER_DB_URL", "sqlite:///" + os.path.join(_here, "gradebook.db")
)
c.CourseDirectory.ignore = [".ipynb_checkpoints", "*.pyc", "__pycache__", ".grading-*"]

c.Exchange.root = os.environ.get("COURSEGRADER_EXCHANGE", os.path.join(_here, "exchange"))
c.Exchange.path_includes_course = True
c.Exchange.timezone = "Asia/Tokyo"

# Test cells are restored when a student deletes them, instead of ending as "needs manual grade".
c.OverwriteCells.add_missing_cells = True
c.ClearSolutions.code_stub = {
    "python": "# ここにコードを書いてください\nraise NotImplementedError()",
}
c.ClearSolutions.text_stub = "ここに答えを書いてください。"

# Autograding runs every submission in the sandbox and judges test cells in the grader's own process
# (coursegrader.execute.SandboxedExecute replaces nbgrader's Execute; the rest is nbgrader's own chain).
from nbconvert.preprocessors import ClearMetadataPreprocessor  # noqa: E402
from nbgrader.preprocessors import (  # noqa: E402
    AssignLatePenalties, CheckCellMetadata, IgnorePattern, LimitOutput, SaveAutoGrades)

from coursegrader.execute import SandboxedExecute  # noqa: E402
from coursegrader.feedback import HideTestCode  # noqa: E402

c.Autograde.autograde_preprocessors = [
    SandboxedExecute, IgnorePattern, ClearMetadataPreprocessor, LimitOutput, SaveAutoGrades,
    AssignLatePenalties, CheckCellMetadata,
]
c.SandboxedExecute.timeout = 30
c.SandboxedExecute.notebook_timeout = 300
c.SandboxedExecute.memory_limit_mb = 1024
c.LimitOutput.max_lines = 200
c.LimitOutput.max_traceback = 60

# Feedback shows each test cell's diagnosis, never its code: hidden and visible test code are removed.
from nbgrader.preprocessors import GetGrades  # noqa: E402
from nbconvert.preprocessors import CSSHTMLHeaderPreprocessor  # noqa: E402

c.GenerateFeedback.preprocessors = [GetGrades, HideTestCode, CSSHTMLHeaderPreprocessor]

# `nbgrader export` writes status (graded / failed / missing) and the reason beside the score.
c.ExportApp.plugin_class = "coursegrader.export.StatusCsvExportPlugin"
