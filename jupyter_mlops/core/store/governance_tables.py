"""Tables of governance: the audit ledger, approval requests and deployment tokens (issue 6).

They share ``Base`` with the deployment tables; the store's migrations (``schema.upgrade``) create them. The
ledger has no update or delete path in code, and each row carries the SHA-256 of its content chained to the
previous row, so an edit made with SQL is detected.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import JSON, Integer, String, Text
from sqlalchemy.orm import Mapped, mapped_column

from .tables import Base


class AuditRow(Base):
    """One ledger entry. ``seq`` is unique, so two writers racing for the same place cannot fork the chain."""

    __tablename__ = "mlops_audit"

    seq: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=False)
    # ISO-8601 UTC with microseconds: sorts as text and hashes without a time-zone round trip.
    at: Mapped[str] = mapped_column(String(40), index=True)
    action: Mapped[str] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(255))
    owner: Mapped[str | None] = mapped_column(String(255), nullable=True)
    target: Mapped[str] = mapped_column(String(512), index=True)
    outcome: Mapped[str] = mapped_column(String(16), default="ok")
    before: Mapped[Any] = mapped_column(JSON, nullable=True)
    after: Mapped[Any] = mapped_column(JSON, nullable=True)
    detail: Mapped[str | None] = mapped_column(Text, nullable=True)
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class ApprovalRow(Base):
    """A request to make a protected change, and its decision."""

    __tablename__ = "mlops_approvals"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    action: Mapped[str] = mapped_column(String(64))
    target: Mapped[str] = mapped_column(String(512), index=True)
    payload: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    evidence: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    requested_by: Mapped[str] = mapped_column(String(255))
    owner: Mapped[str | None] = mapped_column(String(255), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    decided_by: Mapped[str | None] = mapped_column(String(255), nullable=True)
    comment: Mapped[str | None] = mapped_column(Text, nullable=True)
    created_at: Mapped[str] = mapped_column(String(40))
    decided_at: Mapped[str | None] = mapped_column(String(40), nullable=True)


class DeploymentTokenRow(Base):
    """The SHA-256 of a deployment's bearer token; the token itself is shown once, never stored."""

    __tablename__ = "mlops_deployment_tokens"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[str] = mapped_column(String(40))


GOVERNANCE_TABLES = (AuditRow.__table__, ApprovalRow.__table__, DeploymentTokenRow.__table__)
