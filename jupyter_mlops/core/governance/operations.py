"""The governance room of the embedded facade: the audit ledger, approvals, tokens, lineage and model cards.

Each operation authorizes the bound principal, delegates (``AuditLedger``, ``Governance``, ``ChangeGate``,
``cards``) and records what it changed; the contract's docstrings (``core/facade.py``) say what each one does.
"""

from __future__ import annotations

from datetime import datetime
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from .. import validation
from ..errors import InvalidRequest
from ..facade_base import FacadeBase
from ..models import ModelRef, ModelVersion
from ..monitoring.models import WhoAmI
from ..resource import Resource
from . import cards
from .audit import AuditEvent, ChainReport, ServedAt
from .cards import LineageChain, ModelCard
from .policy import Approval

if TYPE_CHECKING:
    from ..targets import Target


class GovernanceOperations(FacadeBase):
    """Audit, approvals, endpoint tokens, lineage and model cards, acting as the facade's principal."""

    if TYPE_CHECKING:

        @property
        def targets(self) -> dict[str, Target]:
            """The serving targets by name (``MLOps.targets``)."""
            ...

    @override
    def audit_events(
        self,
        target: str | None = None,
        *,
        since: datetime | str | None = None,
        until: datetime | str | None = None,
        by: str | None = None,
        limit: int = 1000,
    ) -> list[AuditEvent]:
        if not 1 <= limit <= 100_000:
            raise InvalidRequest("limit must be between 1 and 100000.")
        return self.audit.events(target, since=since, until=until, actor=by, limit=limit)

    @override
    def export_audit(
        self,
        target: str | None = None,
        *,
        format: str = "json",
        since: datetime | str | None = None,
        until: datetime | str | None = None,
    ) -> str:
        if format not in ("json", "csv"):
            raise InvalidRequest(f"Unknown export format {format!r}: use json or csv.")
        events = self.audit.events(target, since=since, until=until, limit=1_000_000)
        return self.audit.to_csv(events) if format == "csv" else self.audit.to_json(events)

    @override
    def verify_audit(self) -> ChainReport:
        return self.audit.verify()

    @override
    def served_at(self, deployment: str, at: datetime | str) -> ServedAt:
        return self.audit.served_at(validation.deployment_name(deployment), at)

    @override
    def whoami(self) -> WhoAmI:
        p = self.principal
        return WhoAmI(
            user=p.name, owner=self.user, role=self.governance.role(p), groups=list(p.groups), scopes=sorted(p.scopes)
        )

    @override
    def request_approval(self, action: str, target: str, payload: dict[str, Any] | None = None) -> Approval:
        return self._changes.request(action, target, dict(payload or {}))

    @override
    def approvals(self, status: str | None = None) -> list[Approval]:
        return self.governance.approvals(status)

    @override
    def grant(self, approval_id: int, *, comment: str | None = None) -> Approval:
        return self.governance.decide(int(approval_id), self.principal, grant=True, comment=comment)

    @override
    def reject(self, approval_id: int, *, comment: str | None = None) -> Approval:
        return self.governance.decide(int(approval_id), self.principal, grant=False, comment=comment)

    @override
    def issue_token(self, name: str) -> str:
        record = self.store.get_deployment(validation.deployment_name(name))
        resource = Resource.deployment(record.name)
        self._authorize("issue_token", resource, owner=record.owner)
        with self.audit.atomic():  # the token and its ledger entry, or neither
            token = self.tokens.issue(record.name)
            self._audit("issue_token", resource, None, {"token": "issued"}, owner=record.owner)
        target = self.targets.get(record.target)
        if target is not None:  # after the commit: the old token must be refused by the very next request
            target.credentials_changed(record.name)
        return token

    @override
    def lineage(self, subject: str) -> LineageChain:
        deployment = None
        if "/" not in subject and "@" not in subject and self._existing(subject) is not None:
            deployment = self.deployment(subject)
            version = self.registry.version(deployment.model_name, deployment.model_version)
        else:
            version = self.registry.resolve(ModelRef.parse(subject))
        return cards.chain(version, deployment)

    @override
    def card(self, name: str, version: str | None = None) -> ModelCard:
        ref = ModelRef.parse(f"{name}/{version}" if version else name)
        found = self.registry.resolve(ref)
        mv = self.registry.version(found.name, found.version)
        return self._build_card(mv, cards.load_sections(self.registry.client, mv.run_id))

    @override
    def update_card(self, name: str, version: str, sections: dict[str, str]) -> ModelCard:
        unknown = set(sections) - set(cards.EDITABLE)
        if unknown:
            raise InvalidRequest(f"Only {', '.join(cards.EDITABLE)} can be edited (got {', '.join(sorted(unknown))}).")
        if any(not isinstance(v, str) or len(v) > 20_000 for v in sections.values()):
            raise InvalidRequest("Card sections must be text of at most 20000 characters.")
        mv = self.registry.version(validation.model_name(name), validation.version(version))
        resource = Resource.model(mv.name, version=mv.version)
        self._authorize("update_card", resource)
        current = cards.load_sections(self.registry.client, mv.run_id)
        card = self._build_card(mv, {**current, **sections})
        cards.store_card(self.registry.client, card, mv.run_id)
        self._audit("update_card", resource, current, {k: card.model_dump()[k] for k in cards.EDITABLE})
        return card

    def _build_card(self, mv: ModelVersion, sections: dict[str, str]) -> ModelCard:
        """A version's card from MLflow, our deployments and approvals, and its monitoring summary."""
        try:
            monitoring = self.monitoring_summary(mv.name, mv.version)
        except Exception:  # a card must render even when monitoring has nothing yet
            monitoring = None
        return cards.assemble(mv, sections, self.store.list_deployments(), self.governance.approvals(), monitoring)
