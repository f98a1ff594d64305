"""One-click unsubscribe: `nyhetsbrev serve` as a subprocess on a loopback port, real HTTP, a real SQLite file."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from tests.fixtures import assert_nowhere, one_line_error
from tests.send_helpers import add_people
from tests.serve_helpers import (  # noqa: F401  (served, served_project are fixtures)
    FORM, ONE_CLICK, ServedHere, events, served, served_either, served_project, start_serve, suppression, token_for,
)

pytestmark = pytest.mark.timeout(60)


def _no_cookie_no_redirect(answer) -> None:
    assert "set-cookie" not in answer.header_names
    assert "location" not in answer.header_names
    assert "refresh" not in answer.header_names


def test_get_asks_and_leaves_the_person_subscribed(served_either):
    served = served_either
    (anna,) = add_people(1, ["politiker"], prefix="anna")
    answer = served.request("GET", served.link(token_for(anna)))
    assert answer.status == 200
    _no_cookie_no_redirect(answer)
    assert '<html lang="sv">' in answer.body
    assert "Vill du avregistrera dig från Tillsammans för barnens bästa?" in answer.body
    assert re.search(r'<form method="post" action="\?token=[^"]+">', answer.body)
    assert "<script" not in answer.body
    assert answer.headers["cache-control"] == "no-store"
    assert answer.headers["referrer-policy"] == "no-referrer"  # the link's token never leaves in a Referer
    for _ in range(3):  # a mail scanner opening the link, again and again
        assert served.request("GET", served.link(token_for(anna))).status == 200
        assert served.request("HEAD", served.link(token_for(anna))).status == 200
    assert suppression(anna) is None
    assert events(anna) == [("subscribed", "import")]


def test_one_click_post_unsubscribes_answers_200_without_redirect_and_a_repeat_is_harmless(served_either):
    served = served_either
    (anna,) = add_people(1, ["politiker"], prefix="anna")
    first = served.request("POST", served.link(token_for(anna)), ONE_CLICK, FORM)
    assert first.status == 200
    _no_cookie_no_redirect(first)
    assert "Du är avregistrerad" in first.body and anna not in first.body
    assert suppression(anna) == "unsubscribed"
    again = served.request("POST", served.link(token_for(anna)), ONE_CLICK, FORM)
    assert again.status == 200 and again.body == first.body
    assert events(anna) == [("subscribed", "import"), ("unsubscribed", "one-click")]


def test_one_click_as_multipart_form_data_also_counts(served_either):
    served = served_either
    (anna,) = add_people(1, ["politiker"], prefix="anna")
    boundary = "----nyhetsbrev7f3a"
    body = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n"
            f"--{boundary}--\r\n")
    answer = served.request("POST", served.link(token_for(anna)), body,
                            {"Content-Type": f"multipart/form-data; boundary={boundary}"})
    assert answer.status == 200
    assert events(anna)[-1] == ("unsubscribed", "one-click")


def test_the_pages_button_unsubscribes_with_source_web(served_either):
    served = served_either
    (anna,) = add_people(1, ["politiker"], prefix="anna")
    page = served.request("GET", served.link(token_for(anna)))
    action = re.search(r'action="([^"]+)"', page.body).group(1).replace("&amp;", "&")
    answer = served.request("POST", served.path + action, "confirm=yes", FORM)
    assert answer.status == 200 and "Du är avregistrerad" in answer.body
    assert events(anna)[-1] == ("unsubscribed", "web")


@pytest.mark.parametrize("method", ["GET", "POST"])
def test_a_tampered_token_gets_400_and_the_teams_address(served_either, method):
    served = served_either
    (anna,) = add_people(1, ["politiker"], prefix="anna")
    token = token_for(anna)
    payload, mac = token.split(".")
    forged = token_for("bertil@example.org").split(".")[0] + "." + mac  # another person's address, Anna's MAC
    for bad in (forged, payload + "." + mac[:-2] + ("AA" if not mac.endswith("AA") else "BB"), "", "x.y"):
        answer = served.request(method, served.link(bad), ONE_CLICK if method == "POST" else None, FORM)
        assert answer.status == 400, bad
        assert "Länken fungerar inte" in answer.body
        assert 'href="mailto:redaktion@example.org"' in answer.body
        _no_cookie_no_redirect(answer)
    assert served.request(method, served.path, ONE_CLICK if method == "POST" else None, FORM).status == 400
    assert suppression(anna) is None and suppression("bertil@example.org") is None


def test_an_address_on_no_list_gets_the_same_pages_as_one_on_a_list(served_either):
    served = served_either
    (anna,) = add_people(1, ["politiker"], prefix="anna")
    stranger = "okand1@example.org"  # the same length as anna0@… would give away nothing either way
    for method, body in (("GET", None), ("POST", ONE_CLICK), ("POST", ONE_CLICK)):
        known = served.request(method, served.link(token_for(anna)), body, FORM)
        unknown = served.request(method, served.link(token_for(stranger)), body, FORM)
        assert known.status == unknown.status == 200
        assert sorted(known.header_names) == sorted(unknown.header_names)
        same = lambda answer, address, token: answer.body.replace(token, "T").replace(address, "A")  # noqa: E731
        assert same(known, anna, token_for(anna)) == same(unknown, stranger, token_for(stranger))
    assert suppression(stranger) == "unsubscribed"  # never mailed later either, should they be imported


def _parts_of(address: str) -> set[str]:
    """Every piece of an address someone could recognise: the whole, its local part and its words, its domain."""
    local, _, domain = address.partition("@")
    words = {w for w in re.split(r"[.\-_+@]", address) if len(w) >= 4 and w not in ("example",)}
    return {address, local, domain.removesuffix(".example.se"), *words}


@pytest.mark.parametrize("language", ["sv", "en"])
def test_the_pages_never_show_whose_link_it_is(served_project, language):
    """Whoever holds a link (forwarded, scanned, in a log) must not learn from the pages whose it is."""
    from urllib.parse import quote as percent

    settings = served_project / "nyhetsbrev.toml"
    settings.write_text(settings.read_text(encoding="utf-8").replace('language = "sv"', f'language = "{language}"'),
                        encoding="utf-8")
    assert f'language = "{language}"' in settings.read_text(encoding="utf-8")
    person = "karin.lindqvist@strangnas.example.se"
    add_people(1, ["politiker"], prefix="anna")
    served = start_serve(served_project)
    try:
        link = served.link(token_for(person))
        asked = served.request("GET", link)
        done = served.request("POST", link, ONE_CLICK, FORM)
        again = served.request("POST", link, "confirm=yes", FORM)
    finally:
        served.stop()
    assert asked.status == done.status == again.status == 200
    assert suppression(person) == "unsubscribed"
    for answer in (asked, done, again):
        body = answer.body.lower()
        for part in _parts_of(person):
            for form in (part, percent(part), part.replace(".", "&#46;")):
                assert form.lower() not in body, (part, answer.body)
    # The reader is still told clearly what the button does, and what was done.
    clear = {"sv": ("den e-postadress som länken skickades till", "Ja, avregistrera mig", "Du är avregistrerad"),
             "en": ("the email address this link was sent to", "Yes, unsubscribe me", "You are unsubscribed")}
    address_words, button, heading = clear[language]
    assert address_words in asked.body.lower() and button in asked.body
    assert heading in done.body and address_words in done.body.lower()


def test_unknown_paths_other_methods_and_large_bodies_are_refused(served_either):
    served = served_either
    (anna,) = add_people(1, ["politiker"], prefix="anna")
    link = served.link(token_for(anna))
    for path in ("/", "/avregistrera/x", "/admin", "/avregistrera.php"):
        answer = served.request("GET", path)
        assert answer.status == 404, path
        assert "Sidan finns inte" in answer.body
    for method in ("PUT", "DELETE", "PATCH", "OPTIONS"):
        answer = served.request(method, link, ONE_CLICK, FORM)
        assert answer.status == 405, method
        assert answer.headers["allow"] == "GET, HEAD, POST"
    big = ONE_CLICK + "&x=" + "a" * 6000
    assert served.request("POST", link, big, FORM).status == 413
    huge = ONE_CLICK + "&x=" + "a" * 200_000  # refused by the server before the application sees it
    assert served.request("POST", link, huge, FORM).status == 413
    assert suppression(anna) is None


def test_the_access_log_has_no_tokens_and_no_addresses(served):
    (anna,) = add_people(1, ["politiker"], prefix="anna")
    token = token_for(anna)
    served.request("GET", served.link(token))
    served.request("POST", served.link(token), ONE_CLICK, FORM)
    served.request("GET", served.link("trasig." + token))
    code, output = served.stop()
    assert code == 0 and "Stopped." in output
    log = [line for line in output.splitlines() if " /avregistrera " in line]
    assert [line.split()[1:4] for line in log] == [
        ["GET", "/avregistrera", "200"], ["POST", "/avregistrera", "200"], ["GET", "/avregistrera", "400"]]
    for secret in (token, token.split(".")[0], token.split(".")[1], anna, "anna0", "127.0.0.1 -"):
        assert_nowhere(secret, logs=log, data=False, repository=False)  # the database holds her address


def test_a_token_or_address_in_the_path_never_reaches_the_log(served):
    """A mail program that encodes the link's '?' moves the token into the path; a client may put anything there."""
    from urllib.parse import quote as percent

    (anna,) = add_people(1, ["politiker"], prefix="anna")
    token = token_for(anna)
    paths = [f"{served.path}%3Ftoken%3D{token}", f"{served.path}/{token}", f"/{percent(anna)}/x",
             f"{served.path};token={token}", f"/x?token={token}"]
    for path in paths:
        assert served.request("GET", path).status == 404, path
    assert served.request("POST", f"{served.path}%3Ftoken%3D{token}", ONE_CLICK, FORM).status == 404
    code, output = served.stop()
    assert code == 0
    log = [line for line in output.splitlines() if " 404 " in line]
    assert len(log) == len(paths) + 1, output
    for secret in (token, token.split(".")[0], token.split(".")[1], anna, "anna0"):
        assert_nowhere(secret, outputs=[output], data=False, repository=False)  # the database holds her address
    assert suppression(anna) is None


def _wsgi_call(app, method: str, token: str, body: bytes = b"") -> tuple[str, bytes]:
    """One request to the application as a site's own WSGI server would make it (wsgiref's PEP 3333 validator)."""
    from io import BytesIO
    from wsgiref.util import setup_testing_defaults
    from wsgiref.validate import validator

    environ = {"REQUEST_METHOD": method, "SCRIPT_NAME": "", "PATH_INFO": "/avregistrera", "QUERY_STRING": f"token={token}",
               "CONTENT_TYPE": "application/x-www-form-urlencoded", "CONTENT_LENGTH": str(len(body)),
               "wsgi.input": BytesIO(body)}
    setup_testing_defaults(environ)
    status = []
    result = validator(app)(environ, lambda line, headers, exc_info=None: status.append(line) or (lambda data: None))
    try:
        return status[0], b"".join(result)
    finally:
        result.close()


def test_the_app_is_a_wsgi_application_a_site_can_mount(served_project):
    from nyhetsbrev.web.unsubscribe import make_app

    (anna,) = add_people(1, ["politiker"], prefix="anna")
    settings = served_project / "nyhetsbrev.toml"
    settings.write_text(settings.read_text(encoding="utf-8").replace('language = "sv"', 'language = "en"'),
                        encoding="utf-8")
    app = make_app(served_project)
    status, body = _wsgi_call(app, "GET", token_for(anna))
    assert status == "200 OK" and b'<html lang="en">' in body and b"Do you want to unsubscribe" in body
    assert suppression(anna) is None
    status, body = _wsgi_call(app, "POST", token_for(anna), ONE_CLICK.encode())
    assert status == "200 OK" and b"You are unsubscribed" in body
    assert events(anna)[-1] == ("unsubscribed", "one-click")
    app.close()


def test_the_signing_key_is_read_once_when_the_app_starts(served_project):
    """A POST uses the key read at start-up: the key file is not read again for each unsubscribe."""
    from nyhetsbrev.web.unsubscribe import make_app

    (anna,) = add_people(1, ["politiker"], prefix="anna")
    token = token_for(anna)
    app = make_app(served_project)
    key_file = Path(__import__("os").environ["NYHETSBREV_DB"]).with_suffix(".key")
    key_file.write_text("unreadable now\n", encoding="ascii")
    status, body = _wsgi_call(app, "POST", token, ONE_CLICK.encode())
    app.close()
    assert status == "200 OK" and "Du är avregistrerad".encode() in body
    assert events(anna)[-1] == ("unsubscribed", "one-click")


def test_a_forgotten_person_who_clicks_an_old_link_stays_forgotten(served_either):
    served = served_either
    from nyhetsbrev.store import forget
    from tests.serve_helpers import open_database

    (anna,) = add_people(1, ["politiker"], prefix="anna")
    token = token_for(anna)
    db = open_database()
    forget(db, anna)
    db.close()
    assert served.request("POST", served.link(token), ONE_CLICK, FORM).status == 200
    db = open_database()
    try:
        rows = db.execute("SELECT reason, email_key FROM suppressions").fetchall()
    finally:
        db.close()
    assert rows == [("forgotten", None)]  # the address did not come back into the database


def test_serve_without_a_database_is_one_line(served_project, cli):
    result = cli("--project", served_project, "serve", "--port", "0")
    assert "no recipients yet" in one_line_error(result)
    assert not Path(__import__("os").environ["NYHETSBREV_DB"]).exists()


def test_a_port_in_use_is_one_line(served_project, cli):
    add_people(1, ["alla"])
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        result = cli("--project", served_project, "serve", "--port", str(taken.getsockname()[1]))
    assert "is in use" in one_line_error(result)


def test_serve_warns_when_unsubscribe_url_is_not_https_and_quiet_has_no_access_log(served_project):
    add_people(1, ["alla"])
    settings = served_project / "nyhetsbrev.toml"
    text = settings.read_text(encoding="utf-8")
    settings.write_text(text.replace("https://www.example.org/avregistrera", "http://127.0.0.1/nb/avregistrera"),
                        encoding="utf-8")
    running = start_serve(served_project, "--quiet")
    try:
        assert running.path == "/nb/avregistrera"  # the path of unsubscribe_url is the one served
        assert running.request("GET", "/avregistrera").status == 404
    finally:
        _, output = running.stop()
    assert "warning: unsubscribe_url is not https" in output
    assert " GET /avregistrera 404 " not in output  # --quiet: no access log


def test_an_unsubscribe_waits_while_another_program_writes(served_project, another_writer, monkeypatch):
    """No answer while another program holds the write lock (neither an error page nor one that saved nothing);
    the reader's unsubscribe is saved as soon as it lets go. In this process, under the service's own server, so the
    test knows the moment the request has met the lock and waits for it (rather than guessing how long that takes)."""
    import threading
    import time

    from nyhetsbrev.store import db as store_db
    from nyhetsbrev.web.unsubscribe import app as unsubscribe_app

    waiting = threading.Event()
    real_write_retrying = unsubscribe_app.write_retrying

    def noting_the_wait(db, work, **options):
        def sleep(seconds: float) -> None:
            waiting.set()
            time.sleep(seconds)

        return real_write_retrying(db, work, sleep=sleep, **options)

    monkeypatch.setattr(unsubscribe_app, "write_retrying", noting_the_wait)
    # SQLite's own wait inside each try (10 s) cut short: the request meets the lock at once and waits in the
    # service's back-off, which the test sees (the service's connections are opened after this, at the request)
    monkeypatch.setattr(store_db, "BUSY_TIMEOUT_MS", 50)
    (anna,) = add_people(1, ["politiker"], prefix="anna")
    token = token_for(anna)
    served = ServedHere(served_project)
    try:
        another_writer.hold()  # as a send's ledger write may, for a moment
        answers = []
        reader = threading.Thread(
            target=lambda: answers.append(served.request("POST", served.link(token), ONE_CLICK, FORM)), daemon=True)
        reader.start()
        assert waiting.wait(30), answers  # the request met the lock and waits for it
        assert reader.is_alive() and answers == []  # still waiting for the lock
        another_writer.let_go()
        reader.join(60)
        assert [answer.status for answer in answers] == [200]
        assert events(anna)[-1] == ("unsubscribed", "one-click")
    finally:
        served.stop()


def test_a_lock_held_too_long_gets_503_try_again_and_saves_nothing(served_project, monkeypatch, another_writer):
    """In-process, with short waits: the page asks the reader to try again instead of failing or hanging, and the
    answer says when (Retry-After)."""
    from io import BytesIO

    from nyhetsbrev.web.unsubscribe import app as unsubscribe_app

    (anna,) = add_people(1, ["politiker"], prefix="anna")
    monkeypatch.setattr(unsubscribe_app, "WRITE_PATIENCE", 0.3)
    application = unsubscribe_app.UnsubscribeApp(served_project)
    application._db().execute("PRAGMA busy_timeout=50")
    another_writer.hold()
    statuses = []
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/avregistrera", "QUERY_STRING": f"token={token_for(anna)}",
               "CONTENT_LENGTH": str(len(ONE_CLICK)), "wsgi.input": BytesIO(ONE_CLICK.encode())}
    sent_headers: list = []

    def start_response(status, headers):
        statuses.append(status)
        sent_headers.extend(headers)

    released = another_writer.let_go_after(3)  # it gives up after 0.3 s; one that waited for ever would get it then
    body = b"".join(application(environ, start_response))
    assert not released.is_set(), "the request waited for the lock instead of giving up"
    another_writer.let_go()
    application.close()
    assert statuses == ["503 Service Unavailable"]
    assert environ["nyhetsbrev.note"] == "not saved: StoreError"  # its name only: the message could hold the address
    assert dict(sent_headers)["Retry-After"] == str(unsubscribe_app.RETRY_AFTER)
    assert "Försök igen om en liten stund".encode() in body and b"redaktion@example.org" in body
    assert suppression(anna) is None


ABSENT = object()


def _wsgi(app, method: str = "POST", query: str = "", body: bytes = b"", **environ_extra) -> tuple[str, dict, bytes, dict]:
    """One request straight to the application: status line, headers, body and the environ it saw (its log note)."""
    from io import BytesIO
    from wsgiref.util import setup_testing_defaults

    environ = {"REQUEST_METHOD": method, "SCRIPT_NAME": "", "PATH_INFO": "/avregistrera", "QUERY_STRING": query,
               "CONTENT_TYPE": "application/x-www-form-urlencoded", "CONTENT_LENGTH": str(len(body)),
               "wsgi.input": BytesIO(body)}
    environ.update(environ_extra)
    for name in [name for name, value in environ.items() if value is ABSENT]:
        del environ[name]  # PEP 3333 lets a server leave it out
    setup_testing_defaults(environ)
    sent: dict = {}

    def start_response(status, headers, exc_info=None):
        sent["status"], sent["headers"] = status, headers

    answer = b"".join(app(environ, start_response))
    return sent["status"], dict(sent["headers"]), answer, environ


def test_what_a_mail_client_or_a_site_sends_reaches_the_right_person(served_project):
    """The token and the one-click field are found wherever RFC 8058 lets them be: in the link, in a form body,
    in multipart/form-data written in any letter case; a byte that is not UTF-8 does not lose the request."""
    from nyhetsbrev.web.unsubscribe import UnsubscribeApp

    people = add_people(5, ["politiker"], prefix="anna")
    app = UnsubscribeApp(served_project)
    try:
        status, _, _, _ = _wsgi(app, body=f"token={token_for(people[0])}&{ONE_CLICK}".encode())
        assert status == "200 OK" and events(people[0])[-1] == ("unsubscribed", "one-click")

        boundary = "----nyhetsbrev7f3a"
        multipart = (f"--{boundary}\r\nContent-Disposition: form-data; name=\"token\"\r\n\r\n{token_for(people[1])}\r\n"
                     f"--{boundary}\r\nContent-Disposition: form-data; name=\"List-Unsubscribe\"\r\n\r\nOne-Click\r\n"
                     f"--{boundary}--\r\n").encode()
        status, _, _, _ = _wsgi(app, body=multipart, CONTENT_TYPE=f"Multipart/Form-Data; boundary=\"{boundary}\"")
        assert status == "200 OK" and events(people[1])[-1] == ("unsubscribed", "one-click")

        status, _, _, _ = _wsgi(app, query=f"token={token_for(people[2])}", body=b"x=\xff&" + ONE_CLICK.encode())
        assert status == "200 OK" and events(people[2])[-1] == ("unsubscribed", "one-click")

        status, _, _, _ = _wsgi(app, query=f"token={token_for(people[3])}", body=b"confirm=yes",
                                SCRIPT_NAME="/avregistrera", PATH_INFO="")  # a site that mounts it at the path
        assert status == "200 OK" and events(people[3])[-1] == ("unsubscribed", "web")

        status, _, _, _ = _wsgi(app, query=f"token={token_for(people[4])}", CONTENT_LENGTH="not a number",
                                **{"wsgi.input": None})
        assert status == "200 OK" and events(people[4])[-1] == ("unsubscribed", "web")

        broken = multipart.replace(b"name=\"token\"", b"name=\"x\"\r\n\r\n\xff\xfe\r\n--"
                                   + boundary.encode() + b"\r\nContent-Disposition: form-data; name=\"token\"")
        people.append(add_people(1, ["politiker"], prefix="bo")[0])
        status, _, _, _ = _wsgi(app, query=f"token={token_for(people[5])}", body=broken,
                                CONTENT_TYPE=f"multipart/form-data; boundary={boundary}")
        assert status == "200 OK" and events(people[5])[-1] == ("unsubscribed", "one-click")  # a stray byte loses nothing
        status, _, _, _ = _wsgi(app, "GET", f"token={token_for(people[0])}", SCRIPT_NAME="/avregistrera", PATH_INFO=ABSENT)
        assert status == "200 OK"  # mounted at the path, with no PATH_INFO at all
        assert len(app._open) == 1  # one connection for all of this thread's requests, not one per click
    finally:
        app.close()


def test_the_answers_carry_exact_lengths_allow_and_no_body_for_head(served_project):
    from nyhetsbrev.web.unsubscribe import UnsubscribeApp

    (anna,) = add_people(1, ["politiker"], prefix="anna")
    app = UnsubscribeApp(served_project)
    link = f"token={token_for(anna)}"
    try:
        status, headers, body, _ = _wsgi(app, "GET", link)
        assert status == "200 OK" and headers["Content-Length"] == str(len(body)) and body
        assert "Allow" not in headers and "Retry-After" not in headers
        status, head_headers, head_body, _ = _wsgi(app, "HEAD", link)
        assert (status, head_body, head_headers["Content-Length"]) == ("200 OK", b"", str(len(body)))
        status, headers, body, _ = _wsgi(app, "PUT", link)
        assert (status, headers["Allow"]) == ("405 Method Not Allowed", "GET, HEAD, POST")
        assert headers["Content-Length"] == str(len(body))
        for method in ("head", "get", "post"):  # methods are case-sensitive (RFC 9110)
            assert _wsgi(app, method, link)[0] == "405 Method Not Allowed"
        assert _wsgi(app, "POST", link, body=b"a=" + b"b" * 4094)[0] == "200 OK"  # 4096 bytes: read
        assert _wsgi(app, "POST", link, body=b"a=" + b"b" * 4095)[0] == "413 Content Too Large"
        assert _wsgi(app, "GET", "", PATH_INFO="/avregistrera/")[0] == "400 Bad Request"
        assert _wsgi(app, "GET", link, PATH_INFO="/")[0] == "404 Not Found"
    finally:
        app.close()
    assert suppression(anna) == "unsubscribed"  # by the 4096-byte POST: the others could not


def test_a_request_that_breaks_gets_the_error_page_and_a_log_note_without_the_request(served_project):
    from nyhetsbrev.web.unsubscribe import UnsubscribeApp

    class Broken:
        def read(self, size=-1):
            raise OSError("the connection broke")

    (anna,) = add_people(1, ["politiker"], prefix="anna")
    app = UnsubscribeApp(served_project)
    try:
        status, headers, body, environ = _wsgi(app, query=f"token={token_for(anna)}", CONTENT_LENGTH="10",
                                               **{"wsgi.input": Broken()})
    finally:
        app.close()
    assert status == "500 Internal Server Error" and headers["Content-Length"] == str(len(body))
    assert environ["nyhetsbrev.note"] == "unexpected OSError"
    assert suppression(anna) is None


@pytest.mark.parametrize(("url", "path"), [
    (None, "/avregistrera"), ("", "/avregistrera"), ("https://www.example.org", "/"), ("https://www.example.org/", "/"),
    ("https://www.example.org/nyhetsbrev/avsluta/", "/nyhetsbrev/avsluta"), ("https://example.org/%C3%A5ngra", "/ångra"),
    ("https://example.org/INBOX/", "/INBOX"),  # only slashes come off the end
])
def test_the_service_answers_on_the_path_of_the_unsubscribe_url(url, path):
    from nyhetsbrev.web.unsubscribe.app import served_path

    assert served_path(url) == path


def test_the_app_opens_the_database_it_is_given_and_never_creates_one(served_project, tmp_path):
    from nyhetsbrev.errors import NyhetsbrevError
    from nyhetsbrev.web.unsubscribe import UnsubscribeApp
    from tests.serve_helpers import open_database

    (anna,) = add_people(1, ["politiker"], prefix="anna")
    missing = tmp_path / "elsewhere" / "nyhetsbrev.db"
    missing.parent.mkdir()
    with pytest.raises(NyhetsbrevError):
        UnsubscribeApp(served_project, db_path=missing)
    assert list(missing.parent.iterdir()) == []
    db = open_database()
    real = Path(db.execute("PRAGMA database_list").fetchone()[2])
    db.close()
    app = UnsubscribeApp(served_project, db_path=real)
    try:
        assert app.db_path == real
        assert _wsgi(app, query=f"token={token_for(anna)}", body=ONE_CLICK.encode())[0] == "200 OK"
    finally:
        app.close()
    assert suppression(anna) == "unsubscribed"


@pytest.mark.parametrize("url, path, near", [
    ("https://www.example.org/nyhetsbrev/avsluta/", "/nyhetsbrev/avsluta",
     ("/avregistrera", "/nyhetsbrev/avslutaX", "/nyhetsbrev/avsluta/X", "/nyhetsbrev")),
    ("https://www.example.org/", "/", ("/avregistrera", "/X", "/avregistrera/")),
], ids=["a path of its own", "the site's root"])
def test_the_app_answers_on_the_path_the_project_configures_and_only_there(served_project, url, path, near):
    """A site that sends its readers to /nyhetsbrev/avsluta (or to its root) gets the service there and nowhere near."""
    from nyhetsbrev.web.unsubscribe import UnsubscribeApp

    settings = served_project / "nyhetsbrev.toml"
    settings.write_text(settings.read_text(encoding="utf-8").replace(
        "https://www.example.org/avregistrera", url), encoding="utf-8")
    (anna,) = add_people(1, ["politiker"], prefix="anna")
    app = UnsubscribeApp(served_project)
    try:
        link = f"token={token_for(anna)}"
        assert _wsgi(app, "GET", link, PATH_INFO=near[0])[0] == "404 Not Found"
        for elsewhere in near:
            assert _wsgi(app, "POST", link, body=ONE_CLICK.encode(), PATH_INFO=elsewhere)[0] == "404 Not Found"
        assert suppression(anna) is None
        assert _wsgi(app, "POST", link, body=ONE_CLICK.encode(), PATH_INFO=path)[0] == "200 OK"
    finally:
        app.close()
    assert events(anna)[-1] == ("unsubscribed", "one-click")


def test_the_app_finds_the_projects_own_database_when_none_is_named(served_project, monkeypatch):
    """Without NYHETSBREV_DB the app uses the project's recipients/nyhetsbrev.db, the one the send reads."""
    from nyhetsbrev.store.db import DB_RELATIVE
    from nyhetsbrev.web.unsubscribe import UnsubscribeApp

    own = served_project / DB_RELATIVE
    own.parent.mkdir(exist_ok=True)
    monkeypatch.setenv("NYHETSBREV_DB", str(own))
    (anna,) = add_people(1, ["politiker"], prefix="anna")
    link = f"token={token_for(anna)}"
    monkeypatch.delenv("NYHETSBREV_DB")
    app = UnsubscribeApp(served_project)
    try:
        assert app.db_path == own
        assert _wsgi(app, query=link, body=ONE_CLICK.encode())[0] == "200 OK"
    finally:
        app.close()
    monkeypatch.setenv("NYHETSBREV_DB", str(own))
    assert suppression(anna) == "unsubscribed"


def test_a_database_gone_while_the_service_runs_is_not_made_again_empty(served_project):
    """If the database file disappears (moved, restored elsewhere) the click is not saved into a new empty database
    that no send reads: the reader is asked to try again, and no database appears."""
    from nyhetsbrev.web.unsubscribe import UnsubscribeApp
    from tests.serve_helpers import open_database

    (anna,) = add_people(1, ["politiker"], prefix="anna")
    link = f"token={token_for(anna)}"
    db = open_database()
    path = Path(db.execute("PRAGMA database_list").fetchone()[2])
    db.close()
    app = UnsubscribeApp(served_project)
    try:
        moved = path.with_name("moved.db")
        path.rename(moved)
        status, _, _, environ = _wsgi(app, query=link, body=ONE_CLICK.encode())
        assert status == "503 Service Unavailable" and environ["nyhetsbrev.note"].startswith("not saved: ")
        assert not path.exists()
    finally:
        app.close()
