"""Shared fixtures: every test gets its own data folder; nothing touches the user's files."""

from __future__ import annotations

import os

import pytest

pytest_plugins = ["tests.fixtures"]


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
    yield
