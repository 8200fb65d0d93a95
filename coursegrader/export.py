"""``nbgrader export`` that tells a missing submission, a failed autograde and a real 0 apart."""

from __future__ import annotations

import csv
import json
import os

from nbgrader.api import Gradebook, MissingEntry
from nbgrader.plugins import ExportPlugin

from .batch import MANIFEST

FIELDS = ["assignment", "duedate", "timestamp", "student_id", "last_name", "first_name", "email",
          "raw_score", "late_submission_penalty", "score", "max_score", "status", "reason"]


class StatusCsvExportPlugin(ExportPlugin):
    """nbgrader's CSV columns plus ``status`` (graded / failed / missing) and ``reason``.

    A missing or failed submission has an empty score, never a 0 that looks like a graded one."""

    def export(self, gradebook: Gradebook) -> None:
        dest = self.to or "grades.csv"
        root = getattr(getattr(self.parent, "coursedir", None), "root", None) or os.getcwd()
        students, assignments = set(map(str, self.student)), set(map(str, self.assignment))
        self.log.info("Exporting grades with status to %s", dest)
        with open(dest, "w", encoding="utf-8", newline="") as handle:
            writer = csv.DictWriter(handle, fieldnames=FIELDS)
            writer.writeheader()
            for assignment in gradebook.assignments:
                if assignments and assignment.name not in assignments:
                    continue
                for student in gradebook.students:
                    if students and student.id not in students:
                        continue
                    writer.writerow(self._row(gradebook, root, assignment, student))

    @staticmethod
    def _row(gradebook: Gradebook, root: str, assignment, student) -> dict:
        row = {"assignment": assignment.name, "duedate": assignment.duedate or "", "student_id": student.id,
               "last_name": student.last_name or "", "first_name": student.first_name or "",
               "email": student.email or "", "max_score": assignment.max_score, "timestamp": "",
               "raw_score": "", "late_submission_penalty": "", "score": "", "status": "missing", "reason": ""}
        manifest = os.path.join(root, "autograded", student.id, assignment.name, MANIFEST)
        outcome = {}
        if os.path.exists(manifest):
            with open(manifest, encoding="utf-8") as handle:
                outcome = json.load(handle).get("outcome", {})
        try:
            submission = gradebook.find_submission(assignment.name, student.id)
        except MissingEntry:
            submission = None
        if submission is not None and (not outcome or outcome.get("score") is not None):
            row.update(timestamp=submission.timestamp or "", raw_score=submission.score,
                       late_submission_penalty=submission.late_submission_penalty,
                       score=submission.score - submission.late_submission_penalty, status="graded")
        if outcome:
            row["status"] = outcome.get("status", row["status"])
            row["reason"] = outcome.get("reason", "")
        elif submission is None:
            row["reason"] = "no submission"
        return row
