"""The docs cannot drift from the CLI: every `edgefer COMMAND --option` they name exists, and the
README's two set-up commands are the ones CI runs."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
DOC_FILES = [REPO / "README.md", *sorted((REPO / "docs").glob("*.md"))]
_CMD = re.compile(r"(?<![\w./-])edgefer\s+([a-z][a-z-]*)")


def _cli_tree():
    from typer.main import get_command

    from edgefer.cli.main import app

    return get_command(app)


def _code_snippets(text: str) -> list[tuple[int, str]]:
    """(line number, text) of fenced code lines (usage continuations joined) and inline code spans."""
    out: list[tuple[int, str]] = []
    lines = text.splitlines()
    in_fence = False
    i = 0
    while i < len(lines):
        line = lines[i]
        if line.lstrip().startswith("```"):
            in_fence = not in_fence
            i += 1
            continue
        if in_fence:
            start = i
            joined = line
            while line.rstrip().endswith("\\") or (i + 1 < len(lines) and _CMD.search(joined) and
                                                    re.match(r"\s+[\[-]", lines[i + 1])):
                i += 1
                line = lines[i]
                joined = joined.rstrip("\\ ") + " " + line.strip()
            out.append((start + 1, re.sub(r"(^|\s)#(\s.*)?$", "", joined)))  # shell comments are prose
        else:
            for span in re.findall(r"`([^`]+)`", line):
                out.append((i + 1, span))
        i += 1
    return out


def _mentions(text: str):
    """Yield (line, command path, options) for every `edgefer ...` invocation in code."""
    for lineno, snippet in _code_snippets(text):
        for m in _CMD.finditer(snippet):
            rest = snippet[m.start():]
            rest = re.split(r"\s(?:&&|\|\||;|\|)\s|\s#\s|\$\(", rest)[0]  # this command only
            try:
                words = shlex.split(rest, comments=False)
            except ValueError:
                words = rest.split()
            yield lineno, words


def _check(words: list[str], root) -> list[str]:
    """Problems with one invocation: unknown (sub)command or option."""
    cmd, path = root, ["edgefer"]
    args = [w.rstrip(",.;:`)") for w in words[1:]]  # prose punctuation after a command word
    is_group = lambda c: isinstance(getattr(c, "commands", None), dict)  # noqa: E731 (typer bundles its own click)
    while args and is_group(cmd) and not args[0].startswith("-"):
        sub = cmd.commands.get(args[0])
        if sub is None:
            if re.fullmatch(r"[a-z][a-z-]*", args[0]) and len(path) == 1:
                return [f"unknown command '{' '.join(path + [args[0]])}'"]
            break
        cmd, path, args = sub, path + [args[0]], args[1:]
    if is_group(cmd) and len(path) > 1 and args and not args[0].startswith("-"):
        return [f"unknown command '{' '.join(path + [args[0]])}'"]
    known = {"--help", "-h"}
    for p in cmd.params:
        known.update(getattr(p, "opts", []))
        known.update(getattr(p, "secondary_opts", []))
    problems = []
    for w in args:
        for opt in re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", w):
            if opt not in known:
                problems.append(f"'{' '.join(path)}' has no option {opt}")
    return problems


@pytest.mark.parametrize("doc", DOC_FILES, ids=lambda p: p.name)
def test_every_command_and_option_named_in_the_docs_exists(doc):
    root = _cli_tree()
    problems = []
    for lineno, words in _mentions(doc.read_text()):
        problems += [f"{doc.name}:{lineno}: {p}" for p in _check(words, root)]
    assert not problems, "\n".join(problems)


def test_the_checker_catches_drift():
    root = _cli_tree()
    assert _check(shlex.split("edgefer bench m.onnx --repeat 3 --out r.json"), root) == []
    assert _check(shlex.split("edgefer bench m.onnx --no-such-flag"), root) == ["'edgefer bench' has no option --no-such-flag"]
    assert _check(shlex.split("edgefer benchmark m.onnx"), root) == ["unknown command 'edgefer benchmark'"]
    assert _check(shlex.split("edgefer report htm x.json"), root) == ["unknown command 'edgefer report htm'"]
    assert _check(shlex.split("edgefer compare a.json b.json --within-run --fail-on-regression 5%"), root) == []


def _setup_commands() -> list[str]:
    text = (REPO / "README.md").read_text()
    block = text.split("## Set-up: two commands", 1)[1].split("```bash", 1)[1].split("```", 1)[0]
    return [ln.strip() for ln in block.splitlines() if ln.strip() and not ln.strip().startswith("#")]


def test_readme_setup_commands_are_the_ones_ci_runs():
    first, second = _setup_commands()
    assert first.startswith("bash scripts/setup && edgefer ")
    assert second == "bash scripts/test"
    ci = (REPO / ".ci" / "run").read_text()
    assert "bash scripts/test" in ci
    test_script = (REPO / "scripts" / "test").read_text()
    assert "bash scripts/setup --test" in test_script and "pytest" in test_script


def test_readme_is_a_front_door():
    readme = REPO / "README.md"
    assert readme.stat().st_size <= 20_000
    text = readme.read_text()
    for page in re.findall(r"\]\((docs/[^)#]+)", text):
        assert (REPO / page).is_file(), f"README links to missing {page}"
    for doc in DOC_FILES[1:]:
        for page in re.findall(r"\]\(([a-z0-9_-]+\.(?:md|png))[)#]", doc.read_text()):
            assert (REPO / "docs" / page).is_file(), f"{doc.name} links to missing docs/{page}"
