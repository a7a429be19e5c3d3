"""The interpreter is pure (DESIGN §2): it imports nothing from the bus, store, roles, API,
runtime or runner, no I/O library, and reads neither the environment nor a clock.

Imports are read with :mod:`ast` from every module under ``flunq/interpreter`` (nested
imports included, ``TYPE_CHECKING`` ones too). Nothing from ``flunq.effects`` either: the
executor side may import the workflow side, never the reverse.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "flunq"
INTERPRETER = PACKAGE / "interpreter"

FORBIDDEN_FLUNQ = ("flunq.bus", "flunq.store", "flunq.roles", "flunq.api", "flunq.runtime", "flunq.runner", "flunq.cli")
ALLOWED_EFFECTS: frozenset[str] = frozenset()
#: I/O, concurrency, clocks and randomness: none belongs in a deterministic interpreter.
IO_MODULES = (
    "httpx", "redis", "sqlite3", "asyncio", "socket", "subprocess", "os", "shutil", "pathlib",
    "io", "tempfile", "threading", "multiprocessing", "concurrent", "selectors", "ssl",
    "http.client", "http.server", "urllib.request", "requests", "aiohttp", "psycopg",
    "psycopg2", "asyncpg", "nats", "aio_pika", "aiokafka", "starlette", "uvicorn", "logging",
    "structlog", "time", "random", "secrets", "importlib", "signal", "ctypes", "pickle",
    "glob", "fcntl", "mmap", "sys",
)
FORBIDDEN_CALLS = frozenset({"open", "input", "print", "exec", "eval", "compile", "__import__", "breakpoint"})
FORBIDDEN_ATTRIBUTES = frozenset(
    {"environ", "getenv", "putenv", "system", "popen", "now", "utcnow", "today", "uuid1", "uuid4", "time_ns"}
)
#: (module, function) allowed to read the clock: a helper for callers *outside* the interpreter.
CLOCK_ALLOWED = frozenset({("flunq.interpreter.times", "now_iso")})


@dataclass(frozen=True)
class Import:
    module: str  # absolute dotted name
    line: int
    type_checking: bool


def module_name(path: Path) -> str:
    parts = list(path.relative_to(ROOT).with_suffix("").parts)
    if parts[-1] == "__init__":
        parts.pop()
    return ".".join(parts)


def interpreter_modules() -> list[Path]:
    return sorted(INTERPRETER.rglob("*.py"))


def _is_type_checking(test: ast.expr) -> bool:
    return (isinstance(test, ast.Name) and test.id == "TYPE_CHECKING") or (
        isinstance(test, ast.Attribute) and test.attr == "TYPE_CHECKING"
    )


def _resolve(name: str, node: ast.ImportFrom) -> str:
    """The absolute module of a (possibly relative) ``from ... import``."""
    if not node.level:
        return node.module or ""
    # ``name`` is ``pkg.module`` or, for a package's own code, ``pkg.__init__``
    package = name.split(".")[:-1]
    anchor = package[: len(package) - node.level + 1]
    return ".".join(anchor + ([node.module] if node.module else []))


def imports_of(source: str, name: str, is_package: bool = False, *, at_import: bool = False) -> Iterator[Import]:
    """Every import of a module's source, with absolute names (``from a import b`` gives
    ``a`` and ``a.b``, as ``b`` may be a submodule). ``at_import``: only those that run
    when the module is imported (not inside functions)."""
    tree = ast.parse(source)
    guarded: set[int] = set()
    deferred: set[int] = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and _is_type_checking(node.test):
            guarded.update(id(child) for stmt in node.body for child in ast.walk(stmt))
        elif isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
            deferred.update(id(child) for stmt in node.body for child in ast.walk(stmt))
    context = name if not is_package else name + ".__init__"
    for node in ast.walk(tree):
        if at_import and id(node) in deferred:
            continue
        hidden = id(node) in guarded
        if isinstance(node, ast.Import):
            for alias in node.names:
                yield Import(alias.name, node.lineno, hidden)
        elif isinstance(node, ast.ImportFrom):
            base = _resolve(context, node)
            yield Import(base, node.lineno, hidden)
            for alias in node.names:
                if alias.name != "*":
                    yield Import(f"{base}.{alias.name}", node.lineno, hidden)


def scan(path: Path) -> list[Import]:
    return list(imports_of(path.read_text(), module_name(path), path.name == "__init__.py"))


def under(module: str, prefixes: tuple[str, ...] | frozenset[str]) -> bool:
    return any(module == p or module.startswith(p + ".") for p in prefixes)


def test_every_interpreter_module_is_scanned() -> None:
    names = {module_name(p) for p in interpreter_modules()}
    assert {"flunq.interpreter", "flunq.interpreter.machine", "flunq.interpreter.tasks.listen"} <= names
    assert len(names) >= 25


@pytest.mark.parametrize("path", interpreter_modules(), ids=lambda p: str(p.relative_to(INTERPRETER)))
def test_no_runtime_packages_or_io_libraries(path: Path) -> None:
    bad = []
    for imp in scan(path):
        if under(imp.module, FORBIDDEN_FLUNQ):
            bad.append(f"line {imp.line}: {imp.module} (a runtime package)")
        elif imp.module.startswith("flunq.effects.") and not under(imp.module, ALLOWED_EFFECTS):
            bad.append(f"line {imp.line}: {imp.module} (effects run on the executor)")
        elif under(imp.module, IO_MODULES):
            bad.append(f"line {imp.line}: {imp.module} (I/O, clock or randomness)")
    assert bad == []


@pytest.mark.parametrize("path", interpreter_modules(), ids=lambda p: str(p.relative_to(INTERPRETER)))
def test_no_io_builtins_environment_clock_or_random_uuid(path: Path) -> None:
    name = module_name(path)
    bad = []
    for func, node in _calls(ast.parse(path.read_text())):
        if (name, func) in CLOCK_ALLOWED:
            continue
        target = node.func
        if isinstance(target, ast.Name) and target.id in FORBIDDEN_CALLS:
            bad.append(f"line {node.lineno}: {target.id}()")
        elif isinstance(target, ast.Attribute) and target.attr in FORBIDDEN_ATTRIBUTES:
            bad.append(f"line {node.lineno}: .{target.attr}()")
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Attribute) and node.attr == "environ":
            bad.append(f"line {node.lineno}: .environ")
    assert bad == []


def _calls(tree: ast.AST) -> Iterator[tuple[str, ast.Call]]:
    """Every call with the name of the top-level function it sits in ('' at module level)."""
    for top in getattr(tree, "body", []):
        owner = top.name if isinstance(top, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)) else ""
        for node in ast.walk(top):
            if isinstance(node, ast.Call):
                yield owner, node


def test_the_clock_helper_is_not_used_inside_the_interpreter() -> None:
    users = [
        str(p.relative_to(INTERPRETER))
        for p in interpreter_modules()
        if p.name != "times.py" and "now_iso" in p.read_text()
    ]
    assert users == []


def _module_file(module: str) -> Path | None:
    base = ROOT.joinpath(*module.split("."))
    if (base / "__init__.py").is_file():
        return base / "__init__.py"
    if base.with_suffix(".py").is_file():
        return base.with_suffix(".py")
    return None


def _parents(module: str) -> list[str]:
    parts = module.split(".")
    return [".".join(parts[:n]) for n in range(1, len(parts))]


def test_flunq_modules_reached_at_import_time_stay_clear_of_the_runtime() -> None:
    """Follow the flunq imports that run at import time from the interpreter, transitively
    (the interpreter's own deferred imports are covered by the per-module test)."""
    todo = [module_name(p) for p in interpreter_modules()]
    seen: set[str] = set()
    while todo:
        module = todo.pop()
        if module in seen:
            continue
        seen.add(module)
        path = _module_file(module)
        if path is None:
            continue
        for imp in imports_of(path.read_text(), module, path.name == "__init__.py", at_import=True):
            if imp.type_checking or not imp.module.startswith("flunq"):
                continue
            for name in [*_parents(imp.module), imp.module]:
                if _module_file(name) is not None and name not in seen:
                    todo.append(name)
    reached = sorted(m for m in seen if _module_file(m) is not None)
    assert [m for m in reached if under(m, FORBIDDEN_FLUNQ)] == []
    assert [m for m in reached if m.startswith("flunq.effects")] == []
    assert "flunq.dsl.model" in reached and "flunq.expressions" in reached  # the walk works


def test_the_scanner_finds_what_it_must_refuse() -> None:
    source = (
        "import os\n"
        "from flunq.store import memory\n"
        "from flunq.effects import http\n"
        "from .. import runner\n"
        "if TYPE_CHECKING:\n"
        "    import asyncio\n"
        "def f():\n"
        "    import httpx\n"
    )
    found = {(i.module, i.type_checking) for i in imports_of(source, "flunq.interpreter.tasks.x")}
    assert {
        ("os", False),
        ("flunq.store.memory", False),
        ("flunq.effects.http", False),
        ("flunq.interpreter.runner", False),
        ("asyncio", True),
        ("httpx", False),
    } <= found
