"""Hypothesis settings for the whole suite: deterministic by default, long random fuzzing on request.

Profiles (registered in tests/conftest.py, chosen with ``HYPOTHESIS_PROFILE=NAME`` or
``pytest --hypothesis-profile NAME``):

* ``ci`` (the default): ``derandomize=True`` and no example database, so every run draws
  the same examples (for a given Hypothesis release) and a pass or a failure repeats.
* ``fuzz``: random draws, fifty times the examples, failures kept in ``.hypothesis/``:
  for hunting bugs, not for CI.

Tests ask for a budget relative to the profile with ``examples(n)``: n where the profile
has Hypothesis' default 100 examples (``ci``), n x max_examples / 100 elsewhere (50 n in
``fuzz``).
"""

from __future__ import annotations

import os

from hypothesis import HealthCheck, settings
from hypothesis.database import DirectoryBasedExampleDatabase

DEFAULT_PROFILE = "ci"
BASE_EXAMPLES = 100  # Hypothesis' own default max_examples

settings.register_profile("ci", derandomize=True, database=None, deadline=None, print_blob=True,
                          max_examples=BASE_EXAMPLES)
settings.register_profile("fuzz", derandomize=False, deadline=None, print_blob=True, max_examples=50 * BASE_EXAMPLES,
                          database=DirectoryBasedExampleDatabase(".hypothesis/examples"),
                          suppress_health_check=[HealthCheck.too_slow])


def load_profile() -> None:
    settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", DEFAULT_PROFILE))


def examples(n: int) -> int:
    """`n` examples under the default profile, scaled by the loaded profile's max_examples otherwise."""
    return max(1, n * settings.default.max_examples // BASE_EXAMPLES)
