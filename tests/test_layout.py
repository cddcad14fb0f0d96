"""The code's layout keeps the promises docs/ARCHITECTURE.md makes: one package per capability,
no import cycles, small modules and functions, a clean lint, and a module tree and runner
synopsis that match the code."""

from __future__ import annotations

import ast
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "edgefer"
ARCHITECTURE = ROOT / "docs" / "ARCHITECTURE.md"
LOOSE_MODULES = {"__init__.py", "__main__.py", "errors.py"}  # everything else lives in a capability package
MAX_MODULE_LINES = 400
MAX_FUNCTION_LINES = 80


def _modules() -> dict[str, Path]:
    mods = {}
    for path in PACKAGE.rglob("*.py"):
        name = ".".join(path.relative_to(ROOT).with_suffix("").parts)
        mods[name.removesuffix(".__init__")] = path
    return mods


def _import_graph() -> dict[str, set[str]]:
    """Module -> the edgefer modules it imports, lazily (inside functions) or not: a lazy import
    that closes a cycle is still two modules that cannot be understood apart."""
    mods = _modules()

    def resolve(name: str) -> str:
        while name and name not in mods:
            name = name.rpartition(".")[0]
        return name

    graph: dict[str, set[str]] = {m: set() for m in mods}
    for mod, path in mods.items():
        for node in ast.walk(ast.parse(path.read_text())):
            names: list[str] = []
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
                # `from pkg import submodule` depends on the submodule, not on pkg/__init__
                names = [f"{node.module}.{a.name}" if f"{node.module}.{a.name}" in mods else node.module
                         for a in node.names]
            for name in names:
                dep = resolve(name) if name.startswith("edgefer") else ""
                if dep and dep not in (mod, "edgefer"):
                    graph[mod].add(dep)
    return graph


def _cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components of more than one module (Tarjan, iterative)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    on_stack: set[str] = set()
    found: list[list[str]] = []
    for root in graph:
        if root in index:
            continue
        work = [(root, iter(sorted(graph[root])))]
        index[root] = low[root] = len(index)
        stack.append(root)
        on_stack.add(root)
        while work:
            node, children = work[-1]
            child = next(children, None)
            if child is not None:
                if child not in index:
                    index[child] = low[child] = len(index)
                    stack.append(child)
                    on_stack.add(child)
                    work.append((child, iter(sorted(graph[child]))))
                elif child in on_stack:
                    low[node] = min(low[node], index[child])
                continue
            work.pop()
            if work:
                low[work[-1][0]] = min(low[work[-1][0]], low[node])
            if low[node] == index[node]:
                component = []
                while True:
                    member = stack.pop()
                    on_stack.discard(member)
                    component.append(member)
                    if member == node:
                        break
                if len(component) > 1:
                    found.append(sorted(component))
    return found


def test_cycle_finder_finds_a_cycle():
    assert _cycles({"a": {"b"}, "b": {"c"}, "c": {"a"}, "d": {"a"}}) == [["a", "b", "c"]]
    assert _cycles({"a": {"b"}, "b": set()}) == []


def test_no_import_cycles():
    assert _cycles(_import_graph()) == []


def test_only_a_handful_of_loose_modules():
    loose = {p.name for p in PACKAGE.glob("*.py")}
    assert loose <= LOOSE_MODULES, f"modules outside a capability package: {sorted(loose - LOOSE_MODULES)}"


def test_modules_and_functions_stay_small():
    big_modules, big_functions = [], []
    for path in PACKAGE.rglob("*.py"):
        text = path.read_text()
        rel = path.relative_to(ROOT)
        if text.count("\n") > MAX_MODULE_LINES:
            big_modules.append(f"{rel}: {text.count(chr(10))} lines")
        for node in ast.walk(ast.parse(text)):
            if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef)):
                length = node.end_lineno - node.lineno + 1
                if length > MAX_FUNCTION_LINES:
                    big_functions.append(f"{rel}:{node.lineno} {node.name}: {length} lines")
    assert big_modules == [] and big_functions == []


def test_ruff_is_clean():
    ruff = shutil.which("ruff") or str(Path(sys.executable).with_name("ruff"))
    if not Path(ruff).exists():
        pytest.fail("ruff is not installed (pip install -e '.[test]')")
    res = subprocess.run([ruff, "check", "--no-cache", "."], cwd=ROOT, capture_output=True, text=True)
    assert res.returncode == 0, res.stdout + res.stderr


def _architecture_block(heading: str) -> str:
    text = ARCHITECTURE.read_text()
    section = text.split(heading, 1)[1]
    return section.split("```", 2)[1]


def _documented_tree() -> set[str]:
    """The paths the module tree names: each line `<indent>name.py|name/  description`, nested by
    two spaces per level under `edgefer/`."""
    paths: set[str] = set()
    parents: list[str] = []
    for line in _architecture_block("## Module tree").splitlines():
        m = re.match(r"^( *)(\S+?)(/?)(?:\s{2,}.*)?$", line)
        if not m or not (m.group(3) or m.group(2).endswith(".py")):
            continue
        depth = len(m.group(1)) // 2
        del parents[depth:]
        names = m.group(2).split(",")
        for name in names:
            paths.add("/".join([*parents, name]) + m.group(3))
        if m.group(3):
            parents.append(names[0])
    return paths


def test_architecture_module_tree_matches_the_code():
    actual = {str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*.py") if p.name != "__init__.py"}
    actual |= {str(p.relative_to(ROOT)) + "/" for p in PACKAGE.rglob("*") if p.is_dir() and p.name != "__pycache__"}
    actual.add("edgefer/")
    documented = _documented_tree()
    assert sorted(actual - documented) == [], "in the code but not in docs/ARCHITECTURE.md's module tree"
    assert sorted(documented - actual) == [], "in docs/ARCHITECTURE.md's module tree but not in the code"


def _runner_flags(module: str, command: str) -> set[str]:
    import importlib

    parser = importlib.import_module(module)._parser()
    sub = next(a for a in parser._actions if a.__class__.__name__ == "_SubParsersAction")
    return {s for act in sub.choices[command]._actions for s in act.option_strings
            if s.startswith("--") and s != "--help"}


@pytest.mark.parametrize("module,command", [("edgefer.runner.__main__", "bench"), ("edgefer.runner.__main__", "lock"),
                                            ("edgefer.runner.__main__", "infer"),
                                            ("edgefer.runner.pipeline.__main__", "run")])
def test_architecture_runner_synopsis_matches_the_parser(module, command):
    prog = module.removesuffix(".__main__")
    block = _architecture_block("## Runner CLI")
    entry = re.search(rf"^python -m {re.escape(prog)} {command}\b(.*?)(?=^python -m |\Z)", block, re.S | re.M)
    assert entry, f"`python -m {prog} {command}` is not in the synopsis"
    documented = set(re.findall(r"(?<![\w-])--[a-z][a-z0-9-]*", entry.group(1)))
    assert documented == _runner_flags(module, command)


def test_architecture_report_fields_match_the_schema():
    from edgefer.report.bench import Report

    documented: set[str] = set()
    for line in _architecture_block("## Report JSON").splitlines():
        if not re.match(r'^  "', line):
            continue
        depth = 0  # keys outside any {...} or [...] on a top-level line are the report's own
        for m in re.finditer(r'[{\[]|[}\]]|"(\w+)":', line):
            if m.group(0) in "{[":
                depth += 1
            elif m.group(0) in "}]":
                depth -= 1
            elif depth == 0:
                documented.add(m.group(1))
    assert documented == set(Report.model_fields)
