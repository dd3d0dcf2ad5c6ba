"""Run every ```python example of the documentation (docs/*.md and README.md).

The blocks of one page run in order, in one shared namespace (a fresh module per page),
inside a temporary working directory, so a page reads like one session. Line numbers in
tracebacks are the page's own: each block is compiled with the page as its file name and
padded so that its first line is the line after the opening fence. One test case per
page, its id the page's file name. Non-Python blocks (```text, ```sh) are not run.
"""

from __future__ import annotations

import sys
import traceback
import types
from dataclasses import dataclass
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
PAGES = [*sorted((ROOT / "docs").glob("*.md")), ROOT / "README.md"]
_LANGUAGES = frozenset({"python", "py", "python3"})


@dataclass(frozen=True)
class Block:
    """One fenced Python block: ``line`` is the 1-based line of its first code line."""

    line: int
    source: str


def python_blocks(text: str, name: str = "<page>") -> list[Block]:
    """The ```python blocks of a Markdown text, in order.

    A fence may be indented (inside a list item); the block is dedented by the fence's
    indentation. An unterminated Python fence is an error, not a silently skipped block.
    """
    blocks: list[Block] = []
    lines = text.splitlines()
    i = 0
    while i < len(lines):
        stripped = lines[i].lstrip(" ")
        indent = len(lines[i]) - len(stripped)
        if stripped.startswith("```"):
            fence = stripped[: len(stripped) - len(stripped.lstrip("`"))]
            info = stripped[len(fence) :].strip().split()
            is_python = bool(info) and info[0].lower() in _LANGUAGES
            start = i + 1
            j = start
            while j < len(lines) and not lines[j].strip().startswith(fence):
                j += 1
            if j == len(lines):
                if is_python:
                    raise ValueError(f"{name}:{i + 1}: unterminated ```python block")
                return blocks
            if is_python:
                body = [ln[indent:] if ln[:indent].strip() == "" else ln for ln in lines[start:j]]
                blocks.append(Block(line=start + 1, source="\n".join(body) + "\n"))
            i = j + 1
            continue
        i += 1
    return blocks


def run_page(path: Path, text: str | None = None) -> None:
    """Run the Python blocks of one page in one fresh module namespace.

    Raises:
        AssertionError: naming the page, the line of the failing block and the traceback.
    """
    text = path.read_text(encoding="utf-8") if text is None else text
    module_name = f"_dualstack_docs_{path.stem.replace('-', '_')}"
    module = types.ModuleType(module_name)
    module.__file__ = str(path)
    # Registered so that dataclasses and pickling inside examples can find the module.
    sys.modules[module_name] = module
    try:
        for block in python_blocks(text, path.name):
            # Padding keeps the page's line numbers in tracebacks.
            padded = "\n" * (block.line - 1) + block.source
            try:
                code = compile(padded, str(path), "exec")
                exec(code, module.__dict__)
            except Exception as exc:
                details = "".join(traceback.format_exception(exc))
                raise AssertionError(
                    f"{path.name}:{block.line}: the ```python block starting at line "
                    f"{block.line} failed:\n{details}"
                ) from None
    finally:
        sys.modules.pop(module_name, None)


@pytest.mark.parametrize("page", PAGES, ids=[p.name for p in PAGES])
def test_docs_page_examples_run(page: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.chdir(tmp_path)
    run_page(page)


# --- the harness itself ----------------------------------------------------------------

_SAMPLE = """\
# Title

```python
x = 1
```

Some text.

```text
not python
```

- a list item:

  ```python
  y = x + 1
  ```

```sh
echo hi
```
"""


def test_python_blocks_sample_page_finds_python_blocks_with_lines():
    blocks = python_blocks(_SAMPLE)
    assert blocks == [Block(line=4, source="x = 1\n"), Block(line=16, source="y = x + 1\n")]


def test_python_blocks_unterminated_python_fence_raises():
    with pytest.raises(ValueError, match=r"page.md:2: unterminated"):
        python_blocks("text\n```python\nx = 1\n", "page.md")


def test_run_page_blocks_share_one_namespace_in_order(tmp_path: Path):
    page = tmp_path / "shared.md"
    text = "```python\nx = 41\n```\n\n```python\nx += 1\nassert x == 42\n```\n"
    run_page(page, text)  # would raise NameError if the namespace were not shared


def test_run_page_failing_block_reports_file_and_line(tmp_path: Path):
    page = tmp_path / "broken.md"
    text = "# Broken\n\n```python\nok = True\n```\n\n```python\n\nassert 1 == 2\n```\n"
    with pytest.raises(AssertionError) as info:
        run_page(page, text)
    message = str(info.value)
    assert message.startswith("broken.md:8: the ```python block starting at line 8 failed")
    assert f'File "{page}", line 9' in message


def test_run_page_fresh_namespace_per_page(tmp_path: Path):
    run_page(tmp_path / "one.md", "```python\nleft_over = 1\n```\n")
    with pytest.raises(AssertionError, match="NameError"):
        run_page(tmp_path / "two.md", "```python\nleft_over\n```\n")


def test_run_page_dataclass_in_example_works(tmp_path: Path):
    text = (
        "```python\nfrom __future__ import annotations\n"
        "from dataclasses import dataclass\n\n@dataclass\nclass P:\n    x: int\n\n"
        "assert P(1).x == 1\n```\n"
    )
    run_page(tmp_path / "dc.md", text)
