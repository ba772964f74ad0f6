"""REST handlers of model risk management (issue 17): inventory, validations, reviews, retention and reports.

Thin like the others: parse, call one MLOps method, render. Registered in routes.py (``RISK_ROUTES``).
"""

from __future__ import annotations

from typing import Any

from jupyter_server.auth.decorator import authorized
from pydantic import BaseModel, ConfigDict, StrictBool
from tornado import web

from ..core.governance.reports import CONTENT_TYPES
from .handlers import API, MLOpsHandler, Refusal

_NAME = r"(?P<name>[^/]+)"
_VERSION = r"(?P<version>[^/]+)"


class RetentionRequest(BaseModel):
    """``PUT /deployments/{name}/retention``: days to keep (0 = forever); ``override`` for an admin."""

    model_config = ConfigDict(extra="forbid")

    inference_log_days: float | None = None
    ledger_days: float | None = None
    override: StrictBool = False


class ValidationBody(BaseModel):
    """``POST .../validations``: the outcome, findings, evidence kinds and a comment (checked by the facade)."""

    model_config = ConfigDict(extra="forbid")

    outcome: str
    findings: list[dict[str, Any]] = []
    evidence: list[str] | None = None
    comment: str | None = None


class _ReportHandler(MLOpsHandler):
    def send_report(self, body: bytes, format: str, filename: str) -> None:
        """Finish with a report in its content type (an attachment unless it is JSON)."""
        if format != "json":
            self.set_header("Content-Disposition", f'attachment; filename="{filename}.{format}"')
        self.finish(body, set_content_type=CONTENT_TYPES.get(format, "application/octet-stream"))


class InventoryHandler(MLOpsHandler):
    """``GET|PUT /models/{name}/inventory`` and ``/models/{name}/versions/{version}/inventory``."""

    @web.authenticated
    @authorized
    async def get(self, name: str, version: str | None = None) -> None:
        """The inventory record."""
        self.send(await self.call(self.mlops.inventory, name, version))

    @web.authenticated
    @authorized
    async def put(self, name: str, version: str | None = None) -> None:
        """Set inventory fields (only those given change)."""
        self.send(await self.call(self.mlops.set_inventory, name, self.json_body(), version))


class ValidationsHandler(MLOpsHandler):
    """``GET|POST /models/{name}/versions/{version}/validations``: list them, or record one (validator role)."""

    @web.authenticated
    @authorized
    async def get(self, name: str, version: str) -> None:
        """Validations of the version, newest first."""
        items = await self.call(self.mlops.validations, name, version)
        self.send({"items": items, "next_page_token": None, "total": len(items)})

    @web.authenticated
    @authorized
    async def post(self, name: str, version: str) -> None:
        """Record a validation; 201 with the validation."""
        body = self.parse_body(ValidationBody)
        result = await self.call(
            self.mlops.validate_version, name, version, body.outcome,
            findings=body.findings, evidence=body.evidence, comment=body.comment,
        )  # fmt: skip
        self.set_header("Location", f"{self.base_url.rstrip('/')}{API}/models/{name}/versions/{version}/validations")
        self.send(result, status=201)


class RiskSummaryHandler(MLOpsHandler):
    """``GET /risk/summary``: models by tier and lifecycle, reviews overdue, production never validated."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """The summary the fleet view reads."""
        self.send(await self.call(self.mlops.risk_summary))


class ReviewCheckHandler(MLOpsHandler):
    """``POST /risk/reviews/check``: raise (once) an alert for each model past its review date."""

    @web.authenticated
    @authorized
    async def post(self) -> None:
        """The alerts raised now."""
        items = await self.call(self.mlops.check_reviews)
        self.send({"items": items, "total": len(items)})


class InventoryReportHandler(_ReportHandler):
    """``GET /risk/inventory?as_of=YYYY-MM-DD&format=csv|json|html|pdf``: the model inventory."""

    @web.authenticated
    @authorized
    async def get(self) -> None:
        """The inventory report."""
        fmt = self.get_query_argument("format", "csv")
        as_of = self.get_query_argument("as_of", None)
        body = await self.call(self.mlops.inventory_report, as_of, fmt)
        self.send_report(body, fmt, "model-inventory")


class DocumentationHandler(_ReportHandler):
    """``GET /models/{name}/versions/{version}/documentation?format=md|html|pdf``: Annex IV documentation."""

    @web.authenticated
    @authorized
    async def get(self, name: str, version: str) -> None:
        """The technical documentation of a version."""
        fmt = self.get_query_argument("format", "md")
        body = await self.call(self.mlops.technical_documentation, name, version, fmt)
        self.send_report(body, fmt, f"{name}-v{version}-technical-documentation")


class LoggingEvidenceHandler(_ReportHandler):
    """``GET /deployments/{name}/logging-evidence?start=&end=&format=json|md|html|pdf``: Article 12 evidence."""

    @web.authenticated
    @authorized
    async def get(self, name: str) -> None:
        """The logging evidence of a deployment over a period."""
        start, end = self.get_query_argument("start", None), self.get_query_argument("end", None)
        if not start or not end:
            raise Refusal(400, "Give ?start=2026-06-01T00:00:00Z&end=2026-12-01T00:00:00Z (ISO 8601 times).")
        fmt = self.get_query_argument("format", "json")
        body = await self.call(self.mlops.logging_evidence, name, start, end, fmt)
        self.send_report(body, fmt, f"{name}-logging-evidence")


class RetentionHandler(MLOpsHandler):
    """``PUT /deployments/{name}/retention``: declare retention (the six-month guard applies to high risk)."""

    @web.authenticated
    @authorized
    async def put(self, name: str) -> None:
        """The retention now declared."""
        body = self.parse_body(RetentionRequest)
        self.send(await self.call(self.mlops.set_retention, name, **body.model_dump()))


RISK_ROUTES: list[tuple[str, Any]] = [
    (rf"{API}/models/{_NAME}/inventory", InventoryHandler),
    (rf"{API}/models/{_NAME}/versions/{_VERSION}/inventory", InventoryHandler),
    (rf"{API}/models/{_NAME}/versions/{_VERSION}/validations", ValidationsHandler),
    (rf"{API}/models/{_NAME}/versions/{_VERSION}/documentation", DocumentationHandler),
    (rf"{API}/deployments/{_NAME}/logging-evidence", LoggingEvidenceHandler),
    (rf"{API}/deployments/{_NAME}/retention", RetentionHandler),
    (rf"{API}/risk/summary", RiskSummaryHandler),
    (rf"{API}/risk/reviews/check", ReviewCheckHandler),
    (rf"{API}/risk/inventory", InventoryReportHandler),
]
