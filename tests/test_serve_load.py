"""Many one-click unsubscribes at once while a send to another list runs: `nyhetsbrev serve` as a subprocess, the send
in this process against the aiosmtpd test server, both writing the same real SQLite file."""

from __future__ import annotations

import http.client
import threading

import pytest

from tests.send_helpers import add_people, ledger_rows, project, send, smtp  # noqa: F401  (fixtures)
from tests.serve_helpers import FORM, ONE_CLICK, open_database, start_serve, token_for

pytestmark = pytest.mark.timeout(90)

PEOPLE = 1000
CLIENTS = 8
RECEIVERS = 400  # on the list being sent to while the unsubscribes arrive


def post_all(served, links: list[str], clients: int) -> list[int]:
    """POST one-click to every link from `clients` keep-alive connections at once; the statuses (their times are
    bench/serve.py's to measure)."""
    statuses: list[int] = []
    lock = threading.Lock()
    shares = [links[n::clients] for n in range(clients)]

    def client(share: list[str]) -> None:
        conn = http.client.HTTPConnection(served.host, served.port, timeout=30)
        mine = [served.request("POST", link, ONE_CLICK, FORM, connection=conn).status for link in share]
        conn.close()
        with lock:
            statuses.extend(mine)

    threads = [threading.Thread(target=client, args=(share,)) for share in shares]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return statuses


def test_a_thousand_one_click_unsubscribes_from_eight_clients_while_a_send_runs(project, smtp):
    leaving = add_people(PEOPLE, ["medlemmar"], prefix="medlem")
    receivers = add_people(RECEIVERS, ["politiker"], prefix="politiker")
    links = None
    served = start_serve(project)
    try:
        links = [served.link(token_for(address)) for address in leaving]
        smtp.hold(20)  # the send stands still after 20 messages until every unsubscribe is answered
        outcome: dict = {}
        sender = threading.Thread(target=lambda: outcome.update(report=send(project, ["politiker"])))
        sender.start()
        assert smtp.wait_until_held(timeout=120), "the send did not start"
        statuses = post_all(served, links, CLIENTS)
        still_sending = sender.is_alive()
        smtp.hold(None)
        sender.join(60)
    finally:
        code, log = served.stop()
    assert still_sending, "the send ended before the unsubscribes did: nothing was tested"
    assert statuses.count(200) == PEOPLE, sorted(set(statuses))
    assert code == 0
    assert len([line for line in log.splitlines() if " POST /avregistrera 200 " in line]) == PEOPLE

    db = open_database()
    try:
        per_person = dict(db.execute(
            "SELECT r.email, count(*) FROM subscription_events e JOIN recipients r ON r.id = e.recipient_id"
            " WHERE e.event = 'unsubscribed' AND e.source = 'one-click' GROUP BY r.email"))
        suppressed = db.execute("SELECT count(*), count(DISTINCT email_key) FROM suppressions"
                                " WHERE reason = 'unsubscribed' AND source = 'one-click'").fetchone()
    finally:
        db.close()
    assert per_person == {address: 1 for address in leaving}  # every one recorded, exactly once
    assert tuple(suppressed) == (PEOPLE, PEOPLE)

    report = outcome["report"]
    assert report.tally.sent == RECEIVERS
    assert sorted(r.rcpt_tos[0] for r in smtp.received) == sorted(receivers)  # the send lost nobody
    assert {state for state, _, _ in ledger_rows().values()} == {"sent"}
