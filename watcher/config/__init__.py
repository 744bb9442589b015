"""Settings: one TOML file, validated once into frozen objects the rest of trialwatch trusts.

The package reads in the order a setting travels: `values` (how one value is parsed and shown),
`schema` (every key declared once, on its section), `load` (the file read and checked, every
problem reported together; the SMTP password file), `show` (`check-config` and the example
file). The rest of trialwatch imports the names below from `watcher.config`, not the modules.
"""

from watcher.config.channels import channel_url, credential_name
from watcher.config.load import load_settings, preflight, smtp_password, state_directory
from watcher.config.schema import (
    CREDENTIAL_NAME,
    MIN_INTERVAL,
    SECTIONS,
    SETTINGS,
    Channel,
    FeedSettings,
    LogSettings,
    MailSettings,
    RegistrySettings,
    ScheduleSettings,
    Section,
    Setting,
    Settings,
    SmtpSettings,
    StorageSettings,
    Webhook,
    WebSettings,
)
from watcher.config.show import (
    MASK,
    EffectiveValue,
    effective_json,
    effective_settings,
    example_toml,
    format_effective,
)
from watcher.config.values import bounded_duration, format_duration, parse_duration

__all__ = [
    "CREDENTIAL_NAME",
    "MASK",
    "MIN_INTERVAL",
    "SECTIONS",
    "SETTINGS",
    "Channel",
    "EffectiveValue",
    "FeedSettings",
    "LogSettings",
    "MailSettings",
    "RegistrySettings",
    "ScheduleSettings",
    "Section",
    "Setting",
    "Settings",
    "SmtpSettings",
    "StorageSettings",
    "WebSettings",
    "Webhook",
    "bounded_duration",
    "channel_url",
    "credential_name",
    "effective_json",
    "effective_settings",
    "example_toml",
    "format_duration",
    "format_effective",
    "load_settings",
    "parse_duration",
    "preflight",
    "smtp_password",
    "state_directory",
]
