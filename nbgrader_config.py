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
