"""Governance: the audit ledger, roles and approvals, deployment tokens, model cards and the lineage chain."""

from .audit import AuditEvent, AuditLedger, ChainReport, ServedAt
from .policy import Approval, Governance
from .tokens import DeploymentTokens

__all__ = ["Approval", "AuditEvent", "AuditLedger", "ChainReport", "DeploymentTokens", "Governance", "ServedAt"]
