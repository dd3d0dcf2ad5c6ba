"""Shared test configuration: Hypothesis profiles.

``ci`` is deterministic (derandomized, no deadline, no example database) so that a
CI run cannot flake, with enough examples to matter; ``dev`` is the default for local
runs. ``HYPOTHESIS_PROFILE`` picks one (``.ci/run`` sets ``ci``).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings

settings.register_profile(
    "ci",
    derandomize=True,
    deadline=None,
    database=None,
    max_examples=200,
    print_blob=True,
    suppress_health_check=[HealthCheck.too_slow],
)
settings.register_profile("dev", deadline=None, max_examples=100)
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "dev"))
