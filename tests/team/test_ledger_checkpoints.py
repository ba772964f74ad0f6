"""Signed ledger checkpoints on a real store: a deleted tail and a chain re-hashed from the start are caught.

Whoever can write the store can recompute every hash of the chain; only the checkpoints, signed with a key the
MLOps service alone reads and kept outside the store, show what the ledger said before.
"""

from __future__ import annotations

import json
import sqlite3
import stat
from collections.abc import Iterator
from pathlib import Path

import pytest

from jupyter_mlops.core.governance import AuditLedger
from jupyter_mlops.core.governance.audit import GENESIS, Checkpoints, entry_hash
from jupyter_mlops.core.store import Store


@pytest.fixture
def signed(tmp_path: Path) -> Iterator[tuple[AuditLedger, Path]]:
    store = Store(f"sqlite:///{tmp_path / 'mlops.db'}")
    ledger = AuditLedger(store, Checkpoints.from_files(tmp_path / "service" / "ledger.key"))
    for version in ("1", "2", "3", "4"):
        ledger.record("deploy", "alice", "alice", "deployment/churn", None, {"model_version": version})
    yield ledger, tmp_path / "mlops.db"
    store.close()


def _rehash_from(db: Path, first: int) -> None:
    """What an attacker with SQL access does: edit an entry, then recompute every hash after it."""
    columns = ("seq", "at", "action", "actor", "owner", "target", "outcome", "before", "after", "detail")
    with sqlite3.connect(db) as connection:
        connection.execute("UPDATE mlops_audit SET actor = 'mallory' WHERE seq = ?", (first,))
        rows = connection.execute(f"SELECT {', '.join(columns)} FROM mlops_audit ORDER BY seq").fetchall()
        prev = GENESIS
        for row in rows:
            fields = dict(zip(columns, row, strict=True))
            for key in ("before", "after"):
                fields[key] = json.loads(fields[key]) if fields[key] is not None else None
            digest = entry_hash(prev, fields)
            connection.execute("UPDATE mlops_audit SET prev_hash = ?, hash = ? WHERE seq = ?", (prev, digest, row[0]))
            prev = digest


def test_key_and_checkpoints_are_private_to_the_service(signed, tmp_path: Path) -> None:
    ledger, _ = signed
    key = tmp_path / "service" / "ledger.key"
    assert stat.S_IMODE(key.stat().st_mode) == 0o600
    assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    report = ledger.verify()
    assert report.ok and report.entries == 4 and report.checkpoints == 4, report


def test_a_deleted_tail_is_named(signed) -> None:
    ledger, db = signed
    with sqlite3.connect(db) as connection:
        connection.execute("DELETE FROM mlops_audit WHERE seq >= 3")

    report = ledger.verify()

    assert not report.ok
    assert report.first_broken == 3 and report.unreached_checkpoint == 3
    assert "Entries 3 to 4 are missing" in report.message


def test_a_chain_rehashed_from_an_early_entry_is_named(signed) -> None:
    ledger, db = signed
    _rehash_from(db, 2)
    # the chain alone is consistent again ...
    unsigned = AuditLedger(ledger.store)
    assert unsigned.verify().ok
    # ... but not with the signed checkpoints
    report = ledger.verify()
    assert not report.ok
    assert report.first_broken == 2 and report.unreached_checkpoint == 2, report
    assert "re-hashed" in report.message


def test_a_forged_or_edited_checkpoint_is_refused(signed) -> None:
    ledger, db = signed
    assert ledger.checkpoints is not None
    path = ledger.checkpoints.path
    lines = path.read_text().splitlines()
    last = json.loads(lines[-1])
    last["head"] = "f" * 64
    path.write_text("\n".join([*lines[:-1], json.dumps(last)]) + "\n")

    report = ledger.verify()

    assert not report.ok and report.unreached_checkpoint == 4
    assert "invalid signature" in report.message


def test_entries_written_without_the_key_are_covered_by_the_next_checkpoint(signed) -> None:
    # Given entries appended by a process without the key (e.g. the serving daemon's automatic rollback)
    ledger, db = signed
    AuditLedger(ledger.store).record("auto_rollback", "auto-rollback", "alice", "deployment/churn", detail="errors")
    assert ledger.verify().ok
    # When the service checkpoints, then a later deletion of that entry is caught
    assert ledger.checkpoint() is not None
    with sqlite3.connect(db) as connection:
        connection.execute("DELETE FROM mlops_audit WHERE seq = 5")
    report = ledger.verify()
    assert not report.ok and report.first_broken == 5
