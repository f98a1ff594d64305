"""`nyhetsbrev inbox --from`: what came back, applied to a real SQLite file once, with its source, and nothing else."""

from __future__ import annotations

import dataclasses
import hashlib
import mailbox
import os
import re
from email.message import EmailMessage
from pathlib import Path

import pytest

from nyhetsbrev.inbox.run import read_inbox
from tests.fixtures import one_line_error
from tests.inbox_helpers import (
    SAMPLES, SENT, TOKEN_OWNER, bounce_for, database, inbox_project, mailbox_events, plain_message, record_sent, sample,
    samples, suppressed, token_for,
)
from tests.inbox_helpers import arf_report as _arf
from tests.inbox_helpers import one_message as _one

pytestmark = pytest.mark.timeout(60)

EXPECTED_SUPPRESSED = {
    "okand@example.org": "bounced",              # Postfix DSN
    "erik.oberg@kommun.example.se": "bounced",   # Exim, no DSN
    "mia.berg@kommun.example.se": "bounced",     # Exchange Online NDR
    "anna.andersson@example.se": "bounced",      # Gmail DSN naming her forwarding address
    "per.nilsson@example.org": "unsubscribed",   # ARF complaint
    TOKEN_OWNER: "unsubscribed",                 # the mailto link's token
}  # mia.berg@example.se asked in words: listed with the command, never applied by itself
EXPECTED_COUNTS = {"unsubscribed": 1, "bounced": 4, "temporary": 1, "complaints": 1, "ignored": 2,
                   "left for a person": 2, "already handled": 0}


def write_samples(folder: Path) -> Path:
    """Every sample as a .eml file (tokens made with this database's key)."""
    folder.mkdir(parents=True, exist_ok=True)
    for name, raw in samples().items():
        (folder / name).write_bytes(raw)
    return folder


def summary(output: str) -> dict[str, int]:
    """The summary table's counts, read back from the CLI's output."""
    lines = output.splitlines()
    last_table = max(i for i, line in enumerate(lines) if line.startswith("┡"))
    values = [int(v) for v in lines[last_table + 1].replace("│", " ").split()]
    return dict(zip(EXPECTED_COUNTS, values))


@pytest.fixture
def sent(tmp_path):
    project = inbox_project(tmp_path / "project")
    record_sent()
    return project


def test_every_kind_of_message_is_applied_and_summarised(cli, sent, tmp_path):
    folder = write_samples(tmp_path / "export")
    result = cli("--project", sent, "inbox", "--from", folder)
    assert result.exit_code == 0, result.output
    assert suppressed() == EXPECTED_SUPPRESSED
    assert summary(result.stdout) == EXPECTED_COUNTS
    assert "sara.svensson@example.se" in result.stdout and "Left for a person" in result.stdout
    assert "  nyhetsbrev recipients unsubscribe -- mia.berg@example.se\n" in result.stdout  # her request, for a person
    temporary = [e for e in mailbox_events() if e[1] == "temporary_bounce"]
    assert temporary == [("karin.lund@example.se", "temporary_bounce", "22:1", "<20220402071240.4F1C22A0B7@relay.example.org>")]


def test_the_key_file_is_read_once_for_a_whole_mailbox(cli, sent, tmp_path, monkeypatch):
    from nyhetsbrev.store import suppressions

    folder = write_samples(tmp_path / "export")
    reads = []
    real = suppressions.load_or_create_key
    monkeypatch.setattr(suppressions, "load_or_create_key", lambda path: reads.append(path) or real(path))
    result = cli("--project", sent, "inbox", "--from", folder)
    assert result.exit_code == 0, result.output
    assert suppressed() == EXPECTED_SUPPRESSED
    assert len(reads) == 1, reads


def test_the_dsn_naming_a_forwarding_alias_is_attributed_by_message_id(sent, tmp_path, cli):
    """Anna forwards to anna.privat@example.net, which bounces: Anna is suppressed, the alias is never stored."""
    folder = tmp_path / "one"
    folder.mkdir()
    (folder / "dsn.eml").write_bytes(sample("gmail-forwarded-dsn.eml"))
    assert cli("--project", sent, "inbox", "--from", folder).exit_code == 0
    assert suppressed() == {"anna.andersson@example.se": "bounced"}
    assert mailbox_events() == [("anna.andersson@example.se", "bounced", "22:1", "<6246b7be.1c69fb81.a1b2c.3d4eSMTPIN_ADDED_DSN@mx.google.com>")]
    with database() as handle:
        assert "anna.privat" not in " ".join(str(v) for row in handle.execute("SELECT * FROM suppressions") for v in row)


def test_without_a_ledger_match_the_reported_address_is_listed_never_used(cli, tmp_path):
    """Anyone can write a report naming an address: without a Message-ID nyhetsbrev sent, nobody is suppressed."""
    project = inbox_project(tmp_path / "project")
    record_sent({"ny@example.se": ("22:1", "<another@example.org>")})
    folder = tmp_path / "one"
    folder.mkdir()
    (folder / "dsn.eml").write_bytes(bounce_for("<not-in-the-ledger@example.org>", "NY@example.se"))
    (folder / "stranger.eml").write_bytes(bounce_for("<nor-this@example.org>", "stranger@example.net"))
    report = read_inbox(project, from_path=folder)
    assert suppressed() == {} and mailbox_events() == []
    assert sorted(o.note for o in report.for_a_person) == [
        "a bounce naming NY@example.se, not applied: the Message-ID it carries is not one nyhetsbrev sent",
        "a bounce naming stranger@example.net, not applied: the Message-ID it carries is not one nyhetsbrev sent",
    ]


def test_two_runs_change_no_more_than_one(cli, sent, tmp_path):
    folder = write_samples(tmp_path / "export")
    cli("--project", sent, "inbox", "--from", folder)
    events, reasons = mailbox_events(), suppressed()
    again = cli("--project", sent, "inbox", "--from", folder)
    assert mailbox_events() == events and suppressed() == reasons
    counts = summary(again.stdout)
    assert counts["already handled"] == 9 and counts["left for a person"] == 2
    assert sum(counts.values()) == 11


def _files(path: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(path.parent.iterdir()) if p.is_file()}


def test_dry_run_changes_nothing_but_says_what_it_would_do(cli, sent, tmp_path):
    folder = write_samples(tmp_path / "export")
    database = Path(os.environ["NYHETSBREV_DB"])
    before = _files(database)
    result = cli("--project", sent, "inbox", "--dry-run", "--from", folder)
    assert result.exit_code == 0
    assert _files(database) == before
    assert summary(result.stdout) == EXPECTED_COUNTS
    assert "would be done" in result.stdout and "Dry run: nothing was changed" in result.stdout
    assert suppressed() == {} and mailbox_events() == []


def test_three_temporary_bounces_on_different_issues_suppress(cli, tmp_path):
    project = inbox_project(tmp_path / "project")
    record_sent({"tove@example.se": ("22:1", "<t1@example.org>")})
    record_sent({"tove@example.se": ("22:2", "<t2@example.org>")})
    record_sent({"tove@example.se": ("22:3", "<t3@example.org>")})
    folder = tmp_path / "delays"
    folder.mkdir()
    for n, mid in enumerate(["<t1@example.org>", "<t1@example.org>", "<t2@example.org>"]):
        (folder / f"{n}.eml").write_bytes(bounce_for(mid, "tove@example.se", status="4.2.2", action="delayed",
                                                      dsn_id=f"<delay{n}@relay.example.net>"))
    cli("--project", project, "inbox", "--from", folder)
    assert suppressed() == {}  # three reports, but on two issues
    (folder / "3.eml").write_bytes(bounce_for("<t3@example.org>", "tove@example.se", status="4.2.2", action="delayed"))
    report = read_inbox(project, from_path=folder)
    assert suppressed() == {"tove@example.se": "bounced"}
    assert [o.note for o in report.changes] == ["temporary failures on 3 different issues"]


def test_export_shows_each_change_with_its_source_message_and_date(cli, sent, tmp_path):
    import json

    folder = write_samples(tmp_path / "export")
    cli("--project", sent, "inbox", "--from", folder)
    person = json.loads(cli("--project", sent, "recipients", "export", "mia.berg@kommun.example.se").stdout)
    assert person["mailbox"] == [{
        "event": "bounced", "issue": "22:1", "at": person["mailbox"][0]["at"], "source": "mailbox",
        "message_id": "<3f1a0c9e-7d2b-4b8c-a1e6-0c9d2e7f5b31@SV0P279MB0123.EURP279.PROD.OUTLOOK.COM>",
        "message_date": "2022-04-01T08:20:11Z", "detail": person["mailbox"][0]["detail"],
    }]
    assert person["mailbox"][0]["detail"].startswith("5.1.10")
    assert person["suppressions"][0]["reason"] == "bounced" and person["suppressions"][0]["source"] == "mailbox"


def test_a_forgotten_person_stays_forgotten(cli, sent, tmp_path):
    from nyhetsbrev.store import forget

    with database() as handle:
        forget(handle, "mia.berg@kommun.example.se")
    folder = tmp_path / "one"
    folder.mkdir()
    (folder / "ndr.eml").write_bytes(sample("exchange-online-ndr.eml"))
    result = cli("--project", sent, "inbox", "--from", folder)
    assert summary(result.stdout)["ignored"] == 1
    assert "mia.berg@kommun" not in str(mailbox_events()) and "mia.berg@kommun.example.se" not in suppressed()


def test_unsubscribes_that_cannot_be_trusted_are_left_for_a_person(cli, sent, tmp_path):
    folder = tmp_path / "doubtful"
    folder.mkdir()
    forged = token_for("okand@example.org")[:-4] + "AAAA"
    (folder / "forged.eml").write_bytes(plain_message("x@example.net", f"Avregistrera {forged}", "", to="avregistrera@example.org"))
    (folder / "stranger.eml").write_bytes(plain_message("stranger@example.net", "Avregistrera mig", "Tack."))
    report = read_inbox(sent, from_path=folder)
    assert suppressed() == {}
    assert sorted(o.note for o in report.for_a_person) == [
        "asks to unsubscribe, but its token does not verify",
        "asks to unsubscribe, but stranger@example.net is not on any list",
    ]


@pytest.mark.parametrize("kind", ["mbox", "maildir"])
def test_an_mbox_or_a_maildir_gives_the_same_result_as_a_folder(cli, sent, tmp_path, kind):
    folder = write_samples(tmp_path / "export")
    if kind == "mbox":
        target = tmp_path / "export.mbox"
        box = mailbox.mbox(target)
    else:
        target = tmp_path / "Maildir"
        box = mailbox.Maildir(target)
    for path in sorted(folder.iterdir()):
        box.add(path.read_bytes())
    box.close()
    result = cli("--project", sent, "inbox", "--from", target)
    assert result.exit_code == 0, result.output
    assert suppressed() == EXPECTED_SUPPRESSED and summary(result.stdout) == EXPECTED_COUNTS


def test_a_path_that_is_not_messages_is_one_clear_error(cli, sent, tmp_path):
    (tmp_path / "notes.docx").write_bytes(b"PK\x03\x04")
    assert "not a folder of .eml files" in one_line_error(cli("--project", sent, "inbox", "--from", tmp_path / "notes.docx"))
    assert "nothing to read there" in one_line_error(cli("--project", sent, "inbox", "--from", tmp_path / "missing"))


def test_no_imap_settings_is_one_clear_error(cli, sent):
    assert "no IMAP server is configured" in one_line_error(cli("--project", sent, "inbox"))


@pytest.mark.parametrize("form", ["bare", "https", "mailto"])
def test_unsubscribe_token_takes_the_bare_token_or_the_whole_link(cli, sent, form):
    token = token_for("okand@example.org")
    given = {
        "bare": token,
        "https": f"https://www.example.org/avregistrera?token={token}",
        "mailto": f"mailto:avregistrera@example.org?subject=Avregistrera%20{token}",
    }[form]
    result = cli("--project", sent, "recipients", "unsubscribe", "--token", given)
    assert result.exit_code == 0 and "okand@example.org unsubscribed" in result.stdout
    assert suppressed() == {"okand@example.org": "unsubscribed"}


def test_unsubscribe_takes_several_addresses_and_a_file(cli, sent, tmp_path):
    listing = tmp_path / "sluta.txt"
    listing.write_text("\ufeffkarin.lund@example.se\n\n# from the spring meeting\nPER.NILSSON@example.org\n", encoding="utf-8")
    result = cli("--project", sent, "recipients", "unsubscribe", "okand@example.org", "mia.berg@example.se",
                 "--from-file", listing)
    assert result.exit_code == 0, result.output
    assert set(suppressed()) == {"okand@example.org", "mia.berg@example.se", "karin.lund@example.se", "per.nilsson@example.org"}
    assert "either" in one_line_error(cli("--project", sent, "recipients", "unsubscribe", "a@example.se", "--token", "x.y"))


@pytest.mark.parametrize("dry_run", [False, True])
def test_a_file_that_is_no_database_is_one_line_naming_it(cli, tmp_path, dry_run, monkeypatch):
    project = inbox_project(tmp_path / "project")
    folder = write_samples(tmp_path / "export")
    database = tmp_path / "elsewhere" / "nyhetsbrev.db"  # never opened: no earlier database's name can stand in
    database.parent.mkdir()
    database.write_bytes(b"not a database, just text" * 100)
    monkeypatch.setenv("NYHETSBREV_DB", str(database))
    result = cli("--project", project, "inbox", "--from", folder, *(["--dry-run"] if dry_run else []))
    line = one_line_error(result)
    assert str(database) in line and "not a database" in line


def test_exported_files_are_never_said_to_be_moved(cli, sent, tmp_path):
    """Files read with --from stay where they are, whatever their folder is called."""
    folder = write_samples(tmp_path / "mail on the desktop")
    result = cli("--project", sent, "inbox", "--from", folder)
    assert result.exit_code == 0, result.output
    assert summary(result.stdout) == EXPECTED_COUNTS
    assert "processed folder" not in result.stdout and "flagged as read" not in result.stdout
    assert sorted(p.name for p in folder.iterdir()) == sorted(p.name for p in SAMPLES.glob("*.eml"))


def test_without_a_terminal_progress_is_a_line_now_and_then(cli, sent, tmp_path, monkeypatch):
    """A scheduled run's log gets 'reading: N of M messages' lines (paced; here every batch), never a bar."""
    from nyhetsbrev.cli import progress
    from nyhetsbrev.inbox import run

    monkeypatch.setattr(progress, "LINE_EVERY", 0.0)
    monkeypatch.setattr(run, "APPLY_EVERY", 4)
    folder = write_samples(tmp_path / "export")
    result = cli("--project", sent, "inbox", "--from", folder)
    assert result.exit_code == 0, result.output
    total = len(list(SAMPLES.glob("*.eml")))
    assert re.findall(r"reading: (\d+) of (\d+) messages", result.stderr) == [("4", str(total)), ("8", str(total))]



PER = "per.nilsson@example.org"  # the person the ARF sample's complaint is about
ARF_RCPT = b"Original-Rcpt-To: <per.nilsson@example.org>\n"
ARF_INNER_TO = b"To: Per Nilsson <per.nilsson@example.org>\n"
ARF_INNER_ID = b"Message-ID: <22-1.5f3a9c0d2e4b6a18.8@example.org>\n"


RANDOM_ID = "<22-1.0123456789abcdef0123456789abcdef@example.org>"  # of the kind sent now: not guessable from another's
NO_ONE_NAMED = ((ARF_RCPT, b""), (ARF_INNER_TO, b"To: undisclosed-recipients:;\n"))


@pytest.mark.parametrize(("case", "raw", "named"), [
    ("recipient only in the returned message", _arf((ARF_RCPT, b"")), (PER,)),
    ("names no recipient at all", _arf(*NO_ONE_NAMED, (ARF_INNER_ID, f"Message-ID: {RANDOM_ID}\n".encode())), ()),
])
def test_a_complaint_is_applied_by_its_message_id_whoever_it_names(tmp_path, case, raw, named):
    """Feedback loops often leave out Original-Rcpt-To (and redact the To): the returned Message-ID says who it is."""
    from nyhetsbrev.inbox.classify import COMPLAINT, classify

    project = inbox_project(tmp_path / "project")
    record_sent({PER: ("22:1", RANDOM_ID if not named else SENT[PER][1])})
    verdict = classify(raw)
    assert (verdict.kind, verdict.addresses) == (COMPLAINT, named)
    report = read_inbox(project, from_path=_one(tmp_path / "arf", raw))
    assert [(o.action, o.address) for o in report.changes] == [("complaints", PER)]
    assert suppressed() == {PER: "unsubscribed"}
    assert [(key, event) for key, event, _issue, _id in mailbox_events()] == [(PER, "complained")]


def test_a_complaint_naming_no_one_about_an_old_style_message_id_is_left_for_a_person(sent, tmp_path):
    """An old counter-style Message-ID can be guessed from another reader's: alone, it says nothing about who."""
    report = read_inbox(sent, from_path=_one(tmp_path / "arf", _arf(*NO_ONE_NAMED)))
    assert not report.changes and suppressed() == {}
    assert [o.note.split(": ", 1)[0] for o in report.for_a_person] == ["a complaint naming no one, not applied"]


def test_a_complaint_about_a_message_nyhetsbrev_never_sent_is_left_for_a_person(sent, tmp_path):
    raw = _arf((ARF_INNER_ID, b"Message-ID: <22-1.0000000000000000.99@example.org>\n"))
    report = read_inbox(sent, from_path=_one(tmp_path / "arf", raw))
    assert not report.changes and suppressed() == {} and mailbox_events() == []
    assert [o.note for o in report.for_a_person] == [
        f"a complaint naming {PER}, not applied: the Message-ID it carries is not one nyhetsbrev sent"]


@pytest.mark.parametrize("kind", ["complaint", "unsubscribe by token"])
def test_a_message_about_a_forgotten_person_changes_nothing_and_is_set_aside(sent, tmp_path, kind):
    """Forgotten means no row names them again: not a complaint, not an unsubscribe, and not a task for a person."""
    from nyhetsbrev.store import forget

    raw = sample("arf-abuse.eml") if kind == "complaint" else sample("unsubscribe-mailto.eml", PER)
    with database() as handle:
        forget(handle, PER)
    folder = _one(tmp_path / "one", raw)
    report = read_inbox(sent, from_path=folder)
    assert [(o.action, o.note) for o in report.changes + report.for_a_person] == []
    assert report.counts["ignored"] == 1
    assert PER not in str(mailbox_events()) and PER not in suppressed()
    with database() as handle:
        assert handle.execute("SELECT reason FROM suppressions").fetchall() == [("forgotten",)]
    assert read_inbox(sent, from_path=folder).counts["already handled"] == 1  # remembered: it is done with


def _html_only(subject: str, html: str, *, to: str) -> bytes:
    msg = EmailMessage()
    msg["From"] = "Olof Lind <olof.lind@example.se>"
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = "Mon, 04 Apr 2022 10:00:00 +0200"
    msg["Message-ID"] = f"<html-only.{abs(hash(html))}@example.se>"
    msg.set_content(html, subtype="html")
    return msg.as_bytes()


def test_an_html_only_mail_with_the_token_in_its_text_unsubscribes(sent, tmp_path):
    """Some mail programs write HTML only: the token is read from its own text, not from the quoted newsletter."""
    other = token_for("sara.svensson@example.se")
    html = (f"<html><body><div dir=\"ltr\">Avregistrera mig, tack.<br>{token_for(TOKEN_OWNER)}</div>"
            f"<blockquote>Nyhetsbrev 22:1 … avregistrera: {other}</blockquote></body></html>")
    raw = _html_only("Nyhetsbrev", html, to="avregistrera@example.org")
    report = read_inbox(sent, from_path=_one(tmp_path / "html", raw))
    assert [(o.action, o.address) for o in report.changes] == [("unsubscribed", TOKEN_OWNER)]
    assert suppressed() == {TOKEN_OWNER: "unsubscribed"}


def test_an_html_only_mail_asking_in_words_is_left_for_a_person_with_the_command(sent, tmp_path):
    raw = _html_only("Nyhetsbrev", "<html><body><p>Hej!</p><p>Jag vill <b>avsluta min prenumeration</b>.</p></body></html>",
                     to="redaktion@example.org")
    report = read_inbox(sent, from_path=_one(tmp_path / "html", raw))
    assert suppressed() == {}
    assert [o.command for o in report.for_a_person] == [f"nyhetsbrev recipients unsubscribe -- {TOKEN_OWNER}"]


def test_each_report_leads_to_the_right_outcome_with_words_a_person_can_check(tmp_path):
    """apply() on real-shaped reports: who is bounced, who complained, what is counted toward the temporary limit,
    and what is left for a person, each with the note the inbox report shows."""
    from nyhetsbrev.inbox.apply import BOUNCED, COMPLAINT_HANDLED, IGNORED, PERSON, TEMPORARY, apply
    from nyhetsbrev.inbox.classify import classify
    from nyhetsbrev.store import forget
    from tests.inbox_helpers import SAMPLES, bounce_for, db, record_sent

    inbox_project(tmp_path / "project")
    erik, per = "erik.oberg@kommun.example.se", "per.nilsson@example.org"
    record_sent({erik: ("22:1", "<22-1.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.1@example.org>"),
                 per: ("22:1", "<22-1.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.2@example.org>"),
                 "karin.lund@example.se": ("22:1", "<k1@example.org>"), "gone@example.se": ("22:1", "<g1@example.org>")})
    record_sent({"karin.lund@example.se": ("22:2", "<k2@example.org>")})
    record_sent({"karin.lund@example.se": ("22:3", "<k3@example.org>")})
    handle = db()
    try:
        bounce = classify(bounce_for("<22-1.aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.1@example.org>", erik, dsn_id="<b1@x>"))
        outcome = apply(handle, bounce)
        assert (outcome.action, outcome.address, outcome.note, outcome.verdict) == (
            BOUNCED, erik, "5.1.1 550 5.1.1 User unknown", bounce)

        notes = []
        for n, message_id in enumerate(("<k1@example.org>", "<k2@example.org>", "<k3@example.org>"), 1):
            delayed = classify(bounce_for(message_id, "karin.lund@example.se", status="4.4.1", action="delayed",
                                          dsn_id=f"<d{n}@x>"))
            outcome = apply(handle, delayed)
            notes.append((outcome.action, outcome.address, outcome.note))
        assert notes == [
            (TEMPORARY, "karin.lund@example.se", "4.4.1 451 4.4.1 try again later (1 of 3 issues)"),
            (TEMPORARY, "karin.lund@example.se", "4.4.1 451 4.4.1 try again later (2 of 3 issues)"),
            (BOUNCED, "karin.lund@example.se", "temporary failures on 3 different issues"),
        ]
        assert handle.execute("SELECT reason, detail FROM suppressions WHERE email_key = ?",
                              ["karin.lund@example.se"]).fetchone() == (
            "bounced", "temporary failures on 3 different issues (last: message <d3@x>)")

        arf = (SAMPLES / "arf-abuse.eml").read_bytes().replace(
            b"<22-1.5f3a9c0d2e4b6a18.8@example.org>", b"<22-1.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.2@example.org>")
        complaint = classify(arf)
        outcome = apply(handle, complaint)
        assert (outcome.action, outcome.address, outcome.note) == (COMPLAINT_HANDLED, per, "feedback report: abuse")
        assert handle.execute("SELECT event, issue FROM mailbox_events WHERE email_key = ?", [per]).fetchall() == [
            ("complained", "22:1")]

        forget(handle, "gone@example.se")
        for raw in (bounce_for("<g1@example.org>", "gone@example.se", dsn_id="<g-b@x>"),
                    arf.replace(per.encode(), b"gone@example.se").replace(b"<22-1.bbbbbbbbbbbbbbbbbbbbbbbbbbbbbbbb.2@example.org>", b"<g1@example.org>")
                    .replace(b"Message-ID: <", b"Message-ID: <g-")):
            verdict = classify(raw)
            outcome = apply(handle, verdict)
            assert (outcome.action, outcome.note, outcome.verdict) == (IGNORED, "about a forgotten person", verdict)

        many = [f"p{n}@example.se" for n in range(4)]
        for count, listed in ((0, "no one"), (3, "p0@example.se, p1@example.se, p2@example.se"),
                              (4, "p0@example.se, p1@example.se, p2@example.se …")):
            verdict = classify(bounce_for("<never-sent@example.org>", "x@example.se", dsn_id=f"<n{count}@x>"))
            verdict = dataclasses.replace(verdict, addresses=tuple(many[:count]))
            outcome = apply(handle, verdict)
            assert outcome.action == PERSON
            assert outcome.note.startswith(f"a bounce naming {listed}, not applied: "), outcome.note
    finally:
        handle.close()
