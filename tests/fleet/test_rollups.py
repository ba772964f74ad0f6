"""Rollups against a direct computation from the raw inference log, incremental updates, and the fleet queries.

Real store tables on SQLite (the same SQL runs on PostgreSQL in benchmarks/fleet.py); rows go in through core's
own log writer (``MonitoringStore.write_batch``), as the serving daemon writes them.
"""

from __future__ import annotations

import math
import random
import time
import uuid

import numpy as np
import pandas as pd
import pytest
from sqlalchemy import select

from jupyter_mlops.config import MLOpsConfig
from jupyter_mlops.core.errors import InvalidRequest, NotFound
from jupyter_mlops.core.models import Variant, VariantRole
from jupyter_mlops.core.monitoring.storage import LoggedRequest, MonitoringStore
from jupyter_mlops.core.store import Store
from jupyter_mlops.core.store.fleet_tables import HISTOGRAM_COLUMNS, LATENCY_BOUNDS_MS, FleetRollupRow
from jupyter_mlops.fleet.queries import FleetView
from jupyter_mlops.fleet.report import render_report
from jupyter_mlops.fleet.rollups import FleetRollups, FleetSettings

from .seed import DEPLOYMENTS, EXPECTED_COLOURS, seed

NOW = 1_795_000_000.0  # a fixed clock: buckets and windows are then exact


@pytest.fixture
def store(tmp_path) -> Store:
    store = Store(f"sqlite:///{tmp_path}/mlops.db")
    yield store
    store.close()


def random_log(names: list[str], n: int, start: float, end: float, seed: int = 0) -> list[LoggedRequest]:
    rng = random.Random(seed)
    return [
        LoggedRequest(
            request_id=uuid.uuid4().hex,
            deployment=rng.choice(names),
            variant="primary",
            model_version="1",
            time=rng.uniform(start, end),
            latency_ms=rng.lognormvariate(3, 1.2),
            status=rng.choice([200] * 17 + [400, 500, 503]),
            shadow=rng.random() < 0.05,
        )
        for _ in range(n)
    ]


def direct(records: list[LoggedRequest]) -> pd.DataFrame:
    """Hourly aggregates computed straight from the records (what the rollups must equal)."""
    frame = pd.DataFrame([r.__dict__ for r in records if not r.shadow])
    frame["hour"] = (frame["time"] // 3600).astype(int)
    grouped = frame.groupby(["deployment", "hour"])
    return pd.DataFrame(
        {
            "requests": grouped.size(),
            "errors": grouped["status"].apply(lambda s: int((s >= 400).sum())),
            "server_errors": grouped["status"].apply(lambda s: int((s >= 500).sum())),
            "latency_sum": grouped["latency_ms"].sum(),
        }
    )


def rollups(store: Store) -> pd.DataFrame:
    with store.engine.connect() as conn:
        rows = conn.execute(select(FleetRollupRow.__table__)).mappings().all()
    return pd.DataFrame(rows).set_index(["deployment", "hour"]).sort_index()


def add_deployments(store: Store, names: list[str]) -> None:
    for name in names:
        store.create_deployment(
            name, owner="alice", target="local", model_ref="m/1",
            variants=[Variant(model_name="m", model_version="1", role=VariantRole.primary)],
        )  # fmt: skip


def test_rollups_equal_a_direct_computation_of_the_log(store: Store) -> None:
    # given 20,000 logged requests of three deployments over six hours (some errors, some shadow copies)
    names = ["a", "b", "c"]
    records = random_log(names, 20_000, NOW - 6 * 3600, NOW)
    MonitoringStore(store.engine).write_batch(records)
    # when the fleet job runs once
    FleetRollups(store.engine).update(now=NOW)
    # then every hourly bucket holds exactly the log's counts, errors and latency sums (shadow excluded)
    got = rollups(store)
    want = direct(records).sort_index()
    assert list(got.index) == list(want.index)
    for column in ("requests", "errors", "server_errors"):
        assert got[column].tolist() == want[column].tolist(), column
    assert np.allclose(got["latency_sum"], want["latency_sum"])
    # and the histogram counts every request once, in the bucket of its latency
    histogram = got[list(HISTOGRAM_COLUMNS)]
    assert histogram.sum(axis=1).tolist() == got["requests"].tolist()
    live = [r for r in records if not r.shadow and r.deployment == "a" and int(r.time // 3600) == got.index[0][1]]
    expected = np.bincount(np.searchsorted(LATENCY_BOUNDS_MS, [r.latency_ms for r in live]), minlength=16)
    assert histogram.iloc[0].tolist() == expected.tolist()


def test_summary_p95_is_the_bucket_bound_over_the_exact_value(store: Store) -> None:
    add_deployments(store, ["a"])
    records = [r for r in random_log(["a"], 5000, NOW - 3000, NOW, seed=3) if not r.shadow]
    MonitoringStore(store.engine).write_batch(records)
    FleetRollups(store.engine).update(now=NOW)
    row = FleetView(store).deployment("a")
    latencies = sorted(r.latency_ms for r in records)
    exact = latencies[math.ceil(0.95 * len(latencies)) - 1]  # nearest rank
    bound = LATENCY_BOUNDS_MS[int(np.searchsorted(LATENCY_BOUNDS_MS, exact))]
    assert row["p95_ms"] == pytest.approx(min(bound, max(latencies)))
    assert exact <= row["p95_ms"]
    assert row["requests"] == len(records)
    assert row["error_rate"] == pytest.approx(sum(r.status >= 400 for r in records) / len(records))


def test_updates_reaggregate_only_the_open_buckets(store: Store) -> None:
    # given rollups built up to NOW
    names = ["a", "b"]
    log = MonitoringStore(store.engine)
    first = random_log(names, 3000, NOW - 5 * 3600, NOW, seed=1)
    log.write_batch(first)
    job = FleetRollups(store.engine, FleetSettings(grace_seconds=300))
    job.update(now=NOW)
    # when new rows arrive (including one written late but within the grace period, and one far too late)
    later = NOW + 1200
    new = random_log(names, 2000, NOW, later, seed=2)
    late = LoggedRequest(uuid.uuid4().hex, "a", "primary", "1", NOW - 100, 3.0, 200)
    too_late = LoggedRequest(uuid.uuid4().hex, "a", "primary", "1", NOW - 4 * 3600, 3.0, 200)
    log.write_batch([*new, late, too_late])
    stats = job.update(now=later)
    # then the buckets from the hour of (watermark - grace) on are recomputed and match the log ...
    assert stats["open_from"] == (NOW - 300) // 3600 * 3600
    got = rollups(store)
    want = direct([*first, *new, late]).sort_index()
    assert got["requests"].tolist() == want["requests"].tolist()
    assert got["errors"].tolist() == want["errors"].tolist()
    # ... and closed buckets were not re-read: the row written four hours late is not counted (documented)
    assert got["requests"].sum() == len([r for r in [*first, *new, late] if not r.shadow])
    # and the watermark moved to the run's time
    assert job.watermark() == later


def test_fleet_summary_counts_colours_problems_and_governance(tmp_path) -> None:
    config = MLOpsConfig(data_dir=str(tmp_path))
    now = time.time()  # the drill-down's series is "the last 48 hours" by the wall clock
    store = seed(config, now=now)
    FleetRollups(store.engine, FleetSettings(stale_days=30)).update(now=now)
    view = FleetView(store)
    summary = view.summary()
    assert summary["deployments"] == len(DEPLOYMENTS)
    assert summary["health"] == EXPECTED_COLOURS
    assert summary["never_monitored"] == 1  # carol-idle
    assert summary["stale"] == 1  # carol-idle: no traffic ever
    assert summary["out_of_objectives"] == 2  # bob-fraud (errors), carol-risk (errors, latency)
    assert summary["pending_approvals"] == 1
    assert summary["open_alerts"] == 1
    assert summary["owners"] == 3
    by_name = {d["name"]: d for d in view.deployments(page_size=10)["items"]}
    assert by_name["alice-churn"]["health_colour"] == "green"
    assert by_name["bob-fraud"]["health_score"] == pytest.approx(58.6, abs=0.1)
    assert by_name["bob-fraud"]["pending_approvals"] == 1
    assert by_name["carol-risk"]["health_score"] == pytest.approx(20.7, abs=0.1)
    assert by_name["carol-risk"]["p95_ms"] == 2000
    assert by_name["carol-idle"]["monitored"] is False
    assert by_name["carol-idle"]["health_colour"] == "unknown" and by_name["carol-idle"]["health_score"] is None
    # the drill-down carries the hourly series, the alert, the approval and its audit entry
    detail = view.deployment("bob-fraud")
    assert sum(p["requests"] for p in detail["ops"]) == 200
    assert [a["status"] for a in detail["approvals"]] == ["pending"]
    assert view.deployment("carol-risk")["alerts"][0]["state"] == "firing"
    store.close()


def test_fleet_queries_filter_sort_page_and_refuse_bad_input(tmp_path) -> None:
    store = seed(MLOpsConfig(data_dir=str(tmp_path)), now=NOW)
    FleetRollups(store.engine).update(now=NOW)
    view = FleetView(store)
    assert [d["name"] for d in view.deployments(sort="health")["items"]] == [
        "carol-risk", "bob-fraud", "alice-churn", "carol-idle",
    ]  # fmt: skip
    assert [d["name"] for d in view.deployments(owner="carol")["items"]] == ["carol-idle", "carol-risk"]
    assert [d["name"] for d in view.deployments(q="FRAUD")["items"]] == ["bob-fraud"]
    assert view.deployments(q="%")["total"] == 0  # LIKE wildcards are searched for, not expanded
    assert [d["name"] for d in view.deployments(health="red")["items"]] == ["carol-risk"]
    assert [d["name"] for d in view.deployments(problem="never_monitored")["items"]] == ["carol-idle"]
    second = view.deployments(page=2, page_size=3)
    assert second["total"] == 4 and [d["name"] for d in second["items"]] == ["carol-risk"]
    for bad in ({"sort": "password"}, {"order": "up"}, {"page": "0"}, {"page_size": "5000"}, {"health": "blue"},
                {"page": "x"}, {"problem": "?"}):  # fmt: skip
        with pytest.raises(InvalidRequest):
            view.deployments(**bad)
    with pytest.raises(NotFound):
        view.deployment("nobody")
    csv = view.export_csv().splitlines()
    assert csv[0].startswith("deployment,owner,") and len(csv) == 5
    with pytest.raises(InvalidRequest):
        view.report_data("2026-11-02", "2026-11-01")
    store.close()


def test_audit_report_lists_inventory_approvals_changes_and_escapes(tmp_path) -> None:
    config = MLOpsConfig(data_dir=str(tmp_path))
    store = seed(config, now=time.time())
    store.create_deployment(
        "evil", owner="<script>alert(1)</script>", target="local", model_ref="m/1",
        variants=[Variant(model_name="m", model_version="1", role=VariantRole.primary)],
    )  # fmt: skip
    FleetRollups(store.engine).update()
    page = render_report(FleetView(store).report_data(None, None))
    assert "<script>alert(1)</script>" not in page and "&lt;script&gt;" in page
    assert "bob-fraud" in page and "deployment/bob-fraud" in page  # inventory and the pending approval
    assert "request_approval" in page  # the change recorded in the ledger
    assert "Audit ledger chain" in page
    store.close()
