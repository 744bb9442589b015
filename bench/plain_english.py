"""How much of the recorded eligibility text trialwatch rewrites, how faithfully, how readably.

Run from the checkout: `python bench/plain_english.py`. Every recorded single-study file
(`tests/fixtures/ctgov/` and `watcher/demo_data/`, the same set the tests use) that has
eligibility criteria is parsed into items and rewritten with the packaged glossary. Records
of one trial at several dates repeat most items; they are all counted, as a notification would
be sent for each, and the number of distinct criteria texts is shown beside the total.

Reported, with the issue's targets:

- items: rewritten (the plain text differs), already plain (nothing to rewrite), and shown as
  written (the rewrite failed a fidelity check and was not sent) - target: at most 15 % shown
  as written;
- fidelity failures caught, by kind of problem;
- fidelity violations in what is sent: every sent item is checked again with
  `watcher.core.fidelity.check`, and audited independently here (same numbers, every capitalised
  name and gene token still present) - target: 0;
- median Flesch-Kincaid grade of each item's plain text, with the original terms that follow
  plain words in parentheses masked (they are there for reference, not reading), against the
  median grade of the source items - target: 8 or below.
"""

from __future__ import annotations

import json
import re
import statistics
import sys
from collections import Counter
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests")]

from conftest import all_fixture_records  # noqa: E402  (needs the paths above)

from watcher.core.fidelity import check  # noqa: E402
from watcher.core.readability import flesch_kincaid_grade  # noqa: E402
from watcher.core.rewrite import (  # noqa: E402
    PlainItem,
    rewrite_criteria,
    rewrite_item,
)
from watcher.data import load_glossary  # noqa: E402

MAX_SHOWN_AS_WRITTEN = 0.15
MAX_MEDIAN_GRADE = 8.0
_NUMBER = re.compile(r"\d+(?:[.,]\d+)*")
_NAME = re.compile(r"\b(?=\w*[A-Z]\w*[A-Z0-9])[\w-]+")


def audit(item: PlainItem) -> bool:
    """An independent look at a sent item: same numbers, every name still there."""
    numbers_kept = Counter(_NUMBER.findall(item.original)) == Counter(_NUMBER.findall(item.plain))
    names_kept = all(name in item.plain for name in _NAME.findall(item.original))
    return numbers_kept and names_kept


def main() -> int:
    glossary = load_glossary()
    items: list[PlainItem] = []
    texts: set[str] = set()
    for path in all_fixture_records():
        protocol = json.loads(path.read_text(encoding="utf-8"))["protocolSection"]
        criteria = protocol.get("eligibilityModule", {}).get("eligibilityCriteria")
        if criteria:
            texts.add(criteria)
            items += rewrite_criteria(criteria, glossary)

    sent = [item for item in items if not item.shown_as_written]
    fallback = [item for item in items if item.shown_as_written]
    changed = [item for item in sent if item.plain != item.original]
    problems = Counter(
        p for item in fallback for p in rewrite_item(item.original, glossary).problems
    )
    violations = [
        item for item in sent if check(item.original, item.plain, glossary) or not audit(item)
    ]
    plain_grade = statistics.median(flesch_kincaid_grade(i.plain) for i in items)
    source_grade = statistics.median(flesch_kincaid_grade(i.original) for i in items)
    share_fallback = len(fallback) / len(items)

    def verdict(ok: bool) -> str:
        return "PASS" if ok else "FAIL"

    print(f"records with criteria: {len(texts)} distinct texts; items: {len(items)}")
    print()
    print(f"{'measure':<46} {'value':>10}  {'target':<10} result")
    rows = [
        ("items rewritten", f"{len(changed) / len(items):.1%}", "", ""),
        (
            "items already plain (nothing to rewrite)",
            f"{(len(sent) - len(changed)) / len(items):.1%}",
            "",
            "",
        ),
        (
            "items shown as written",
            f"{share_fallback:.1%}",
            "<= 15 %",
            verdict(share_fallback <= MAX_SHOWN_AS_WRITTEN),
        ),
        ("fidelity failures caught (not sent)", str(len(fallback)), "", ""),
        ("fidelity violations in what is sent", str(len(violations)), "0", verdict(not violations)),
        (
            "median FK grade, plain (terms masked)",
            f"{plain_grade:.1f}",
            "<= 8",
            verdict(plain_grade <= MAX_MEDIAN_GRADE),
        ),
        ("median FK grade, source", f"{source_grade:.1f}", "", ""),
    ]
    for name, value, target, result in rows:
        print(f"{name:<46} {value:>10}  {target:<10} {result}")
    if problems:
        print()
        print("failures caught, by problem:")
        for problem, count in problems.most_common():
            print(f"  {count:>5}  {problem}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
