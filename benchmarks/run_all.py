"""Run every ``benchmarks/bench_*.py`` in turn: ``python benchmarks/run_all.py [--quick]``.

Each module is loaded from its file and its ``main(argv)`` is called with the arguments
given here (``--quick`` for smaller runs), so every table and JSON line comes out in one
stream. The exit status is the highest status a benchmark returned (0 when all ran; a
MISS is data, not a failure).
"""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path

__all__ = ["main"]

HERE = Path(__file__).resolve().parent


def main(argv: list[str] | None = None) -> int:
    """Run the ``main`` of each ``bench_*.py`` beside this file, in name order."""
    args = list(sys.argv[1:] if argv is None else argv)
    status = 0
    for path in sorted(HERE.glob("bench_*.py")):
        spec = importlib.util.spec_from_file_location(path.stem, path)
        if spec is None or spec.loader is None:
            raise RuntimeError(f"cannot load {path}")
        module = importlib.util.module_from_spec(spec)
        sys.modules[path.stem] = module  # dataclasses and pickling look modules up here
        spec.loader.exec_module(module)
        print(f"== {path.name} {' '.join(args)}".rstrip(), flush=True)
        status = max(status, int(module.main(args) or 0))
    return status


if __name__ == "__main__":
    raise SystemExit(main())
