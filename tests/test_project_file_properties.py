"""Whatever a section's front matter, issue.toml or roster.toml holds, reading it gives typed values or one clear
error with a line inside the file, and `check` never shows a traceback (property tests with hypothesis)."""

from __future__ import annotations

import datetime as dt
import json
import math
import re
import tomllib

from hypothesis import given, settings, strategies as st

from nyhetsbrev.errors import ConfigError, ContentError
from nyhetsbrev.project.config import load_roster
from nyhetsbrev.project.models import Member
from nyhetsbrev.project.reader import LAYOUTS, read_section
from nyhetsbrev.project.scaffold import toml_string

# each runs a whole `check`, so a third of the profile's examples (13 in "ci"); the reader properties search wider
CLI_EXAMPLES = max(10, settings.default.max_examples // 3)

text = st.text(alphabet=st.characters(blacklist_categories=("Cs",)), max_size=40)
yaml_words = st.sampled_from([
    "text", "timeline", "politiker", "yes", "no", "~", "null", "", "2022-02-30", "1e3", "0x1F", "*a", "&a x",
    "!!int 5", "!!python/object:os.system", "[", "{", "}", "- x", "a: b", "'", '"', "#", "|", ">", "@x", "`", "%",
])
yaml_keys = st.sampled_from(["layout", "audience", "title", "målgrupp", "Title", "mall", "<<", "? x", "1", ""]) | text


@st.composite
def yaml_values(draw) -> str:
    """A value as an author might write it: plain, quoted, a flow list, a block list or a nested mapping."""
    scalar = draw(yaml_words | text)
    kind = draw(st.sampled_from(["plain", "quoted", "flow", "block", "nested"]))
    if kind == "plain":
        return " " + scalar
    if kind == "quoted":
        return " " + json.dumps(scalar)  # JSON strings are YAML double-quoted scalars
    items = draw(st.lists(yaml_words | text, max_size=4))
    if kind == "flow":
        return " [" + ", ".join(items) + "]"
    if kind == "block":
        return "".join(f"\n  - {item}" for item in items)
    return "".join(f"\n  {item}: {scalar}" for item in items)


@st.composite
def front_matters(draw) -> str:
    """A section file: front matter of key: value lines (or any text at all), then a Markdown line."""
    if draw(st.booleans()):
        inside = draw(st.text(max_size=200))
    else:
        pairs = draw(st.lists(st.tuples(yaml_keys, yaml_values()), max_size=5))
        inside = "\n".join(f"{key}:{value}" for key, value in pairs)
    return f"---\n{inside}\n---\n\nText.\n"


@given(front_matters())
def test_any_front_matter_reads_as_text_values_or_one_error_inside_the_file(tmp_path_factory, source):
    path = tmp_path_factory.mktemp("s") / "01-x.md"
    path.write_text(source, encoding="utf-8")
    try:
        section = read_section(path)
    except ContentError as exc:
        assert exc.path == path and exc.what and "\n" not in str(exc)
        assert exc.line is None or 1 <= exc.line <= source.count("\n") + 1
        return
    assert section.layout in LAYOUTS
    assert all(isinstance(name, str) and name.strip() for name in section.audience)
    assert section.title is None or isinstance(section.title, str)


def _toml_value(value) -> str:
    """value written as TOML (an inline table for a dict), for documents hypothesis makes up."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return ("nan" if math.isnan(value) else repr(value)) if not math.isinf(value) else ("inf" if value > 0 else "-inf")
    if isinstance(value, (int, dt.date, dt.time)):
        return value.isoformat() if not isinstance(value, int) else str(value)
    if isinstance(value, str):
        return toml_string(value)
    if isinstance(value, list):
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    return "{ " + ", ".join(f"{toml_string(k)} = {_toml_value(v)}" for k, v in value.items()) + " }"


toml_scalars = (text | st.integers() | st.floats() | st.booleans() | st.dates() | st.times()
                | st.datetimes(min_value=dt.datetime(1, 1, 1, 0, 0, 1)))
toml_values = st.recursive(toml_scalars, lambda inner: st.lists(inner, max_size=3)
                           | st.dictionaries(st.sampled_from(["name", "title", "x"]) | text, inner, max_size=3),
                           max_leaves=8)


def _toml_document(table: dict) -> str:
    return "".join(f"{toml_string(key)} = {_toml_value(value)}\n" for key, value in table.items())


issue_tables = st.dictionaries(st.sampled_from(["subject", "date", "preheader", "title", "draft"]) | text,
                               toml_values, max_size=5)
member_values = text | st.dictionaries(st.sampled_from(["name", "title", "organisation", "email", "phone"]) | text,
                                       toml_values, max_size=4) | toml_values
group_tables = st.dictionaries(st.sampled_from(["heading", "members"]) | text,
                               toml_values | st.lists(member_values, max_size=4), max_size=3)
roster_tables = st.fixed_dictionaries({}, optional={
    "group": st.lists(group_tables, max_size=3) | toml_values,
    "contact": st.dictionaries(st.sampled_from(["heading", "text", "emails", "phones"]) | text, toml_values, max_size=4),
})


@given(roster_tables)
def test_any_roster_reads_as_text_or_one_error_inside_the_file(tmp_path_factory, table):
    """Finding 9: a value of the wrong kind used to be spelled out letter by letter or printed as ['x']."""
    path = tmp_path_factory.mktemp("r") / "roster.toml"
    source = _toml_document(table)
    assert tomllib.loads(source) == table or any(isinstance(v, float) and math.isnan(v) for v in _leaves(table))
    path.write_text(source, encoding="utf-8")
    try:
        roster = load_roster(path)
    except ConfigError as exc:
        assert exc.path == path and "\n" not in str(exc)
        assert exc.line is None or 1 <= exc.line <= source.count("\n") + 1
        return
    for group in roster.groups:
        assert isinstance(group.heading, str) and group.heading
        for member in group.members:
            values = [getattr(member, name) for name in Member.__dataclass_fields__]
            assert all(v is None or isinstance(v, str) for v in values) and any(values)
    if roster.contact is not None:
        c = roster.contact
        assert isinstance(c.heading, str) and isinstance(c.text, str)
        assert all(isinstance(x, str) for x in (*c.emails, *c.phones))


def _leaves(value):
    if isinstance(value, dict):
        for v in value.values():
            yield from _leaves(v)
    elif isinstance(value, list):
        for v in value:
            yield from _leaves(v)
    else:
        yield value


def _assert_clean_outcome(result) -> None:
    """check ends with 0 or 1: either its list of findings, or one 'error:' line; never a traceback."""
    assert result.exit_code in (0, 1), result.output
    assert "Traceback" not in result.output and "error: unexpected" not in result.output, result.output
    if result.exit_code == 1 and not re.search(r"\d+ errors?, \d+ warnings?\.", result.stderr):
        lines = [line for line in result.stderr.splitlines() if line.strip()]
        assert len(lines) == 1 and lines[0].startswith("error: "), result.stderr


@settings(max_examples=CLI_EXAMPLES)
@given(source=front_matters())
def test_check_with_any_front_matter_exits_cleanly(cli, repo_project, source):
    (repo_project / "issues" / "22-1" / "01-tillsammans.md").write_text(source, encoding="utf-8")
    _assert_clean_outcome(cli("--project", repo_project, "check", "22:1"))


@settings(max_examples=CLI_EXAMPLES)
@given(table=issue_tables, raw=st.none() | st.text(max_size=120))
def test_check_with_any_issue_toml_exits_cleanly(cli, repo_project, table, raw):
    source = raw if raw is not None else _toml_document(table)
    (repo_project / "issues" / "22-1" / "issue.toml").write_text(source, encoding="utf-8")
    _assert_clean_outcome(cli("--project", repo_project, "check", "22:1"))


@settings(max_examples=CLI_EXAMPLES)
@given(table=roster_tables, raw=st.none() | st.text(max_size=120))
def test_check_with_any_roster_exits_cleanly(cli, repo_project, table, raw):
    source = raw if raw is not None else _toml_document(table)
    (repo_project / "roster.toml").write_text(source, encoding="utf-8")
    _assert_clean_outcome(cli("--project", repo_project, "check", "22:1"))


@given(st.text(alphabet=st.characters(blacklist_categories=("Cs",))))
def test_toml_string_round_trips_any_text(value):
    """What new writes as a subject reads back as exactly that subject."""
    assert tomllib.loads(f"s = {toml_string(value)}")["s"] == value
