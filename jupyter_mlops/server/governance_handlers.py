"""REST handlers of governance (issue 6): audit ledger, approvals, model cards, lineage, tokens, identity.

Thin like the others: parse, call one MLOps method, render. Registered in routes.py.
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from tornado import web

from ..core import requests
from .handlers import API, MLOpsHandler, Refusal


class AuditHandler(MLOpsHandler):
    """``GET /audit?target=&since=&until=&actor=&limit=&format=json|csv``: ledger entries, oldest first."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """Ledger entries as JSON, or the CSV export with ``format=csv``."""
        fmt = self.get_query_argument("format", "json")
        query: dict[str, Any] = {
            "since": self.get_query_argument("since", None),
            "until": self.get_query_argument("until", None),
        }
        target = self.get_query_argument("target", None)
        if fmt == "csv":
            text = await self.call(self.mlops.export_audit, target, format="csv", **query)
            self.set_header("Content-Disposition", 'attachment; filename="mlops-audit.csv"')
            self.finish(text, set_content_type="text/csv; charset=utf-8")
            return
        if fmt != "json":
            raise Refusal(400, f"Unknown format {fmt!r}: use json or csv.")
        items = await self.call(
            self.mlops.audit_events,
            target,
            by=self.get_query_argument("actor", None),
            limit=self.int_argument("limit", 1000),
            **query,
        )
        self.send({"items": items, "next_page_token": None, "total": len(items)})


class AuditVerifyHandler(MLOpsHandler):
    """``GET /audit/verify``: recompute the hash chain; ``ok`` false names the first tampered entry."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """The chain report: ok, or the first entry edited, removed or inserted."""
        self.send(await self.call(self.mlops.verify_audit))


class AuditServedHandler(MLOpsHandler):
    """``GET /audit/served?deployment=X&at=ISO``: which model version served X at that time."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """The version that served ``deployment`` at time ``at``."""
        deployment = self.get_query_argument("deployment", None)
        at = self.get_query_argument("at", None)
        if not deployment or not at:
            raise Refusal(400, "Give ?deployment=NAME&at=2026-11-27T05:00:00Z.")
        self.send(await self.call(self.mlops.served_at, deployment, at))


class ApprovalsHandler(MLOpsHandler):
    """``GET /approvals[?status=pending]``; ``POST {action, target, payload}`` requests a protected change."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """Approval requests, newest first, optionally by status."""
        items = await self.call(self.mlops.approvals, self.get_query_argument("status", None))
        self.send({"items": items, "next_page_token": None, "total": len(items)})

    @web.authenticated
    @authorized
    async def post(self) -> None:
        """File an approval request as the authenticated user (201 + Location)."""
        body = self.parse_body(
            requests.ApprovalRequest,
            'Send {"action": "set_alias", "target": "model/NAME@ALIAS", "payload": {"version": "2"}}.',
        )
        approval = await self.call(self.mlops.request_approval, body.action, body.target, body.payload)
        self.set_header("Location", f"{self.base_url.rstrip('/')}{API}/approvals/{approval.id}")
        self.send(approval, status=201)


class _Decision(MLOpsHandler):
    async def decide(self, approval_id: str, grant: bool) -> None:
        if not approval_id.isdigit():
            raise Refusal(400, f"Approval ids are numbers (got {approval_id!r}).")
        body = self.parse_body(requests.DecisionRequest, "'comment' must be text.", None if self.request.body else {})
        decide = self.mlops.grant if grant else self.mlops.reject
        self.send(await self.call(decide, int(approval_id), comment=body.comment))


class ApprovalGrantHandler(_Decision):
    """``POST /approvals/{id}/grant`` with an optional ``{"comment": "..."}`` (approver role, not the requester)."""

    @web.authenticated
    @authorized
    async def post(self, approval_id: str) -> None:
        """Grant the request as the authenticated user."""
        await self.decide(approval_id, grant=True)


class ApprovalRejectHandler(_Decision):
    """``POST /approvals/{id}/reject`` with an optional ``{"comment": "..."}``."""

    @web.authenticated
    @authorized
    async def post(self, approval_id: str) -> None:
        """Reject the request as the authenticated user."""
        await self.decide(approval_id, grant=False)


class CardHandler(MLOpsHandler):
    """``GET`` a version's model card; ``PUT {"intended_use": ..., "limitations": ...}`` edits and stores it."""

    @web.authenticated
    @authorized
    async def get(self, name: str, version: str) -> None:
        """The version's model card."""
        self.send(await self.call(self.mlops.card, name, version))

    @web.authenticated
    @authorized
    async def put(self, name: str, version: str) -> None:
        """Edit the card's human sections and store it with the version."""
        self.send(await self.call(self.mlops.update_card, name, version, self.json_body()))


class DeploymentLineageHandler(MLOpsHandler):
    """``GET /deployments/{name}/lineage``: deployment -> version -> run -> notebook/commit, environment, data."""

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        """The deployment's lineage chain."""
        self.send(await self.call(self.mlops.lineage, name))


class VersionLineageHandler(MLOpsHandler):
    """``GET /models/{name}/versions/{version}/lineage``: version -> run -> notebook/commit, environment, data."""

    @web.authenticated
    @authorized
    async def get(self, name: str, version: str) -> None:
        """The version's lineage chain."""
        self.send(await self.call(self.mlops.lineage, f"{name}/{version}"))


class TokenHandler(MLOpsHandler):
    """``POST /deployments/{name}/token``: a new bearer token for the endpoint (shown once; the old one stops)."""

    @web.authenticated
    @authorized
    async def post(self, name: str) -> None:
        """Issue a new endpoint token (201; shown only in this response)."""
        token = await self.call(self.mlops.issue_token, name)
        self.send({"deployment": name, "token": token}, status=201)


class WhoAmIHandler(MLOpsHandler):
    """``GET /whoami``: the acting user, the server's owner and the actor's role."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """Who the authenticated user acts as, on whose server, with which role."""
        self.send(await self.call(self.mlops.whoami))
