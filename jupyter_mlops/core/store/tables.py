"""Table definitions. MLflow's records are never copied here: variants refer to versions by name and number."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from sqlalchemy import JSON, DateTime, ForeignKey, Integer, String
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column, relationship


def utcnow() -> datetime:
    """Now, in UTC."""
    return datetime.now(timezone.utc)


class Base(DeclarativeBase):
    """Declarative base of every table of ours."""

    pass


class DeploymentRow(Base):
    """Desired state of one deployment. ``generation`` grows on every change so targets can tell what is new."""

    __tablename__ = "mlops_deployments"

    name: Mapped[str] = mapped_column(String(63), primary_key=True)
    owner: Mapped[str | None] = mapped_column(String(255), nullable=True)
    target: Mapped[str] = mapped_column(String(32), default="local")
    model_ref: Mapped[str] = mapped_column(String(255))
    config: Mapped[dict[str, Any]] = mapped_column(JSON, default=dict)
    generation: Mapped[int] = mapped_column(Integer, default=1)
    created_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    updated_at: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow, onupdate=utcnow)

    variants: Mapped[list[VariantRow]] = relationship(
        back_populates="deployment", cascade="all, delete-orphan", lazy="selectin", order_by="VariantRow.id"
    )


class VariantRow(Base):
    """One variant of a deployment: model version, weight and role."""

    __tablename__ = "mlops_variants"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    deployment_name: Mapped[str] = mapped_column(ForeignKey("mlops_deployments.name", ondelete="CASCADE"), index=True)
    name: Mapped[str] = mapped_column(String(63))
    model_name: Mapped[str] = mapped_column(String(255))
    model_version: Mapped[str] = mapped_column(String(32))
    weight: Mapped[int] = mapped_column(Integer, default=100)
    role: Mapped[str] = mapped_column(String(16), default="primary")

    deployment: Mapped[DeploymentRow] = relationship(back_populates="variants")


class DeploymentEventRow(Base):
    """Rollout history of a deployment (deploy, canary, traffic, promote, rollback, auto-rollback, sync).

    No foreign key: the history outlives an undeploy, so a redeploy under the same name shows what came before.
    """

    __tablename__ = "mlops_deployment_events"

    id: Mapped[int] = mapped_column(Integer, primary_key=True, autoincrement=True)
    deployment_name: Mapped[str] = mapped_column(String(63), index=True)
    time: Mapped[datetime] = mapped_column(DateTime(timezone=True), default=utcnow)
    kind: Mapped[str] = mapped_column(String(32))
    message: Mapped[str] = mapped_column(String(2000))
    variant: Mapped[str | None] = mapped_column(String(63), nullable=True)
    actor: Mapped[str | None] = mapped_column(String(255), nullable=True)
