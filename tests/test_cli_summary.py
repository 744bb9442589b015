"""`trialwatch summary` as a user runs it: from a file or the store, text, HTML or JSON."""

from __future__ import annotations

import copy
import json
from email import policy
from email.message import EmailMessage
from email.parser import BytesParser
from pathlib import Path

from conftest import Trialwatch, demo_versions, fixture_path, load_fixture, plain_words

from watcher.registry.replay_server import ReplayServer

DEMO = "NCT07310784__reconstructed-from-public-page.json"


def test_summary_of_a_file_reads_as_plain_english(trialwatch: Trialwatch) -> None:
    """A patient summary of a study file explains the scale and ends with the safety line."""
    out = trialwatch("summary", str(fixture_path(DEMO))).stdout
    assert out.startswith("A Phase II Trial of LM103 in Advanced Melanoma (NCT07310784)\n")
    assert "ECOG performance status 0 to 1;" in out
    assert "What these words mean" in out
    assert out.rstrip().endswith(
        "Only the study team can tell you if you qualify. Talk with your doctor."
    )


def test_summary_json_has_the_documented_shape(trialwatch: Trialwatch) -> None:
    """Scripts get nct_id, the text, key facts, each criterion original, plain and in the lines
    it is shown in, the terms explained with the words read in their place, and a grade."""
    data = trialwatch("summary", str(fixture_path(DEMO)), "--format", "json").stdout
    summary = json.loads(data)
    assert set(summary) == {"nct_id", "text", "key_facts", "criteria", "terms", "grade_level"}
    assert summary["nct_id"] == "NCT07310784"
    assert isinstance(summary["grade_level"], float)
    first = summary["criteria"][1]
    assert first == {
        "section": "inclusion",
        "original": "Expected survival time >3 months;",
        "plain": "Expected survival time more than 3 months;",
        "units": ["Expected survival time more than 3 months;"],
        "shown_as_written": False,
    }
    long_item = max(summary["criteria"], key=lambda c: len(c["units"]))
    assert len(long_item["units"]) > 3
    assert long_item["plain"] == "\n".join(long_item["units"])
    ecog = next(t for t in summary["terms"] if t["term"] == "ECOG performance status")
    assert ecog["plain"] == "" and "0 to 5" in ecog["meaning"]  # a scale keeps its name
    swapped = next(t for t in summary["terms"] if t["term"] == "central nervous system metastases")
    assert swapped["plain"] == plain_words("central nervous system metastases", plural=True)
    assert {c["section"] for c in summary["criteria"]} == {"inclusion", "exclusion"}


def test_coordinator_json_keeps_the_trial_s_words(trialwatch: Trialwatch) -> None:
    """For a coordinator every criterion's plain text is the original."""
    out = trialwatch(
        "summary", str(fixture_path(DEMO)), "--audience", "coordinator", "--format", "json"
    ).stdout
    criteria = json.loads(out)["criteria"]
    assert criteria and all(c["plain"] == c["original"] for c in criteria)
    assert "Overall status\nRECRUITING" in json.loads(out)["text"]


def test_html_summary_escapes_the_trial_s_text(trialwatch: Trialwatch, tmp_path: Path) -> None:
    """A condition with <script> and & is shown as text, never run as markup."""
    record = copy.deepcopy(load_fixture(DEMO))
    record["protocolSection"]["conditionsModule"]["conditions"] = ["A & B <script>x()</script>"]
    path = tmp_path / "study.json"
    path.write_text(json.dumps(record), encoding="utf-8")
    out = trialwatch("summary", str(path), "--format", "html").stdout
    assert "<script>" not in out
    assert "A &amp; B &lt;script&gt;x()&lt;/script&gt;" in out


def test_summary_of_a_stored_trial_uses_its_latest_version(
    trialwatch: Trialwatch, replay: ReplayServer
) -> None:
    """After watch add and check, the NCT ID alone summarises what was stored."""
    replay.registry.publish(demo_versions("NCT06911827")[-1])
    trialwatch("watch", "add", "NCT06911827")
    trialwatch("check")
    out = trialwatch("summary", "nct06911827", "--near", "Guangzhou, China").stdout
    assert "(NCT06911827)" in out
    assert "Sites, nearest to Guangzhou, China first" in out


def test_summary_of_an_unstored_trial_says_how_to_get_it(trialwatch: Trialwatch) -> None:
    """An NCT ID with no stored version names it and the commands that would store it."""
    err = trialwatch("summary", "NCT07310784", expect=2).stderr
    assert err.startswith("Error: NCT07310784: no stored version")
    assert "trialwatch watch add NCT07310784" in err and "trialwatch check" in err


def test_summary_of_a_file_that_is_not_a_study_names_it(
    trialwatch: Trialwatch, tmp_path: Path
) -> None:
    """A JSON file without a study in it, or a missing file, gets a one-line error."""
    page = tmp_path / "page.json"
    page.write_text('{"studies": []}', encoding="utf-8")
    assert trialwatch("summary", str(page), expect=2).stderr.startswith(f"Error: {page}: not a")
    missing = tmp_path / "missing.json"
    err = trialwatch("summary", str(missing), expect=2).stderr
    assert err.startswith(f"Error: {missing}: no such file")


def test_summary_refuses_a_place_that_names_nothing(trialwatch: Trialwatch) -> None:
    """--near with only commas is refused rather than silently ignored."""
    err = trialwatch("summary", str(fixture_path(DEMO)), "--near", " , ", expect=2).stderr
    assert "names no place" in err


def test_demo_shows_what_a_patient_is_told(tmp_path: Path) -> None:
    """The demo shows the start of the patient's email and the command that shows all of it;
    that file holds the change summary and the trial summary in plain words."""
    run = Trialwatch(tmp_path / "unused", tmp_path / "unused.toml")
    out = run("demo", "--dir", str(tmp_path / "demo")).stdout
    assert "| - This study has started looking for people to join." in out
    path = Path(out.split("The whole email: less ", 1)[1].split("\n", 1)[0])
    assert path.parent.parent == tmp_path / "demo" / "maildir"
    email = BytesParser(policy=policy.default).parsebytes(path.read_bytes())
    assert isinstance(email, EmailMessage)
    assert email["Subject"].startswith("NCT07310784 is now recruiting")
    body = email.get_body(("plain",))
    assert body is not None
    told = body.get_content()
    assert "- This study has started looking for people to join." in told
    assert "- You must be fully active or able to do light work (ECOG 0 to 1)." in told
    assert "Who cannot join" not in told
    assert "Only the study team can tell you if you qualify. Talk with your doctor." in told
