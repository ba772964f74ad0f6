"""The audit ledger on a real store: append-only chain, tamper detection, time queries, export."""

from __future__ import annotations

import csv
import io
import json
import sqlite3
import threading
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from jupyter_mlops.core.errors import InvalidRequest, NotFound
from jupyter_mlops.core.governance import AuditLedger
from jupyter_mlops.core.store import Store


@pytest.fixture
def ledger(tmp_path: Path):
    store = Store(f"sqlite:///{tmp_path / 'mlops.db'}")
    yield AuditLedger(store)
    store.close()


def _deploy(ledger: AuditLedger, name: str, version: str, action: str = "deploy"):
    after = {"model_name": "iris", "model_version": version, "variants": [{"model_version": version}]}
    return ledger.record(action, "alice", "alice", f"deployment/{name}", None, after)


def test_a_fresh_chain_verifies_and_links_each_entry_to_the_previous(ledger: AuditLedger) -> None:
    first = _deploy(ledger, "churn", "1")
    second = ledger.record("set_alias", "alice", "alice", "model/iris@champion", {"version": None}, {"version": "1"})

    assert second.prev_hash == first.hash and first.seq == 1 and second.seq == 2
    report = ledger.verify()
    assert report.ok and report.entries == 2


@pytest.mark.parametrize(
    ("tamper", "broken"),
    [
        ("UPDATE mlops_audit SET actor = 'mallory' WHERE seq = 2", 2),
        ('UPDATE mlops_audit SET after = \'{"model_version": "9"}\' WHERE seq = 1', 1),
        ("DELETE FROM mlops_audit WHERE seq = 2", 2),
    ],
)
def test_an_edit_made_behind_the_ledgers_back_is_detected_at_that_entry(
    ledger: AuditLedger, tmp_path: Path, tamper: str, broken: int
) -> None:
    for version in ("1", "2", "3"):
        _deploy(ledger, "churn", version)
    with sqlite3.connect(tmp_path / "mlops.db") as connection:
        connection.execute(tamper)

    report = ledger.verify()

    assert not report.ok
    assert report.first_broken == broken
    assert f"Entry {broken}" in report.message


def test_recomputing_the_hash_of_an_edited_entry_still_breaks_the_link_of_the_next(
    ledger: AuditLedger, tmp_path: Path
) -> None:
    from jupyter_mlops.core.governance.audit import GENESIS, entry_hash

    _deploy(ledger, "churn", "1")
    _deploy(ledger, "churn", "2")
    # A careful forger rewrites entry 1 and its hash; entry 2 still points at the old hash.
    with sqlite3.connect(tmp_path / "mlops.db") as connection:
        connection.row_factory = sqlite3.Row
        row = dict(connection.execute("SELECT * FROM mlops_audit WHERE seq = 1").fetchone())
        row.update(actor="mallory", before=json.loads(row["before"]), after=json.loads(row["after"]))
        forged = entry_hash(GENESIS, row)
        connection.execute("UPDATE mlops_audit SET actor='mallory', hash=? WHERE seq=1", (forged,))

    report = ledger.verify()
    assert not report.ok and report.first_broken == 2


def test_served_at_answers_which_version_served_at_a_given_time(ledger: AuditLedger) -> None:
    v1 = _deploy(ledger, "churn", "1")
    v2 = _deploy(ledger, "churn", "2")
    _deploy(ledger, "other", "7")
    gone = ledger.record("undeploy", "alice", "alice", "deployment/churn", {"model_version": "2"}, None)

    assert ledger.served_at("churn", v1.at).model_version == "1"
    between = v1.at + (v2.at - v1.at) / 2
    assert ledger.served_at("churn", between).model_version == "1"
    assert ledger.served_at("churn", v2.at.isoformat()).model_version == "2"
    after_undeploy = ledger.served_at("churn", gone.at + timedelta(seconds=1))
    assert after_undeploy.serving is False and after_undeploy.model_version is None
    with pytest.raises(NotFound):
        ledger.served_at("churn", v1.at - timedelta(seconds=1))
    with pytest.raises(InvalidRequest):
        ledger.served_at("churn", "yesterday")


def test_history_filters_by_target_prefix_and_time(ledger: AuditLedger) -> None:
    ledger.record("register", "alice", "alice", "model/iris/1", None, {"model_version": "1"})
    ledger.record("set_alias", "alice", "alice", "model/iris@champion", None, {"version": "1"})
    ledger.record("register", "alice", "alice", "model/iris2/1", None, {"model_version": "1"})

    assert [e.target for e in ledger.history("model/iris")] == ["model/iris/1", "model/iris@champion"]
    # A bare name (as typed in %mlops audit iris) means the model or deployment of that name.
    assert [e.target for e in ledger.history("iris")] == ["model/iris/1", "model/iris@champion"]
    future = datetime.now(timezone.utc) + timedelta(hours=1)
    assert ledger.events(since=future) == []


def test_exports_as_csv_and_json(ledger: AuditLedger) -> None:
    _deploy(ledger, "churn", "1")
    events = ledger.events()

    rows = list(csv.DictReader(io.StringIO(ledger.to_csv(events))))
    assert rows[0]["action"] == "deploy" and json.loads(rows[0]["after"])["model_version"] == "1"
    assert json.loads(ledger.to_json(events))[0]["hash"] == events[0].hash


def test_concurrent_writers_never_fork_the_chain(tmp_path: Path) -> None:
    # Two ledgers on one file stand for the Jupyter server and a kernel appending at the same time.
    stores = [Store(f"sqlite:///{tmp_path / 'shared.db'}") for _ in range(2)]
    ledgers = [AuditLedger(s) for s in stores]

    def append(ledger: AuditLedger, who: str) -> None:
        for i in range(25):
            ledger.record("deploy", who, who, f"deployment/d{i}", None, {"model_version": str(i)})

    threads = [threading.Thread(target=append, args=(lg, f"user{n}")) for n, lg in enumerate(ledgers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    report = ledgers[0].verify()
    assert report.ok and report.entries == 50
    for s in stores:
        s.close()


def test_the_ledger_offers_no_update_or_delete_path() -> None:
    public = {n for n in dir(AuditLedger) if not n.startswith("_")}
    assert not {n for n in public if any(w in n for w in ("update", "delete", "remove", "edit", "clear"))}
