"""The layers hold: the core is pure, and only their own edges touch HTTP and SQLite.

docs/ARCHITECTURE.md: pure modules take time as an argument and never touch the network, the
disk, the database, the environment or the clock, so they can be tested and reasoned about as
plain functions. The checker below reads every module under `watcher/core/` (found by `rglob`, so a
new file is checked without being listed) and reports, with file and line:

- every import, at any depth (inside functions, `if TYPE_CHECKING`, try/except), absolute or
  relative, that does not resolve to `watcher.core…`, `watcher.errors` or `PURE_MODULES`;
- every reference, called or not (default arguments, attribute chains, imported names), to a
  name that only means clock, environment, file, network, process or dynamic-code access
  (`ACCESS_NAMES`, `BUILTIN_ACCESS`, `QUALIFIED_ACCESS`), and dynamic imports;
- the two ways an allowed stdlib module reads the machine anyway: `astimezone()` with no zone and
  `fromtimestamp()` without one read the local time zone, and serialising an email whose MIME
  boundary was not fixed (`set_boundary`) draws the boundary from `random`.

The planted-breach tests copy a real core module, append one breach each, and prove the checker
flags it on the appended line; the clean copy is not flagged.
"""

from __future__ import annotations

import ast
import functools
import shutil
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import pytest

ROOT = Path(__file__).parent.parent
PACKAGE = ROOT / "watcher"

# Standard-library and third-party modules the core may import: each computes on its arguments
# and reads nothing of the machine. Left out on purpose: os, sys, io, pathlib, shutil, tempfile,
# glob (files); time, zoneinfo (clock, the tz database on disk); random, secrets, uuid
# (randomness); socket, ssl, http, urllib.request, smtplib, httpx (network); sqlite3,
# sqlite_utils (database); subprocess, threading, asyncio, signal (processes); importlib,
# builtins, operator, inspect (dynamic access that hides what is reached); logging and warnings
# (their handlers write to files, the journal or stderr as configured: the core returns what
# happened and the edge logs it); contextlib (chdir, redirect_stdout).
PURE_MODULES = frozenset(
    {
        "__future__",
        "abc",
        "bisect",
        "collections",
        "collections.abc",
        "copy",
        "csv",  # writer and reader take any object with write() or an iterable: no file
        "dataclasses",
        "datetime",  # the types and arithmetic; reading the clock is an access name below
        "deepdiff",
        "difflib",
        "email.headerregistry",
        "email.message",  # serialising needs a fixed boundary, see _email_serialised
        "email.policy",
        "email.utils",  # formatdate, localtime and make_msgid are access names below
        "enum",
        "functools",
        "hashlib",  # file_digest is an access name below
        "heapq",
        "html",
        "itertools",
        "json",  # load and dump take files: access names below
        "math",
        "orjson",  # dumps and loads work on values and bytes: no file
        "re",
        "string",
        "textwrap",
        "typing",
        "unicodedata",
        "urllib.parse",
        "xml.etree.ElementTree",  # parse and iterparse open files: access names below
        "zlib",
    }
)
OWN_MODULES = ("watcher.core", "watcher.errors")

# Attribute or imported names that only ever mean reading the machine, whatever the receiver:
# `x.now` anywhere is the clock, `x.environ` the environment, `x.write_text` a file. Ordinary
# str/dict/list methods (get, replace, remove, read, write, time) are deliberately not here.
ACCESS_NAMES = {
    "clock": {"now", "utcnow", "today", "monotonic", "monotonic_ns", "perf_counter"}
    | {"perf_counter_ns", "process_time", "time_ns", "localtime", "gmtime", "formatdate"},
    "environment": {"environ", "environb", "getenv", "getenvb", "putenv", "unsetenv"},
    "file": {"read_text", "write_text", "read_bytes", "write_bytes", "mkdir", "makedirs"}
    | {"unlink", "rmdir", "rmtree", "removedirs", "touch", "exists", "is_file", "is_dir"}
    | {"iterdir", "rglob", "listdir", "scandir", "chmod", "chown", "copyfile", "copytree"}
    | {"symlink_to", "hardlink_to", "expanduser", "getcwd", "cwd", "open", "load", "dump"}
    | {"file_digest", "iterparse"},
    "network": {"socket", "urlopen", "urlretrieve", "create_connection", "getaddrinfo"}
    | {"gethostname", "gethostbyname", "getfqdn", "make_msgid"},
    "process or randomness": {"system", "popen", "Popen", "urandom", "randbytes"},
    "dynamic code": {"import_module", "__import__"},
}
# Builtins that do I/O or run code when used by name (print writes to stdout: the core returns
# text and the edge prints it).
BUILTIN_ACCESS = {
    "open": "file",
    "input": "terminal",
    "print": "terminal",
    "breakpoint": "terminal",
    "exec": "dynamic code",
    "eval": "dynamic code",
    "compile": "dynamic code",
    "__import__": "dynamic code",
    "globals": "dynamic code",
    "locals": "dynamic code",
    "vars": "dynamic code",
    "__builtins__": "dynamic code",
}
# Dotted names, resolved through the module's own import aliases, that read the machine.
QUALIFIED_ACCESS = {
    "time.time": "clock",
    "xml.etree.ElementTree.parse": "file",
    "xml.etree.ElementTree.ElementTree.write": "file",
}
DYNAMIC_ATTRIBUTE = {"getattr", "setattr", "delattr", "hasattr"}
EMAIL_SERIALISERS = {"as_bytes", "as_string"}


@dataclass(frozen=True, slots=True)
class Finding:
    """One breach: where it is, what was found, and the rule it breaks."""

    path: str
    line: int
    found: str
    rule: str

    def __str__(self) -> str:
        return f"{self.path}:{self.line}: {self.found} ({self.rule})"


def module_name(path: Path, root: Path) -> str:
    """The dotted module name of a file under `root` (`…/watcher/core/x.py` → watcher.core.x)."""
    parts = path.relative_to(root).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def _package(path: Path, root: Path) -> str:
    name = module_name(path, root)
    return name if path.name == "__init__.py" else name.rpartition(".")[0]


def _absolute(node: ast.ImportFrom, package: str) -> str:
    """The absolute module a `from … import` names, relative dots resolved against `package`."""
    if not node.level:
        return node.module or ""
    base = package.split(".")
    base = base[: len(base) - (node.level - 1)] if node.level > 1 else base
    return ".".join([*base, node.module] if node.module else base)


def imports(tree: ast.AST, package: str) -> list[tuple[int, str, tuple[str, ...]]]:
    """Every import anywhere in `tree`: (line, module, names) with names the `from` imports.

    `importlib.import_module("x")` and `__import__("x")` with a literal name count as imports
    of x, so the layer rules see them too.
    """
    found: list[tuple[int, str, tuple[str, ...]]] = []
    for node in _nodes(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name, ()) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            names = tuple(alias.name for alias in node.names)
            found.append((node.lineno, _absolute(node, package), names))
        elif (
            isinstance(node, ast.Call)
            and _called_name(node.func) in {"import_module", "__import__"}
            and node.args
            and isinstance(node.args[0], ast.Constant)
            and isinstance(node.args[0].value, str)
        ):
            found.append((node.lineno, node.args[0].value, ()))
    return found


@functools.cache
def _nodes(tree: ast.AST) -> tuple[ast.AST, ...]:
    """Every node of `tree`, walked once however many rules read it."""
    return tuple(ast.walk(tree))


def _called_name(func: ast.expr) -> str | None:
    if isinstance(func, ast.Name):
        return func.id
    if isinstance(func, ast.Attribute):
        return func.attr
    return None


def _within(module: str, allowed: frozenset[str] | tuple[str, ...]) -> bool:
    return any(module == a or module.startswith(a + ".") for a in allowed)


def _pure_import(module: str, names: tuple[str, ...]) -> bool:
    """Whether importing `module` (or `names` from it) stays inside the core and the allow-list.

    `from email import policy` imports the submodule email.policy; `from watcher import store`
    imports watcher.store: each name is judged as a submodule when its package is not allowed.
    """
    if _within(module, OWN_MODULES) or module in PURE_MODULES:
        return True
    return bool(names) and all(
        _within(f"{module}.{n}", OWN_MODULES) or f"{module}.{n}" in PURE_MODULES for n in names
    )


def _aliases(tree: ast.AST, package: str) -> dict[str, str]:
    """Local name → dotted name it was imported as, for resolving attribute chains."""
    aliases: dict[str, str] = {}
    for node in _nodes(tree):
        if isinstance(node, ast.Import):
            for alias in node.names:
                if alias.asname:
                    aliases[alias.asname] = alias.name
                else:
                    root = alias.name.partition(".")[0]
                    aliases[root] = root
        elif isinstance(node, ast.ImportFrom):
            module = _absolute(node, package)
            for alias in node.names:
                aliases[alias.asname or alias.name] = f"{module}.{alias.name}"
    return aliases


def _chain(node: ast.expr) -> list[str] | None:
    """`a.b.c` as ["a", "b", "c"]; None when the chain does not start at a plain name."""
    parts: list[str] = []
    while isinstance(node, ast.Attribute):
        parts.append(node.attr)
        node = node.value
    if not isinstance(node, ast.Name):
        return None
    return [node.id, *reversed(parts)]


def _access_kind(name: str) -> str | None:
    return next((kind for kind, names in ACCESS_NAMES.items() if name in names), None)


def core_findings(path: Path, root: Path) -> list[Finding]:
    """Every breach of core purity in one module file (`root` holds the `watcher` folder)."""
    shown = str(path.relative_to(root))
    tree = ast.parse(path.read_text(encoding="utf-8"), filename=shown)
    package = _package(path, root)
    aliases = _aliases(tree, package)
    findings: list[Finding] = []

    def flag(node: ast.AST, found: str, rule: str) -> None:
        findings.append(Finding(shown, getattr(node, "lineno", 0), found, rule))

    for line, module, names in imports(tree, package):
        if not _pure_import(module, names):
            what = f"from {module} import {', '.join(names)}" if names else f"import {module}"
            findings.append(
                Finding(
                    shown,
                    line,
                    f"`{what}`",
                    "core imports only watcher.core, watcher.errors and the pure allow-list",
                )
            )
    serialises = set_boundary = False
    for node in _nodes(tree):
        if isinstance(node, ast.ImportFrom):
            for alias in node.names:
                if kind := _access_kind(alias.name):
                    flag(node, f"imported name `{alias.name}`", f"core does no {kind} access")
        elif isinstance(node, ast.Attribute):
            if node.attr == "set_boundary":
                set_boundary = True
            if node.attr in EMAIL_SERIALISERS:
                serialises = True
            if kind := _access_kind(node.attr):
                flag(node, f"`.{node.attr}`", f"core does no {kind} access")
            chain = _chain(node)
            if chain:
                resolved = ".".join([aliases.get(chain[0], chain[0]), *chain[1:]])
                for dotted in {".".join(chain), resolved} & QUALIFIED_ACCESS.keys():
                    flag(node, f"`{dotted}`", f"core does no {QUALIFIED_ACCESS[dotted]} access")
        elif isinstance(node, ast.Name):
            if node.id in BUILTIN_ACCESS:
                flag(node, f"`{node.id}`", f"core does no {BUILTIN_ACCESS[node.id]} access")
            elif (kind := _access_kind(node.id)) and node.id in aliases:
                flag(node, f"`{node.id}`", f"core does no {kind} access")
        elif isinstance(node, ast.Call):
            name = _called_name(node.func)
            keywords = {k.arg for k in node.keywords}
            if name in DYNAMIC_ATTRIBUTE and len(node.args) > 1:
                attribute = node.args[1]
                if not isinstance(attribute, ast.Constant) or not isinstance(attribute.value, str):
                    flag(node, f"`{name}` with a computed name", "core names what it accesses")
                elif kind := _access_kind(attribute.value):
                    flag(node, f"`{name}(…, {attribute.value!r})`", f"core does no {kind} access")
            if name == "astimezone" and not node.args and "tz" not in keywords:
                flag(node, "`astimezone()` without a zone", "core does not read the local zone")
            if name == "fromtimestamp" and len(node.args) < 2 and "tz" not in keywords:
                flag(node, "`fromtimestamp()` without a zone", "core does not read the local zone")
    if serialises and not set_boundary:
        line = next(
            n.lineno
            for n in _nodes(tree)
            if isinstance(n, ast.Attribute) and n.attr in EMAIL_SERIALISERS
        )
        findings.append(
            Finding(
                shown,
                line,
                "an email serialised without `set_boundary`",
                "core draws nothing from random: email.generator picks a random MIME boundary",
            )
        )
    return sorted(findings, key=lambda f: (f.line, f.found))


@functools.cache
def _parse(text: str) -> ast.Module:
    """The syntax tree of a module's text (cached: the layer tests read the package often)."""
    return ast.parse(text)


def importers(root: Path, modules: set[str]) -> dict[str, list[int]]:
    """Package file → lines where it imports one of `modules` (or a submodule), at any depth."""
    found: dict[str, list[int]] = {}
    for path in sorted((root / "watcher").rglob("*.py")):
        tree = _parse(path.read_text(encoding="utf-8"))
        lines = [
            line
            for line, module, _ in imports(tree, _package(path, root))
            if module.partition(".")[0] in modules
        ]
        if lines:
            found[path.relative_to(root).as_posix()] = lines
    return found


HTTPX_HOMES = ("watcher/registry/", "watcher/delivery/webhook.py")
SQLITE_HOMES = ("watcher/store/",)


def misplaced(root: Path, modules: set[str], homes: tuple[str, ...]) -> list[str]:
    """Each import of `modules` outside `homes`, as 'file:line'."""
    return [
        f"{path}:{line}"
        for path, lines in importers(root, modules).items()
        if not path.startswith(homes)
        for line in lines
    ]


CORE_FILES = sorted((PACKAGE / "core").rglob("*.py"))


def test_every_core_file_is_checked() -> None:
    """The walk finds every Python file under watcher/core/, packages and subfolders included."""
    names = {p.relative_to(PACKAGE).as_posix() for p in CORE_FILES}
    assert {"core/__init__.py", "core/fidelity.py"} <= names
    assert any(p.parent != PACKAGE / "core" for p in CORE_FILES), "no subfolder walked"


@pytest.mark.parametrize("path", CORE_FILES, ids=lambda p: p.relative_to(PACKAGE).as_posix())
def test_core_module_is_pure(path: Path) -> None:
    """A core module imports only core, errors and pure modules, and reads nothing of the host."""
    findings = core_findings(path, ROOT)
    assert not findings, "\n".join(map(str, findings))


def _sample_core_module() -> Path:
    """A real core module to plant breaches in: the largest one, whatever the folders are now."""
    return max(CORE_FILES, key=lambda p: (p.stat().st_size, str(p)))


def _planted(tmp_path: Path, addition: str) -> tuple[Path, int]:
    """A copy of the sample module under tmp_path/watcher/…, with `addition` appended.

    Returns the copy and the number of lines before the addition; the addition may use
    `{up}` for the relative-import dots that reach the `watcher` package from the copy.
    """
    source = _sample_core_module()
    copy = tmp_path / source.relative_to(ROOT)
    copy.parent.mkdir(parents=True)
    text = source.read_text(encoding="utf-8")
    up = "." * len(_package(copy, tmp_path).split("."))
    copy.write_text(text + "\n" + addition.format(up=up), encoding="utf-8")
    return copy, text.count("\n") + 1


BREACHES = {
    # The five a reviewer planted and the old test let through.
    "environment": ("import os\nHOME = os.environ['HOME']\n", ["`import os`", "`.environ`"]),
    "clock as a default argument": (
        "def stamp(at: datetime = datetime.now()) -> datetime:\n    return at\n",
        ["`.now`"],
    ),
    "file write": (
        "from pathlib import Path\n\ndef save(text: str) -> None:\n"
        "    Path('out.txt').write_text(text)\n",
        ["`from pathlib import Path`", "`.write_text`"],
    ),
    "tree removal": (
        "import shutil\n\ndef wipe(p: str) -> None:\n    shutil.rmtree(p)\n",
        ["`import shutil`", "`.rmtree`"],
    ),
    "store import": ("from watcher.store import Store\n", ["`from watcher.store import Store`"]),
    # Variants the old checker also missed.
    "environment without the import": ("HOME = os.environ['HOME']\n", ["`.environ`"]),
    "clock referenced, not called": (
        "def stamp(clock=datetime.utcnow):\n    return clock()\n",
        ["`.utcnow`"],
    ),
    "file method referenced, not called": ("WRITE = Path.write_text\n", ["`.write_text`"]),
    "relative store import": ("from {up}store import database\n", ["watcher.store"]),
    "relative package import": ("from {up} import store\n", ["`from watcher import store`"]),
    "import inside a function": (
        "def host() -> str:\n    import socket\n    return socket.gethostname()\n",
        ["`import socket`", "`.gethostname`"],
    ),
    "import under TYPE_CHECKING": (
        "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n    import httpx\n",
        ["`import httpx`"],
    ),
    "import in try/except": (
        "try:\n    import sqlite3\nexcept ImportError:\n    sqlite3 = None\n",
        ["`import sqlite3`"],
    ),
    "importlib": ("import importlib\nmod = importlib.import_module('os')\n", ["`.import_module`"]),
    "__import__": ("mod = __import__('os')\n", ["`__import__`", "`import os`"]),
    "getattr of the clock": ("clock = getattr(datetime, 'now')\n", ["getattr"]),
    "getattr with a computed name": ("clock = getattr(datetime, 'n' + 'ow')\n", ["computed"]),
    "time.time without the import": ("START = time.time()\n", ["`time.time`"]),
    "monotonic imported by name": ("from time import monotonic\n", ["`monotonic`"]),
    "today": ("from datetime import date\nTODAY = date.today()\n", ["`.today`"]),
    "getenv": ("LANG = os.getenv('LANG')\n", ["`.getenv`"]),
    "builtin open": ("def load() -> str:\n    return open('f').read()\n", ["`open`"]),
    "print": ("def show(x: str) -> None:\n    print(x)\n", ["`print`"]),
    "input": ("ANSWER = input()\n", ["`input`"]),
    "eval": ("X = eval('1 + 1')\n", ["`eval`"]),
    "exec": ("exec('x = 1')\n", ["`exec`"]),
    "logging": ("import logging\nlogging.getLogger(__name__).info('x')\n", ["`import logging`"]),
    "random": ("import random\nJITTER = random.random()\n", ["`import random`"]),
    "read_text": ("def read(p) -> str:\n    return p.read_text()\n", ["`.read_text`"]),
    "mkdir and unlink": (
        "def f(p) -> None:\n    p.mkdir()\n    p.unlink()\n",
        ["`.mkdir`", "`.unlink`"],
    ),
    "urlopen": ("from urllib.request import urlopen\n", ["urllib.request", "`urlopen`"]),
    "ElementTree.parse": (
        "from xml.etree import ElementTree as TREE\nDOC = TREE.parse('f.xml')\n",
        ["`xml.etree.ElementTree.parse`"],
    ),
    "make_msgid": ("from email.utils import make_msgid\n", ["`make_msgid`"]),
    "json.load": ("def read(f) -> object:\n    return json.load(f)\n", ["`.load`"]),
    "local time zone": ("def local(d):\n    return d.astimezone()\n", ["astimezone"]),
    "email without a fixed boundary": (
        "def wire(m) -> bytes:\n    return m.as_bytes()\n",
        ["set_boundary"],
    ),
}


@pytest.mark.parametrize(("addition", "expected"), BREACHES.values(), ids=list(BREACHES))
def test_a_planted_breach_is_caught(tmp_path: Path, addition: str, expected: list[str]) -> None:
    """A real core module with one breach appended is flagged on the appended lines."""
    copy, clean_lines = _planted(tmp_path, addition)
    findings = core_findings(copy, tmp_path)
    assert findings, f"nothing flagged for {addition!r}"
    assert all(f.line > clean_lines for f in findings), "\n".join(map(str, findings))
    shown = "\n".join(map(str, findings))
    for text in expected:
        assert text in shown, shown
    assert all(str(copy.relative_to(tmp_path)) in str(f) for f in findings)


def test_a_clean_copy_is_not_flagged(tmp_path: Path) -> None:
    """The same real core module, copied with nothing appended, has no finding."""
    copy, _ = _planted(tmp_path, "")
    assert core_findings(copy, tmp_path) == []


def test_findings_name_the_file_line_thing_and_rule(tmp_path: Path) -> None:
    """A finding reads 'path:line: what (rule)', so the failure says where to look and why."""
    copy, lines = _planted(tmp_path, "import os\n")
    [finding] = core_findings(copy, tmp_path)
    assert str(finding) == (
        f"{copy.relative_to(tmp_path)}:{lines + 1}: `import os` "
        "(core imports only watcher.core, watcher.errors and the pure allow-list)"
    )


def test_only_the_registry_and_the_webhook_transport_import_httpx() -> None:
    """httpx lives in the registry client (and at most the webhook transport), nowhere else."""
    assert misplaced(ROOT, {"httpx"}, HTTPX_HOMES) == []
    assert any(p.startswith("watcher/registry/") for p in importers(ROOT, {"httpx"}))


def test_only_the_store_touches_sqlite() -> None:
    """SQLite is used by the store alone, so every write goes through its transactions."""
    assert misplaced(ROOT, {"sqlite3", "sqlite_utils"}, SQLITE_HOMES) == []
    assert any(p.startswith("watcher/store/") for p in importers(ROOT, {"sqlite3"}))


PLANTED_IMPORTERS = {
    "httpx in the service": ("watcher/service/planted.py", "import httpx\n", {"httpx"}),
    "httpx inside a function in delivery": (
        "watcher/delivery/planted.py",
        "def post() -> None:\n    from httpx import Client\n",
        {"httpx"},
    ),
    "sqlite3 in the cli": (
        "watcher/cli/planted.py",
        "import sqlite3\n",
        {"sqlite3", "sqlite_utils"},
    ),
    "sqlite_utils submodule in the core": (
        "watcher/core/planted.py",
        "from sqlite_utils.db import Database\n",
        {"sqlite3", "sqlite_utils"},
    ),
    "sqlite3 by importlib": (
        "watcher/registry/planted.py",
        "import importlib\nDB = importlib.import_module('sqlite3')\n",
        {"sqlite3", "sqlite_utils"},
    ),
}


@pytest.mark.parametrize(
    ("where", "source", "modules"), PLANTED_IMPORTERS.values(), ids=list(PLANTED_IMPORTERS)
)
def test_a_planted_importer_outside_its_layer_is_caught(
    tmp_path: Path, where: str, source: str, modules: set[str]
) -> None:
    """A copy of the package with one stray httpx or SQLite importer fails the layer rule."""
    for source_file in PACKAGE.rglob("*.py"):
        copy = tmp_path / source_file.relative_to(ROOT)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source_file, copy)
    homes = HTTPX_HOMES if modules == {"httpx"} else SQLITE_HOMES
    (tmp_path / where).write_text(source, encoding="utf-8")
    assert [m.rpartition(":")[0] for m in misplaced(tmp_path, modules, homes)] == [where]


# Which layer may import which (docs/ARCHITECTURE.md): imports point down, towards the core.
# "watcher" is the package itself (its `__version__`).
LAYERS: dict[str, frozenset[str]] = {
    "core": frozenset({"core", "errors"}),
    "errors": frozenset(),
    "data": frozenset({"core"}),
    "config": frozenset({"watcher", "core", "errors"}),
    "registry": frozenset({"core", "errors"}),
    "store": frozenset({"core", "errors"}),
    "delivery": frozenset({"core", "errors", "config", "store"}),
    "service": frozenset(
        {"watcher", "core", "errors", "config", "data", "registry", "store", "delivery"}
    ),
    "web": frozenset({"core", "errors", "config", "data", "store", "delivery", "service"}),
    "cli": frozenset(
        {
            "watcher",
            "core",
            "errors",
            "config",
            "data",
            "registry",
            "store",
            "delivery",
            "service",
            "web",
        }
    ),
    "__main__": frozenset({"cli"}),
}


def _layer(module: str) -> str:
    """`watcher.service.poll` → "service"; the package itself → "watcher"."""
    parts = module.split(".")
    return parts[1] if len(parts) > 1 else "watcher"


def package_imports(root: Path) -> dict[str, set[str]]:
    """Each module of the package under `root`, with the package modules it imports
    (`from watcher.service import check` imports `watcher.service.check`)."""
    paths = sorted((root / "watcher").rglob("*.py"))
    names = {module_name(path, root) for path in paths}
    graph: dict[str, set[str]] = {}
    for path in paths:
        tree = _parse(path.read_text(encoding="utf-8"))
        targets: set[str] = set()
        for _, module, imported in imports(tree, _package(path, root)):
            if module.split(".")[0] == "watcher":
                submodules = {f"{module}.{name}" for name in imported} & names
                targets |= submodules or {module}
        graph[module_name(path, root)] = targets
    return graph


def layer_breaches(root: Path) -> list[str]:
    """ "module → imported module" for every import that points up or sideways."""
    return [
        f"{module} → {target}"
        for module, targets in package_imports(root).items()
        for target in sorted(targets)
        if _layer(target) != _layer(module) and _layer(target) not in LAYERS[_layer(module)]
    ]


def import_cycles(root: Path) -> list[list[str]]:
    """Every cycle of module imports inside the package, found by depth-first search."""
    graph = package_imports(root)
    state: dict[str, str] = {}
    cycles: list[list[str]] = []

    def visit(module: str, path: list[str]) -> None:
        state[module] = "open"
        for target in sorted(graph[module] & graph.keys()):
            if state.get(target) == "open":
                cycles.append([*path[path.index(target) :], target])
            elif target not in state:
                visit(target, [*path, target])
        state[module] = "done"

    for module in sorted(graph):
        if module not in state:
            visit(module, [module])
    return cycles


def test_layers_import_only_towards_the_core() -> None:
    """No layer imports one above it: the core nothing, the edges the core, cli nobody."""
    assert layer_breaches(ROOT) == []


def test_there_is_no_import_cycle() -> None:
    """No module reaches itself through its imports."""
    assert import_cycles(ROOT) == []


def test_an_upward_import_and_a_cycle_are_caught(tmp_path: Path) -> None:
    """A store module importing the service layer breaks the layer rule and makes a cycle."""
    for source_file in PACKAGE.rglob("*.py"):
        copy = tmp_path / source_file.relative_to(ROOT)
        copy.parent.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(source_file, copy)
    rows = tmp_path / "watcher" / "store" / "rows.py"
    rows.write_text(rows.read_text(encoding="utf-8") + "\nfrom watcher.service import check\n")
    assert layer_breaches(tmp_path) == ["watcher.store.rows → watcher.service.check"]
    assert any("watcher.store.rows" in cycle for cycle in import_cycles(tmp_path))


def test_core_email_is_the_same_bytes_every_time() -> None:
    """Building and serialising one email twice gives the same bytes: no hidden randomness."""
    from watcher.core.message import build_email, wire_bytes

    def render() -> bytes:
        message = build_email(
            sender="trialwatch@example.org",
            to="reader@example.org",
            subject="NCT00000000 changed",
            text="A change.",
            html="<p>A change.</p>",
            key="k1",
            date=datetime(2024, 1, 2, 3, 4, 5, tzinfo=UTC),
        )
        return wire_bytes(message)

    assert render() == render()
