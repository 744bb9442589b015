"""The web front (`trialwatch serve`): server-rendered pages, feeds and the subscriber's links.

An edge like `delivery/`: it reads the store, the settings and the wording of `core/`, and only
`cli/` imports it. See docs/ARCHITECTURE.md.
"""
