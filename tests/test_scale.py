"""What keeps trialwatch linear at 100,000 trials: stored versions across the codec change,
feeds read from an index, watch lists handled as sets (the figures are in `bench/scale.py`)."""

from __future__ import annotations

import copy
import shutil
from datetime import UTC, datetime
from pathlib import Path

from watcher.core.canonical import content_hash
from watcher.core.version import NewVersion
from watcher.store.database import Store

T0 = datetime(2026, 11, 24, 9, 0, tzinfo=UTC)
# Written by trialwatch before the C-encoder line form (keyframe and deltas in `indent=0`
# text): six versions of NCT07227597, a keyframe and five deltas.
OLD_CODEC_DB = Path(__file__).parent / "fixtures" / "stores" / "codec-indent0.db"


def test_a_database_written_by_the_old_codec_reads_back_and_takes_new_versions(
    tmp_path: Path,
) -> None:
    """Every version stored by the old codec reads back with its content hash; a version added
    now is a delta on the old chain, and every version, old and new, still reads back."""
    path = tmp_path / "old.db"
    shutil.copy(OLD_CODEC_DB, path)
    with Store(path) as store:
        stored = store.versions("NCT07227597")
        assert [v.version for v in stored] == [1, 2, 3, 4, 5, 6]
        for row in stored:
            assert content_hash(store.record("NCT07227597", row.version)) == row.content_hash
        latest = store.record("NCT07227597", 6)
        newer = copy.deepcopy(latest)
        newer["protocolSection"]["designModule"]["enrollmentInfo"]["count"] = 9999
        store.save_version(
            NewVersion.of("NCT07227597", newer, content_hash(newer)), latest, None, T0
        )
        codecs = [r[0] for r in store.db.execute("SELECT codec FROM versions ORDER BY version")]
        assert codecs[-1] == "delta-zlib"
        assert store.record("NCT07227597", 7) == newer
        for row in stored:
            assert content_hash(store.record("NCT07227597", row.version)) == row.content_hash
