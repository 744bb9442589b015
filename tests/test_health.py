"""Trial health as state changes: one alert when a trouble starts, one when it ends."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from email import policy
from email.parser import BytesParser

import pytest

from watcher.core.health import Alert, HealthState, TrialCheck, alert_email, assess
from watcher.errors import TrialNotFound

NOW = datetime(2026, 3, 15, 12, 0, tzinfo=UTC)
A, B, C = "NCT00000001", "NCT00000002", "NCT00000003"
DOWN = "the registry answered 503 Service Unavailable"


def ok(nct_id: str) -> TrialCheck:
    return TrialCheck(nct_id, 0)


def failed(nct_id: str, times: int, error: str = DOWN) -> TrialCheck:
    return TrialCheck(nct_id, times, error)


def gone(nct_id: str, times: int) -> TrialCheck:
    return TrialCheck(nct_id, times, TrialNotFound(nct_id).detail, not_found=True)


def run(checks_by_cycle: list[list[TrialCheck]], failing_after: int = 3) -> list[list[Alert]]:
    """Feed cycles through `assess`, carrying the state, as the daemon does (via JSON)."""
    state = HealthState()
    alerts = []
    for n, checks in enumerate(checks_by_cycle):
        result = assess(state, checks, failing_after, NOW + timedelta(hours=n))
        state = HealthState.from_json(result.state.to_json())
        alerts.append(list(result.alerts))
    return alerts


def kinds(alerts: list[list[Alert]]) -> list[list[tuple[str, tuple[str, ...]]]]:
    return [[(a.kind, a.nct_ids) for a in cycle] for cycle in alerts]


def test_a_trial_failing_n_times_is_one_alert_then_one_recovery() -> None:
    """The admin hears once when a trial reaches N failures in a row, and once when it is back."""
    cycles = [[ok(A), failed(B, n)] for n in range(1, 6)] + [[ok(A), ok(B)], [ok(A), ok(B)]]
    assert kinds(run(cycles)) == [
        [],
        [],
        [("failing", (B,))],
        [],
        [],
        [("recovered", (B,))],
        [],
    ]


def test_fewer_than_n_failures_say_nothing() -> None:
    """A registry that fails now and then, below the threshold, sends no email at all."""
    cycles = [[failed(A, 1), ok(B)], [ok(A), failed(B, 2)], [ok(A), ok(B)]]
    assert kinds(run(cycles)) == [[], [], []]


def test_the_failing_alert_carries_the_trials_error() -> None:
    """The failing alert names the trial and its latest error."""
    (alert,) = run([[ok(A), failed(B, 1, "timed out")]], failing_after=1)[0]
    assert alert.error == "timed out"
    assert alert.describe() == f"{B} is failing: timed out"


def test_every_trial_failing_is_one_outage_alert() -> None:
    """When no trial gets through, the admin gets one outage alert, not one per trial."""
    cycles = [[failed(A, n), failed(B, n), failed(C, n)] for n in (1, 2, 3, 4)]
    cycles.append([ok(A), ok(B), ok(C)])
    result = run(cycles)
    assert kinds(result) == [[], [], [("outage", (A, B, C))], [], [("outage_over", ())]]
    assert result[2][0].error == DOWN


def test_after_an_outage_the_trials_still_failing_are_named_and_followed() -> None:
    """The end of an outage lists trials still failing; each then recovers on its own."""
    cycles = [[failed(A, n), failed(B, n)] for n in (1, 2, 3)]
    cycles += [[ok(A), failed(B, 4)], [ok(A), failed(B, 5)], [ok(A), ok(B)]]
    assert kinds(run(cycles)) == [
        [],
        [],
        [("outage", (A, B))],
        [("outage_over", (B,))],
        [],
        [("recovered", (B,))],
    ]


def test_a_single_watched_trial_failing_is_not_an_outage() -> None:
    """With one trial, its failure is its own alert: one trial cannot tell an outage apart."""
    assert kinds(run([[failed(A, 1)]], failing_after=1)) == [[("failing", (A,))]]


def test_a_404_is_its_own_alert_once() -> None:
    """A trial the registry no longer has is reported as removed, once, even among failures."""
    cycles = [[ok(A), gone(B, 1)], [ok(A), gone(B, 2)], [ok(A), ok(B)]]
    result = run(cycles, failing_after=1)
    assert kinds(result) == [[("removed", (B,))], [], [("recovered", (B,))]]
    assert "no longer in the registry" in result[0][0].describe()


def test_a_failing_trial_that_turns_out_removed_is_told_as_removed() -> None:
    """A trial already reported failing that then answers 404 gets the removed alert."""
    cycles = [[ok(A), failed(B, 1)], [ok(A), gone(B, 2)], [ok(A), gone(B, 3)]]
    assert kinds(run(cycles, failing_after=1)) == [[("failing", (B,))], [("removed", (B,))], []]


def test_a_trial_no_longer_watched_is_forgotten() -> None:
    """Unwatching a failing trial drops it from the state: no recovery email for it later."""
    first = assess(HealthState(), [ok(A), failed(B, 1)], 1, NOW)
    assert first.state.reported == {B: "failing"}
    later = assess(first.state, [ok(A)], 1, NOW)
    assert later.alerts == () and later.state.reported == {}


def test_the_state_survives_a_round_trip_and_rejects_garbage() -> None:
    """The saved state reads back equal; something else in its place is refused."""
    state = HealthState({B: "removed", A: "failing"}, outage=True)
    assert HealthState.from_json(state.to_json()) == state
    assert HealthState.from_json(None) == HealthState()
    with pytest.raises(ValueError, match="not a saved health state"):
        HealthState.from_json('{"reported": {"X": "fine"}}')


def test_alert_email_is_plain_text_and_html_without_unsubscribe() -> None:
    """The admin's email has both parts, says what to do, and has no list headers."""
    alert = Alert("removed", (B,), NOW, TrialNotFound(B).detail)
    out = alert_email(alert, sender="trialwatch <tw@example.org>", admin="admin@example.org")
    assert (out.channel, out.recipient) == ("email", "admin@example.org")
    assert out.key == f"admin/removed/{B}/2026-03-15T12:00:00+00:00"
    msg = BytesParser(policy=policy.default).parsebytes(out.body)
    assert msg["Subject"] == f"trialwatch: {B} is no longer in the registry"
    assert msg["List-Unsubscribe"] is None
    text = msg.get_body(("plain",))
    html = msg.get_body(("html",))
    assert text is not None and "watch remove" in text.get_content()
    assert html is not None and "<p>" in html.get_content()


def test_alert_keys_differ_between_alerts_and_repeat_for_the_same_one() -> None:
    """The same alert of the same cycle has one key (queued once); others have their own."""
    outage = Alert("outage", (A, B), NOW)
    assert outage.key == Alert("outage", (A, B), NOW).key
    assert outage.key == f"admin/outage/registry/{NOW.isoformat()}"
    assert Alert("failing", (A,), NOW).key != Alert("recovered", (A,), NOW).key
    assert Alert("failing", (A,), NOW).key != Alert("failing", (A,), NOW + timedelta(hours=1)).key
