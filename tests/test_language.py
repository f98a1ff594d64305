"""The interface language: Swedish by default, chosen as SPEC says, every message in the Swedish catalog."""

from __future__ import annotations

import pytest

from nyhetsbrev import i18n
from tests.language_helpers import assert_swedish, english_words, swedish  # noqa: F401  (fixture)


def test_nothing_set_and_no_lang_is_swedish(swedish, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert i18n.choose_language() == "sv"


def test_the_language_is_chosen_in_the_order_spec_gives(swedish, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LANG", "en_GB.UTF-8")
    assert i18n.choose_language() == "en"  # the operating system's language
    (tmp_path / "nyhetsbrev.toml").write_text('language = "sv"\n', encoding="utf-8")
    assert i18n.choose_language() == "sv"  # the project's language before the OS's
    (tmp_path / "nyhetsbrev.toml").write_text('language = "sv"\ninterface_language = "en"\n', encoding="utf-8")
    assert i18n.choose_language() == "en"  # interface_language before the project's language
    monkeypatch.setenv("NYHETSBREV_LANGUAGE", "sv")
    assert i18n.choose_language() == "sv"  # the environment before everything


def test_a_language_not_shipped_or_c_falls_back_to_swedish(swedish, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    monkeypatch.setenv("LANG", "C.UTF-8")
    assert i18n.choose_language() == "sv"
    monkeypatch.setenv("LANG", "de_DE.UTF-8")
    assert i18n.choose_language() == "sv"
    monkeypatch.setenv("NYHETSBREV_LANGUAGE", "fi")
    assert i18n.choose_language() == "sv"


def test_the_project_named_on_the_command_line_decides_the_help_language(cli, swedish, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    english = tmp_path / "english"
    english.mkdir()
    (english / "nyhetsbrev.toml").write_text('interface_language = "en"\n', encoding="utf-8")
    assert "Usage:" in cli("--project", english, "--help").output
    assert "Användning:" in cli("--help").output


def test_help_is_swedish_with_nothing_set(cli, swedish, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    out = cli("--help").output
    assert "Användning:" in out and "Flaggor" in out and "Visa den här hjälpen och avsluta." in out


def test_help_is_english_with_nyhetsbrev_language_en(cli):
    out = cli("--help").output
    assert "Usage:" in out and "Show this message and exit." in out
    assert not any(w in out for w in ("Användning", "Flaggor"))


def test_a_bad_option_is_reported_in_swedish(cli, swedish, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    result = cli("build", "--nope")
    assert result.exit_code == 2
    assert "Flaggan '--nope' finns inte." in result.stderr


def test_the_detector_finds_english_and_passes_swedish():
    assert english_words("stopped: 1899 sent in this run. Nothing is lost; continue with:")
    assert not english_words("Avbrutet: 1899 skickades nu. Inget går förlorat. Fortsätt med 'nyhetsbrev send 22:1'.")


def test_every_message_has_swedish_text_and_the_catalog_is_current():
    from tools.catalog import problems

    found = problems()
    assert not found, "\n".join(found[:40]) + "\nRun 'make catalog' and fill in each msgstr."


@pytest.mark.parametrize("lang", i18n.LANGUAGES)
def test_dates_and_times_are_written_as_babel_writes_them(lang):
    """The patterns nyhetsbrev shows are written without Babel (it is slow to load): every month, hour and minute as Babel's."""
    import datetime as dt

    from babel.dates import format_date, format_datetime, format_time

    i18n.set_language(lang)
    try:
        stockholm = dt.timezone(dt.timedelta(hours=1))
        moments = [dt.datetime(2026, month, day, hour, minute, second, tzinfo=zone)
                   for month in range(1, 13) for day, hour, minute, second, zone in
                   ((1, 0, 0, 0, None), (9, 9, 5, 7, stockholm), (28, 23, 59, 59, dt.timezone.utc))]
        for moment in moments:
            assert i18n.format_date(moment.date(), i18n.DATE) == format_date(moment.date(), i18n.DATE, locale=lang)
            assert i18n.format_date(moment.date(), i18n.DATE, lang=lang) == format_date(moment.date(), i18n.DATE, locale=lang)
            for pattern in (i18n.TIME, "HH:mm:ss"):
                assert i18n.format_time(moment, pattern) == format_time(moment, pattern, locale=lang)
            assert i18n.format_datetime(moment, i18n.DATE_TIME) == format_datetime(moment, i18n.DATE_TIME, locale=lang)
        # any other pattern is Babel's own
        assert i18n.format_date(dt.date(2026, 4, 1), "dd MMM yyyy") == format_date(dt.date(2026, 4, 1), "dd MMM yyyy", locale=lang)
        assert i18n.format_datetime(moments[0]) == format_datetime(moments[0], locale=lang)
    finally:
        i18n.set_language(None)
