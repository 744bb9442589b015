"""`trialwatch api-key create/list/revoke`: the keys scripts send to the API (`/api/v1`).

A key is printed once, when it is made, and stored only as its SHA-256 (`store/api_keys.py`):
lost, it is revoked and a new one made. `list` shows names and dates, never a key.
"""

from __future__ import annotations

import secrets

import click

from watcher.cli.output import emit_json
from watcher.cli.support import App, json_option, now, pass_app, reports_errors
from watcher.errors import InputError

KEY_PREFIX = "tw_"  # lets a secret scanner, or a person, tell what the string is


def new_key() -> str:
    """A fresh key: 256 random bits, URL-safe, with `KEY_PREFIX`."""
    return KEY_PREFIX + secrets.token_urlsafe(32)


@click.group("api-key")
def api_key() -> None:
    """Make, list and revoke the keys for the coordinators' API (/api/v1)."""


def _name(name: str) -> str:
    typed = name.strip()
    if not typed or len(typed) > 64 or not typed.isprintable():
        raise InputError("NAME: give a short name for the key (1 to 64 characters), e.g. office")
    return typed


@api_key.command("create")
@click.argument("name")
@json_option
@pass_app
@reports_errors
def create(app: App, name: str, as_json: bool) -> None:
    """Make a key called NAME and print it, once (only its hash is kept)."""
    key = new_key()
    with app.store() as store:
        made = store.add_api_key(_name(name), key, now())
    if as_json:
        emit_json({"name": made.name, "key": key, "created_at": made.created_at})
        return
    click.echo(key)
    click.echo(
        f"API key {made.name!r} made. Copy it now: it is not shown again. Send it as "
        "`Authorization: Bearer KEY`.",
        err=True,
    )


@api_key.command("list")
@json_option
@pass_app
@reports_errors
def list_keys(app: App, as_json: bool) -> None:
    """List the keys: name, when made, last used, revoked (never the key)."""
    with app.store() as store:
        keys = store.api_keys()
    if as_json:
        emit_json(
            [
                {
                    "name": k.name,
                    "created_at": k.created_at,
                    "last_used_at": k.last_used_at,
                    "revoked_at": k.revoked_at,
                }
                for k in keys
            ]
        )
        return
    if not keys:
        click.echo("No API keys. Make one: trialwatch api-key create NAME")
    for k in keys:
        used = f"last used {k.last_used_at}" if k.last_used_at else "never used"
        state = f", revoked {k.revoked_at}" if k.revoked_at else ""
        click.echo(f"{k.name}  made {k.created_at}, {used}{state}")


@api_key.command("revoke")
@click.argument("name")
@json_option
@pass_app
@reports_errors
def revoke(app: App, name: str, as_json: bool) -> None:
    """Revoke the key NAME: requests with it are refused (403) from now on."""
    with app.store() as store:
        done = store.revoke_api_key(name, now())
        known = {k.name for k in store.api_keys()}
    if not done and name not in known:
        listed = ", ".join(sorted(known)) or "none yet"
        raise InputError(f"NAME: no API key is called {name!r} (keys: {listed})")
    if as_json:
        emit_json({"name": name, "revoked": done, "already_revoked": not done})
        return
    click.echo(f"API key {name!r} {'revoked' if done else 'was already revoked'}")
