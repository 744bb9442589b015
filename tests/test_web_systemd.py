"""The web front's unit file: valid for systemd and as locked down as the daemon's."""

from __future__ import annotations

import re
import sys
from pathlib import Path

from test_systemd import EXPOSURE_LIMIT, UNIT, _analyze, needs_analyze

WEB_UNIT = UNIT.with_name("trialwatch-web.service")


def test_the_web_unit_runs_serve_as_the_daemons_user() -> None:
    """Same user and state directory as the daemon (the shared database), its own command."""
    web, daemon = (u.read_text(encoding="utf-8") for u in (WEB_UNIT, UNIT))
    assert re.search(
        r"^ExecStart=/usr/local/bin/trialwatch --config /etc/trialwatch/config.toml serve$",
        web,
        re.M,
    )
    for line in ("DynamicUser=yes", "User=trialwatch", "StateDirectory=trialwatch", "UMask=0077"):
        assert re.search(rf"^{re.escape(line)}$", web, re.M), line
        assert re.search(rf"^{re.escape(line)}$", daemon, re.M), line
    assert re.search(r"^IPAddressDeny=any$", web, re.M)
    assert re.search(r"^RestartPreventExitStatus=78$", web, re.M)


@needs_analyze
def test_the_web_unit_exposure_score_is_at_most_the_daemons_limit() -> None:
    result = _analyze("security", "--offline=yes", str(WEB_UNIT))
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= EXPOSURE_LIMIT


@needs_analyze
def test_systemd_analyze_verify_is_clean_for_the_web_unit(tmp_path: Path) -> None:
    unit = tmp_path / WEB_UNIT.name
    text = WEB_UNIT.read_text(encoding="utf-8")
    unit.write_text(text.replace("/usr/local/bin/trialwatch", sys.executable), encoding="utf-8")
    result = _analyze("verify", str(unit))
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""
