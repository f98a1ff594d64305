"""Clients that hold connections open without finishing their request cannot keep others out of the unsubscribe
service: the server that `nyhetsbrev serve` runs (its create_server and application), in this process on loopback,
against slow clients that stop by themselves."""

from __future__ import annotations

import contextlib
import http.client

import pytest

from tests.send_helpers import add_people, wait_until
from tests.serve_helpers import FORM, ONE_CLICK, ServedHere, SlowClients, served_project, suppression, token_for  # noqa: F401

pytestmark = pytest.mark.timeout(120)

SLOW = 150


class Running(ServedHere):
    """The unsubscribe application under the service's own waitress server, in a thread, with the given limits; stopped
    by stop()."""

    def open_connections(self) -> int:
        """Connections the server holds open now."""
        return len(self.server.active_channels)

    def wait_for_connections(self, count: int) -> bool:
        """Wait until the server has accepted at least `count` connections."""
        return wait_until(lambda: self.open_connections() >= count, timeout=60, every=0.05)


def one_click(port: int, token: str) -> int:
    """A normal one-click POST on a new connection, waited for generously; its status."""
    conn = http.client.HTTPConnection("127.0.0.1", port, timeout=60)
    try:
        conn.request("POST", f"/avregistrera?token={token}", body=ONE_CLICK.encode(), headers=FORM)
        response = conn.getresponse()
        response.read()
        return response.status
    finally:
        conn.close()


@contextlib.contextmanager
def slow_clients_at(root, count: int, every: float, **limits):
    """The service running with these limits, and `count` clients that each send a header line every `every` s and
    never finish (for at most a minute); (running, slow) for the with-block, both closed after it."""
    running = Running(root, **limits)
    slow = None
    try:
        slow = SlowClients("127.0.0.1", running.port, count, every=every, lasting=60)
        yield running, slow
    finally:
        if slow is not None:
            slow.close()
        running.stop()


@pytest.fixture
def person(served_project):
    (address,) = add_people(1, ["politiker"], prefix="anna")
    return address


def test_a_one_click_post_is_answered_while_150_slow_clients_hold_connections(served_project, person):
    """The service's own settings: 150 connections that trickle a header line now and then do not keep a reader out."""
    with slow_clients_at(served_project, SLOW, every=1.0) as (running, slow):
        assert running.wait_for_connections(SLOW), "the slow clients never got in: nothing was tested"
        status = one_click(running.port, token_for(person))
        closed, still_running = slow.closed_by_server(), slow.running
    assert status == 200
    assert still_running and closed == 0, "answered only once the slow clients had gone"
    assert suppression(person) == "unsubscribed"


def test_a_connection_that_does_not_finish_its_request_in_time_is_closed(served_project, person):
    with slow_clients_at(served_project, 5, every=0.2, request_deadline=1) as (running, slow):
        assert wait_until(lambda: slow.closed_by_server() == 5, timeout=60, every=0.05), "slow connections were kept open"
        still_running = slow.running
        status = one_click(running.port, token_for(person))  # a prompt client is not cut off
    assert still_running, "the connections ended by themselves: nothing was tested"
    assert status == 200


def test_at_the_connection_limit_those_waiting_longest_make_room(served_project, person):
    """A small limit and a deadline that does not come into play: new clients get in all the same."""
    with slow_clients_at(served_project, 40, every=1.0, connection_limit=20, request_deadline=600) as (running, slow):
        status = one_click(running.port, token_for(person))
        closed, still_running = slow.closed_by_server(), slow.running
    assert status == 200
    assert still_running and 0 < closed < 40, (still_running, closed)
    assert suppression(person) == "unsubscribed"
