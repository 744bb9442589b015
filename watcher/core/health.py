"""Trial health as state changes: the admin hears when something goes wrong and when it ends.

A check that fails now and then is normal (the registry has bad minutes); an email per failed
check teaches the admin to ignore them. So health is a small state machine, run after every
cycle over all watched trials (pure: the state, the trials' failure counts and the time go in,
the new state and the alerts to send come out):

- `failing`: a trial whose last N checks failed (N = `[schedule].failing_after`). One alert
  when it gets there, one `recovered` when a check succeeds again, nothing in between.
- `removed`: the same, when the latest of those failures is a 404 - the registry no longer has
  the trial, which asks something else of the admin (check the ID, stop watching), so it is an
  alert of its own, also when a failing trial turns out to be gone.
- `outage`: when every watched trial's latest check failed and at least two are failing, the
  registry (or our network) is down, not the trials: one alert instead of one per trial, and one
  `outage_over` when any check gets through again, naming the trials still failing (they are
  then reported on their own: `recovered` follows when each comes back).

The state is what the admin has been told, so it must be saved with the alerts it produced, in
the same transaction; the failure counts come from the store and are not duplicated here.
Alerts reach the admin as plain email (`alert_email`) through the outbox like every other
message, so an SMTP hiccup delays an alert instead of losing it.
"""

from __future__ import annotations

import html
import json
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Literal, cast

from watcher.core.message import Outgoing, build_email, wire_bytes

Status = Literal["ok", "failing", "removed"]
AlertKind = Literal["failing", "recovered", "removed", "outage", "outage_over"]
_BAD: frozenset[str] = frozenset({"failing", "removed"})


@dataclass(frozen=True, slots=True)
class TrialCheck:
    """One watched trial as the store sees it after a cycle.

    `not_found` says the latest failure was a 404 (the registry no longer has the trial).
    """

    nct_id: str
    consecutive_failures: int
    last_error: str | None = None
    not_found: bool = False


@dataclass(frozen=True, slots=True)
class Alert:
    """One message for the admin; `nct_ids` are the trials it is about, in NCT ID order."""

    kind: AlertKind
    nct_ids: tuple[str, ...]
    at: datetime
    error: str | None = None  # the trial's latest error; for an outage, the most common one

    @property
    def key(self) -> str:
        """The outbox key: the same alert from the same cycle is queued once."""
        about = "registry" if self.kind in ("outage", "outage_over") else ",".join(self.nct_ids)
        return f"admin/{self.kind}/{about}/{self.at.isoformat(timespec='seconds')}"

    def headline(self) -> str:
        """What happened, short enough for a subject line (no error text, no list of trials)."""
        if self.kind == "outage_over":
            return "the registry answers again"
        return self.describe(with_error=False)

    def describe(self, *, with_error: bool = True) -> str:
        """One line for the log and the email."""
        ids = ", ".join(self.nct_ids)
        why = f": {self.error}" if self.error and with_error else ""
        if self.kind == "failing":
            return f"{ids} is failing{why}"
        if self.kind == "recovered":
            return f"{ids} is checked normally again"
        if self.kind == "removed":
            return f"{ids} is no longer in the registry{why}"
        if self.kind == "outage":
            return f"the registry is failing for every watched trial ({len(self.nct_ids)}){why}"
        still = f"; still failing: {ids}" if ids else ""
        return f"the registry answers again{still}"


@dataclass(frozen=True, slots=True)
class HealthState:
    """What the admin has been told: trials reported failing or removed, and any outage."""

    reported: Mapping[str, Status] = field(default_factory=dict)  # trials not reported: ok
    outage: bool = False

    def to_json(self) -> str:
        """The state as one small JSON text (kept in the store's `meta` table)."""
        return json.dumps(
            {"outage": self.outage, "reported": dict(sorted(self.reported.items()))},
            separators=(",", ":"),
        )

    @classmethod
    def from_json(cls, text: str | None) -> HealthState:
        """Read `to_json` output back; None (nothing saved yet) is the all-healthy state."""
        if text is None:
            return cls()
        data = json.loads(text)
        reported = data.get("reported") if isinstance(data, dict) else None
        if not isinstance(reported, dict) or not set(reported.values()) <= _BAD:
            raise ValueError(f"not a saved health state: {text[:80]!r}")
        statuses = {str(k): cast(Status, v) for k, v in reported.items()}
        return cls(statuses, data.get("outage") is True)


@dataclass(frozen=True, slots=True)
class Assessment:
    """The state to save and the alerts to send, together."""

    state: HealthState
    alerts: tuple[Alert, ...]


def assess(
    previous: HealthState, trials: Sequence[TrialCheck], failing_after: int, now: datetime
) -> Assessment:
    """Compare what the admin was told with how every watched trial is doing now.

    `trials` must list every watched trial (a trial left out is forgotten: no longer watched).
    """
    ordered = sorted(trials, key=lambda t: t.nct_id)
    before = {t.nct_id: previous.reported.get(t.nct_id, "ok") for t in ordered}
    after = {t.nct_id: _status(before[t.nct_id], t, failing_after) for t in ordered}
    failing = [t for t in ordered if after[t.nct_id] == "failing"]
    none_through = bool(ordered) and all(t.consecutive_failures > 0 for t in ordered)
    outage = none_through and (previous.outage or len(failing) >= 2)

    alerts = [
        Alert("removed", (t.nct_id,), now, t.last_error)
        for t in ordered
        if after[t.nct_id] == "removed" and before[t.nct_id] != "removed"
    ]
    if outage and not previous.outage:
        alerts.append(Alert("outage", tuple(t.nct_id for t in failing), now, _common(failing)))
    elif previous.outage and not outage:
        if ordered:  # a check got through (with nothing watched, there is no one to tell)
            still = tuple(t.nct_id for t in ordered if after[t.nct_id] in _BAD)
            alerts.append(Alert("outage_over", still, now))
    elif not outage:
        for t in ordered:
            was, now_is = before[t.nct_id], after[t.nct_id]
            if was == "ok" and now_is == "failing":
                alerts.append(Alert("failing", (t.nct_id,), now, t.last_error))
            elif was in _BAD and now_is == "ok":
                alerts.append(Alert("recovered", (t.nct_id,), now))
    reported = {nct_id: status for nct_id, status in after.items() if status != "ok"}
    return Assessment(HealthState(reported, outage), tuple(alerts))


def _status(before: Status, trial: TrialCheck, failing_after: int) -> Status:
    """Where one trial stands: a success clears it; only N failures in a row make it bad."""
    if trial.consecutive_failures == 0:
        return "ok"
    if trial.consecutive_failures < failing_after:
        return before  # not yet N in a row: nothing new to say (a bad trial stays bad)
    if trial.not_found:
        return "removed"
    return "failing" if before == "ok" else before


def _common(trials: Sequence[TrialCheck]) -> str | None:
    """The error most of these trials report (ties: the first in NCT ID order)."""
    errors = Counter(t.last_error for t in trials if t.last_error)
    return errors.most_common(1)[0][0] if errors else None


# What the admin can do about each alert: the email's second paragraph.
_ADVICE: Mapping[AlertKind, str] = {
    "failing": (
        "trialwatch keeps checking it as usual; you will hear once more when a check succeeds. "
        "`trialwatch status` shows the latest error."
    ),
    "recovered": "Nothing to do: a change made while it was failing is found by this check.",
    "removed": (
        "Check the NCT ID on clinicaltrials.gov. If the trial is gone for good, stop watching it "
        "with `trialwatch watch remove`; until then trialwatch keeps checking."
    ),
    "outage": (
        "No check of any watched trial got through, so this is one alert rather than one per "
        "trial. trialwatch keeps trying; you will hear again when the registry answers."
    ),
    "outage_over": (
        "Trials that still fail are reported on their own, and you will hear when each recovers."
    ),
}


def alert_email(alert: Alert, *, sender: str, admin: str) -> Outgoing:
    """The admin's email for one alert: plain text and a minimal HTML part, no unsubscribe."""
    paragraphs = (f"{alert.describe()}.", _ADVICE[alert.kind])
    msg = build_email(
        sender=sender,
        to=admin,
        subject=f"trialwatch: {alert.headline()}",
        text="\n\n".join(paragraphs) + "\n",
        html="".join(f"<p>{html.escape(p)}</p>" for p in paragraphs),
        key=alert.key,
        date=alert.at,
    )
    return Outgoing(alert.key, "email", admin, str(msg["Subject"]), wire_bytes(msg))
