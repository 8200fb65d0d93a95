"""Autograding for "Math for Medical AI — M3.2 偏微分", on nbgrader.

The pipeline, one stage per module: ``cli`` (author → release), ``execute`` + ``sandbox`` + ``kernel``
(execute, isolated), ``judge`` + ``messages`` (judge, in Japanese), ``feedback``, ``batch`` + ``report`` +
``export`` (the class, the teacher's report, grades). ``demo`` holds the fake students.
"""
