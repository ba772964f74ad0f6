"""The audit ledger: an append-only, hash-chained history of every mutating action.

Each entry's hash is SHA-256 over the previous entry's hash and the canonical JSON of its own fields, so an edit,
insertion or deletion made behind our back (SQL on the store) breaks the chain at that entry and ``verify`` names
it. There is deliberately no update or delete method. Targets are ``deployment/NAME``, ``model/NAME``,
``model/NAME/VERSION`` and ``approval/ID``.
"""

from __future__ import annotations

import csv
import hashlib
import io
import json
import logging
import threading
import time
from datetime import datetime, timezone
from typing import Any

from pydantic import BaseModel
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError, OperationalError

from ..errors import InvalidRequest, NotFound
from ..store import Store
from ..store.governance_tables import AuditRow
from ..store.schema import upgrade as ensure_tables

log = logging.getLogger(__name__)

GENESIS = "0" * 64
# Actions after which the ``after`` field of a deployment entry says what it serves (None once undeployed).
SERVING_ACTIONS = ("deploy", "set_traffic", "promote", "rollback", "sync", "undeploy")
_HASHED = ("seq", "at", "action", "actor", "owner", "target", "outcome", "before", "after", "detail")


class AuditEvent(BaseModel):
    """One ledger entry as callers see it."""

    seq: int
    at: datetime
    action: str
    actor: str
    owner: str | None = None
    target: str
    outcome: str = "ok"
    before: Any = None
    after: Any = None
    detail: str | None = None
    prev_hash: str
    hash: str


class ChainReport(BaseModel):
    """Result of ``verify``: ``ok`` and, when broken, the first entry that does not match its hash."""

    ok: bool
    entries: int
    first_broken: int | None = None
    message: str


class ServedAt(BaseModel):
    """What a deployment served at a moment, and the ledger entry that says so."""

    deployment: str
    at: datetime
    serving: bool
    model_name: str | None = None
    model_version: str | None = None
    variants: list[dict[str, Any]] = []
    since: datetime | None = None
    event_seq: int | None = None


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="microseconds")


def to_iso(value: datetime | str) -> str:
    """Normalise a time (aware, naive = UTC, or ISO text) to the ledger's sortable UTC text."""
    if isinstance(value, str):
        try:
            value = datetime.fromisoformat(value.replace("Z", "+00:00"))
        except ValueError:
            raise InvalidRequest(f"Invalid time {value!r}: use ISO 8601, e.g. 2026-11-27T05:00:00Z.") from None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat(timespec="microseconds")


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    return json.loads(json.dumps(value, default=str)) if value is not None else None


def entry_hash(prev_hash: str, fields: dict[str, Any]) -> str:
    canonical = json.dumps({k: fields.get(k) for k in _HASHED}, sort_keys=True, separators=(",", ":"))
    return hashlib.sha256((prev_hash + canonical).encode()).hexdigest()


def _fields(row: AuditRow) -> dict[str, Any]:
    return {k: getattr(row, k) for k in _HASHED}


def _event(row: AuditRow) -> AuditEvent:
    return AuditEvent(**_fields(row), prev_hash=row.prev_hash, hash=row.hash)


class AuditLedger:
    """Append and query the ledger in our store (shared by the Jupyter server, kernels and the CLI)."""

    def __init__(self, store: Store) -> None:
        self.store = store
        ensure_tables(store.engine)
        self._lock = threading.Lock()

    def record(
        self,
        action: str,
        actor: str,
        owner: str | None,
        target: str,
        before: Any = None,
        after: Any = None,
        *,
        outcome: str = "ok",
        detail: str | None = None,
    ) -> AuditEvent:
        """Append one entry at the end of the chain (retrying when another process appended first)."""
        fields: dict[str, Any] = {
            "action": action,
            "actor": actor,
            "owner": owner,
            "target": target,
            "outcome": outcome,
            "before": _jsonable(before),
            "after": _jsonable(after),
            "detail": detail,
        }
        with self._lock:
            for attempt in range(20):
                try:
                    with self.store.session() as s:
                        last = s.scalars(select(AuditRow).order_by(AuditRow.seq.desc()).limit(1)).first()
                        prev = last.hash if last else GENESIS
                        fields["seq"] = (last.seq + 1) if last else 1
                        fields["at"] = max(now_iso(), last.at) if last else now_iso()
                        row = AuditRow(**fields, prev_hash=prev, hash=entry_hash(prev, fields))
                        s.add(row)
                        s.flush()
                        return _event(row)
                except (IntegrityError, OperationalError) as exc:
                    log.debug("audit append raced (%s); retrying", type(exc).__name__)
                    time.sleep(0.01 * (attempt + 1))
        raise RuntimeError("Could not append to the audit ledger: the store stayed busy.")

    def events(
        self,
        target: str | None = None,
        *,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        actor: str | None = None,
        limit: int = 1000,
    ) -> list[AuditEvent]:
        """Entries oldest first. ``target`` also matches everything under it (``model/iris`` -> its versions);
        a bare name matches the deployment and the model of that name."""
        query = select(AuditRow).order_by(AuditRow.seq)
        if target:
            # A bare name ("churn-prod") means the deployment or model of that name.
            prefixes = [target.rstrip("/")]
            if "/" not in target:
                prefixes += [f"deployment/{target}", f"model/{target}"]
            query = query.where(
                or_(
                    *(
                        cond
                        for prefix in prefixes
                        for cond in (
                            AuditRow.target == prefix,
                            AuditRow.target.startswith(prefix + "/", autoescape=True),
                            AuditRow.target.startswith(prefix + "@", autoescape=True),
                        )
                    )
                )
            )
        if since is not None:
            query = query.where(AuditRow.at >= to_iso(since))
        if until is not None:
            query = query.where(AuditRow.at <= to_iso(until))
        if actor:
            query = query.where(AuditRow.actor == actor)
        with self.store.session() as s:
            return [_event(r) for r in s.scalars(query.limit(limit))]

    def history(self, target: str) -> list[AuditEvent]:
        return self.events(target, limit=100_000)

    def served_at(self, deployment: str, at: datetime | str) -> ServedAt:
        """Which model version served ``deployment`` at time ``at`` (the last serving change before it)."""
        when = to_iso(at)
        query = (
            select(AuditRow)
            .where(
                AuditRow.target == f"deployment/{deployment}",
                AuditRow.action.in_(SERVING_ACTIONS),
                AuditRow.outcome == "ok",
                AuditRow.at <= when,
            )
            .order_by(AuditRow.seq.desc())
            .limit(1)
        )
        with self.store.session() as s:
            row = s.scalars(query).first()
            if row is None:
                raise NotFound(f"The audit ledger has no deployment {deployment!r} serving at {when}.")
            after = row.after if isinstance(row.after, dict) else {}
        result = ServedAt(deployment=deployment, at=datetime.fromisoformat(when), serving=False, event_seq=row.seq)
        result.since = datetime.fromisoformat(row.at)
        if row.action == "undeploy" or not after.get("model_version"):
            return result
        result.serving = True
        result.model_name = after.get("model_name")
        result.model_version = str(after.get("model_version"))
        result.variants = list(after.get("variants") or [])
        return result

    def verify(self) -> ChainReport:
        """Recompute the chain; the first entry whose hash or link does not match is reported."""
        prev = GENESIS
        count = 0
        expected_seq = 1
        with self.store.session() as s:
            for row in s.scalars(select(AuditRow).order_by(AuditRow.seq)).yield_per(500):
                count += 1
                if row.seq != expected_seq:
                    return ChainReport(
                        ok=False,
                        entries=count,
                        first_broken=expected_seq,
                        message=f"Entry {expected_seq} is missing: the ledger was truncated or an entry deleted.",
                    )
                if row.prev_hash != prev:
                    return ChainReport(
                        ok=False,
                        entries=count,
                        first_broken=row.seq,
                        message=f"Entry {row.seq} does not link to entry {row.seq - 1}: an entry was replaced.",
                    )
                if entry_hash(prev, _fields(row)) != row.hash:
                    return ChainReport(
                        ok=False,
                        entries=count,
                        first_broken=row.seq,
                        message=f"Entry {row.seq} ({row.action} on {row.target}) was modified after it was written.",
                    )
                prev = row.hash
                expected_seq += 1
        return ChainReport(ok=True, entries=count, message=f"The ledger is intact ({count} entries).")

    @staticmethod
    def to_json(events: list[AuditEvent]) -> str:
        return json.dumps([e.model_dump(mode="json") for e in events], indent=1)

    @staticmethod
    def to_csv(events: list[AuditEvent]) -> str:
        out = io.StringIO()
        writer = csv.writer(out)
        columns = ["seq", "at", "action", "actor", "owner", "target", "outcome", "before", "after", "detail", "hash"]
        writer.writerow(columns)
        for e in events:
            data = e.model_dump(mode="json")
            writer.writerow(
                [
                    json.dumps(data[c]) if c in ("before", "after") else ("" if data[c] is None else data[c])
                    for c in columns
                ]
            )
        return out.getvalue()
