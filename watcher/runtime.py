"""Wiring: the edges (store, registry client) built from settings, in one place.

The CLI, the daemon and the demo all need the same objects made the same way; building them
here keeps a setting from being honoured by one entry point and forgotten by another.
"""

from __future__ import annotations

from watcher.config import Settings
from watcher.registry import RegistryClient
from watcher.store import Store


def open_store(settings: Settings) -> Store:
    """The database named by `[storage].database`, created and migrated as needed."""
    return Store(settings.storage.database)


def registry_client(settings: Settings) -> RegistryClient:
    """A registry client honouring every `[registry]` setting."""
    reg = settings.registry
    return RegistryClient(
        reg.base_url,
        user_agent=reg.user_agent,
        timeout_s=reg.timeout_s,
        requests_per_minute=reg.requests_per_minute,
        max_retries=reg.max_retries,
        ids_per_request=reg.ids_per_request,
        records_per_request=reg.records_per_request,
    )
