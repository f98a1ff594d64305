"""What doctor reports: one Check per line (✓, ✗ or not checked) and the Report of a run."""

from __future__ import annotations

from dataclasses import asdict, dataclass

OK, FAIL, SKIPPED = "ok", "fail", "skipped"


@dataclass(frozen=True)
class Check:
    """One line of the report: what was checked, the outcome, what was found, and for a failure what to ask IT for."""

    key: str  # stable name for --format json, e.g. "spf.relay"
    title: str  # what was checked, e.g. "SPF of example.se"
    status: str  # OK, FAIL or SKIPPED
    detail: str  # what was found, one line
    advice: str | None = None  # for a failure: what to ask IT for (or what to do oneself)
    record: str | None = None  # the DNS record to add or change, when it can be derived

    @property
    def failed(self) -> bool:
        """True for a ✗."""
        return self.status == FAIL


def ok(key: str, title: str, detail: str) -> Check:
    """A check that passed."""
    return Check(key, title, OK, detail)


def fail(key: str, title: str, detail: str, advice: str | None = None, record: str | None = None) -> Check:
    """A check that failed, with what to ask IT for and the DNS record when there is one."""
    return Check(key, title, FAIL, detail, advice, record)


def skipped(key: str, title: str, detail: str) -> Check:
    """A check that does not apply (nothing configured for it) or was not made (--offline)."""
    return Check(key, title, SKIPPED, detail)


@dataclass(frozen=True)
class Report:
    """Every check of one doctor run, in the order they are shown."""

    checks: tuple[Check, ...]
    offline: bool = False

    @property
    def failed(self) -> list[Check]:
        """The checks that failed."""
        return [c for c in self.checks if c.failed]

    @property
    def passed(self) -> list[Check]:
        """The checks that passed."""
        return [c for c in self.checks if c.status == OK]

    def as_dict(self) -> dict:
        """The report as plain data for --format json."""
        return {"ok": not self.failed, "offline": self.offline, "checks": [asdict(c) for c in self.checks]}
