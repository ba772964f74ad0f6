"""Reading and writing the durable inference log, feedback, alert rules and alerts in our store.

Used by the serving daemon's batched writer (``write_batch``) and by the monitoring service (everything else).
Inputs and outputs of a flush are one Arrow IPC blob per deployment: decoding a million logged rows is a
thousand blob reads and a concatenation, which keeps drift over large windows within seconds.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
import pyarrow as pa
from sqlalchemy import and_, bindparam, delete, func, insert, literal, select, true, update
from sqlalchemy.engine import Engine

from ..store import schema
from ..store.monitoring_tables import (
    AlertRow,
    AlertRuleRow,
    FeedbackRow,
    InferenceBatchRow,
    InferenceRequestRow,
    MonitoringCounterRow,
)
from ..store.tables import Base

log = logging.getLogger(__name__)

INPUT_PREFIX = "in."
OUTPUT_PREFIX = "out."


@dataclass(frozen=True)
class Rows:
    """Input rows of one dtype as one array with column names: what the daemon's writer process receives.

    Stacked per flush without a pandas DataFrame per request (building one costs ~40 us, the rest of a 1-row
    request's logging about as much again). The redaction hook still gets a DataFrame (``frame()``).
    """

    columns: tuple[str, ...]
    values: np.ndarray

    @property
    def shape(self) -> tuple[int, ...]:
        """Rows and columns of the decoded table."""
        return tuple(self.values.shape)

    def frame(self) -> pd.DataFrame:
        """The rows as a DataFrame."""
        return pd.DataFrame(self.values, columns=list(self.columns))


@dataclass(frozen=True)
class LoggedRequest:
    """What the writer stores for one request (the serving record reduced to plain values)."""

    request_id: str
    deployment: str
    variant: str
    model_version: str
    time: float
    latency_ms: float
    status: int
    shadow: bool = False
    inputs: pd.DataFrame | Rows | None = None  # sampled and redacted, or None
    outputs: Any = None  # the raw predictions (aligned with the input rows when possible), or None


def encode_table(frame: pd.DataFrame) -> bytes:
    """A DataFrame as an Arrow IPC stream; object columns Arrow cannot type are stored as text."""
    columns: dict[str, pa.Array] = {}
    for name in frame.columns:
        series = frame[name]
        try:
            columns[str(name)] = pa.array(series, from_pandas=True)
        except (pa.ArrowInvalid, pa.ArrowTypeError, TypeError, ValueError):
            columns[str(name)] = pa.array(series.astype(str), from_pandas=True)
    return _ipc_bytes(pa.table(columns))


def encode_arrays(columns: dict[str, np.ndarray]) -> memoryview:
    """Numeric numpy columns as the same Arrow IPC stream ``encode_table`` makes of them (NaN stored as null).

    Contiguous numeric columns become Arrow arrays without a copy, and the stream is written once into a buffer of
    its final size and handed to the database driver as is: the writer's cheap path (no DataFrame, no bytes copy).
    """
    table = pa.table({name: pa.array(values, from_pandas=True) for name, values in columns.items()})
    return memoryview(_ipc_buffer(table, scratch=True))


def _ipc_bytes(table: pa.Table) -> bytes:
    return _ipc_buffer(table).to_pybytes()


def _ipc_buffer(table: pa.Table, *, scratch: bool = False) -> pa.Buffer:
    """``table`` as an Arrow IPC stream in one buffer of its size (measured first).

    With ``scratch`` the buffer is the calling thread's reusable one, valid until that thread's next encode.
    Growing a stream buffer, then copying it to bytes, cost 27 us per 100-row request of a flush, against 2-10 us.
    """
    size = pa.MockOutputStream()
    with pa.ipc.new_stream(size, table.schema) as writer:
        writer.write_table(table)
    buffer = _scratch.take("ipc", size.size()) if scratch else pa.allocate_buffer(size.size())
    with pa.ipc.new_stream(pa.FixedSizeBufferWriter(buffer), table.schema) as writer:
        writer.write_table(table)
    return buffer


class _Scratch(threading.local):
    """Per-thread buffers the writer reuses flush after flush.

    A flush's column block and IPC stream are megabytes; allocated afresh, the allocator maps new pages each time
    and the kernel faults and zeroes them (7 page faults per logged 100-row request, measured in the writer
    process): reused, they stay mapped. Up to ``SCRATCH_LIMIT`` bytes each are kept; larger flushes allocate.
    """

    def __init__(self) -> None:
        self.buffers: dict[str, np.ndarray] = {}

    def take(self, name: str, size: int) -> pa.Buffer:
        """A writable buffer of ``size`` bytes (the thread's ``name`` buffer, grown when needed)."""
        if size > SCRATCH_LIMIT:
            return pa.allocate_buffer(size)
        held = self.buffers.get(name)
        if held is None or held.size < size:
            grown = min(SCRATCH_LIMIT, max(size, 2 * (held.size if held is not None else 0)))
            held = self.buffers[name] = np.empty(grown, dtype=np.uint8)
        return pa.py_buffer(held[:size])  # a writable view: nothing copied


SCRATCH_LIMIT = 64 << 20
_scratch = _Scratch()


def decode_table(blob: bytes) -> pa.Table:
    """Decode one stored batch of logged rows."""
    return pa.ipc.open_stream(pa.py_buffer(blob)).read_all()


def outputs_frame(outputs: Any, n_rows: int) -> pd.DataFrame | None:
    """Predictions as columns aligned with the input rows (``prediction`` or ``prediction_<k>``), if they align."""
    if outputs is None:
        return None
    try:
        if isinstance(outputs, pd.DataFrame):
            frame = outputs.reset_index(drop=True)
        elif isinstance(outputs, pd.Series):
            frame = pd.DataFrame({"prediction": outputs.to_numpy()})
        elif isinstance(outputs, dict):
            frame = pd.DataFrame({str(k): np.asarray(v).reshape(-1) for k, v in outputs.items()})
        else:
            array = np.asarray(outputs)
            if array.ndim == 1:
                frame = pd.DataFrame({"prediction": array})
            elif array.ndim == 2:
                frame = pd.DataFrame(array, columns=[f"prediction_{k}" for k in range(array.shape[1])])
            else:
                return None
    except (ValueError, TypeError):
        return None
    if len(frame) != n_rows:
        return None
    if "prediction" not in frame.columns and len(frame.columns) > 0:
        frame = frame.rename(columns={frame.columns[0]: "prediction"})
    return frame


class MonitoringStore:
    """The monitoring tables on the store's engine (migrated on first use if the store predates them)."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        schema.upgrade(engine)

    # --- writing (the serving daemon's writer thread) ----------------------------------------------------------

    def write_batch(self, records: Sequence[LoggedRequest], dropped: dict[str, int] | None = None) -> int:
        """Store one flush of records in one transaction; returns how many requests were written."""
        by_deployment: dict[str, list[LoggedRequest]] = {}
        for record in records:
            by_deployment.setdefault(record.deployment, []).append(record)
        with self.engine.begin() as conn:
            for deployment, group in by_deployment.items():
                batch_id = None
                offsets: dict[str, int] = {}
                sampled = [r for r in group if r.inputs is not None and r.inputs.shape[0] > 0]
                if sampled:
                    payload, times, offsets = _encode_flush(sampled)
                    batch_id = conn.execute(
                        insert(InferenceBatchRow)
                        .values(
                            deployment=deployment,
                            start_time=float(times.min()),
                            end_time=float(times.max()),
                            n_rows=len(times),
                            payload=payload,
                        )
                        .returning(InferenceBatchRow.id)
                    ).scalar_one()
                _insert_many(
                    conn,
                    InferenceRequestRow.__tablename__,
                    _REQUEST_COLUMNS,
                    [
                        (
                            r.request_id,
                            deployment,
                            r.variant,
                            r.model_version,
                            r.time,
                            r.latency_ms,
                            r.status,
                            0 if r.inputs is None else r.inputs.shape[0],
                            r.shadow,
                            batch_id if r.request_id in offsets else None,
                            offsets.get(r.request_id),
                        )
                        for r in group
                    ],
                )
            counts = {d: len(g) for d, g in by_deployment.items()}
            for deployment in set(counts) | set(dropped or {}):
                self._add_counters(conn, deployment, counts.get(deployment, 0), (dropped or {}).get(deployment, 0))
        return len(records)

    @staticmethod
    def _add_counters(conn: Any, deployment: str, logged: int, dropped: int) -> None:
        changed = conn.execute(
            update(MonitoringCounterRow)
            .where(MonitoringCounterRow.deployment == deployment)
            .values(
                logged=MonitoringCounterRow.logged + logged,
                dropped=MonitoringCounterRow.dropped + dropped,
            )
        ).rowcount
        if not changed:
            conn.execute(insert(MonitoringCounterRow).values(deployment=deployment, logged=logged, dropped=dropped))

    def purge(self, before: float, *, only: str | None = None, keep: Sequence[str] = ()) -> int:
        """Delete log records older than ``before`` (epoch seconds): the retention policy.

        ``only`` limits the purge to one deployment; ``keep`` spares deployments with a retention of their own.
        """

        def scoped(table: Any) -> Any:
            if only is not None:
                return table.deployment == only
            return table.deployment.not_in(list(keep)) if keep else true()

        with self.engine.begin() as conn:
            r = InferenceRequestRow
            removed = conn.execute(delete(r).where(and_(r.time < before, scoped(r)))).rowcount
            conn.execute(delete(InferenceBatchRow).where(and_(InferenceBatchRow.end_time < before,
                                                              scoped(InferenceBatchRow))))  # fmt: skip
            # Batches straddling the cut-off keep only their recent rows (old payloads must not survive).
            b = InferenceBatchRow
            straddling = conn.execute(
                select(b.id, b.payload).where(and_(b.start_time < before, b.end_time >= before, scoped(b)))
            ).all()
            for batch_id, blob in straddling:
                kept = _tables_to_frame([decode_table(blob)], before, float("inf"))
                conn.execute(
                    update(b)
                    .where(b.id == batch_id)
                    .values(payload=encode_table(kept), start_time=float(kept["time"].min()), n_rows=len(kept))
                )
            conn.execute(delete(FeedbackRow).where(and_(FeedbackRow.received_at < before, scoped(FeedbackRow))))
        return int(removed or 0)

    # --- reading ----------------------------------------------------------------------------------------------

    def requests(self, deployment: str, start: float, end: float) -> pd.DataFrame:
        """Request metadata in ``[start, end)``: time, variant, model_version, latency_ms, status, shadow."""
        t = InferenceRequestRow
        query = select(t.time, t.variant, t.model_version, t.latency_ms, t.status, t.shadow).where(
            and_(t.deployment == deployment, t.time >= start, t.time < end)
        )
        columns = ["time", "variant", "model_version", "latency_ms", "status", "shadow"]
        with self.engine.connect() as conn:
            # The DBAPI cursor straight into a DataFrame: SQLAlchemy's Row objects cost ~1 us each.
            compiled = query.compile(conn, compile_kwargs={"literal_binds": True})
            cursor = conn.exec_driver_sql(str(compiled)).cursor
            assert cursor is not None
            rows = cursor.fetchall()
        return pd.DataFrame.from_records(rows, columns=columns, coerce_float=True)

    def data(
        self, deployment: str, start: float, end: float, *, sample: int | None = None, seed: int = 0
    ) -> pd.DataFrame:
        """Logged inputs (``in.*``) and outputs (``out.*``) of the window's sampled rows, one column each.

        With ``sample``, at most that many rows (seeded, uniform) are converted to pandas; ``attrs["rows"]``
        always holds the window's row count.
        """
        t = InferenceBatchRow
        where = and_(t.deployment == deployment, t.end_time >= start, t.start_time < end)
        with self.engine.connect() as conn:
            blobs = [blob for _, _, blob in _payloads(conn, where)]
        return _tables_to_frame([decode_table(b) for b in blobs], start, end, sample=sample, seed=seed)

    def window_rows(self, deployment: str, start: float, end: float) -> int:
        """How many logged input rows fall in ``[start, end)`` (only batches straddling an edge are decoded)."""
        t = InferenceBatchRow
        total = 0
        inside = and_(t.deployment == deployment, t.start_time >= start, t.end_time < end)
        with self.engine.connect() as conn:
            total += int(conn.execute(select(func.coalesce(func.sum(t.n_rows), 0)).where(inside)).scalar_one())
        for table in self.tables(deployment, start, end, edges_only=True):
            total += table.num_rows
        return total

    def tables(self, deployment: str, start: float, end: float, *, edges_only: bool = False) -> Iterator[pa.Table]:
        """The window's stored batches one at a time, in the order they were written, rows cut to ``[start, end)``.

        Streams the payloads from the database (one decoded batch in memory at a time), so statistics over a wide
        log are accumulated per batch instead of over one concatenated frame; ``data()`` returns the same rows.
        ``edges_only`` yields only the batches that straddle ``start`` or ``end`` (for counting).
        """
        import pyarrow.compute as pc

        t = InferenceBatchRow
        where = and_(t.deployment == deployment, t.end_time >= start, t.start_time < end)
        if edges_only:
            where = and_(where, ~and_(t.start_time >= start, t.end_time < end))
        with self.engine.connect() as conn:
            for first, last, blob in _payloads(conn, where):
                table = decode_table(blob)
                if not (first >= start and last < end):
                    times = table.column("time")
                    table = table.filter(pc.and_(pc.greater_equal(times, start), pc.less(times, end)))
                if table.num_rows:
                    yield table

    def rows_of(self, request_ids: Iterable[str]) -> pd.DataFrame:
        """Logged rows of the given requests (with ``request_id`` and ``time``), for joining feedback.

        Each request's rows are found through its ``batch_id``/``row_offset``/``n_rows`` (payloads carry no ids).
        """
        ids = list(request_ids)
        if not ids:
            return pd.DataFrame()
        t = InferenceRequestRow
        located: list[tuple[str, int, int, int]] = []
        payloads: dict[int, bytes] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(ids, 500):
                query = select(t.request_id, t.batch_id, t.row_offset, t.n_rows).where(
                    and_(t.request_id.in_(chunk), t.batch_id.is_not(None))
                )
                located += [(rid, int(b or 0), int(o or 0), int(n)) for rid, b, o, n in conn.execute(query)]
            for chunk in _chunks(sorted({b for _, b, _, _ in located}), 500):
                blobs = select(InferenceBatchRow.id, InferenceBatchRow.payload).where(InferenceBatchRow.id.in_(chunk))
                payloads.update({int(i): blob for i, blob in conn.execute(blobs)})
        parts = []
        for batch_id, blob in payloads.items():
            mine = [(rid, o, n) for rid, b, o, n in located if b == batch_id]
            rows = np.concatenate([np.arange(o, o + n) for _, o, n in mine])
            frame = decode_table(blob).take(pa.array(rows)).to_pandas()
            frame.insert(0, "request_id", np.repeat([rid for rid, _, _ in mine], [n for _, _, n in mine]))
            parts.append(frame)
        return pd.concat(parts, ignore_index=True) if parts else pd.DataFrame()

    def known_requests(self, deployment: str, request_ids: Sequence[str]) -> dict[str, int]:
        """Of ``request_ids``, those logged for ``deployment``, with their number of rows."""
        t = InferenceRequestRow
        found: dict[str, int] = {}
        with self.engine.connect() as conn:
            for chunk in _chunks(list(request_ids), 500):
                query = select(t.request_id, t.n_rows).where(and_(t.deployment == deployment, t.request_id.in_(chunk)))
                found.update({rid: int(n) for rid, n in conn.execute(query)})
        return found

    def dropped(self, deployment: str | None = None) -> int:
        """How many inference records the daemon dropped for this deployment (queue full)."""
        query = select(func.coalesce(func.sum(MonitoringCounterRow.dropped), 0))
        if deployment is not None:
            query = query.where(MonitoringCounterRow.deployment == deployment)
        with self.engine.connect() as conn:
            return int(conn.execute(query).scalar_one())

    # --- feedback ---------------------------------------------------------------------------------------------

    def save_feedback(self, deployment: str, labels: dict[str, Any], now: float, actor: str | None) -> int:
        """Store labels (replacing earlier ones for the same request) in one transaction."""
        with self.engine.begin() as conn:
            ids = list(labels)
            for chunk in _chunks(ids, 500):
                conn.execute(delete(FeedbackRow).where(FeedbackRow.request_id.in_(chunk)))
            conn.execute(
                insert(FeedbackRow),
                [
                    {"request_id": rid, "deployment": deployment, "label": label, "received_at": now, "actor": actor}
                    for rid, label in labels.items()
                ],
            )
        return len(labels)

    def feedback(self, deployment: str, start: float, end: float) -> dict[str, Any]:
        """Labels of the requests made in ``[start, end)``."""
        f, r = FeedbackRow, InferenceRequestRow
        query = (
            select(f.request_id, f.label)
            .join(r, r.request_id == f.request_id)
            .where(and_(f.deployment == deployment, r.time >= start, r.time < end))
        )
        with self.engine.connect() as conn:
            return {rid: label for rid, label in conn.execute(query)}

    # --- alert rules and alerts ------------------------------------------------------------------------------

    def rules(self, deployment: str) -> list[dict[str, Any]]:
        """The deployment's own alert rules as stored."""
        t = AlertRuleRow
        with self.engine.connect() as conn:
            rows = conn.execute(select(t).where(t.deployment == deployment).order_by(t.name)).mappings().all()
        return [{k: row[k] for k in ("name", "metric", "op", "threshold", "window_seconds", "webhook")} for row in rows]

    def replace_rules(self, deployment: str, rules: Sequence[dict[str, Any]]) -> None:
        """Replace the deployment's own alert rules in one transaction."""
        with self.engine.begin() as conn:
            conn.execute(delete(AlertRuleRow).where(AlertRuleRow.deployment == deployment))
            if rules:
                conn.execute(insert(AlertRuleRow), [{"deployment": deployment, **rule} for rule in rules])

    def firing(self, deployment: str) -> dict[str, dict[str, Any]]:
        """The currently firing alert of each rule of a deployment."""
        t = AlertRow
        with self.engine.connect() as conn:
            rows = conn.execute(select(t).where(and_(t.deployment == deployment, t.state == "firing"))).mappings()
            return {row["rule"]: dict(row) for row in rows}

    def fire(self, alert: dict[str, Any]) -> int | None:
        """Record a firing alert unless its rule already has one; returns its id, or None if it was already firing.

        Several evaluators share the store (the daemon's alert scheduler, every Jupyter server reading alerts):
        the check and the insert are one statement, so one firing is recorded (and its webhook called) once.
        SQLite takes the write lock before the statement reads; PostgreSQL needs a lock per deployment and rule.
        """
        a = AlertRow
        already = (
            select(a.id)
            .where(and_(a.deployment == alert["deployment"], a.rule == alert["rule"], a.state == "firing"))
            .exists()
        )
        columns = list(alert)
        values = select(*[literal(alert[c]) for c in columns]).where(~already)
        with self.engine.begin() as conn:
            if conn.dialect.name == "postgresql":
                key = f"mlops-alert:{alert['deployment']}:{alert['rule']}"
                conn.execute(select(func.pg_advisory_xact_lock(func.hashtext(key))))
            inserted = conn.execute(insert(a).from_select(columns, values).returning(a.id)).scalar()
        return None if inserted is None else int(inserted)

    def resolve(self, alert_id: int, now: float) -> None:
        """Mark a firing alert resolved at ``now``."""
        with self.engine.begin() as conn:
            conn.execute(update(AlertRow).where(AlertRow.id == alert_id).values(state="resolved", resolved_at=now))

    def alert(self, alert_id: int) -> dict[str, Any] | None:
        """One alert by id, or None."""
        with self.engine.connect() as conn:
            row = conn.execute(select(AlertRow).where(AlertRow.id == alert_id)).mappings().first()
            return dict(row) if row is not None else None

    def acknowledge(self, alert_id: int, actor: str, now: float) -> None:
        """Record who acknowledged an alert, and when."""
        with self.engine.begin() as conn:
            conn.execute(
                update(AlertRow).where(AlertRow.id == alert_id).values(acknowledged_by=actor, acknowledged_at=now)
            )

    def set_delivery(self, alert_id: int, delivery: str) -> None:
        """Record how the alert's webhook delivery went."""
        with self.engine.begin() as conn:
            conn.execute(update(AlertRow).where(AlertRow.id == alert_id).values(delivery=delivery))

    def alerts(self, deployment: str | None = None, limit: int = 200) -> list[dict[str, Any]]:
        """Alerts newest first (firing and resolved)."""
        t = AlertRow
        query = select(t).order_by(t.id.desc()).limit(limit)
        if deployment is not None:
            query = query.where(t.deployment == deployment)
        with self.engine.connect() as conn:
            return [dict(row) for row in conn.execute(query).mappings()]


_REQUEST_COLUMNS = (
    "request_id",
    "deployment",
    "variant",
    "model_version",
    "time",
    "latency_ms",
    "status",
    "n_rows",
    "shadow",
    "batch_id",
    "row_offset",
)
_PLACEHOLDER = {"qmark": "?", "format": "%s", "pyformat": "%s"}


def _insert_many(conn: Any, table: str, columns: Sequence[str], rows: list[tuple[Any, ...]]) -> None:
    """A plain DBAPI executemany.

    SQLAlchemy's per-row parameter processing costs ~50 us per row, in the GIL the serving event loop needs.
    Named/numeric paramstyles (other drivers) go through SQLAlchemy instead.
    """
    mark = _PLACEHOLDER.get(conn.dialect.paramstyle)
    if mark is None:
        conn.execute(insert(Base.metadata.tables[table]), [dict(zip(columns, row, strict=True)) for row in rows])
        return
    sql = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join([mark] * len(columns))})"
    conn.exec_driver_sql(sql, rows)


def _payloads(conn: Any, where: Any) -> Iterator[tuple[float, float, bytes]]:
    """``(start_time, end_time, payload)`` of the batches matching ``where``, in the order they were written.

    The ids come first (from the index and the rows' heads), then each payload by its primary key. Asking for the
    payloads in one ordered query made SQLite copy every blob of the window into a temporary B-tree to sort it:
    three times the CPU of reading them, for a wide log most of a report's time.
    """
    t = InferenceBatchRow
    batches = conn.execute(select(t.id, t.start_time, t.end_time).where(where).order_by(t.id)).all()
    payload = select(t.payload).where(t.id == bindparam("batch_id"))
    for batch_id, first, last in batches:
        blob = conn.execute(payload, {"batch_id": batch_id}).scalar_one_or_none()
        if blob is not None:  # None: purged since the ids were read
            yield float(first), float(last), blob


def _chunks(items: Sequence[Any], size: int) -> Iterable[Sequence[Any]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def _encode_flush(records: Sequence[LoggedRequest]) -> tuple[bytes | memoryview, np.ndarray, dict[str, int]]:
    """One flush's sampled rows as a payload blob, with the rows' times and each request's first row offset."""
    columns = _numeric_columns(records)
    if columns is not None:
        arrays, offsets = columns
        return encode_arrays(arrays), arrays["time"], offsets  # the thread's scratch: stored before the next flush
    frame, offsets = _batch_frame(records)
    return encode_table(frame), frame["time"].to_numpy(dtype=float), offsets


def _numeric_columns(records: Sequence[LoggedRequest]) -> tuple[dict[str, np.ndarray], dict[str, int]] | None:
    """The flush as numpy columns, or None unless it is the serving fast path's case (then ``_batch_frame``).

    That case: every request has numeric ``Rows`` of the same columns and dtype, and numeric outputs aligned with
    them. The writer process spends its time here at 100 rows per request: stacking the requests straight into one
    column-major block, each column then an Arrow array without a copy, costs about a third of building the
    DataFrame and converting it column by column (measured: 35 vs 100 us per 100-row request).
    """
    first = records[0].inputs
    if not isinstance(first, Rows) or first.values.dtype.kind not in "fiub":
        return None
    names, dtype = first.columns, first.values.dtype
    blocks: list[np.ndarray] = []
    for record in records:
        rows = record.inputs
        if not isinstance(rows, Rows) or rows.columns != names or rows.values.dtype != dtype:
            return None
        block = rows.values.reshape(rows.values.shape[0], -1)
        if block.shape[1] != len(names):
            return None
        blocks.append(block)
    sizes = np.fromiter((b.shape[0] for b in blocks), dtype=np.int64, count=len(blocks))
    outputs = _numeric_outputs([r.outputs for r in records], sizes)
    if outputs is None:
        return None
    # One pass, straight into column-major order, into the thread's scratch block (used until the stream is
    # encoded: encode_arrays copies nothing out of it but into the IPC stream).
    shape = (len(names), int(sizes.sum()))
    by_column = np.frombuffer(_scratch.take("block", shape[0] * shape[1] * dtype.itemsize), dtype=dtype).reshape(shape)
    np.concatenate(blocks, out=by_column.T)
    columns = {"time": np.repeat(np.fromiter((r.time for r in records), dtype=float, count=len(records)), sizes)}
    columns.update({INPUT_PREFIX + name: by_column[i] for i, name in enumerate(names)})
    columns.update(outputs)
    starts = np.concatenate(([0], np.cumsum(sizes)[:-1]))
    return columns, {r.request_id: int(start) for r, start in zip(records, starts, strict=True)}


def _numeric_outputs(outputs: list[Any], sizes: np.ndarray) -> dict[str, np.ndarray] | None:
    """Numeric outputs aligned with the input rows as ``out.`` columns; None when they are not (or not numeric)."""
    block = _aligned_outputs(outputs, sizes)
    if block is None or block.dtype.kind not in "fiub":
        return None
    return _output_columns(block)


def _aligned_outputs(outputs: list[Any], sizes: np.ndarray) -> np.ndarray | None:
    """A group's outputs as one 1-D or 2-D block, or None when they do not stack.

    They stack when each request's are an array (or list) with a row per input row, all of one shape past it.
    """
    if not all(isinstance(o, (np.ndarray, list)) for o in outputs):
        return None
    arrays = [np.asarray(o) for o in outputs]
    if not all(a.ndim in (1, 2) and a.shape[0] == n for a, n in zip(arrays, sizes, strict=True)):
        return None
    if len({a.ndim for a in arrays}) != 1 or len({a.shape[1] for a in arrays if a.ndim == 2}) > 1:
        return None
    return np.concatenate(arrays)


def _output_columns(block: np.ndarray) -> dict[str, np.ndarray]:
    """``out.prediction`` (and ``out.prediction_<k>`` for further columns) of an outputs block, each contiguous."""
    if block.ndim == 1:
        return {OUTPUT_PREFIX + "prediction": block}
    names = ["prediction"] + [f"prediction_{k}" for k in range(1, block.shape[1])]
    by_column = np.ascontiguousarray(block.T)
    return {OUTPUT_PREFIX + name: by_column[k] for k, name in enumerate(names)}


def _batch_frame(records: Sequence[LoggedRequest]) -> tuple[pd.DataFrame, dict[str, int]]:
    """One frame of a flush's sampled rows: meta columns, ``in.<feature>``, ``out.<output>``.

    This runs in the writer thread of the serving daemon, so it holds the GIL the event loop needs: requests
    with the same columns are stacked as one numpy block (a few microseconds each) rather than by pandas.
    """
    parts: list[pd.DataFrame] = []
    offsets: dict[str, int] = {}
    offset = 0
    groups: dict[tuple[str, ...], list[LoggedRequest]] = {}
    for record in records:
        assert record.inputs is not None
        if isinstance(record.inputs, Rows):
            key = record.inputs.columns
        else:
            # to_numpy(dtype=object): iterating pandas 3's Arrow-backed column index costs ~25 us per request.
            key = tuple(str(c) for c in record.inputs.columns.to_numpy(dtype=object))
        groups.setdefault(key, []).append(record)
    for columns, group in groups.items():
        frames = [r.inputs for r in group if r.inputs is not None]
        sizes = np.fromiter((f.shape[0] for f in frames), dtype=np.int64, count=len(frames))
        inputs = _stack_inputs(frames, [INPUT_PREFIX + c for c in columns])
        # Per row only the time (windows filter on it); ids, variants and versions live in the request rows.
        meta = pd.DataFrame({"time": np.repeat(np.fromiter((r.time for r in group), dtype=float), sizes)})
        outputs = _stack_outputs([r.outputs for r in group], sizes)
        frame = pd.concat([meta, inputs] + ([outputs] if outputs is not None else []), axis=1)
        for record, size in zip(group, sizes, strict=True):
            offsets[record.request_id] = offset
            offset += int(size)
        parts.append(frame)
    return (parts[0] if len(parts) == 1 else pd.concat(parts, ignore_index=True)), offsets


def _stack_inputs(frames: list[pd.DataFrame | Rows], columns: list[str]) -> pd.DataFrame:
    if all(isinstance(f, Rows) for f in frames):
        blocks = [f.values.reshape(f.values.shape[0], -1) for f in frames if isinstance(f, Rows)]
        if len({b.dtype for b in blocks}) == 1:
            return pd.DataFrame(np.concatenate(blocks), columns=columns)
    pandas_frames = [f.frame() if isinstance(f, Rows) else f for f in frames]
    dtypes = set(pandas_frames[0].dtypes)
    if len(dtypes) == 1 and next(iter(dtypes)).kind in "fiub":
        block = np.concatenate([f.to_numpy() for f in pandas_frames])
        if block.dtype.kind in "fiub":
            return pd.DataFrame(block, columns=columns)
    stacked = pd.concat(pandas_frames, ignore_index=True)
    stacked.columns = columns
    return stacked


def _stack_outputs(outputs: list[Any], sizes: np.ndarray) -> pd.DataFrame | None:
    """Outputs of a group aligned with its input rows; None when any request's outputs do not align."""
    if any(o is None for o in outputs):
        return None
    block = _aligned_outputs(outputs, sizes)
    if block is not None:
        return pd.DataFrame(_output_columns(block))
    frames = [outputs_frame(o, int(n)) for o, n in zip(outputs, sizes, strict=True)]
    if any(f is None for f in frames):
        return None
    stacked = pd.concat(frames, ignore_index=True)
    stacked.columns = [OUTPUT_PREFIX + str(c) for c in stacked.columns]
    return stacked


def _tables_to_frame(
    tables: list[pa.Table],
    start: float | None,
    end: float | None,
    drop: Sequence[str] = (),
    sample: int | None = None,
    seed: int = 0,
) -> pd.DataFrame:
    if not tables:
        return pd.DataFrame()
    table = pa.concat_tables(tables, promote_options="permissive")
    table = table.drop_columns([c for c in drop if c in table.column_names])
    if start is not None and end is not None:
        import pyarrow.compute as pc

        times = table.column("time")
        table = table.filter(pc.and_(pc.greater_equal(times, start), pc.less(times, end)))
    rows = table.num_rows
    if sample is not None and rows > sample:
        rng = np.random.default_rng(seed)
        table = table.take(pa.array(np.sort(rng.choice(rows, sample, replace=False))))
    frame = table.to_pandas()
    frame.attrs["rows"] = rows
    return frame


_MISSING_TEXT = frozenset({"", "nan", "NaN", "None", "none", "null", "<NA>", "NaT"})


def numeric_block(table: pa.Table, columns: Sequence[str]) -> tuple[np.ndarray, dict[int, np.ndarray]]:
    """Logged columns as one float64 block with one row per column (``columns x rows``), NaN where missing.

    A column the log stored as text (a request mixed numbers and strings) is parsed; the values that are not
    numbers come back as NaN and, per column index, as a mask of type mismatches (second item). A column absent
    from the batch is all NaN.
    """
    present = set(table.column_names)
    if table.num_rows and columns and all(c in present for c in columns):
        chosen = table.select(list(columns))
        if all(pa.types.is_float64(t) for t in chosen.schema.types):
            # One copy in C for the common case (every feature stored as float64): a loop over a thousand columns
            # costs more than the copy itself.
            batch = chosen.combine_chunks().to_batches()[0]
            return batch.to_tensor(null_to_nan=True, row_major=False).to_numpy().T, {}
    block = np.full((len(columns), table.num_rows), np.nan)
    mismatches: dict[int, np.ndarray] = {}
    for i, name in enumerate(columns):
        if name not in present:
            continue
        column = table.column(name)
        kind = column.type
        if pa.types.is_floating(kind) or pa.types.is_integer(kind) or pa.types.is_boolean(kind):
            block[i] = column.cast(pa.float64()).to_numpy()
            continue
        text = column.to_pandas()
        numbers = pd.to_numeric(text, errors="coerce").to_numpy(dtype=float, na_value=np.nan)
        given = text.notna().to_numpy() & ~text.astype(str).isin(_MISSING_TEXT).to_numpy()
        bad = given & np.isnan(numbers)
        if bad.any():
            mismatches[i] = bad
        block[i] = numbers
    return block, mismatches
