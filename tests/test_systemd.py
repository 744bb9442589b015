"""The shipped unit file: valid for systemd, and as locked down as the daemon allows."""

from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

UNIT = Path(__file__).parent.parent / "systemd" / "trialwatch.service"
ANALYZE = shutil.which("systemd-analyze")
needs_analyze = pytest.mark.skipif(ANALYZE is None, reason="systemd-analyze is not installed")
EXPOSURE_LIMIT = 1.5


def _analyze(*args: str) -> subprocess.CompletedProcess[str]:
    assert ANALYZE is not None
    return subprocess.run([ANALYZE, *args], capture_output=True, text=True, timeout=60, check=False)


def test_unit_has_the_settings_the_issue_asks_for() -> None:
    """The unit is Type=notify, runs with the settings file, and does not restart on a bad one."""
    text = UNIT.read_text(encoding="utf-8")
    for line in (
        "Type=notify",
        "ExecStart=/usr/local/bin/trialwatch --config /etc/trialwatch/config.toml run",
        "DynamicUser=yes",
        "StateDirectory=trialwatch",
        "ConfigurationDirectory=trialwatch",
        "LoadCredential=smtp-password:/etc/trialwatch/smtp-password",
        "UMask=0077",
        "Restart=on-failure",
    ):
        assert re.search(rf"^{re.escape(line)}$", text, re.M), line
    assert re.search(r"^RestartPreventExitStatus=.*\b78\b", text, re.M)


@needs_analyze
def test_exposure_score_is_at_most_1_5() -> None:
    """`systemd-analyze security --offline=yes` rates the unit's sandbox 1.5 or better."""
    result = _analyze("security", "--offline=yes", str(UNIT))
    match = re.search(r"Overall exposure level for \S+: (\d+\.\d+)", result.stdout)
    assert match, result.stdout + result.stderr
    assert float(match.group(1)) <= EXPOSURE_LIMIT


@needs_analyze
def test_systemd_analyze_verify_is_clean(tmp_path: Path) -> None:
    """`systemd-analyze verify` finds nothing wrong (the program path stands in for the install)."""
    text = UNIT.read_text(encoding="utf-8")
    # The admin installs trialwatch at /usr/local/bin; here an executable that exists stands in,
    # so verify's "is not executable" check looks at the rest of the line as on a real host.
    unit = tmp_path / UNIT.name
    unit.write_text(text.replace("/usr/local/bin/trialwatch", sys.executable), encoding="utf-8")
    result = _analyze("verify", str(unit))
    assert result.returncode == 0, result.stderr
    assert result.stderr.strip() == ""
