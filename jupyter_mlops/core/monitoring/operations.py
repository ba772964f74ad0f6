"""The monitoring room of the embedded facade: reports, feedback, alerts, alert rules and health.

Monitoring itself (``monitoring/service.py``) reads deployments as the facade's owner through a narrow
``DeploymentSource``; this room authorizes the principal, converts to the typed records and audits what changes.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from typing_extensions import override

from .. import validation
from ..errors import InvalidRequest
from ..facade_base import FacadeBase
from ..resource import Resource
from .models import Alert, AlertRule, Health, parse_health

if TYPE_CHECKING:
    from .report import MonitoringReport
    from .service import Monitoring


class MonitoringOperations(FacadeBase):
    """Monitoring of the facade's deployments, acting as its principal."""

    @property
    def monitoring(self) -> Monitoring:
        """The monitoring service of this facade and its views (created on first use)."""
        shared = self._shared
        with shared.lock:
            if shared.monitoring is None:
                from .service import Monitoring

                shared.monitoring = Monitoring(shared.origin)  # reads deployments as the owner, whichever view asks
            return shared.monitoring

    @override
    def monitor(self, name: str, window: str | float = "1h") -> MonitoringReport:
        record = self.store.get_deployment(validation.deployment_name(name))
        self._authorize("read", Resource.deployment(record.name), owner=record.owner)
        return self.monitoring.report(record.name, window)

    @override
    def feedback(self, name: str, request_ids: Any, labels: Any) -> dict[str, Any]:
        name = validation.deployment_name(name)
        result = self.monitoring.feedback(name, request_ids, labels, actor=self.principal.name)
        self._audit("feedback", Resource.deployment(name), None, {"accepted": result.get("accepted")})
        return result

    @override
    def alerts(self, name: str | None = None) -> list[Alert]:
        found = self.monitoring.alerts(validation.deployment_name(name) if name is not None else None)
        return [Alert.model_validate(a) for a in found]

    @override
    def acknowledge_alert(self, alert_id: int) -> Alert:
        if isinstance(alert_id, bool) or not isinstance(alert_id, int) or alert_id < 1:
            raise InvalidRequest(f"Invalid alert id {alert_id!r}: alert ids are positive integers.")
        before, after = self.monitoring.acknowledge(alert_id, self.principal.name)
        self._audit("acknowledge_alert", Resource.deployment(after["deployment"]).with_alert(alert_id), before, after)
        return Alert.model_validate(after)

    @override
    def alert_rules(self, name: str, rules: list[dict[str, Any]] | None = None) -> list[AlertRule]:
        name = validation.deployment_name(name)
        if rules is None:
            self.store.get_deployment(name)
            found = self.monitoring.rules(name)
        else:
            found = self.monitoring.set_rules(name, rules)
        return [AlertRule.model_validate(r) for r in found]

    @override
    def health(self, name: str | None = None, window: str | float = "1h") -> Health:
        found = self.monitoring.health(validation.deployment_name(name) if name is not None else None, window)
        return parse_health(found)

    def monitoring_summary(self, model_name: str, version: str) -> dict[str, Any] | None:
        """For model cards: the health of the deployments serving a version and whether it has a baseline."""
        return self.monitoring.summary(model_name, version)
