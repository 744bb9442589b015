"""What planning, sending and subscribing cost at scale (issue 15, items 1, 3 and 6).

Run from the checkout: `python bench/scale_delivery.py [--quick]`. `bench/scale.py` imports the
three steps (`from scale_delivery import planning, delivery, bulk_subscribe`); each returns one
row: `step`, `n`, `value`, `unit`, `baseline` (or None), `ratio` (or None), `peak_rss_mb` (the
process's peak so far, as `getrusage` reports it).

- `planning(n_subscribers, n_trials, changed_share)`: the emails a release causes, planned as
  the poll plans them (`plan_notices`, the real templates and glossary). The trials are clones
  of every recorded pair of versions that changes something (under new NCT IDs); the
  subscribers follow one trial each, picked at random (seeded): seven in ten patients, one in
  five of them near one of five places, one in seven on a daily digest. Value: milliseconds per
  email planned, over the `changed_share` of the trials that changed; the total is in `seconds`.
- `delivery(n_messages)`: `deliver_due` sending n queued change emails to a local aiosmtpd
  server (its own process), against the baseline of a bare smtplib loop (one connection,
  `sendmail` each) sending the same bytes to the same server; the two take turns, `ROUNDS`
  times (each first in every other round), and the medians are compared (the machine may be
  busy with other work). Value: messages per second; ratio: trialwatch / bare; also each
  one's own CPU time per message (`cpu_ms_per_msg`), which a busy machine moves far less.
- `bulk_subscribe(n, trials)`: `trialwatch subscribe --file` (the real command, its own
  process) with n lines (one or two trials each) on `trials` stored trials, welcome emails and
  feeds included; the baseline is one `trialwatch
  subscribe` process per line, timed on a sample of lines and scaled to n. Value: seconds; also
  the command's CPU time, user and system (`cpu_s`: its child writing the private feeds
  included), which a busy machine moves less than the wall time, and whose system part is
  mostly the file system creating the feed files.
"""

from __future__ import annotations

import argparse
import json
import random
import resource
import smtplib
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from conftest import consecutive_versions, free_port  # noqa: E402  (needs the paths above)

from watcher.core.canonical import content_hash  # noqa: E402
from watcher.core.change import Change  # noqa: E402
from watcher.core.diff import diff_trials  # noqa: E402
from watcher.core.distance import Radius  # noqa: E402
from watcher.core.message import Outgoing  # noqa: E402
from watcher.core.notify import Letterhead, plan_notices  # noqa: E402
from watcher.core.places import Near  # noqa: E402
from watcher.core.record import Trial, parse_trial  # noqa: E402
from watcher.core.subscriptions import Subscriber, Subscription  # noqa: E402
from watcher.core.version import NewVersion  # noqa: E402
from watcher.data import load_glossary  # noqa: E402
from watcher.delivery.templates import render  # noqa: E402
from watcher.registry.replay import with_nct_id  # noqa: E402

NOW = datetime(2026, 11, 30, 9, 0, tzinfo=UTC)
SENDER = "trialwatch <alerts@trials.example.org>"
LETTERHEAD = Letterhead(SENDER, "https://trials.example.org")
PLACES = (
    Near("Boston, Massachusetts, United States", (42.3601, -71.0589), Radius(50, "mi")),
    Near("Cleveland, Ohio, United States", (41.4993, -81.6944), Radius(100, "km")),
    Near("Guangzhou, China"),
    Near("Seoul, Korea, Republic of", (37.5665, 126.978), Radius(30, "km")),
    Near("Ohio, United States"),
)


def peak_rss_mb() -> float:
    """The process's peak resident set so far, in MB (Linux reports kilobytes)."""
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


def row(
    step: str, n: int, value: float, unit: str, baseline: float | None = None, **extra: Any
) -> dict[str, Any]:
    ratio = round(value / baseline, 2) if baseline else None
    return {
        "step": step,
        "n": n,
        "value": round(value, 3),
        "unit": unit,
        "baseline": None if baseline is None else round(baseline, 3),
        "ratio": ratio,
        "peak_rss_mb": peak_rss_mb(),
        **extra,
    }


def _read(path: Path) -> dict[str, Any]:
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return data


def changing_pairs() -> list[tuple[dict[str, Any], dict[str, Any], list[Change]]]:
    """Every recorded pair of versions whose diff is not empty: old and new record, changes."""
    pairs = []
    for old_path, new_path in consecutive_versions():
        old, new = _read(old_path), _read(new_path)
        changes = diff_trials(parse_trial(old), parse_trial(new))
        if changes:
            pairs.append((old, new, changes))
    return pairs


def subscriptions_of(
    n_subscribers: int, nct_ids: list[str]
) -> dict[str, list[tuple[Subscriber, Subscription]]]:
    """`n_subscribers` people, one trial each, seeded; see the module docstring for the mix."""
    pick = random.Random(15)
    by_trial: dict[str, list[tuple[Subscriber, Subscription]]] = {n: [] for n in nct_ids}
    for number in range(1, n_subscribers + 1):
        nct_id = pick.choice(nct_ids)
        patient = pick.random() < 0.7
        near = pick.choice(PLACES) if patient and pick.random() < 0.2 else None
        delivery = "daily" if pick.random() < 1 / 7 else "immediate"
        person = Subscriber(
            number, f"reader{number}@example.org", f"u{number:08d}" * 4, f"f{number:08d}" * 4
        )
        subscription = Subscription(
            number,
            number,
            nct_id,
            audience="patient" if patient else "coordinator",
            delivery=delivery,
            near=near,
        )
        by_trial[nct_id].append((person, subscription))
    return by_trial


def planning(n_subscribers: int, n_trials: int, changed_share: float) -> dict[str, Any]:
    """Milliseconds per email to plan what a release changing `changed_share` of the trials
    sends to `n_subscribers` people following `n_trials` trials."""
    glossary = load_glossary()
    pairs = changing_pairs()
    nct_ids = [f"NCT9{i:07d}" for i in range(n_trials)]
    followers = subscriptions_of(n_subscribers, nct_ids)
    changed = nct_ids[: round(n_trials * changed_share)]
    releases: list[tuple[str, Trial, list[Change]]] = []
    for number, nct_id in enumerate(changed):
        _, new, changes = pairs[number % len(pairs)]
        releases.append((nct_id, replace(parse_trial(new), nct_id=nct_id), changes))
    emails = 0
    started, cpu_started = time.perf_counter(), time.process_time()
    for nct_id, trial, changes in releases:
        notices = plan_notices(
            nct_id,
            2,
            trial,
            changes,
            followers[nct_id],
            (),
            glossary=glossary,
            letterhead=LETTERHEAD,
            render=render,
            now=NOW,
        )
        emails += len(notices.messages)
    seconds, cpu = time.perf_counter() - started, time.process_time() - cpu_started
    return row(
        "planning per email",
        n_subscribers,
        1000 * seconds / max(emails, 1),
        "ms/email",
        emails=emails,
        seconds=round(seconds, 2),
        # CPU time too: on a shared machine the wall clock counts other processes' turns.
        cpu_ms_per_email=round(1000 * cpu / max(emails, 1), 3),
        trials=n_trials,
        changed=len(changed),
    )


# -- delivery -------------------------------------------------------------------------------------


SERVER = (sys.executable, "-m", "aiosmtpd", "-n", "-c", "aiosmtpd.handlers.Sink")


@contextmanager
def smtp_server() -> Iterator[int]:
    """aiosmtpd in a process of its own (accepting and discarding), so that it does not share
    the interpreter lock with the sender being measured; yields its port."""
    port = free_port()
    server = subprocess.Popen([*SERVER, "-l", f"127.0.0.1:{port}"])
    try:
        for _ in range(100):
            try:
                with smtplib.SMTP("127.0.0.1", port, timeout=1):
                    break
            except OSError:
                time.sleep(0.05)
        yield port
    finally:
        server.terminate()
        server.wait()


def sample_emails(n_messages: int) -> list[Outgoing]:
    """n real change emails (a coordinator's), under distinct keys and addresses."""
    glossary = load_glossary()
    _, new, changes = changing_pairs()[0]
    trial = parse_trial(new)
    nct_id = trial.nct_id or "NCT00000000"
    people = [
        (
            Subscriber(n, f"reader{n}@example.org", f"u{n:08d}" * 4, f"f{n:08d}" * 4),
            Subscription(n, n, nct_id, audience="coordinator"),
        )
        for n in range(1, n_messages + 1)
    ]
    notices = plan_notices(
        nct_id,
        2,
        trial,
        changes,
        people,
        (),
        glossary=glossary,
        letterhead=LETTERHEAD,
        render=render,
        now=NOW,
    )
    # Queued without subscriber rows: the outbox's subscriber_id is a reference to one.
    return [replace(message, subscriber_id=None) for message in notices.messages]


def bare_loop(port: int, messages: list[Outgoing]) -> float:
    """Seconds for the plainest sender: one smtplib connection, `sendmail` per message."""
    started = time.perf_counter()
    with smtplib.SMTP("127.0.0.1", port) as smtp:
        for message in messages:
            smtp.sendmail("alerts@trials.example.org", [message.recipient], message.body)
    return time.perf_counter() - started


ROUNDS = 3


def delivery(n_messages: int) -> dict[str, Any]:
    """Messages per second `deliver_due` sends to aiosmtpd, against a bare smtplib loop.

    The two take turns, each going first in every other round, so neither always meets a
    server just warmed (or a machine just freed) by the other. `cpu_ms_per_msg` is this
    process's own CPU time per message for each (the server's is in neither): on a shared
    machine it moves far less than the rates do, and it is what trialwatch adds to a send.
    """
    from watcher.config import load_settings
    from watcher.delivery.outbox import deliver_due
    from watcher.store.database import Store

    messages = sample_emails(n_messages)
    rates: dict[str, list[float]] = {"trialwatch": [], "bare": []}
    cpu: dict[str, list[float]] = {"trialwatch": [], "bare": []}
    with tempfile.TemporaryDirectory() as tmp, smtp_server() as port:
        config = Path(tmp) / "config.toml"
        config.write_text(
            f'[mail]\nfrom = "{SENDER}"\n'
            f'[smtp]\nhost = "127.0.0.1"\nport = {port}\nsecurity = "none"\n',
            encoding="utf-8",
        )
        settings = load_settings(config, env={"STATE_DIRECTORY": tmp})

        def bare() -> None:
            bare_loop(port, messages)

        def ours(store: Store) -> None:
            sent = 0
            while True:  # until nothing is due, however many drains that takes
                report = deliver_due(store, settings, NOW, {})
                sent += report.sent
                if report.attempted == 0:
                    break
            assert sent == len(messages), (sent, len(messages))

        for round_ in range(ROUNDS):
            with Store(Path(tmp) / f"t{round_}.db") as store:
                store.enqueue(messages, NOW)
                turns = [("bare", bare), ("trialwatch", lambda: ours(store))]
                for name, send in turns if round_ % 2 == 0 else turns[::-1]:
                    cpu_started, started = time.process_time(), time.perf_counter()
                    send()
                    seconds = time.perf_counter() - started
                    rates[name].append(len(messages) / seconds)
                    cpu[name].append(1000 * (time.process_time() - cpu_started) / len(messages))
    return row(
        "delivery rate",
        len(messages),
        statistics.median(rates["trialwatch"]),
        "msg/s",
        statistics.median(rates["bare"]),
        rounds={name: [round(r) for r in values] for name, values in rates.items()},
        cpu_ms_per_msg={name: round(statistics.median(v), 3) for name, v in cpu.items()},
    )


# -- bulk subscribe -------------------------------------------------------------------------------


def stored_state(tmp: Path, trials: int) -> tuple[Path, list[str]]:
    """A state directory with `trials` watched trials, each with a stored version and its
    feeds written, as the check that stored it leaves them."""
    from watcher.config import load_settings
    from watcher.delivery.feed_files import write_feeds
    from watcher.store.database import Store

    config = tmp / "config.toml"
    config.write_text(f'[mail]\nfrom = "{SENDER}"\n', encoding="utf-8")
    settings = load_settings(config, env={"STATE_DIRECTORY": str(tmp / "state")})
    records = [new for _, new, _ in changing_pairs()]
    nct_ids = [f"NCT8{i:07d}" for i in range(trials)]
    (tmp / "state").mkdir()
    with Store(tmp / "state" / "trialwatch.db") as store:
        store.add_watches(nct_ids, NOW)
        for number, nct_id in enumerate(nct_ids):
            raw = with_nct_id(records[number % len(records)], nct_id)
            store.save_version(NewVersion.of(nct_id, raw, content_hash(raw)), None, None, NOW)
        write_feeds(store, settings, NOW)
    return config, nct_ids


def subscribers_csv(path: Path, n: int, nct_ids: list[str], start: int = 0) -> None:
    pick = random.Random(6)
    lines = ["email,trials,audience,digest"]
    for number in range(start, start + n):
        trials = " ".join(pick.sample(nct_ids, 1 + number % 2))
        audience = "coordinator" if number % 4 == 0 else "patient"
        digest = "daily" if number % 7 == 0 else ""
        lines.append(f"reader{number}@example.org,{trials},{audience},{digest}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def _trialwatch(config: Path, state: Path, *args: str) -> float:
    started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "watcher", "--config", str(config), *args],
        check=True,
        capture_output=True,
        env={"STATE_DIRECTORY": str(state), "PATH": "/usr/bin:/bin"},
        cwd=ROOT,
    )
    return time.perf_counter() - started


def bulk_subscribe(n: int, trials: int = 100, sample: int = 5) -> dict[str, Any]:
    """Seconds for `subscribe --file` with n lines on `trials` stored trials, against one
    `subscribe` process per line (the median of `sample` such processes, times n)."""
    with tempfile.TemporaryDirectory() as name:
        tmp = Path(name)
        config, nct_ids = stored_state(tmp, trials)
        state = tmp / "state"
        pick = random.Random(7)
        each = [
            _trialwatch(config, state, "subscribe", f"one{k}@example.org", pick.choice(nct_ids))
            for k in range(sample)
        ]
        baseline = n * sorted(each)[len(each) // 2]
        csv = tmp / "subscribers.csv"
        subscribers_csv(csv, n, nct_ids)
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        try:
            seconds = _trialwatch(config, state, "subscribe", "--file", str(csv))
        except subprocess.CalledProcessError as exc:
            print(f"subscribe --file failed: {exc.stderr.decode()[:300]}", file=sys.stderr)
            seconds = float("nan")
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = {
        "user": round(after.ru_utime - before.ru_utime, 2),
        "sys": round(after.ru_stime - before.ru_stime, 2),
    }
    return row("bulk subscribe", n, seconds, "s", baseline, trials=trials, cpu_s=cpu)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="a tenth of the sizes")
    parser.add_argument("--only", choices=("planning", "delivery", "bulk"), help="one step")
    args = parser.parse_args()
    scale = 10 if args.quick else 1
    rows = []
    if args.only in (None, "planning"):
        rows.append(planning(10_000 // scale, 1_000 // scale, 0.10))
    if args.only in (None, "delivery"):
        rows.append(delivery(2_000 // scale))
    if args.only in (None, "bulk"):
        rows.append(bulk_subscribe(10_000 // scale))
    for result in rows:
        print(json.dumps(result))


if __name__ == "__main__":
    main()
