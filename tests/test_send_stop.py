"""Stopping a send (as `kill` does) while messages are on the wire, queued, or waiting for the server: what was
answered is recorded sent, what was not put on the wire stays pending, and nothing goes out after the stop."""

from __future__ import annotations

import signal
import threading
import time

import pytest

from nyhetsbrev.mail.dispatch import Options
from tests.send_helpers import SETTINGS, add_people, ledger_rows, make_project, project, send, smtp, wait_until  # noqa: F401

pytestmark = pytest.mark.timeout(60)


def states() -> dict[str, str]:
    """Each person's state in the ledger."""
    return {email: state for email, (state, _, _) in ledger_rows().items()}


def sending() -> int:
    """How many people the ledger has as being sent now (claimed, not yet answered)."""
    return list(states().values()).count("sending")


def send_stopped_by(stopper, root, smtp, connections: int = 1) -> None:
    """Run a send while `stopper` runs beside it and stops it; the send must end as a stopped send does."""
    from nyhetsbrev.errors import SendInterrupted

    helper = threading.Thread(target=stopper, daemon=True)
    helper.start()
    try:
        with pytest.raises(SendInterrupted):
            send(root, options=Options(connections=connections, retry_base=0.05))
    finally:
        smtp.hold(None)
        helper.join(timeout=60)


def kill_the_send() -> None:
    """Stop the send as `kill` does: call the SIGTERM handler the send set."""
    signal.getsignal(signal.SIGTERM)(signal.SIGTERM, None)


def stop_the_send() -> None:
    """Stop the send, then wait until the stop has put the queued messages back (fewer are being sent)."""
    claimed = sending()
    kill_the_send()
    wait_until(lambda: sending() < claimed)


def test_a_stop_waits_for_the_reply_to_the_message_on_the_wire_and_records_it_sent(tmp_path, smtp):
    """With a short SMTP timeout (4 s) too: a stop waits for the message on the wire as long as its connection does,
    so a reply that comes during the stop is recorded, and the person is not left unknown (or sent twice later)."""
    root = make_project(tmp_path / "p", settings=SETTINGS + "\n[smtp]\ntimeout = 4\n")
    people = add_people(5, ["politiker"])
    smtp.hold(1)  # the second message waits for its reply

    def stop_then_answer() -> None:
        assert smtp.wait_until_held(timeout=30)
        stop_the_send()  # only the message on the wire is left
        smtp.hold(None)

    send_stopped_by(stop_then_answer, root, smtp)
    assert smtp.recipients() == people[:2]
    assert states() == {people[0]: "sent", people[1]: "sent", **dict.fromkeys(people[2:], "pending")}


def test_a_stop_while_the_server_cannot_be_reached_keeps_the_waiting_message_from_going_out_later(project, smtp,
                                                                                                   monkeypatch):
    """The connection of the second message tries to reach the server again; a stop ends its tries at once, so that
    message stays pending for the next run and is not sent after the stop should the server be back meanwhile."""
    import types

    from nyhetsbrev.errors import SendInterrupted
    from nyhetsbrev.mail import transport

    people = add_people(5, ["politiker"])
    smtp.away_after(1)
    waits = []

    def wait(seconds: float) -> None:  # the connection's waits between its tries to reach the server
        waits.append(seconds)
        if len(waits) == 2:  # the first wait after a try that found the server away: stop the send meanwhile
            stop_the_send()  # only the message that waits is left
        elif len(waits) == 3:  # a try after the stop: the server is back by the next one
            smtp.back()

    monkeypatch.setattr(transport, "time", types.SimpleNamespace(sleep=wait))
    with pytest.raises(SendInterrupted):
        send(project, options=Options(connections=1, retry_base=0.05))
    assert smtp.recipients() == people[:1]
    assert states() == {people[0]: "sent", **dict.fromkeys(people[1:], "pending")}


def test_a_connection_that_takes_a_message_as_the_send_stops_puts_it_back_and_the_stop_ends_cleanly(project, smtp,
                                                                                                      monkeypatch):
    """The messages on the wire are answered just as the stop begins, and a connection takes the next one before the
    stop has taken back those queued: it is kept from going out, and pending for the next run."""
    from nyhetsbrev.mail import dispatch

    people = add_people(8, ["politiker"])
    smtp.hold(0)  # every message waits for its reply

    class Stop(threading.Event):
        """The send's stop: as it is set, the server answers, and the stop goes on once a connection has taken
        a message after it."""

        def __init__(self) -> None:
            super().__init__()
            self.taken = threading.Event()

        def set(self) -> None:
            super().set()
            smtp.hold(None)
            assert self.taken.wait(30), "no connection took a message"

        def is_set(self) -> bool:
            stopped = super().is_set()
            if stopped and threading.current_thread() is not threading.main_thread():
                self.taken.set()
            return stopped

    real_init = dispatch.Dispatcher.__init__

    def init(self, *args, **kwargs) -> None:
        real_init(self, *args, **kwargs)
        self.stop = Stop()

    def stop_when_both_wait() -> None:
        assert smtp.wait_until_held(timeout=30)
        wait_until(lambda: smtp.waiting == 2)
        kill_the_send()

    monkeypatch.setattr(dispatch.Dispatcher, "__init__", init)
    send_stopped_by(stop_when_both_wait, project, smtp, connections=2)
    assert sorted(smtp.recipients()) == sorted(people[:2])
    assert states() == {**dict.fromkeys(people[:2], "sent"), **dict.fromkeys(people[2:], "pending")}


def test_a_stop_ends_at_its_deadline_before_the_server_answers_and_the_next_run_counts_that_message_unknown(
        tmp_path, smtp, monkeypatch):
    """A stop waits for the replies on the wire until the SMTP timeout + 5 s, however slowly the server goes on: the
    send's clock is made to pass that deadline as the stop begins, and the server answers only then."""
    import types

    from nyhetsbrev.mail import dispatch

    root = make_project(tmp_path / "p", settings=SETTINGS + "\n[smtp]\ntimeout = 30\n")
    people = add_people(4, ["politiker"])
    smtp.hold(1)  # the second message waits for its reply
    shutting = threading.Event()
    late = [0.0]
    real_shutdown = dispatch.Dispatcher._shutdown

    def shutdown(self, *args, **kwargs):
        shutting.set()
        return real_shutdown(self, *args, **kwargs)

    def monotonic() -> float:
        if shutting.is_set():  # each look at the clock during the stop finds it a thousand seconds later
            late[0] += 1000.0
            smtp.hold(None)
        return time.monotonic() + late[0]

    def stop_when_held() -> None:
        assert smtp.wait_until_held(timeout=30)
        kill_the_send()

    monkeypatch.setattr(dispatch.Dispatcher, "_shutdown", shutdown)
    monkeypatch.setattr(dispatch, "time", types.SimpleNamespace(monotonic=monotonic))
    send_stopped_by(stop_when_held, root, smtp)
    monkeypatch.setattr(dispatch, "time", time)
    assert smtp.recipients() == people[:2]  # the second arrived, after the stop had stopped waiting for it
    again = send(root)
    assert again.recovered == 1 and again.tally.sent == 2  # counted unknown, not sent twice
    assert sorted(smtp.recipients()) == sorted(people)
