"""The edges that carry words out: SMTP, the Maildir, webhooks, the outbox drain, feed files,
and the templates that lay words out as text and HTML.

The rule of this folder: it sends or writes what the core already decided; it decides nothing
about what to say (docs/ARCHITECTURE.md).
"""
