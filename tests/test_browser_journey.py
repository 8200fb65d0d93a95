"""A student and the instructor in JupyterLab 4, driven by Playwright in Debian's Chromium.

Student (Japanese UI): Nbgrader > Assignment List -> Fetch -> open the notebook -> type an answer into
a solution cell -> save -> Validate -> Submit. Instructor: `nbgrader collect` + `nbgrader autograde`
(CLI), then formgrader in JupyterLab shows the student's score; the Japanese language pack is listed
in the instructor's Settings > Language menu.

Everything happens in a temporary copy of the course (config, source/, release/) with its own
gradebook and exchange; the servers are started by coursegrader.lab, the code behind `make lab`.
Screenshots of every step: test-artifacts/browser/NN-step.png. Needs `make browser-deps`.
"""
from __future__ import annotations

import json
import os
import secrets
import sys
import time
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent / "browser"))
import journey_helpers as jh  # noqa: E402

from coursegrader import lab  # noqa: E402

ASSIGNMENT = "ps1"
STUDENT = "s001"
COURSE_ID = lab.COURSE_ID


def _require_browser():
    problems = []
    try:
        import playwright.sync_api  # noqa: F401
    except ImportError:
        problems.append("Python package playwright is not installed")
    if not os.access(jh.CHROMIUM, os.X_OK):
        problems.append(f"{jh.CHROMIUM} not found")
    if not lab.language_pack_installed():
        problems.append("jupyterlab-language-pack-ja-JP is not installed")
    if problems:
        message = "; ".join(problems) + " (run `make browser-deps` and `make venv`)"
        if os.environ.get("CI"):
            pytest.fail(message)  # in CI a missing browser is a failure, not a silent skip
        pytest.skip(message)


@pytest.fixture
def journey(tmp_path):
    """Course copy released to a tmp exchange, a student's and the instructor's JupyterLab running."""
    _require_browser()
    exchange = tmp_path / "exchange"
    course, real_notebook = jh.copy_course(tmp_path / "course", ASSIGNMENT)
    env = jh.course_env(exchange)
    jh.nbgrader(course, env, "generate_assignment", ASSIGNMENT, "--force")
    jh.nbgrader(course, env, "release_assignment", ASSIGNMENT, "--force")
    assert (exchange / COURSE_ID / "outbound" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").is_file()

    servers = jh.Servers(tmp_path)
    launches = {}
    ports = {"student": lab.free_port()}
    ports["instructor"] = jh.wait_for(lambda: (p := lab.free_port()) != ports["student"] and p, message="a second port")
    try:
        for role in ("student", "instructor"):
            launches[role] = lab.prepare(
                role,
                student_id=STUDENT,
                course_root=course,
                lab_dir=tmp_path / "lab",
                exchange=exchange,
                ip="127.0.0.1",
                port=ports[role],
                token=secrets.token_hex(16),
                open_browser=False,
            )
            launches[role].env["PATH"] = env["PATH"]
            launches[role].env.pop("COURSEGRADER_DB_URL", None)  # never the repository's gradebook
            servers.start(launches[role])
        servers.wait_all(timeout=120)
        yield {
            "course": course,
            "exchange": exchange,
            "env": env,
            "real_notebook": real_notebook,
            "student": launches["student"],
            "instructor": launches["instructor"],
            "servers": servers,
        }
    finally:
        servers.stop_all()


def test_lab_launcher_student_and_instructor_setup(tmp_path, monkeypatch):
    """What `make lab` writes and runs, without starting a server (fast)."""
    monkeypatch.delenv("COURSEGRADER_EXCHANGE", raising=False)
    course = tmp_path / "course"
    course.mkdir()
    (course / "nbgrader_config.py").write_text("c = get_config()\n", encoding="utf-8")
    student = lab.prepare("student", student_id="s042", course_root=course, port=18000, token="t")
    home = course / "build" / "lab" / "student-s042"
    assert student.root_dir == home and student.cwd == home
    assert student.url == "http://127.0.0.1:18000/lab?token=t"
    config = (home / "nbgrader_config.py").read_text(encoding="utf-8")
    assert "c.CourseDirectory.student_id = 's042'" in config
    assert f"c.Exchange.root = {str(course / 'exchange')!r}" in config
    assert "c.CourseDirectory.course_id = 'm32'" in config
    settings = home / ".jupyter" / "lab" / "app-settings"
    overrides = json.loads((settings / "overrides.json").read_text(encoding="utf-8"))
    assert overrides["@jupyterlab/translation-extension:plugin"] == {"locale": "ja_JP"}
    disabled = json.loads((settings / "page_config.json").read_text(encoding="utf-8"))["disabledExtensions"]
    assert "@jupyter/nbgrader:formgrader" in disabled and "@jupyter/nbgrader:assignment-list" not in disabled
    assert f"--ServerApp.root_dir={home}" in student.argv and "--ServerApp.open_browser=False" in student.argv

    teacher = lab.prepare("instructor", course_root=course, port=18001, token="t", locale="ja_JP")
    assert teacher.root_dir == course.resolve() and teacher.env["COURSEGRADER_EXCHANGE"] == str(course / "exchange")
    t_settings = course / "build" / "lab" / "instructor" / ".jupyter" / "lab" / "app-settings"
    assert json.loads((t_settings / "page_config.json").read_text(encoding="utf-8"))["disabledExtensions"] == []
    with pytest.raises(ValueError):
        lab.prepare("student", student_id="a+b", course_root=course)


# The course's grading sandbox allows one process per worker slot on the whole machine; the journey's
# autograde takes a slot of its own so that it never waits for (or blocks) another test's sandbox.
JOURNEY_SANDBOX_SLOT = 180


def _sandbox_slot_args() -> list[str]:
    try:
        from coursegrader.execute import SandboxedExecute
    except ImportError:
        return []
    if "slot" not in SandboxedExecute.class_trait_names():
        return []
    return [f"--SandboxedExecute.slot={JOURNEY_SANDBOX_SLOT}"]


def _open_lab(page, launch):
    page.goto(launch.url, wait_until="domcontentloaded")
    page.wait_for_selector("#jp-main-dock-panel", state="attached", timeout=90_000)
    page.locator(".lm-MenuBar-item").first.wait_for(timeout=60_000)


def _run_code_cell(page, cell, attempts: int = 3):
    """Select a code cell by its prompt and run it (Ctrl+Enter) until it shows an execution count.

    A run right after the notebook opens can get lost while the kernel connects; a student would
    simply run the cell again, and so do we. Markdown cells are left as they are (already rendered).
    """
    import re

    from playwright.sync_api import expect

    if "jp-CodeCell" not in (cell.get_attribute("class") or ""):
        return
    prompt = cell.locator(".jp-InputPrompt").first
    for attempt in range(attempts):
        prompt.click()
        page.keyboard.press("Control+Enter")
        try:
            expect(prompt).to_have_text(re.compile(r"\[\d+\]"), timeout=30_000)
            return
        except AssertionError:
            if attempt == attempts - 1:
                raise


def _nbgrader_menu(page, command: str):
    page.locator(".lm-MenuBar-item", has_text="Nbgrader").click()
    page.locator(f'.lm-Menu li[data-command="{command}"]').click()


@pytest.mark.slow
@pytest.mark.timeout(420)
def test_student_and_instructor_journey(journey):
    from playwright.sync_api import expect, sync_playwright

    started = time.monotonic()
    shots = jh.Shots()
    student, instructor = journey["student"], journey["instructor"]
    course, exchange = journey["course"], journey["exchange"]
    student_home = student.root_dir
    answer = jh.solution_answer(
        course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
        course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb",
    )
    expect.set_options(timeout=30_000)

    with sync_playwright() as pw:
        browser = pw.chromium.launch(executable_path=jh.CHROMIUM, headless=True, args=jh.CHROMIUM_ARGS)
        page = None
        try:
            # ---------------- student ----------------
            ctx = browser.new_context(viewport={"width": 1400, "height": 900}, locale="ja-JP")
            page = ctx.new_page()
            _open_lab(page, student)
            # The Japanese language pack is the student's default: the menu bar is in Japanese.
            expect(page.locator(".lm-MenuBar-item", has_text="ファイル")).to_be_visible()
            expect(page.locator(".lm-MenuBar-item", has_text="カーネル")).to_be_visible()
            shots(page, "student-lab-japanese")

            # Assignments tab (nbgrader's assignment list), only the student's entries in the menu.
            page.locator(".lm-MenuBar-item", has_text="Nbgrader").click()
            expect(page.locator('.lm-Menu li[data-command="nbgrader:open-assignment-list"]')).to_be_visible()
            expect(page.locator('.lm-Menu li[data-command="nbgrader:open-formgrader"]')).to_be_hidden()
            page.locator('.lm-Menu li[data-command="nbgrader:open-assignment-list"]').click()
            released = page.locator("#released_assignments_list > .list_item", has_text=ASSIGNMENT)
            expect(released).to_be_visible()
            expect(released).to_contain_text(COURSE_ID)
            shots(page, "student-assignments-tab")

            # Fetch
            released.get_by_role("button", name="Fetch").click()
            fetched = page.locator("#fetched_assignments_list > .list_item", has_text=ASSIGNMENT)
            expect(fetched).to_be_visible()
            nb_path = student_home / COURSE_ID / ASSIGNMENT / f"{ASSIGNMENT}.ipynb"
            jh.wait_for(nb_path.is_file, message=f"{nb_path} fetched")
            fetched.locator("a.assignment-notebooks-link").click()
            nb_link = fetched.locator(".nested_list_item a", has_text=ASSIGNMENT)
            expect(nb_link).to_be_visible()
            shots(page, "student-fetched")

            # Open the notebook
            nb_link.click()
            panel = page.locator(".jp-NotebookPanel:visible")
            cell = panel.locator(".jp-Notebook .jp-Cell").nth(answer.cell_index)
            expect(cell).to_be_attached()
            cell.scroll_into_view_if_needed()
            expect(cell.locator(".cm-content")).to_contain_text("NotImplementedError")
            expect(panel.locator(".jp-Toolbar-kernelStatus, .jp-Notebook-ExecutionIndicator").first).to_be_attached()
            shots(page, "student-notebook-open")

            # Run the notebook's cells from the top down to its first figure, as a student does: the
            # Japanese title and labels come out with real glyphs, no "Glyph ... missing" warning.
            fig_index = jh.figure_cell(course / "release" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb")
            if fig_index is not None:
                cells = panel.locator(".jp-Notebook .jp-Cell")
                expect(page.locator(".jp-Notebook-ExecutionIndicator").first).to_have_attribute(
                    "data-status", "idle", timeout=60_000)  # the kernel is up before the first run
                for i in range(fig_index + 1):
                    _run_code_cell(page, cells.nth(i))
                figure = cells.nth(fig_index)
                expect(figure.locator(".jp-OutputArea-output img")).to_be_visible(timeout=90_000)
                figure.scroll_into_view_if_needed()
                stderr = panel.locator('.jp-OutputArea-output[data-mime-type="application/vnd.jupyter.stderr"]')
                for text in stderr.all_inner_texts():
                    assert "missing from font" not in text and "Glyph" not in text, text
                shots(page, "student-japanese-figure")
                cell.scroll_into_view_if_needed()

            # Type the answer into the solution cell, replacing the stub, and save.
            cell.locator(".cm-content").click()
            page.keyboard.press("Control+a")
            page.keyboard.insert_text(answer.code)
            page.keyboard.press("Escape")
            expect(cell.locator(".cm-content")).not_to_contain_text("NotImplementedError")
            page.keyboard.press("Control+s")

            def saved_cell():
                try:
                    saved = json.loads(nb_path.read_text(encoding="utf-8"))
                except (OSError, ValueError):
                    return None
                src = saved["cells"][answer.cell_index]["source"]
                src = "".join(src) if isinstance(src, list) else src
                return src if "NotImplementedError" not in src else None

            saved_src = jh.wait_for(saved_cell, message="the answer saved to disk")
            assert saved_src.strip() == answer.code.strip()
            shots(page, "student-answer-typed")

            # Validate (nbgrader's toolbar button): the dialog reports the result.
            panel.locator(".jp-Toolbar").get_by_text("Validate", exact=True).click()
            dialog = page.locator(".jp-Dialog")
            expect(dialog).to_be_visible(timeout=180_000)
            expect(dialog).to_contain_text("Validation Results")
            dialog_text = dialog.inner_text()
            if not journey["real_notebook"]:
                assert "Success! Your notebook passes all the tests." in dialog_text, dialog_text
            # Other exercises are still stubs and may fail; the test cell of the answered one must not.
            own_test = jh.first_test_line_after(course / "source" / ASSIGNMENT / f"{ASSIGNMENT}.ipynb", answer.grade_id)
            assert own_test and own_test not in dialog_text, dialog_text
            shots(page, "student-validated")
            dialog.get_by_role("button", name="OK").click()
            expect(dialog).to_have_count(0)

            # Submit from the Assignments tab (saved once more: Validate may leave the notebook marked dirty).
            page.keyboard.press("Control+s")
            expect(page.locator(".lm-TabBar-tab.jp-mod-dirty")).to_have_count(0)
            page.locator(".lm-TabBar-tab", has_text="Assignments").click()
            fetched.get_by_role("button", name="Submit").click()
            submitted = page.locator("#submitted_assignments_list > .list_item", has_text=ASSIGNMENT)
            expect(submitted).to_be_visible(timeout=60_000)
            inbound = exchange / COURSE_ID / "inbound"
            jh.wait_for(lambda: list(inbound.glob(f"{STUDENT}+{ASSIGNMENT}+*")), message="submission in the exchange")
            shots(page, "student-submitted")
            ctx.close()

            # ---------------- instructor ----------------
            env = journey["env"]
            jh.nbgrader(course, env, "collect", ASSIGNMENT)
            assert (course / "submitted" / STUDENT / ASSIGNMENT / f"{ASSIGNMENT}.ipynb").is_file()
            jh.nbgrader(course, env, "autograde", ASSIGNMENT, "--force", *_sandbox_slot_args())

            from nbgrader.api import Gradebook

            with Gradebook(f"sqlite:///{course / 'gradebook.db'}") as gb:
                submission = gb.find_submission(ASSIGNMENT, STUDENT)
                score, max_score = submission.score, submission.max_score
            assert max_score > 0
            assert score > 0, f"the typed answer ({answer.grade_id}) earned no points: {score} / {max_score}"
            expected = f"{jh.js_number(score)} / {jh.js_number(max_score)}"

            ctx = browser.new_context(viewport={"width": 1400, "height": 900}, locale="en-US")
            page = ctx.new_page()
            _open_lab(page, instructor)
            expect(page.locator(".lm-MenuBar-item", has_text="File")).to_be_visible()
            _nbgrader_menu(page, "nbgrader:open-formgrader")
            frame = page.frame_locator(".jp-MainAreaWidget:visible iframe").first
            expect(frame.get_by_role("link", name="Manage Students")).to_be_visible(timeout=60_000)
            frame.get_by_role("link", name="Manage Assignments").click()
            row = frame.locator("tbody tr", has_text=ASSIGNMENT).first
            expect(row).to_contain_text("released")
            shots(page, "instructor-formgrader-assignments")

            frame.get_by_role("link", name="Manage Students").click()
            row = frame.locator("tbody tr", has_text=STUDENT)
            expect(row).to_be_visible()
            expect(row.locator("td.score")).to_have_text(expected)
            shots(page, "instructor-formgrader-score")

            # The Japanese pack is installed and selectable for the instructor too.
            page.locator(".lm-MenuBar-item", has_text="Settings").click()
            page.locator(".lm-Menu .lm-Menu-item", has_text="Language").hover()
            ja = page.locator(".lm-Menu .lm-Menu-item", has_text="日本語")
            expect(ja).to_be_visible()
            shots(page, "instructor-language-menu")
            # ... and selecting it switches the whole UI to Japanese after the reload JupyterLab asks for.
            ja.click()
            page.locator(".jp-Dialog").get_by_role("button", name="Change and reload").click()
            page.wait_for_load_state("domcontentloaded")
            expect(page.locator(".lm-MenuBar-item", has_text="ファイル")).to_be_visible(timeout=90_000)
            expect(page.locator(".lm-MenuBar-item", has_text="設定")).to_be_visible()
            expect(page.locator(".jp-DirListing-item", has_text="gradebook.db")).to_be_visible()
            shots(page, "instructor-japanese-selected")
            ctx.close()
        except Exception:
            if page is not None and not page.is_closed():
                try:
                    shots(page, "failure")
                except Exception:  # noqa: BLE001
                    pass
            print(journey["servers"].log_tails())
            raise
        finally:
            browser.close()

    elapsed = time.monotonic() - started
    print(f"browser journey: {elapsed:.1f}s, screenshots: {[p.name for p in shots.taken]}")
    assert elapsed < 240, f"browser journey too slow: {elapsed:.0f}s"
