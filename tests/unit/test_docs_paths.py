"""Every path README.md and ARCHITECTURE.md name exists, and every `module.name` they name is
defined there: a doc that sends a reader to a file that moved is a defect."""

from __future__ import annotations

import ast
import re
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[2]
DOCS = ("README.md", "ARCHITECTURE.md", "BENCHMARKS.md")
TOP = "core|api|ingest|streams|schemas|deploy|bench|tests|zapier|docs|scripts|migrations"
# a path under a top-level directory, optionally `.name` of something defined in that module
NAMED = re.compile(rf"(?<![\w/.-])((?:{TOP})/[\w./*-]*[\w/*])")
SOURCE_SUFFIXES = {".py", ".md", ".sql", ".json", ".js", ".lua", ".xml", ".yaml", ".yml", ".toml"}


def names(doc: str) -> set[str]:
    return set(NAMED.findall((ROOT / doc).read_text()))


def defined(module: Path) -> set[str]:
    tree = ast.parse(module.read_text())
    found = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef | ast.AsyncFunctionDef | ast.ClassDef):
            found.add(node.name)
        elif isinstance(node, ast.Assign | ast.AnnAssign):
            targets = node.targets if isinstance(node, ast.Assign) else [node.target]
            found.update(t.id for t in targets if isinstance(t, ast.Name))
    return found


def generated(name: str) -> bool:
    """A file the project writes and git ignores (`bench/results/latest.json`): named by the
    docs, absent from a fresh checkout."""
    found = subprocess.run(["git", "check-ignore", "-q", name], cwd=ROOT, check=False)
    return found.returncode == 0


def missing(name: str) -> str | None:
    """Why `name` names nothing, or None."""
    if "*" in name:
        return None if list(ROOT.glob(name)) else "no file matches"
    path = ROOT / name
    if path.exists() or generated(name):
        return None
    stem, dot, attribute = name.rpartition(".")
    if dot and Path(name).suffix not in SOURCE_SUFFIXES:
        module = ROOT / f"{stem}.py"
        if not module.exists():
            return f"no module {stem}.py"
        if attribute.split(".")[0] not in defined(module):
            return f"{stem}.py defines no {attribute}"
        return None
    return "no such file or directory"


@pytest.mark.parametrize("doc", DOCS)
def test_every_path_a_doc_names_exists(doc: str) -> None:
    broken = {name: why for name in sorted(names(doc)) if (why := missing(name)) is not None}
    assert broken == {}, f"{doc} names what does not exist"
