"""A ledger write that fails makes the change fail, and the change does not stand.

Real store (the session's SQLite store), real MLflow, real serving daemon. The test installs a trigger on the ledger
table that refuses every insert (as a full disk, a lost connection or a revoked grant would), then makes changes:
each call fails with a clear error, and afterwards the deployment, approval request, decision or token does not
exist (or is as it was) and the daemon does not serve the deployment. Store-only changes commit with their ledger
entry in one transaction; a deploy, which also drives the serving target, is undone (compensated).
"""

from __future__ import annotations

import contextlib
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
from sqlalchemy import select

from jupyter_mlops.core.errors import NotFound, Unavailable
from jupyter_mlops.core.principal import Principal
from jupyter_mlops.core.store.governance_tables import ApprovalRow, DeploymentTokenRow
from tests.waiting import wait_until

pytestmark = pytest.mark.slow

TRIGGER = "mlops_test_refuse_ledger"
ROWS = b'{"dataframe_split": {"columns": ["sepal_length", "sepal_width", "petal_length", "petal_width"], ' \
       b'"data": [[5.1, 3.5, 1.4, 0.2]]}}'  # fmt: skip


@contextlib.contextmanager
def ledger_refuses_writes(store: Any) -> Iterator[None]:
    """A trigger on the ledger table that aborts every insert, dropped afterwards (the store is shared)."""
    with store.engine.begin() as connection:
        connection.exec_driver_sql(
            f"CREATE TRIGGER {TRIGGER} BEFORE INSERT ON mlops_audit "
            "BEGIN SELECT RAISE(ABORT, 'the ledger refuses writes (test trigger)'); END"
        )
    try:
        yield
    finally:
        with store.engine.begin() as connection:
            connection.exec_driver_sql(f"DROP TRIGGER IF EXISTS {TRIGGER}")


def _as(mlops: Any, name: str, scope: str) -> Any:
    return mlops.acting_as(Principal(name=name, scopes=frozenset({f"custom:mlops:{scope}"})), owner=name)


def _ledger_size(mlops: Any) -> int:
    return len(mlops.audit.events(limit=100_000))


def test_a_deploy_the_ledger_cannot_record_does_not_stand(mlops: Any, iris_version: Any) -> None:
    name = f"unrecorded-{uuid.uuid4().hex[:8]}"
    entries = _ledger_size(mlops)
    with ledger_refuses_writes(mlops.store), pytest.raises(Unavailable) as failed:
        mlops.deploy(f"iris/{iris_version.version}", name=name)
    assert "audit ledger could not record deploy" in failed.value.message
    # the desired state is gone, and so is its token
    with pytest.raises(NotFound):
        mlops.store.get_deployment(name)
    assert not mlops.tokens.has_token(name)
    # the daemon stopped serving it
    target = mlops.target("local")
    wait_until(lambda: name not in target.statuses(), 30, f"the daemon to stop serving {name}", 0.1)
    status, _headers, _body = target.invoke(name, ROWS, "application/json")
    assert status == 404
    assert _ledger_size(mlops) == entries
    # the same deploy with a working ledger serves and is recorded
    try:
        assert mlops.deploy(f"iris/{iris_version.version}", name=name).name == name
        assert [e.action for e in mlops.audit.events(target=f"deployment/{name}")] == ["deploy"]
    finally:
        mlops.undeploy(name)


def test_approval_requests_and_decisions_commit_with_their_ledger_entry(mlops: Any, iris_version: Any) -> None:
    alice, carol = _as(mlops, "alice", "deploy"), _as(mlops, "carol", "approve")
    target = f"deployment/txn-{uuid.uuid4().hex[:8]}-prod"
    payload = {"model": f"iris/{iris_version.version}"}

    def requests() -> list[Any]:
        with mlops.store.session() as s:
            return list(s.scalars(select(ApprovalRow).where(ApprovalRow.target == target)))

    with ledger_refuses_writes(mlops.store), pytest.raises(Unavailable) as failed:
        alice.request_approval("deploy", target, payload)
    assert "rolled back" in failed.value.message
    assert requests() == []  # no request without its ledger entry

    approval = alice.request_approval("deploy", target, payload)
    with ledger_refuses_writes(mlops.store), pytest.raises(Unavailable):
        carol.grant(approval.id, comment="looks fine")
    [row] = requests()
    assert (row.status, row.decided_by) == ("pending", None)  # the grant did not stand
    assert carol.grant(approval.id).status == "granted"


def test_a_token_the_ledger_cannot_record_is_not_issued(mlops: Any, iris_version: Any) -> None:
    name = f"txn-token-{uuid.uuid4().hex[:8]}"
    mlops.deploy(f"iris/{iris_version.version}", name=name)
    try:
        first = mlops.issue_token(name)

        def stored() -> str | None:
            with mlops.store.session() as s:
                row = s.get(DeploymentTokenRow, name)
                return row.token_hash if row is not None else None

        before = stored()
        with ledger_refuses_writes(mlops.store), pytest.raises(Unavailable):
            mlops.issue_token(name)
        assert stored() == before  # the old token still opens the endpoint; no unrecorded token exists
        assert first.startswith("mlops_")
    finally:
        mlops.undeploy(name)
