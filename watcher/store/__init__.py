"""The edge to the database: the `Store`, its schema migrations and the rows it returns.

The rule of this folder: it is the only place that imports sqlite3 or sqlite-utils, and every
state change it makes is one transaction. It writes what it is handed (`NewVersion`, messages)
and never reads a registry record's layout (docs/ARCHITECTURE.md).
"""
