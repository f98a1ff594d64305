"""Shared fixtures: every test gets its own data folder; nothing touches the user's files."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from hypothesis import HealthCheck, settings

pytest_plugins = ["tests.fixtures"]

# Property-based tests: "ci" keeps the whole suite fast and repeatable (the default);
# run `pytest --hypothesis-profile=thorough` now and then to search harder.
settings.register_profile(
    "ci", max_examples=40, deadline=None, derandomize=True, print_blob=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
settings.register_profile("thorough", max_examples=2000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))

# Under `make mutate`, a mutant that makes a send or a wait hang should cost seconds, not the minute or two its
# file's timeout allows: each test then gets a bound from its own usual time, measured by mutmut's first pass of
# the whole selection (mutants/mutmut-stats.json). Generous enough that no test is cut short by a busy machine.
MUTANT_GRACE_SECONDS = 10.0
MUTANT_SLOWDOWN = 5.0


def pytest_collection_modifyitems(config, items):
    """Under `make mutate`, give each test a time bound from its own usual duration instead of its file's."""
    if "__mutmut_" not in os.environ.get("MUTANT_UNDER_TEST", ""):
        return
    stats = Path("mutmut-stats.json")   # mutmut runs the tests inside mutants/, where it keeps this file
    if not stats.is_file():
        return
    usual = json.loads(stats.read_text("utf-8")).get("duration_by_test", {})
    for item in items:
        if item.nodeid in usual:
            bound = MUTANT_GRACE_SECONDS + MUTANT_SLOWDOWN * usual[item.nodeid]
            item.add_marker(pytest.mark.timeout(round(bound, 1)), append=False)


@pytest.fixture(autouse=True)
def _isolated_environment(tmp_path, monkeypatch):
    """Point the database and key at a temp dir and clear settings from the environment."""
    for name in list(os.environ):
        if name.startswith("NYHETSBREV_") and not name.startswith("NYHETSBREV_REQUIRE_"):
            monkeypatch.delenv(name, raising=False)
    data = tmp_path / "_data"
    data.mkdir()
    monkeypatch.setenv("NYHETSBREV_DB", str(data / "nyhetsbrev.db"))
    monkeypatch.setenv("XDG_CACHE_HOME", str(data / "cache"))
    # The interface is Swedish by default; tests that are not about the language read it in English
    # (tests about Swedish delete this, or use the `swedish` fixture of tests/language_helpers.py).
    monkeypatch.setenv("NYHETSBREV_LANGUAGE", "en")
    from nyhetsbrev import i18n

    i18n.reset()
    yield
    i18n.reset()
