"""Grade every named fake submission (mistakes and attacks) and print the tables of the closing notes.

    .venv/bin/python tests/print_tables.py [mistakes|attacks] [--dir DIR]

Uses the real pipeline (`coursegrader grade`, sandbox, replay); prints markdown: submission -> points per
test cell -> diagnoses (mistakes), and attack -> score -> status and reason -> baseline (attacks).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import nbformat

sys.path.insert(0, str(Path(__file__).resolve().parent))

from conftest import copy_course, nbgrader  # noqa: E402
from hostile_submissions import ATTACKS, BASELINES, Attack, write_submission  # noqa: E402

from coursegrader.demo import VARIANTS, build_submission  # noqa: E402


def grade(root: Path, *extra: str) -> None:
    subprocess.run([sys.executable, "-m", "coursegrader", "grade", "--root", str(root), "--seed", "20261203",
                    *extra], check=True, capture_output=True, cwd=root)


def outcomes(root: Path) -> dict[tuple[str, str], dict]:
    found = {}
    for manifest in sorted((root / "autograded").glob("*/*/.grading-manifest.json")):
        outcome = json.loads(manifest.read_text(encoding="utf-8"))["outcome"]
        found[(outcome["student"], outcome["assignment"])] = outcome
    return found


def mistakes(base: Path) -> None:
    root = copy_course(base / "mistakes")
    assignments = sorted(VARIANTS)
    for assignment in assignments:
        nbgrader(root, "generate_assignment", assignment, "--force", "--create")
        for variant, code in VARIANTS[assignment].items():
            folder = root / "submitted" / variant / assignment
            folder.mkdir(parents=True)
            nb = build_submission(root / "release" / assignment / f"{assignment}.ipynb", code)
            nbformat.write(nb, folder / f"{assignment}.ipynb")
    grade(root)
    print("| assignment | submission | points per test cell | total | diagnoses shown |")
    print("|---|---|---|---|---|")
    for (student, assignment), o in sorted(outcomes(root).items(), key=lambda kv: (kv[0][1], kv[0][0])):
        cells = ", ".join(f"{gid.split('-', 1)[1]} {c['score']:g}/{c['max']:g}" for gid, c in o["cells"].items())
        diagnoses = "; ".join(f"{gid.split('-', 1)[1]}: {', '.join(c['diagnoses'])}"
                              for gid, c in o["cells"].items() if c["diagnoses"])
        print(f"| {assignment} | {student} | {cells} | {o['score']:g}/{o['max_score']:g} | {diagnoses or '-'} |")


def attacks(base: Path) -> None:
    root = copy_course(base / "attacks")
    with (root / "nbgrader_config.py").open("a", encoding="utf-8") as handle:
        handle.write("\nc.SandboxedExecute.timeout = 4\nc.SandboxedExecute.interrupt_grace = 1.0\n"
                     "c.SandboxedExecute.memory_limit_mb = 512\n")
    nbgrader(root, "generate_assignment", "ps2", "--force", "--create")
    everyone = {**{name: Attack(code, name) for name, code in BASELINES.items()}, **ATTACKS}
    for name, attack in everyone.items():
        if "__PORT__" in attack.code:
            attack = Attack(attack.code.replace("__PORT__", "9"), attack.baseline)
        write_submission(root / "release" / "ps2" / "ps2.ipynb", root / "submitted" / name / "ps2", attack)
    hashes_before = {p: p.read_bytes() for p in (root / "submitted").rglob("*") if p.is_file()}
    grade(root, "--assignment", "ps2")
    unchanged = all(p.read_bytes() == data for p, data in hashes_before.items())
    found = {student: o for (student, _), o in outcomes(root).items()}
    print(f"submitted files byte-identical after the batch: {unchanged}")
    print("| attack | score | baseline score | status | reason recorded |")
    print("|---|---|---|---|---|")
    for name, attack in everyone.items():
        o = found.get(name)
        if o is None:
            print(f"| {name} | - | - | no outcome | - |")
            continue
        score = "-" if o["score"] is None else f"{o['score']:g}/{o['max_score'] or 20:g}"
        base_score = found[attack.baseline]["score"]
        print(f"| {name} | {score} | {base_score:g} ({attack.baseline}) | {o['status']} | {o['reason'] or '-'} |")


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("table", nargs="?", choices=["mistakes", "attacks"])
    parser.add_argument("--dir", default="/tmp/coursegrader-tables")
    args = parser.parse_args()
    base = Path(args.dir)
    shutil.rmtree(base, ignore_errors=True)
    os.environ["COURSEGRADER_EXCHANGE"] = str(base / "exchange")
    if args.table in (None, "mistakes"):
        mistakes(base)
    if args.table in (None, "attacks"):
        attacks(base)


if __name__ == "__main__":
    main()
