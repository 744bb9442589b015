"""The `trialwatch` command line: one module per command group.

The rule of this folder: a command parses its arguments, calls one service or store function,
and prints (through `output`); every expected failure is one `Error: …` line and an exit code
(docs/ARCHITECTURE.md).
"""
