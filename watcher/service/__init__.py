"""The compositions: a check (`check.check_now`), the poll cycle, digests, the daemon, the demo.

The rule of this folder: it wires the core to the edges (registry, store, delivery) from the
settings; each of the command line, the daemon and the demo asks it for the same composition
instead of wiring its own (docs/ARCHITECTURE.md).
"""
