"""The API reference and the docs index keep up with the code.

- docs/api.md documents every name of ``dualstack.__all__`` as a heading (or a bold
  definition), and every name it documents exists.
- The signatures it shows (the ```text block under a heading) name only parameters the
  callable has, of the right kind (keyword-only after ``*``), with the real defaults
  where the default is a literal.
- The members a bullet introduces (```- `.name```) exist on the documented object.
- docs/index.md and README.md link every docs page, and the links of the hand-written
  guide pages (README, index, quick start, API reference) lead to files and headings
  that exist.
- The README opens with the two commands a newcomer copies (install and simulate;
  install the test extra and run exactly what ``.ci/run`` runs).
"""

from __future__ import annotations

import ast
import importlib
import inspect
import re
import tomllib
from dataclasses import dataclass
from pathlib import Path

import pytest

import dualstack

ROOT = Path(__file__).resolve().parent.parent
DOCS = ROOT / "docs"
API = DOCS / "api.md"
INDEX = DOCS / "index.md"
README = ROOT / "README.md"
GUIDE_PAGES = [README, INDEX, DOCS / "quickstart.md", API]

_HEADING = re.compile(r"^(#{1,6})\s+(.*?)\s*$")
_NAME_IN_HEADING = re.compile(r"^`(?:dualstack\.)?([A-Za-z_][\w.]*)")
_DEFINITION = re.compile(r"^(?:- )?\*\*`(?:dualstack\.)?([A-Za-z_][\w.]*)`\*\*")
_MEMBER_BULLET = re.compile(r"^- (`\..*)")
_MEMBER = re.compile(r"`\.([A-Za-z_]\w*)")
_LINK = re.compile(r"\[[^\]]*\]\(([^)\s]+)\)")


# --- parsing docs/api.md ----------------------------------------------------------------
@dataclass(frozen=True)
class Entry:
    """One documented name: its heading text and the lines up to the next heading."""

    name: str
    line: int
    body: tuple[str, ...]


def _strip_fences(lines: list[str]) -> list[bool]:
    """For each line, whether it lies inside a fenced block (fences included)."""
    inside: list[bool] = []
    fenced = False
    for line in lines:
        if line.lstrip().startswith("```"):
            inside.append(True)
            fenced = not fenced
            continue
        inside.append(fenced)
    return inside


def api_entries(text: str) -> list[Entry]:
    """Every heading of the form ``### `Name...``` with its section, in page order."""
    lines = text.splitlines()
    fenced = _strip_fences(lines)
    starts: list[tuple[int, str | None]] = []
    for i, line in enumerate(lines):
        match = None if fenced[i] else _HEADING.match(line)
        if match:
            named = _NAME_IN_HEADING.match(match.group(2))
            starts.append((i, named.group(1) if named else None))
    entries = []
    for n, (i, name) in enumerate(starts):
        end = starts[n + 1][0] if n + 1 < len(starts) else len(lines)
        if name is not None:
            entries.append(Entry(name, i + 1, tuple(lines[i + 1 : end])))
    return entries


def documented_names(text: str) -> set[str]:
    """Names documented as headings or as bold definitions (``**`Name`**``)."""
    names = {e.name for e in api_entries(text)}
    lines = text.splitlines()
    fenced = _strip_fences(lines)
    for i, line in enumerate(lines):
        match = None if fenced[i] else _DEFINITION.match(line.strip())
        if match:
            names.add(match.group(1))
    return names


def resolve(name: str) -> object:
    """The object a documented name stands for: ``Name`` in ``dualstack`` or a dotted path."""
    if "." not in name:
        return getattr(dualstack, name)
    module_name, _, attr = name.rpartition(".")
    return getattr(importlib.import_module(f"dualstack.{module_name}"), attr)


def signature_texts(entry: Entry) -> list[str]:
    """The calls shown in the first ```text block of a section, one text per call."""
    body = list(entry.body)
    try:
        start = next(i for i, ln in enumerate(body) if ln.strip() == "```text")
    except StopIteration:
        return []
    if any(_HEADING.match(ln) for ln in body[:start]):
        return []
    end = next(i for i in range(start + 1, len(body)) if body[i].strip() == "```")
    calls: list[str] = []
    for line in body[start + 1 : end]:
        if line[:1].isspace() and calls:
            calls[-1] += " " + line.strip()  # a continuation line of the previous call
        else:
            calls.append(line.strip())
    return [c for c in calls if re.match(r"^[\w.]+\(", c)]


def _split_top_level(text: str) -> list[str]:
    """Split ``text`` on commas that are not inside brackets."""
    parts, depth, current = [], 0, ""
    for char in text:
        if char in "([{":
            depth += 1
        elif char in ")]}":
            depth -= 1
        if char == "," and depth == 0:
            parts.append(current)
            current = ""
        else:
            current += char
    if current.strip():
        parts.append(current)
    return [p.strip() for p in parts]


@dataclass(frozen=True)
class Param:
    name: str
    keyword_only: bool
    default: str | None


def parse_call(call: str) -> tuple[str, list[Param]]:
    """``Name.attr(a, *, b=1) -> T`` -> ``("Name.attr", [a, b])``."""
    head, _, rest = call.partition("(")
    depth, i = 1, 0
    while depth:
        depth += {"(": 1, ")": -1}.get(rest[i], 0)
        i += 1
    params: list[Param] = []
    keyword_only = False
    for part in _split_top_level(rest[: i - 1]):
        if part == "*":
            keyword_only = True
            continue
        name, eq, default = part.partition("=")
        params.append(Param(name.strip(), keyword_only, default.strip() if eq else None))
    return head.strip(), params


def _callable_for(entry_name: str, call_name: str) -> object:
    base = resolve(entry_name)
    short = entry_name.rsplit(".", 1)[-1]
    first, _, attr = call_name.partition(".")
    assert first == short, f"signature {call_name!r} under the heading of {entry_name!r}"
    return getattr(base, attr) if attr else base


# --- the tests --------------------------------------------------------------------------
API_TEXT = API.read_text(encoding="utf-8")
ENTRIES = api_entries(API_TEXT)


@pytest.mark.parametrize("name", sorted(dualstack.__all__))
def test_api_docs_public_name_is_documented(name: str) -> None:
    documented = documented_names(API_TEXT)
    # A heading by module path (``nodes.Node``) documents the same object under its export.
    same_object = any(
        "." in other and resolve(other) is getattr(dualstack, name) for other in documented
    )
    assert name in documented or same_object, (
        f"dualstack.{name} is exported but docs/api.md has no heading '### `{name}`' "
        "(or definition '**`{name}`**') for it"
    )


def test_api_docs_strategies_functions_are_documented() -> None:
    strategies = importlib.import_module("dualstack.strategies")
    wanted = {"cluster_configs", "service_manifests", "cluster_operations", "Operation"}
    assert wanted <= set(strategies.__all__)
    documented = documented_names(API_TEXT)
    missing = sorted(n for n in wanted if f"strategies.{n}" not in documented)
    assert not missing, f"docs/api.md documents no dualstack.strategies.{missing}"


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_api_docs_documented_name_exists(entry: Entry) -> None:
    if "." not in entry.name:
        assert entry.name in dualstack.__all__, (
            f"docs/api.md:{entry.line} documents {entry.name!r}, which dualstack does not export"
        )
    resolve(entry.name)  # AttributeError/ImportError names the stale entry


_SIGNED = [e for e in ENTRIES if signature_texts(e)]


@pytest.mark.parametrize("entry", _SIGNED, ids=[e.name for e in _SIGNED])
def test_api_docs_signature_parameters_match_code(entry: Entry) -> None:
    for call in signature_texts(entry):
        call_name, params = parse_call(call)
        target = _callable_for(entry.name, call_name)
        real = inspect.signature(target).parameters  # type: ignore[arg-type]
        for param in params:
            where = f"docs/api.md:{entry.line} {call_name}: parameter {param.name!r}"
            assert param.name in real, f"{where} does not exist; the code has {list(real)}"
            actual = real[param.name]
            assert (actual.kind is inspect.Parameter.KEYWORD_ONLY) == param.keyword_only, (
                f"{where} is shown {'keyword-only' if param.keyword_only else 'positional'}"
                f" but is {actual.kind.description}"
            )
            if param.default is None:
                assert actual.default is inspect.Parameter.empty, f"{where} has a default"
                continue
            try:
                shown = ast.literal_eval(param.default)
            except (ValueError, SyntaxError):
                continue  # not a literal (a call, a function): shown for the reader only
            assert actual.default == shown, (
                f"{where} is shown with default {param.default}, the code has {actual.default!r}"
            )


@pytest.mark.parametrize("entry", ENTRIES, ids=[e.name for e in ENTRIES])
def test_api_docs_bullet_members_exist(entry: Entry) -> None:
    obj = resolve(entry.name)
    for line in entry.body:
        match = _MEMBER_BULLET.match(line)
        if not match:
            continue
        lead = match.group(1).split(": ", 1)[0]  # the members the bullet introduces
        for member in _MEMBER.findall(lead):
            assert hasattr(obj, member), (
                f"docs/api.md, section {entry.name}: {entry.name}.{member} does not exist"
            )


# --- index, README and links ------------------------------------------------------------
def _links(page: Path) -> list[str]:
    lines = page.read_text(encoding="utf-8").splitlines()
    fenced = _strip_fences(lines)
    return [
        target
        for line, inside in zip(lines, fenced, strict=True)
        if not inside
        for target in _LINK.findall(line)
    ]


def _linked_pages(page: Path) -> set[Path]:
    found = set()
    for target in _links(page):
        if "://" in target or target.startswith("#"):
            continue
        found.add((page.parent / target.split("#", 1)[0]).resolve())
    return found


def _slug(heading: str) -> str:
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to dashes."""
    text = heading.strip().lower()
    text = re.sub(r"[^\w\- ]", "", text)
    return text.replace(" ", "-")


def _anchors(page: Path) -> set[str]:
    lines = page.read_text(encoding="utf-8").splitlines()
    fenced = _strip_fences(lines)
    return {
        _slug(m.group(2))
        for line, inside in zip(lines, fenced, strict=True)
        if not inside and (m := _HEADING.match(line))
    }


ALL_PAGES = sorted(DOCS.glob("*.md"))


@pytest.mark.parametrize("page", ALL_PAGES, ids=[p.name for p in ALL_PAGES])
def test_docs_index_every_page_is_linked(page: Path) -> None:
    if page == INDEX:
        return
    assert page.resolve() in _linked_pages(INDEX), f"docs/index.md does not link {page.name}"


@pytest.mark.parametrize("page", ALL_PAGES, ids=[p.name for p in ALL_PAGES])
def test_readme_every_docs_page_is_linked(page: Path) -> None:
    assert page.resolve() in _linked_pages(README), f"README.md does not link docs/{page.name}"


@pytest.mark.parametrize("page", GUIDE_PAGES, ids=[p.name for p in GUIDE_PAGES])
def test_guide_page_links_lead_to_existing_files_and_headings(page: Path) -> None:
    for target in _links(page):
        if "://" in target or target.startswith("mailto:"):
            continue
        path_text, _, anchor = target.partition("#")
        path = (page.parent / path_text).resolve() if path_text else page.resolve()
        assert path.exists(), f"{page.name}: link {target!r} leads to no file"
        if anchor and path.suffix == ".md":
            assert anchor in _anchors(path), f"{page.name}: link {target!r}: no such heading"


# --- the parsers themselves -------------------------------------------------------------
_SAMPLE = """\
# Title

### `Thing`

```text
Thing(a, *, b=1, c=f(x, y))
Thing.make(z)
```

- `.size -> int`, `.free`: counts; `.not_checked` after the colon.

```python
# ### `NotAHeading` inside a fence
```

**`Defined`** is a definition.

### `mod.func`
"""


def test_api_entries_sample_finds_headings_outside_fences() -> None:
    assert [e.name for e in api_entries(_SAMPLE)] == ["Thing", "mod.func"]
    assert documented_names(_SAMPLE) == {"Thing", "mod.func", "Defined"}


def test_signature_texts_sample_gives_each_call() -> None:
    thing = api_entries(_SAMPLE)[0]
    calls = signature_texts(thing)
    assert calls == ["Thing(a, *, b=1, c=f(x, y))", "Thing.make(z)"]
    name, params = parse_call(calls[0])
    assert name == "Thing"
    assert params == [Param("a", False, None), Param("b", True, "1"), Param("c", True, "f(x, y)")]


@pytest.mark.parametrize(
    ("heading", "anchor"),
    [
        ("Testing helpers (`dualstack.strategies`)", "testing-helpers-dualstackstrategies"),
        ("Pod IPs: what host-local reserves", "pod-ips-what-host-local-reserves"),
        ("The `dualstack` command", "the-dualstack-command"),
    ],
    ids=["code-and-parens", "colon", "backticks"],
)
def test_slug_heading_gives_github_anchor(heading: str, anchor: str) -> None:
    assert _slug(heading) == anchor


# --- the README's two commands ----------------------------------------------------------
def _sh_blocks(page: Path) -> list[str]:
    blocks: list[str] = []
    current: list[str] = []
    inside = False
    for line in page.read_text(encoding="utf-8").splitlines():
        if line.strip().startswith("```"):
            if inside:
                blocks.append("\n".join(current))
            inside, current = (not inside and line.strip() == "```sh"), []
            continue
        if inside:
            current.append(line)
    return blocks


def test_readme_first_two_blocks_are_the_install_and_test_commands() -> None:
    first, second = _sh_blocks(README)[:2]
    assert first.startswith("python3 -m venv .venv && . .venv/bin/activate && ")
    assert first.endswith("python -m pip install -e . && dualstack simulate")
    assert second.endswith("python -m pip install -e '.[test]' && python -m pytest -q")
    # Nothing but the title and one sentence before the first command.
    text = README.read_text(encoding="utf-8")
    assert text.index("```sh") < text.index("\n## ")


def test_readme_test_command_is_the_ci_command() -> None:
    ci = (ROOT / ".ci" / "run").read_text(encoding="utf-8").splitlines()
    assert "python -m pytest -q" in ci, ".ci/run no longer runs 'python -m pytest -q'"
    assert "python -m pip install --quiet -e '.[test]'" in ci


def test_readme_simulate_command_is_installed_as_console_script() -> None:
    pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    assert pyproject["project"]["scripts"]["dualstack"] == "dualstack.cli:main"
