"""The relay's limits: rate and daily limit, against the real aiosmtpd server and a real SQLite ledger, on a fake clock.

The clock is the only stand-in: simulated minutes and days pass at once, so a 24-hour window is tested in a second.
"""

from __future__ import annotations

import datetime as dt
import os
import re
import threading
from pathlib import Path

import pytest

from nyhetsbrev.mail import limits
from nyhetsbrev.mail.dispatch import Options
from nyhetsbrev.mail.sender import send as send_issue
from nyhetsbrev.store import open_db
from tests.send_helpers import SETTINGS, add_people, fail_a_spinning_send, ledger_rows, make_project, smtp  # noqa: F401  (fixtures)

pytestmark = pytest.mark.timeout(90)


class FakeClock(limits.Clock):
    """Simulated time: sleeping moves it forward at once (the rate limiter sleeps under its lock, one at a time).

    As a real wait, a sleep whose stop event is set ends at once, and no time passes. A send that asks the time
    over and over without ever sleeping is spinning (on the real clock it would hang at full CPU): the clock fails
    it by a count of questions, not by how long anything takes.
    """

    SPINNING = 10_000  # questions without a sleep in between; a whole send of 150 here asks at most about 200

    def __init__(self, start: float) -> None:
        self.now = start
        self.lock = threading.Lock()
        self.asked = 0

    def _ask(self) -> float:
        self.asked += 1
        if self.asked > self.SPINNING:
            raise AssertionError(f"the send asked the time {self.SPINNING} times without waiting: it spins")
        return self.now

    def time(self) -> float:
        return self._ask()

    def monotonic(self) -> float:
        return self._ask()

    def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
        self.asked = 0
        if stop is not None and stop.is_set():
            return True
        with self.lock:
            self.now += max(0.0, seconds)
        return False


def _project(tmp_path, smtp_lines: str):
    return make_project(tmp_path / "project", settings=SETTINGS + "\n[smtp]\n" + smtp_lines)


def _most_in_any_window(times: list[float], window: float) -> int:
    times = sorted(times)
    return max(sum(1 for t in times if start <= t < start + window) for start in times)


def test_rate_30_per_minute_spreads_90_messages_over_3_simulated_minutes(tmp_path, smtp):
    """One connection, so the server sees each message the moment the limiter lets it go (on the fake clock)."""
    project = _project(tmp_path, 'rate = "30/min"\n')
    add_people(90, ["politiker"])
    clock = FakeClock(1_800_000_000.0)
    smtp.clock = clock.time
    report = send_issue(project, "22:1", ["politiker"], options=Options(connections=1, retry_base=0.05, clock=clock))
    assert report.tally.sent == 90 and len(smtp.received) == 90
    assert smtp.connections == 1  # the one connection asked for, opened once
    arrivals = [r.at for r in smtp.received]
    assert 178.0 <= arrivals[-1] - arrivals[0] < 180.0  # 89 gaps of 2 s: three simulated minutes
    assert clock.now - 1_800_000_000.0 < 181.0
    assert _most_in_any_window(arrivals, 60.0) == 30


def test_a_stop_while_a_message_waits_for_its_slot_under_the_rate_keeps_it_from_going_out(tmp_path, smtp):
    """At one message an hour, the second waits for its slot; Ctrl-C or `kill` then stops the send and that message
    never goes out: it is pending for the next run, not sent after the stop."""
    import signal

    from nyhetsbrev.errors import SendInterrupted

    class SlotFarAway(FakeClock):
        """A wait that a stop can cut short lasts until the stop (the slot is an hour away); one that it cannot
        cut short is over at once, as if the hour had passed."""

        def sleep(self, seconds: float, stop: threading.Event | None = None) -> bool:
            if stop is None:
                return super().sleep(seconds)
            assert stop.wait(60), "nothing stopped the send"
            return True

    project = _project(tmp_path, 'rate = "1/h"\n')
    people = add_people(2, ["politiker"])
    clock = SlotFarAway(1_800_000_000.0)

    def stop_after_the_first(tally) -> None:
        if tally.sent == 1:
            signal.getsignal(signal.SIGTERM)(signal.SIGTERM, None)  # what `kill` runs: the handler the send set

    with pytest.raises(SendInterrupted):
        send_issue(project, "22:1", ["politiker"], options=Options(connections=1, retry_base=0.05, clock=clock),
                   progress=stop_after_the_first)
    assert smtp.recipients() == [people[0]]
    assert {email: state for email, (state, _, _) in ledger_rows().items()} == {people[0]: "sent", people[1]: "pending"}


def test_rate_limiter_gives_each_message_its_own_slot_over_all_connections():
    clock = FakeClock(1000.0)
    limiter = limits.RateLimiter(4.0, clock)  # 0.25 s apart
    passed = []

    def connection() -> None:
        for _ in range(5):
            assert limiter.wait()
            passed.append(clock.now)

    threads = [threading.Thread(target=connection) for _ in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(passed) == pytest.approx([1000.0 + 0.25 * n for n in range(20)])
    clock.now += 10.0  # a quiet spell earns no burst afterwards
    limiter.wait()
    before = clock.now
    limiter.wait()
    assert clock.now - before == pytest.approx(0.25)
    stop = threading.Event()
    stop.set()
    assert not limiter.wait(stop)  # a stopped send lets no message through, however long its slot is away


def test_daily_limit_stops_cleanly_and_the_same_command_continues_after_24_hours(tmp_path, smtp):
    project = _project(tmp_path, "daily_limit = 100\n")
    people = add_people(150, ["politiker"])
    start = 1_800_000_000.0
    clock = FakeClock(start)
    smtp.clock = clock.time

    first = send_issue(project, "22:1", ["politiker"], options=Options(retry_base=0.05, clock=clock))
    assert first.tally.sent == 100 and len(smtp.received) == 100
    assert first.left == 50
    assert start + 24 * 3600 < first.limit_until <= clock.now + 24 * 3600 + 1
    states = [state for state, _, _ in ledger_rows().values()]
    assert states.count("sent") == 100 and states.count("pending") == 50  # nothing half-sent, nothing lost

    clock.now = start + 3600  # an hour later: still within the window
    second = send_issue(project, "22:1", ["politiker"], options=Options(retry_base=0.05, clock=clock))
    assert len(smtp.received) == 100 and second.tally.sent == 0
    assert second.left == 50 and second.limit_until == first.limit_until

    clock.now = first.limit_until + 60  # after the time it gave
    third = send_issue(project, "22:1", ["politiker"], options=Options(retry_base=0.05, clock=clock))
    assert third.tally.sent == 50 and third.limit_until is None
    assert sorted(smtp.recipients()) == sorted(people)  # each person exactly once over the three runs


def _sent_yesterday(tmp_path, smtp, limit: int, yesterday: int, today: int):
    """A project with a daily limit, on a test clock; `yesterday` people of 'profession' were sent 22:1 at its start
    and `today` people of 'politiker' are still to get it. Returns (project, clock, start, yesterday's, today's)."""
    project = _project(tmp_path, f"daily_limit = {limit}\n")
    before = add_people(yesterday, ["profession"], prefix="yesterday")
    now = add_people(today, ["politiker"])
    start = 1_800_000_000.0
    clock = FakeClock(start)
    smtp.clock = clock.time
    assert send_issue(project, "22:1", ["profession"], options=Options(retry_base=0.05, clock=clock)).tally.sent == yesterday
    return project, clock, start, before, now


def test_a_daily_limit_that_frees_a_slot_soon_is_waited_for_and_the_send_goes_on(tmp_path, smtp):
    """Yesterday's messages age out of the 24-hour window in 5 minutes: the send waits for them, never sends early."""
    project, clock, start, yesterday, today = _sent_yesterday(tmp_path, smtp, 5, 3, 4)

    clock.now = start + 24 * 3600 - 299.5  # two slots left now; yesterday's three free theirs in five minutes
    waits = []
    report = send_issue(project, "22:1", ["politiker"], options=Options(retry_base=0.05, clock=clock),
                        progress=lambda tally: waits.append(tally.limit_wait_until))
    assert report.tally.sent == 4 and report.limit_until is None and report.left == 0
    assert any(w is not None and start + 24 * 3600 <= w <= start + 24 * 3600 + 2 for w in waits)  # shown while waiting
    assert waits[-1] is None  # and no longer once the send goes on
    arrivals = [r.at for r in smtp.received[3:]]
    assert sorted(arrivals)[:2] == [start + 24 * 3600 - 299.5] * 2  # the two free slots at once
    # The others the moment yesterday's have aged out (the ledger keeps whole seconds), not early, and not later either.
    assert min(sorted(arrivals)[2:]) == start + 24 * 3600 + 1
    assert _most_in_any_window([r.at for r in smtp.received], 24 * 3600) == 5
    assert sorted(smtp.recipients()) == sorted(yesterday + today)


def test_a_slot_freeing_in_exactly_the_longest_wait_is_waited_for_also_when_it_frees_while_the_send_asks(
        tmp_path, smtp, monkeypatch):
    """The daily limit frees a slot in exactly 15 minutes, the longest a send waits for one: the send waits rather than
    stop. And when yesterday's message ages out between the count and the question 'when is the next slot free',
    the send goes on at once, neither stopping with people left nor sending early."""
    project, clock, start, yesterday, today = _sent_yesterday(tmp_path, smtp, 2, 1, 2)
    freed = start + 24 * 3600 + 1  # the first whole second in which yesterday's message no longer counts
    clock.now = freed - limits.WAIT_AT_MOST
    counted_none_left = []
    real_refresh = limits.DailyBudget.refresh

    def refresh(budget) -> int:
        left = real_refresh(budget)
        if not left:
            counted_none_left.append(clock.now)
            if len(counted_none_left) == 2:
                clock.now = freed  # the count is done; by the time the send asks when, the slot is free
        return left

    monkeypatch.setattr(limits.DailyBudget, "refresh", refresh)
    waits = []
    report = send_issue(project, "22:1", ["politiker"], options=Options(retry_base=0.05, clock=clock),
                        progress=lambda tally: waits.append(tally.limit_wait_until))
    assert report.tally.sent == 2 and report.limit_until is None and report.left == 0
    assert counted_none_left == [freed - limits.WAIT_AT_MOST, freed - limits.WAIT_AT_MOST + 1]
    assert freed in waits and waits[-1] is None  # the wait was shown, and is over
    assert [r.at for r in smtp.received[1:]] == [freed - limits.WAIT_AT_MOST, freed]
    assert sorted(smtp.recipients()) == sorted(yesterday + today)
    assert {state for state, _, _ in ledger_rows().values()} == {"sent"}


def test_a_stop_while_the_send_waits_for_the_daily_limit_ends_the_wait_at_once(tmp_path, smtp):
    """Ctrl-C or `kill` while the send waits for a slot stops it then, not after its wait; nothing is lost."""
    import signal

    from nyhetsbrev.errors import SendInterrupted

    project = _project(tmp_path, "daily_limit = 2\n")
    add_people(1, ["profession"], prefix="yesterday")
    today = add_people(2, ["politiker"])
    start = 1_800_000_000.0
    clock = FakeClock(start)
    send_issue(project, "22:1", ["profession"], options=Options(retry_base=0.05, clock=clock))
    clock.now = start + 24 * 3600 - 60  # a slot frees in a minute
    stopped_at = []

    def stop_while_waiting(tally) -> None:
        if tally.limit_wait_until is not None and not stopped_at:
            stopped_at.append(clock.now)
            signal.getsignal(signal.SIGTERM)(signal.SIGTERM, None)  # what `kill` runs: the handler the send set

    with pytest.raises(SendInterrupted):
        send_issue(project, "22:1", ["politiker"], options=Options(retry_base=0.05, clock=clock),
                   progress=stop_while_waiting)
    assert stopped_at == [clock.now]  # no time passed after the stop
    assert len(smtp.received) == 2
    states = {email: state for email, (state, _, _) in ledger_rows().items() if email in today}
    assert sorted(states.values()) == ["pending", "sent"]


def test_daily_limit_counts_other_issues_in_the_window(tmp_path, smtp):
    """The limit is the mailbox's: what another issue sent in the last 24 hours counts too."""
    project = _project(tmp_path, "daily_limit = 5\n")
    add_people(3, ["politiker"])
    clock = FakeClock(1_800_000_000.0)
    send_issue(project, "22:1", ["politiker"], options=Options(retry_base=0.05, clock=clock))
    second = project / "issues" / "22-2"
    second.mkdir()
    for path in (project / "issues" / "22-1").rglob("*"):
        target = second / path.relative_to(project / "issues" / "22-1")
        target.mkdir(exist_ok=True) if path.is_dir() else target.write_bytes(path.read_bytes())
    clock.now += 600
    report = send_issue(project, "22:2", ["politiker"], options=Options(retry_base=0.05, clock=clock))
    assert report.tally.sent == 2 and report.left == 1 and len(smtp.received) == 5


def test_the_command_line_says_how_many_are_left_and_when_it_continues(tmp_path, smtp, cli, monkeypatch):
    fail_a_spinning_send(monkeypatch)  # the system clock here: a send that never stops waiting must not hang
    project = _project(tmp_path, "daily_limit = 3\n")
    add_people(5, ["politiker"])
    result = cli("--project", project, "send", "22:1", "--list", "politiker", "--yes")
    assert result.exit_code == 1, result.output
    assert len(smtp.received) == 3
    db = open_db(Path(os.environ["NYHETSBREV_DB"]))
    oldest = db.execute("SELECT min(sent_at) FROM send_ledger").fetchone()[0]
    db.close()
    expected = limits.local_time(limits.from_iso(oldest) + 24 * 3600 + 1)
    assert re.search(rf"2 left to send\. Run the same command again after {expected} \(local time\)", result.stdout), result.stdout
    again = cli("--project", project, "send", "22:1", "--list", "politiker", "--yes")
    assert again.exit_code == 1 and len(smtp.received) == 3
    assert f"after {expected}" in again.stdout and "Traceback" not in again.output


def test_office365_defaults_and_the_expected_time_are_in_the_plan(tmp_path, cli, monkeypatch):
    project = make_project(tmp_path / "project", settings=SETTINGS + '\n[smtp]\nhost = "smtp.office365.com"\n')
    add_people(3000, ["politiker"])
    result = cli("--project", project, "send", "22:1", "--list", "politiker", "--dry-run")
    assert result.exit_code == 0, result.output
    shown = " ".join(result.stdout.split())  # the table wraps long cells
    assert "limits 30/min, 10 000 a day (Microsoft 365's limits for smtp.office365.com)" in shown, shown
    assert "expected time about 1 h 40 min" in shown, shown
    faster = cli("--project", project, "send", "22:1", "--list", "politiker", "--dry-run", "--rate", "60/min")
    assert "expected time about 50 min" in " ".join(faster.stdout.split()), faster.stdout
    bad = cli("--project", project, "send", "22:1", "--list", "politiker", "--dry-run", "--rate", "3/day")
    assert bad.exit_code != 0 and "--rate '3/day' has an unknown unit" in bad.stderr


@pytest.mark.parametrize("line, message", [
    ('rate = "fast"', "'rate' 'fast' does not start with a number"),
    ('rate = "0/min"', "must be more than 0"),
    ('rate = "1e400/s"', "'1e400/s' is not a finite number"),
    ("daily_limit = -3", "'daily_limit' in [smtp] must be a whole number from 1 to 10000000, not -3"),
    ('auth = "kerberos"', "must be \"password\" or \"oauth2\""),
    ('auth = "oauth2"', "needs tenant"),
])
def test_limit_and_sign_in_settings_are_checked_with_their_line(tmp_path, line, message):
    from nyhetsbrev.errors import ConfigError
    from nyhetsbrev.project.config import load_settings

    project = _project(tmp_path, f'username = "nyhetsbrev@example.org"\n{line}\n')
    with pytest.raises(ConfigError) as caught:
        load_settings(project / "nyhetsbrev.toml")
    assert message in str(caught.value)
    assert caught.value.line == len(SETTINGS.splitlines()) + 4


def test_rate_text_units():
    from nyhetsbrev.project.config import parse_rate

    assert parse_rate("30/min") == 0.5 and parse_rate("2/s") == 2.0 and parse_rate("3600/h") == 1.0
    assert parse_rate("0.5") == 0.5  # a bare number is per second, as --rate always took it
    assert limits.describe_duration(6000) == "about 1 h 40 min" and limits.describe_duration(20) == "under a minute"
    assert limits.local_time(dt.datetime(2026, 12, 2, 14, 31, 5).timestamp()) == "2 December 2026 14:32"


def test_times_are_written_as_swedes_read_them(monkeypatch):
    from nyhetsbrev import i18n

    monkeypatch.setenv("NYHETSBREV_LANGUAGE", "sv")
    i18n.reset()
    assert limits.local_time(dt.datetime(2026, 12, 3, 20, 13, 5).timestamp()) == "3 december 2026 20:14"
    assert limits.describe_duration(6000) == "cirka 1 h 40 min" and limits.describe_duration(20) == "under en minut"

