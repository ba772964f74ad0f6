"""The one route table of /mlops/api."""

from __future__ import annotations

from typing import Any

from . import governance_handlers as gov
from . import handlers
from .risk_handlers import RISK_ROUTES

API = "/mlops/api"
_NAME = r"(?P<name>[^/]+)"


def route_table() -> list[tuple[str, Any]]:
    """Every (URL pattern, handler) of the extension, under the server's base URL."""
    return [
        (rf"{API}/version", handlers.VersionHandler),
        (rf"{API}/config", handlers.UIConfigHandler),
        (rf"{API}/models", handlers.ModelsHandler),
        (rf"{API}/models/{_NAME}", handlers.ModelHandler),
        (rf"{API}/models/{_NAME}/versions", handlers.VersionsHandler),
        (rf"{API}/models/{_NAME}/versions/(?P<version>[^/]+)", handlers.ModelVersionHandler),
        (rf"{API}/models/{_NAME}/aliases/(?P<alias>[^/]+)", handlers.AliasHandler),
        (rf"{API}/deployments", handlers.DeploymentsHandler),
        (rf"{API}/deployments/{_NAME}", handlers.DeploymentHandler),
        (rf"{API}/deployments/{_NAME}/predict", handlers.PredictHandler),
        (rf"{API}/deployments/{_NAME}/settings", handlers.SettingsHandler),
        (rf"{API}/deployments/{_NAME}/monitoring", handlers.MonitoringHandler),
        (rf"{API}/deployments/{_NAME}/feedback", handlers.FeedbackHandler),
        (rf"{API}/deployments/{_NAME}/alert-rules", handlers.AlertRulesHandler),
        (rf"{API}/alerts", handlers.AlertsHandler),
        (rf"{API}/alerts/(?P<alert_id>[^/]+)/ack", handlers.AlertAckHandler),
        (rf"{API}/health", handlers.HealthHandler),
        (rf"{API}/deployments/{_NAME}/traffic", handlers.TrafficHandler),
        (rf"{API}/deployments/{_NAME}/promote", handlers.PromoteHandler),
        (rf"{API}/deployments/{_NAME}/rollback", handlers.RollbackHandler),
        (rf"{API}/deployments/{_NAME}/sync", handlers.SyncHandler),
        (rf"{API}/deployments/{_NAME}/events", handlers.EventsHandler),
        # governance (issue 6)
        (rf"{API}/whoami", gov.WhoAmIHandler),
        (rf"{API}/audit", gov.AuditHandler),
        (rf"{API}/audit/verify", gov.AuditVerifyHandler),
        (rf"{API}/audit/served", gov.AuditServedHandler),
        (rf"{API}/approvals", gov.ApprovalsHandler),
        (rf"{API}/approvals/(?P<approval_id>[^/]+)/grant", gov.ApprovalGrantHandler),
        (rf"{API}/approvals/(?P<approval_id>[^/]+)/reject", gov.ApprovalRejectHandler),
        (rf"{API}/models/{_NAME}/versions/(?P<version>[^/]+)/card", gov.CardHandler),
        (rf"{API}/models/{_NAME}/versions/(?P<version>[^/]+)/lineage", gov.VersionLineageHandler),
        (rf"{API}/deployments/{_NAME}/lineage", gov.DeploymentLineageHandler),
        (rf"{API}/deployments/{_NAME}/token", gov.TokenHandler),
        *RISK_ROUTES,  # model risk management (issue 17)
    ]
