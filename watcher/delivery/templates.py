"""Summaries, emails and digests as text and HTML, from the jinja2 templates.

What is said is decided in `watcher.core.wording` (plain data); this module only lays it out,
so the text part, the HTML part, the feed entry and the CLI all say the same thing. HTML templates
(`*.html.j2`) are autoescaped: a trial record is third-party text and may contain `<script>`
or `&`. Undefined variables are errors, not blanks, so a template typo fails a test instead of
mailing a hole to a patient.

Templates live at the top of the repository (`templates/`); the wheel installs them as
`watcher/templates`, so the installed location is tried first, then the checkout's.
"""

from __future__ import annotations

import textwrap
from functools import cache, lru_cache
from pathlib import Path
from typing import Any, Literal

from jinja2 import Environment, FileSystemLoader, StrictUndefined, select_autoescape
from markupsafe import Markup, escape

from watcher.core.wording import ChangeSummary, TrialSummary

Format = Literal["text", "html"]
FORMATS: tuple[Format, ...] = ("text", "html")
_SUFFIX = {"text": "txt", "html": "html"}
WIDTH = 76  # plain-text mail: readable in any client, and under RFC 5322's 78


def template_dirs() -> list[Path]:
    """Where templates are looked for: beside the installed package, then in the checkout."""
    package = Path(__file__).resolve().parents[1]
    return [d for d in (package / "templates", package.parent / "templates") if d.is_dir()]


@lru_cache(maxsize=8192)
def wrap(text: str, indent: str = "", hang: str | None = None) -> str:
    """Fill `text` to `WIDTH` columns: `indent` on the first line, `hang` on the rest.

    Remembered: the emails planned together (a release's, a subscribers file's welcomes)
    wrap the same lines of the same trials again and again, and textwrap is most of the cost
    of rendering one."""
    return textwrap.fill(
        " ".join(text.split()),
        WIDTH,
        initial_indent=indent,
        subsequent_indent=indent if hang is None else hang,
        break_long_words=False,  # URLs and gene names stay whole
        break_on_hyphens=False,
    )


@lru_cache(maxsize=8192)
def bullet(text: str, depth: int = 0) -> str:
    """A list item in plain text, nested `depth` levels, continuation lines aligned; each line
    of `text` (an eligibility item's units) starts a line of its own. Remembered, as `wrap`."""
    pad = "  " * depth
    first, *rest = [line for line in text.split("\n") if line.strip()] or [""]
    return "\n".join(
        (wrap(first, pad + "- ", pad + "  "), *(wrap(line, pad + "  ") for line in rest))
    )


def lines(text: str) -> Markup:
    """HTML for text whose line breaks matter (an eligibility item's units), escaped."""
    return Markup("<br>").join(escape(line) for line in text.split("\n") if line.strip())


@cache
def environment() -> Environment:
    """The one jinja2 environment (templates are read once per process: not checked for
    changes on the disk before each use, as jinja2 does by default, a few `stat` calls for
    every email rendered)."""
    env = Environment(
        loader=FileSystemLoader([str(d) for d in template_dirs()]),
        auto_reload=False,
        autoescape=select_autoescape(enabled_extensions=("html.j2",), default=False),
        undefined=StrictUndefined,
        trim_blocks=True,
        lstrip_blocks=True,
        keep_trailing_newline=True,
    )
    env.filters["wrap"] = wrap
    env.filters["bullet"] = bullet
    env.filters["lines"] = lines
    return env


def render(name: str, **context: Any) -> str:
    """Render the template `name` (e.g. "email.txt.j2") with `context`."""
    return environment().get_template(name).render(**context)


def template_name(stem: str, fmt: Format) -> str:
    """`("trial_summary", "html")` → "trial_summary.html.j2"."""
    if fmt not in _SUFFIX:
        raise ValueError(f"unknown format {fmt!r}: choose one of {', '.join(FORMATS)}")
    return f"{stem}.{_SUFFIX[fmt]}.j2"


def render_trial_summary(summary: TrialSummary, fmt: Format) -> str:
    """What the trial is, for the summary's audience."""
    return render(template_name("trial_summary", fmt), trial=summary)


def render_change_summary(summary: ChangeSummary, fmt: Format) -> str:
    """What changed, for the summary's audience."""
    return render(template_name("change_summary", fmt), changes=summary)
