"""The audit ledger: an append-only, hash-chained history of every mutating action.

Each entry's hash is SHA-256 over the previous entry's hash and the canonical JSON of its own fields, so an edit,
insertion or deletion made behind our back (SQL on the store) breaks the chain at that entry and ``verify`` names
it. There is deliberately no update or delete method. Targets are ``deployment/NAME``, ``model/NAME``,
``model/NAME/VERSION`` and ``approval/ID``.

A hash chain alone cannot show a deleted tail or a chain re-hashed from the start: whoever can write the table can
recompute every hash. So the MLOps service signs checkpoints (sequence number + head hash, HMAC-SHA256 with a key
only it can read) and keeps them outside the store, in a folder only it can write (``Checkpoints``). ``verify``
then names a checkpoint the chain no longer reaches and the first missing or altered entry.
"""

from __future__ import annotations

import contextlib
import csv
import hashlib
import hmac
import io
import json
import logging
import os
import secrets
import threading
import time
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel
from sqlalchemy import or_, select
from sqlalchemy.exc import IntegrityError, OperationalError

from ..errors import InvalidRequest, NotFound, Unavailable
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
    """Result of ``verify``: ``ok``, and where it is broken, what broke it.

    When broken, it names the first entry that is missing or does not match its hash, and the first signed
    checkpoint the chain no longer reaches.
    """

    ok: bool
    entries: int
    first_broken: int | None = None
    message: str
    checkpoints: int = 0
    unreached_checkpoint: int | None = None


class Checkpoint(BaseModel):
    """A signed statement "the ledger had ``seq`` entries and its head hash was ``head``" (HMAC-SHA256)."""

    seq: int
    head: str
    at: str
    signature: str


class Checkpoints:
    """Signs ledger checkpoints and keeps them in an append-only file outside the store.

    The key file and the folder belong to the MLOps service (mode 0600/0700): a user who can write the store (or
    who reaches it through SQL) can neither forge a checkpoint nor remove one.
    """

    FILE = "ledger-checkpoints.jsonl"

    def __init__(self, key: bytes, folder: str | Path) -> None:
        if len(key) < 16:
            raise ValueError("The checkpoint key must be at least 16 bytes.")
        self._key = key
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        self.path = self.folder / self.FILE
        self._lock = threading.Lock()

    @classmethod
    def from_files(cls, key_file: str | Path, folder: str | Path | None = None) -> Checkpoints:
        """The signer of a service: its key (created with mode 0600 when missing) and its checkpoint folder."""
        key_path = Path(key_file)
        if not key_path.exists():
            key_path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
            fd = os.open(key_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "w") as out:
                out.write(secrets.token_hex(32))
        return cls(key_path.read_text().strip().encode(), folder or key_path.parent)

    def _sign(self, seq: int, head: str, at: str) -> str:
        return hmac.new(self._key, f"{seq}:{head}:{at}".encode(), hashlib.sha256).hexdigest()

    def valid(self, checkpoint: Checkpoint) -> bool:
        return hmac.compare_digest(self._sign(checkpoint.seq, checkpoint.head, checkpoint.at), checkpoint.signature)

    def sign(self, seq: int, head: str) -> Checkpoint:
        """Sign and append a checkpoint of the ledger at entry ``seq`` with head hash ``head``."""
        at = now_iso()
        checkpoint = Checkpoint(seq=seq, head=head, at=at, signature=self._sign(seq, head, at))
        with self._lock, self.path.open("a") as out:
            out.write(checkpoint.model_dump_json() + "\n")
            out.flush()
            os.fsync(out.fileno())
        return checkpoint

    def load(self) -> list[Checkpoint]:
        """Every checkpoint written, oldest first (a line that does not parse is kept as an invalid one)."""
        if not self.path.exists():
            return []
        found = []
        for line in self.path.read_text().splitlines():
            if not line.strip():
                continue
            try:
                found.append(Checkpoint.model_validate_json(line))
            except ValueError:
                found.append(Checkpoint(seq=0, head="", at="", signature="unreadable"))
        return found


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

    def __init__(self, store: Store, checkpoints: Checkpoints | None = None) -> None:
        self.store = store
        ensure_tables(store.engine)
        self._lock = threading.Lock()
        self._pending = threading.local()  # entries written inside this thread's atomic() block, signed on commit
        # Set by the MLOps service (the only holder of the signing key): each append is then checkpointed.
        self.checkpoints = checkpoints

    def checkpoint(self) -> Checkpoint | None:
        """Sign a checkpoint of the ledger's current head (None when there is no signer or no entry)."""
        if self.checkpoints is None:
            return None
        with self.store.session() as s:
            last = s.scalars(select(AuditRow).order_by(AuditRow.seq.desc()).limit(1)).first()
            if last is None:
                return None
            seq, head = last.seq, last.hash
        return self.checkpoints.sign(seq, head)

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
        if self.store.in_transaction():
            return self._record_in_transaction(action, target, fields)
        with self._lock:
            for attempt in range(20):
                try:
                    event = self._append(fields)
                    break
                except (IntegrityError, OperationalError) as exc:
                    log.debug("audit append raced (%s); retrying", type(exc).__name__)
                    time.sleep(0.01 * (attempt + 1))
            else:
                raise Unavailable(
                    f"The audit ledger could not record {action} on {target}: the store stayed busy or failed, so "
                    "the change is reported as failed; check the store (MLOpsConfig.store_url) and retry."
                )
            if self.checkpoints is not None:
                self.checkpoints.sign(event.seq, event.hash)
        return event

    @contextlib.contextmanager
    def atomic(self) -> Iterator[None]:
        """The store changes made in this block and their ledger entries commit together, or none of them does.

        A ledger write that fails inside the block fails the block: the change is rolled back with it. Checkpoints
        of entries written inside are signed once the transaction has committed (never of a rolled-back entry).
        """
        if self.store.in_transaction():
            yield
            return
        self._pending.events = []
        try:
            with self.store.transaction():
                yield
            signed = list(self._pending.events)
        finally:
            self._pending.events = None
        if self.checkpoints is not None and signed:
            self.checkpoints.sign(signed[-1].seq, signed[-1].hash)

    def _append(self, fields: dict[str, Any]) -> AuditEvent:
        """Chain one entry after the newest (its sequence number, time and hash) in a session of the store."""
        with self.store.session() as s:
            last = s.scalars(select(AuditRow).order_by(AuditRow.seq.desc()).limit(1)).first()
            prev = last.hash if last else GENESIS
            fields["seq"] = (last.seq + 1) if last else 1
            fields["at"] = max(now_iso(), last.at) if last else now_iso()
            row = AuditRow(**fields, prev_hash=prev, hash=entry_hash(prev, fields))
            s.add(row)
            s.flush()
            return _event(row)

    def _record_in_transaction(self, action: str, target: str, fields: dict[str, Any]) -> AuditEvent:
        """Append inside the caller's transaction: one attempt, and a failure fails (and rolls back) the change."""
        try:
            event = self._append(fields)
        except Exception as exc:
            log.warning("audit append of %s on %s failed inside its change's transaction: %s", action, target, exc)
            raise Unavailable(
                f"The audit ledger could not record {action} on {target} ({type(exc).__name__}), so the change was "
                "rolled back and nothing changed; check the store (MLOpsConfig.store_url) and retry."
            ) from None
        pending = getattr(self._pending, "events", None)
        if pending is not None:
            pending.append(event)
        return event

    def events(
        self,
        target: str | None = None,
        *,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        actor: str | None = None,
        limit: int = 1000,
    ) -> list[AuditEvent]:
        """Entries oldest first, filtered.

        ``target`` also matches everything under it (``model/iris`` -> its versions); a bare name matches the
        deployment and the model of that name.
        """
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
        """Recompute the chain, then hold it against the signed checkpoints.

        Reports the first entry that is missing (a gap, or a tail deleted after a checkpoint) or altered (its hash
        or link does not match, or a checkpoint's head hash differs: the chain was re-hashed), and the first
        checkpoint the chain no longer reaches.
        """
        checkpoints = self.checkpoints.load() if self.checkpoints is not None else []
        forged = next((c for c in checkpoints if not self.checkpoints.valid(c)), None) if self.checkpoints else None
        if forged is not None:
            return ChainReport(
                ok=False,
                entries=0,
                checkpoints=len(checkpoints),
                unreached_checkpoint=forged.seq,
                message=f"Checkpoint {forged.seq} has an invalid signature: the checkpoint file was tampered with.",
            )
        expected_heads: dict[int, Checkpoint] = {}
        for c in checkpoints:
            expected_heads.setdefault(c.seq, c)
        prev = GENESIS
        count = 0
        expected_seq = 1
        good_checkpoint = 0  # the last checkpoint the chain reaches with the signed head

        def broken(first: int, message: str, unreached: int | None = None) -> ChainReport:
            return ChainReport(
                ok=False,
                entries=count,
                first_broken=first,
                message=message,
                checkpoints=len(checkpoints),
                unreached_checkpoint=unreached,
            )

        with self.store.session() as s:
            for row in s.scalars(select(AuditRow).order_by(AuditRow.seq)).yield_per(500):
                count += 1
                if row.seq != expected_seq:
                    return broken(
                        expected_seq, f"Entry {expected_seq} is missing: the ledger was truncated or an entry deleted."
                    )
                if row.prev_hash != prev:
                    return broken(
                        row.seq, f"Entry {row.seq} does not link to entry {row.seq - 1}: an entry was replaced."
                    )
                if entry_hash(prev, _fields(row)) != row.hash:
                    return broken(
                        row.seq, f"Entry {row.seq} ({row.action} on {row.target}) was modified after it was written."
                    )
                signed = expected_heads.get(row.seq)
                if signed is not None:
                    if signed.head != row.hash:
                        first = good_checkpoint + 1
                        return broken(
                            first,
                            f"Checkpoint {signed.seq} (signed {signed.at}) is no longer reached: the chain's hash at "
                            f"entry {signed.seq} differs from the signed one, so an entry from {first} to "
                            f"{signed.seq} was altered and the chain re-hashed after it (entry {first} is the first "
                            "one not covered by a matching checkpoint).",
                            signed.seq,
                        )
                    good_checkpoint = row.seq
                prev = row.hash
                expected_seq += 1
        beyond = [c for c in checkpoints if c.seq > count]
        if beyond:
            last = max(beyond, key=lambda c: c.seq)
            return broken(
                count + 1,
                f"Entries {count + 1} to {last.seq} are missing: the ledger ends at entry {count}, but checkpoint "
                f"{last.seq} (signed {last.at}) says it had {last.seq} entries. Its tail was deleted.",
                min(c.seq for c in beyond),
            )
        signed_note = f", {len(checkpoints)} signed checkpoint(s) reached" if checkpoints else ""
        return ChainReport(
            ok=True,
            entries=count,
            checkpoints=len(checkpoints),
            message=f"The ledger is intact ({count} entries{signed_note}).",
        )

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
