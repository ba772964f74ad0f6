"""FacadeBase: the state and helpers every room of the embedded facade shares (principal, stores, audit).

``MLOps`` (``core/service.py``) is assembled from rooms: registry and deployments in ``service.py``, governance in
``governance/operations.py``, monitoring in ``monitoring/operations.py``. Each room subclasses this base, so they
share one principal, one ledger helper (a failed write fails the change) and one authorization helper.
"""

from __future__ import annotations

import threading
from typing import TYPE_CHECKING, Any

from typing_extensions import override

from ..config import MLOpsConfig
from .errors import NotFound
from .facade import MLOpsAPI
from .governance import AuditLedger, DeploymentTokens, Governance
from .governance.changes import ChangeGate
from .governance.policy import record_or_fail
from .models import Deployment, ModelRef
from .principal import Principal
from .registry import Registry
from .resource import Resource
from .store import Store

if TYPE_CHECKING:
    from .monitoring.service import Monitoring
    from .targets import Target


class SharedState:
    """What a facade and its ``acting_as`` views share: the serving targets and monitoring, built on first use."""

    def __init__(self, origin: FacadeBase, targets: dict[str, Target] | None) -> None:
        self.lock = threading.Lock()
        self.origin = origin  # the facade the views were made from (monitoring reads as its owner)
        self.targets = targets
        self.monitoring: Monitoring | None = None


class FacadeBase(MLOpsAPI):
    """The embedded facade's state (set by ``MLOps.__init__``) and the helpers its rooms share."""

    config: MLOpsConfig
    user: str  # the owner of what this facade (and every view of it) creates
    registry: Registry
    store: Store
    audit: AuditLedger
    governance: Governance
    tokens: DeploymentTokens
    _principal: Principal
    _view: bool
    _shared: SharedState

    @property
    @override
    def principal(self) -> Principal:
        return self._principal

    @property
    def _changes(self) -> ChangeGate:
        """The approval gate and evidence builder, acting as this facade's principal."""
        return ChangeGate(self.store, self.registry, self.governance, self.principal, self.user)

    def monitoring_summary(self, model_name: str, version: str) -> dict[str, Any] | None:
        """For model cards: the health of the deployments serving a version (the monitoring room implements it)."""
        raise NotImplementedError

    def _owner_for(self) -> str:
        """Owner of a new resource: the server's user under a hub (whoever acts), else whoever acts."""
        return self.user if self.config.isolate_users else self.principal.name

    def _tokens_required(self) -> bool:
        return bool(self.config.require_deployment_token or self.config.isolate_users)

    def _authorize(self, action: str, resource: Resource, *, owner: str | None = None) -> None:
        """Raise Forbidden (recorded in the ledger) unless the principal may do ``action`` on ``resource``."""
        deployment = resource.name if resource.kind == "deployment" else None
        self.governance.authorize(
            action, self.principal, owner=owner or self.user, target=str(resource), deployment=deployment
        )

    def _audit(
        self,
        action: str,
        resource: Resource,
        before: Any,
        after: Any,
        *,
        owner: str | None = None,
        outcome: str = "ok",
        detail: str | None = None,
    ) -> None:
        """Append to the ledger as the acting principal; a failed write fails the change (raises Unavailable)."""
        record_or_fail(
            self.audit, action, self.principal.name, owner or self.user, str(resource), before, after,
            outcome=outcome, detail=detail,
        )  # fmt: skip

    def _existing(self, name: str) -> Deployment | None:
        try:
            return self.store.get_deployment(name)
        except NotFound:
            return None

    def _alias_version(self, name: str, alias: str) -> str | None:
        try:
            return self.registry.resolve(ModelRef(name=name, alias=alias)).version
        except NotFound:
            return None

    def _exists(self, name: str) -> bool:
        return self.store.generation(name) is not None
