"""How the command line prints: JSON for scripts, and the text blocks several commands share.

Words for changes and trials come from `watcher.core.wording`; this module only puts what a
command has in front of its reader.
"""

from __future__ import annotations

import json
from typing import Any

import click

from watcher.config import Settings
from watcher.core.addresses import redact_addresses
from watcher.delivery.outbox import DeliveryReport


def emit_json(data: Any) -> None:
    """JSON for scripts: indented, UTF-8 kept readable."""
    click.echo(json.dumps(data, indent=2, ensure_ascii=False))


def format_delivery(report: DeliveryReport, settings: Settings) -> str:
    """What a drain did, and where mail went when no SMTP server is set."""
    where = f" (to the Maildir {settings.mail.maildir})" if not settings.smtp.host else ""
    lines = [
        f"Sent {report.sent}{where}, deferred {report.deferred}, failed {report.failed}.",
        *(f"  {error}" for error in delivery_json(report)["errors"]),
    ]
    return "\n".join(lines)


def delivery_json(report: DeliveryReport) -> dict[str, Any]:
    """`report.to_json()` with no address in its errors: `check` and `deliver` print them."""
    data = report.to_json()
    return {**data, "errors": [redact_addresses(error) for error in data["errors"]]}
