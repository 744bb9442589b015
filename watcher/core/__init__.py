"""The pure core: what a trial record says, what changed, who cares, and how to say it.

The rule of this folder: a module here imports only `watcher.core`, `watcher.errors` and pure
libraries, and reads no clock, environment, file or network. Time, settings, the glossary and
the template renderer come in as arguments. `tests/test_architecture.py` walks every module
here and fails on any breach (docs/ARCHITECTURE.md).
"""
