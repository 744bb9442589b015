"""The data files shipped inside the package, and the one function that reads each.

Reading is I/O, so it lives here, at an edge; the pure core receives the parsed data
(`watcher.core.glossary.Glossary`) as an argument. `importlib.resources` finds the files the
same way in an installed wheel and in a checkout.
"""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

from watcher.core.glossary import Glossary, glossary_from_json


@cache
def load_glossary() -> Glossary:
    """The packaged glossary (`glossary.json`), read and parsed once per process."""
    text = resources.files(__package__).joinpath("glossary.json").read_text(encoding="utf-8")
    return glossary_from_json(json.loads(text))
