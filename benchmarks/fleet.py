"""Fleet view at scale: the dashboard's first view from the rollups vs the same view computed from the raw log.

Starts Debian's PostgreSQL (tests/team/services.py, as the postgres user), seeds it server-side with
``INSERT ... SELECT generate_series``: ``--deployments`` deployments across ``--owners`` owners and ``--rows``
inference-log rows over ``--days`` days; builds the rollups once (timed), runs one incremental update after
100,000 new rows (timed), then starts a real JupyterHub with the fleet service (tests/hub's harness) and measures
the first view (GET api/summary + GET api/deployments, first page sorted by health) over HTTP through the hub's
proxy as a fleet viewer: median of ``--repeat``. The peer is the same first view computed directly from the raw
log (one aggregate query with ``percentile_cont`` over the health window, the last request of each deployment
through the log's index, core's health formula in Python): median of ``--peer-repeat``.

    .venv/bin/python benchmarks/fleet.py                                  # 5,000 deployments, 50M rows
    .venv/bin/python benchmarks/fleet.py --deployments 500 --rows 1000000  # a quick run
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from pathlib import Path

import httpx
from sqlalchemy import text

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from jupyter_mlops.core.monitoring import health as health_score  # noqa: E402
from jupyter_mlops.core.store import Store  # noqa: E402
from jupyter_mlops.fleet.rollups import FleetRollups, FleetSettings  # noqa: E402
from tests.team.services import Postgres, postgres_available  # noqa: E402

CHUNK = 5_000_000


def seed(store: Store, deployments: int, owners: int, rows: int, days: int, now: float) -> float:
    """Deployments, variants and the inference log, generated inside PostgreSQL; returns seconds taken."""
    started = time.perf_counter()
    span = days * 86400
    with store.engine.begin() as conn:
        conn.execute(
            text(
                "INSERT INTO mlops_deployments (name, owner, target, model_ref, config, generation, created_at,"
                " updated_at) SELECT 'dep-' || lpad(g::text, 5, '0'), 'user-' || lpad((g % :owners)::text, 2, '0'),"
                " 'local', 'model-' || g || '/1', '{}', 1, now() - interval '60 days',"
                " now() - (g % 40) * interval '1 day' FROM generate_series(0, :n - 1) g"
            ),
            {"n": deployments, "owners": owners},
        )
        conn.execute(
            text(
                "INSERT INTO mlops_variants (deployment_name, name, model_name, model_version, weight, role)"
                " SELECT 'dep-' || lpad(g::text, 5, '0'), 'primary', 'model-' || g, '1', 100, 'primary'"
                " FROM generate_series(0, :n - 1) g"
            ),
            {"n": deployments},
        )
        # Bulk load without the log's indexes; they are rebuilt once afterwards (as a restore would).
        conn.execute(text("ALTER TABLE mlops_inference_requests DROP CONSTRAINT mlops_inference_requests_pkey"))
        conn.execute(text("DROP INDEX IF EXISTS ix_mlops_inference_requests_deployment_time"))
        conn.execute(text("DROP INDEX IF EXISTS ix_mlops_inference_requests_time"))
    # Every 10th deployment is slow, every 7th fails often, the last 2 % are never called (never monitored).
    active = max(1, int(deployments * 0.98))
    for first in range(0, rows, CHUNK):
        count = min(CHUNK, rows - first)
        with store.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO mlops_inference_requests (request_id, deployment, variant, model_version, time,"
                    " latency_ms, status, n_rows, shadow)"
                    " SELECT 'r' || g, 'dep-' || lpad(d::text, 5, '0'), 'primary', '1', :now - random() * :span,"
                    " CASE WHEN d % 10 = 0 THEN 150 + random() * 400 ELSE 2 + random() * 30 END,"
                    " CASE WHEN random() < (CASE WHEN d % 7 = 0 THEN 0.08 ELSE 0.005 END) THEN 500 ELSE 200 END,"
                    " 1, false FROM (SELECT g, g % :active AS d FROM generate_series(:first, :last) g) s"
                ),
                {"now": now, "span": span, "active": active, "first": first, "last": first + count - 1},
            )
        print(f"  seeded {first + count:,} / {rows:,} log rows ({time.perf_counter() - started:.0f} s)", flush=True)
    with store.engine.begin() as conn:
        conn.execute(text("ALTER TABLE mlops_inference_requests ADD PRIMARY KEY (request_id)"))
        conn.execute(
            text(
                "CREATE INDEX ix_mlops_inference_requests_deployment_time"
                " ON mlops_inference_requests (deployment, time)"
            )
        )
        conn.execute(text("CREATE INDEX ix_mlops_inference_requests_time ON mlops_inference_requests (time)"))
    with store.engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM ANALYZE"))
    return time.perf_counter() - started


def first_view_from_raw_log(store: Store, settings: FleetSettings, now: float) -> dict[str, object]:
    """The dashboard's first view without rollups: counts by colour and the worst 50, from the log itself."""
    start = now - settings.window_hours * 3600
    with store.engine.connect() as conn:
        window = conn.execute(
            text(
                "SELECT deployment, count(*), sum(CASE WHEN status >= 400 THEN 1 ELSE 0 END),"
                " sum(CASE WHEN status >= 500 THEN 1 ELSE 0 END),"
                " percentile_cont(0.95) WITHIN GROUP (ORDER BY latency_ms)"
                " FROM mlops_inference_requests WHERE time >= :start AND time < :now AND NOT shadow"
                " GROUP BY deployment"
            ),
            {"start": start, "now": now},
        ).all()
        last = dict(
            conn.execute(
                text(
                    "SELECT d.name, (SELECT max(time) FROM mlops_inference_requests r WHERE r.deployment = d.name)"
                    " FROM mlops_deployments d"
                )
            ).all()
        )
    by_name = {name: (n, errors, server, p95) for name, n, errors, server, p95 in window}
    items = []
    for name, last_time in last.items():
        n, errors, server, p95 = by_name.get(name, (0, 0, 0, None))
        ops = {"requests": n, "error_rate": errors / n if n else 0.0, "server_error_rate": server / n if n else 0.0,
               "p95_ms": p95}  # fmt: skip
        parts = health_score.components(
            state="ready", ops=ops, drift=None, performance={},
            latency_objective_ms=settings.latency_objective_ms, error_budget=settings.error_budget,
        )  # fmt: skip
        h = health_score.score(parts)
        items.append({"name": name, "score": h["score"], "colour": h["colour"], "monitored": last_time is not None})
    items.sort(key=lambda i: (i["score"], i["name"]))
    colours = {c: sum(1 for i in items if i["colour"] == c) for c in health_score.COLOURS}
    return {"health": colours, "page": items[:50], "never_monitored": sum(1 for i in items if not i["monitored"])}


def median_seconds(fn, repeat: int) -> float:  # type: ignore[no-untyped-def]
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        fn()
        times.append(time.perf_counter() - started)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--deployments", type=int, default=5000)
    parser.add_argument("--owners", type=int, default=50)
    parser.add_argument("--rows", type=int, default=50_000_000)
    parser.add_argument("--days", type=int, default=30)
    parser.add_argument("--repeat", type=int, default=30)
    parser.add_argument("--peer-repeat", type=int, default=5)
    args = parser.parse_args()
    reason = postgres_available()
    if reason:
        sys.exit(reason)
    from tests.fleet.conftest import fleet_config
    from tests.hub.conftest import running_hub

    settings = FleetSettings()
    now = time.time()
    print(f"fleet benchmark: {args.deployments:,} deployments, {args.owners} owners, {args.rows:,} log rows")
    with Postgres.running() as pg:
        url = pg.create_database("mlops")
        store = Store(url)
        rollups = FleetRollups(store.engine, settings)  # creates the fleet tables and the log's time index
        seeded = seed(store, args.deployments, args.owners, args.rows, args.days, now)
        print(f"seed (server-side generate_series, then indexes and VACUUM ANALYZE): {seeded:.1f} s")
        build = rollups.update(now=time.time())
        print(f"rollups built once: {build['buckets']:,} hourly buckets in {build['aggregate_seconds']:.1f} s, "
              f"{build['deployments']:,} summaries; total {build['seconds']:.1f} s")  # fmt: skip
        with store.engine.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO mlops_inference_requests (request_id, deployment, variant, model_version, time,"
                    " latency_ms, status, n_rows, shadow) SELECT 'n' || g, 'dep-' || lpad((g % :d)::text, 5, '0'),"
                    " 'primary', '1', :now - random() * 60, 5, 200, 1, false FROM generate_series(1, 100000) g"
                ),
                {"d": args.deployments, "now": time.time()},
            )
        step = rollups.update(now=time.time())
        print(
            f"incremental update after 100,000 new rows: {step['buckets']:,} open buckets re-aggregated in "
            f"{step['aggregate_seconds']:.2f} s; with {step['deployments']:,} summaries {step['seconds']:.2f} s"
        )

        config = fleet_config(url, _free_port(), interval=3600)  # the job ran above; keep it out of the timing
        with running_hub(lambda marker: config.replace("@MARKER@", marker), spawn=False) as hub:
            service = f"{hub.url}/services/mlops/fleet/"
            headers = {"Authorization": f"token {hub.tokens['carol']}"}
            client = httpx.Client(headers=headers, trust_env=False, timeout=60)
            deadline = time.monotonic() + 120
            while time.monotonic() < deadline:
                try:
                    if client.get(f"{service}api/summary").status_code == 200:
                        break
                except httpx.HTTPError:
                    pass
                time.sleep(0.5)

            def view() -> None:
                summary = client.get(f"{service}api/summary")
                page = client.get(f"{service}api/deployments", params={"sort": "health", "page_size": 50})
                if summary.status_code != 200 or page.status_code != 200:
                    raise RuntimeError(f"fleet service answered {summary.text[:200]} / {page.text[:200]}")

            view()  # the hub's token check is cached after the first call, as in a browser session
            ours = median_seconds(view, args.repeat)
            summary = client.get(f"{service}api/summary").json()
            client.close()
        raw = {}

        def peer() -> None:
            raw.update(first_view_from_raw_log(store, settings, time.time()))

        theirs = median_seconds(peer, args.peer_repeat)
        print(f"rollup view's colours {summary['health']}, raw log's {raw['health']} (the raw view uses exact p95)")
        print(f"first view over HTTP via the hub (summary + first page), median of {args.repeat}: {ours * 1000:.1f} ms"
              f" (target <= 1000 ms)")  # fmt: skip
        print(f"same first view from the raw log, median of {args.peer_repeat}: {theirs * 1000:.1f} ms")
        print(f"ratio: {theirs / ours:.1f}x faster from rollups")
        store.close()


def _free_port() -> int:
    from tests.hub.conftest import free_port

    return free_port()


if __name__ == "__main__":
    main()
