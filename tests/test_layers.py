"""The direction of imports inside the package (STYLE.md "Layout").

values -> allocators -> rules/config -> services -> cluster -> cli: a module may import
modules of its own layer or lower ones, never a higher one. Imports are read with
``ast`` (every ``import``/``from ... import`` anywhere in the module, function-level and
``TYPE_CHECKING`` ones included), so nothing is imported to check. ``bitmap.py`` stands
apart: it imports nothing from dualstack but ``errors`` and never imports netaddr.

A new module must be given a layer in ``LAYERS``; until then its test fails saying so.
"""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

PACKAGE = Path(__file__).resolve().parent.parent / "dualstack"

LAYERS: dict[str, int] = {
    "errors": 0,
    "families": 1,
    "profiles": 1,
    "pools": 2,
    "bitmap": 2,
    "_k8sproto": 2,  # RangeAllocation wire forms: pure codecs over errors
    "_svgmap": 2,  # SVG rendering: pure functions, imports nothing from dualstack
    "service_ips": 3,
    "node_cidrs": 3,
    "pod_ips": 3,
    "egress": 3,
    "store": 3,
    "rules": 4,
    "config": 4,
    "services": 5,
    "nodes": 5,  # node/Pod part of the facade: NodeRegistry, Node, Pod
    "strategies": 5,
    "cluster": 6,
    "snapshot": 6,
    "_statefile": 6,  # the command's state file, under cli
    "cli": 7,
    "__main__": 7,
}
EXEMPT = frozenset({"__init__"})

MODULES = sorted(p.stem for p in PACKAGE.glob("*.py") if p.stem not in EXEMPT)


def dualstack_imports(source: str, *, package_modules: frozenset[str]) -> set[str]:
    """The dualstack modules a module's source imports, by short name.

    ``from dualstack import x`` counts as importing ``x`` when ``x`` is a module of the
    package, and as importing the package facade (``"__init__"``) otherwise; relative
    imports are resolved against the package.
    """
    found: set[str] = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            for alias in node.names:
                parts = alias.name.split(".")
                if parts[0] == "dualstack":
                    found.add(parts[1] if len(parts) > 1 else "__init__")
        elif isinstance(node, ast.ImportFrom):
            if node.level == 0:
                if node.module is None:
                    continue
                parts = node.module.split(".")
                if parts[0] != "dualstack":
                    continue
                parts = parts[1:]
            else:
                parts = node.module.split(".") if node.module else []
            if parts:
                found.add(parts[0])
            else:
                for alias in node.names:
                    found.add(alias.name if alias.name in package_modules else "__init__")
    return found


def imports_netaddr(source: str) -> bool:
    """Whether the source imports netaddr in any form."""
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import) and any(
            a.name.split(".")[0] == "netaddr" for a in node.names
        ):
            return True
        if (
            isinstance(node, ast.ImportFrom)
            and node.level == 0
            and (node.module or "").split(".")[0] == "netaddr"
        ):
            return True
    return False


def layer_violations(module: str, imported: set[str]) -> list[str]:
    """Why ``module`` importing ``imported`` breaks the layering (empty when it does not)."""
    if module not in LAYERS:
        return [
            f"dualstack/{module}.py is missing from the layer table in tests/test_layers.py: "
            "add it to LAYERS with the layer it belongs to"
        ]
    problems = []
    for name in sorted(imported - {module}):
        if name == "__init__":
            problems.append(
                f"dualstack/{module}.py imports the package facade (`dualstack`); "
                "import the submodule instead"
            )
        elif name not in LAYERS:
            problems.append(
                f"dualstack/{module}.py imports dualstack.{name}, which is missing from "
                "the layer table in tests/test_layers.py"
            )
        elif LAYERS[name] > LAYERS[module]:
            problems.append(
                f"dualstack/{module}.py (layer {LAYERS[module]}) imports dualstack.{name} "
                f"(layer {LAYERS[name]}): imports must go to the same or a lower layer"
            )
    return problems


_PACKAGE_MODULES = frozenset(p.stem for p in PACKAGE.glob("*.py"))


@pytest.mark.parametrize("module", MODULES)
def test_layers_module_imports_only_same_or_lower_layers(module: str):
    source = (PACKAGE / f"{module}.py").read_text(encoding="utf-8")
    imported = dualstack_imports(source, package_modules=_PACKAGE_MODULES)
    assert layer_violations(module, imported) == []


def test_layers_bitmap_imports_only_errors_and_no_netaddr():
    source = (PACKAGE / "bitmap.py").read_text(encoding="utf-8")
    assert dualstack_imports(source, package_modules=_PACKAGE_MODULES) <= {"errors"}
    assert not imports_netaddr(source)


# --- the checker itself ------------------------------------------------------------------

_MODS = frozenset({"errors", "families", "pools", "cluster", "__init__"})


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("from dualstack.errors import ConfigError", {"errors"}),
        ("import dualstack.pools", {"pools"}),
        ("import dualstack.pools as p", {"pools"}),
        ("from dualstack import families", {"families"}),
        ("from dualstack import CIDRPool", {"__init__"}),
        ("import dualstack", {"__init__"}),
        ("from . import errors", {"errors"}),
        ("from .cluster import Cluster", {"cluster"}),
        ("def f():\n    from dualstack.cluster import Cluster\n", {"cluster"}),
        (
            "from typing import TYPE_CHECKING\nif TYPE_CHECKING:\n"
            "    from dualstack.cluster import Cluster\n",
            {"cluster"},
        ),
        ("import netaddr\nfrom collections import abc", set()),
    ],
    ids=[
        "from-submodule",
        "import-submodule",
        "import-as",
        "from-package-module",
        "from-package-name",
        "import-package",
        "relative-module",
        "relative-from",
        "function-level",
        "type-checking",
        "no-dualstack",
    ],
)
def test_dualstack_imports_forms_found(source: str, expected: set[str]):
    assert dualstack_imports(source, package_modules=_MODS) == expected


def test_layer_violations_upward_import_reported():
    problems = layer_violations("pools", {"errors", "cluster"})
    assert problems == [
        "dualstack/pools.py (layer 2) imports dualstack.cluster (layer 6): "
        "imports must go to the same or a lower layer"
    ]


def test_layer_violations_unknown_module_reported():
    problems = layer_violations("gizmo", {"errors"})
    assert len(problems) == 1
    assert "dualstack/gizmo.py is missing from the layer table" in problems[0]


def test_layer_violations_facade_import_reported():
    assert "package facade" in layer_violations("cluster", {"__init__"})[0]


def test_layer_violations_same_and_lower_layers_accepted():
    assert layer_violations("services", {"strategies", "rules", "errors"}) == []


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("import netaddr", True),
        ("import netaddr as _n", True),
        ("from netaddr import IPAddress", True),
        ("from netaddr.ip import IPNetwork", True),
        ("import ipaddress", False),
    ],
    ids=["import", "import-as", "from", "from-submodule", "other"],
)
def test_imports_netaddr_forms_detected(source: str, expected: bool):
    assert imports_netaddr(source) is expected
