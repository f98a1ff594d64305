"""doctor's DNS questions: one lost on the way (UDP) is asked again within the time a question has."""

from __future__ import annotations

import socket
import threading

import pytest

pytestmark = pytest.mark.timeout(60)


@pytest.fixture
def lossy_dns(monkeypatch):
    """A DNS stand-in on 127.0.0.1 (UDP) that drops the first question it gets and answers every later one with a
    TXT record; NYHETSBREV_DNS points at it. Yields the questions it got (wire bytes)."""
    import dns.message
    import dns.rrset

    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.bind(("127.0.0.1", 0))
    sock.settimeout(0.1)
    questions: list[bytes] = []
    stop = threading.Event()

    def serve() -> None:
        while not stop.is_set():
            try:
                data, peer = sock.recvfrom(4096)
            except socket.timeout:
                continue
            questions.append(data)
            if len(questions) == 1:
                continue  # lost on the way
            query = dns.message.from_wire(data)
            response = dns.message.make_response(query)
            response.answer.append(dns.rrset.from_text(query.question[0].name, 300, "IN", "TXT", '"v=spf1 -all"'))
            sock.sendto(response.to_wire(), peer)

    thread = threading.Thread(target=serve, daemon=True)
    thread.start()
    monkeypatch.setenv("NYHETSBREV_DNS", f"127.0.0.1:{sock.getsockname()[1]}")
    yield questions
    stop.set()
    thread.join(timeout=5)
    sock.close()


def test_a_question_lost_once_is_answered_by_the_second_try_within_the_time_it_has(lossy_dns):
    from nyhetsbrev.doctor.lookup import TIMEOUT, Lookup

    lookup = Lookup()  # doctor's own: TIMEOUT for the question, tries included
    assert lookup.timeout == TIMEOUT
    assert lookup.ask("example.org", "TXT") == ["v=spf1 -all"]
    assert len(lossy_dns) == 2  # the first went unanswered, the second try got the answer
