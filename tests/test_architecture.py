"""The pure core stays pure: parsing, diffing, summarising and rendering do no I/O.

DESIGN §1: pure modules take time as an argument and never touch the network, the disk, the
database or the clock, so they can be tested and reasoned about as plain functions. This test
reads each pure module's source and fails when one imports an I/O library or reads the clock.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).parent.parent / "watcher"
PURE_MODULES = sorted(
    str(p.relative_to(PACKAGE).with_suffix("")) for p in (PACKAGE / "core").rglob("*.py")
)
FORBIDDEN_IMPORTS = {
    "apscheduler",
    "asyncio",
    "http.client",
    "http.server",
    "httpx",
    "random",
    "secrets",
    "smtplib",
    "socket",
    "sqlite3",
    "sqlite_utils",
    "subprocess",
    "threading",
    "time",
    "urllib.request",
}
FORBIDDEN_CALLS = {"open", "now", "utcnow", "today", "getenv", "read_text", "read_bytes"}


def _imports(tree: ast.AST) -> set[str]:
    """Every module imported, with each of its parents ("urllib.parse" → also "urllib")."""
    names: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            modules = [alias.name for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            modules = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
        else:
            continue
        for module in modules:
            parts = module.split(".")
            names |= {".".join(parts[: i + 1]) for i in range(len(parts))}
    return names


def _calls(tree: ast.AST) -> set[str]:
    called: set[str] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Call):
            func = node.func
            if isinstance(func, ast.Name):
                called.add(func.id)
            elif isinstance(func, ast.Attribute):
                called.add(func.attr)
    return called


@pytest.mark.parametrize("name", PURE_MODULES)
def test_pure_module_does_no_io(name: str) -> None:
    """A pure module imports no I/O library and reads neither files nor the clock."""
    tree = ast.parse((PACKAGE / f"{name}.py").read_text(encoding="utf-8"))
    assert not _imports(tree) & FORBIDDEN_IMPORTS
    assert not _calls(tree) & FORBIDDEN_CALLS


def test_checker_catches_an_impure_module(tmp_path: Path) -> None:
    """The checker itself flags an import of httpx and a call to datetime.now."""
    tree = ast.parse("import httpx\nfrom datetime import datetime\nx = datetime.now()\n")
    assert "httpx" in _imports(tree) & FORBIDDEN_IMPORTS
    assert "now" in _calls(tree) & FORBIDDEN_CALLS


def test_only_the_registry_imports_httpx() -> None:
    """httpx is imported by exactly one module, so HTTP behaviour lives in one place."""
    importers = [
        p.name
        for p in PACKAGE.rglob("*.py")
        if "httpx" in _imports(ast.parse(p.read_text(encoding="utf-8")))
    ]
    assert sorted(importers) == ["client.py", "webhook.py"]


def test_only_the_store_touches_sqlite() -> None:
    """SQLite is used by the store alone, so every write goes through its transactions."""
    importers = sorted(
        p.name
        for p in PACKAGE.rglob("*.py")
        if _imports(ast.parse(p.read_text(encoding="utf-8"))) & {"sqlite3", "sqlite_utils"}
    )
    assert importers == ["database.py", "migrations.py"]
