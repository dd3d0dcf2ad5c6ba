"""``python -m dualstack``: the ``dualstack`` command (see ``dualstack.cli``)."""

from __future__ import annotations

import sys

from dualstack.cli import main

__all__: list[str] = []

if __name__ == "__main__":
    sys.exit(main())
