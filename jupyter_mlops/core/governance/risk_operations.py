"""The model risk room of the embedded facade: inventory, independent validation, reviews, retention, reports.

Each operation authorizes the bound principal, delegates to ``RiskRegister`` (``governance/risk.py``) or the report
builders (``governance/reports.py``) and records what it changed in the audit ledger; the contract's docstrings
(``core/facade.py``) say what each one does.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from typing import Any, TypeVar

from pydantic import BaseModel, ValidationError
from typing_extensions import override

from .. import validation
from ..errors import InvalidRequest, NotFound
from ..facade_base import FacadeBase
from ..models import ModelVersion
from ..resource import Resource
from . import reports
from .risk import (
    SIX_MONTHS_DAYS,
    Clock,
    InventoryEntry,
    InventoryUpdate,
    Retention,
    ReviewAlert,
    RiskRegister,
    RiskSummary,
    Validation,
    ValidationRequest,
    below_minimum,
    utcnow,
)

M = TypeVar("M", bound=BaseModel)


class RiskOperations(FacadeBase):
    """SR 11-7 inventory, validations and reviews, EU AI Act reports and the retention guard, as the principal."""

    risk_clock: Clock = staticmethod(utcnow)  # tests inject a fake clock on the facade

    @property
    def risk(self) -> RiskRegister:
        """The register of inventory fields, validations and retention declarations."""
        return RiskRegister(self.config, self.store)

    def _now(self) -> datetime:
        return self.risk_clock()

    # --- inventory --------------------------------------------------------------------------------------------

    @override
    def inventory(self, name: str, version: str | None = None) -> InventoryEntry:
        name = validation.model_name(name)
        if version is not None:
            self.registry.version(name, validation.version(version))  # NotFound for an unknown version
        else:
            self.registry.model(name)
        return self.risk.entry(name, None if version is None else validation.version(version))

    @override
    def set_inventory(self, name: str, fields: dict[str, Any], version: str | None = None) -> InventoryEntry:
        name = validation.model_name(name)
        version = None if version is None else validation.version(version)
        update = _parsed(InventoryUpdate, fields, "inventory fields")
        changes = self.risk.check_update(update, self._now().date())
        if version is not None:
            self.registry.version(name, version)
        else:
            self.registry.model(name)
        resource = Resource.model(name, version=version)
        self._authorize("set_inventory", resource)
        before, after = self.risk.update(name, version, changes, self.principal.name, self._now())
        self._audit("set_inventory", resource, before.model_dump(mode="json"), after.model_dump(mode="json"))
        return after

    # --- validation -------------------------------------------------------------------------------------------

    @override
    def validate_version(
        self,
        name: str,
        version: str,
        outcome: str,
        *,
        findings: list[dict[str, Any]] | None = None,
        evidence: list[str] | None = None,
        comment: str | None = None,
    ) -> Validation:
        name, version = validation.model_name(name), validation.version(version)
        body: dict[str, Any] = {"outcome": outcome, "findings": findings or [], "comment": comment}
        if evidence is not None:
            body["evidence"] = evidence
        request = _parsed(ValidationRequest, body, "validation")
        mv = self.registry.version(name, version)
        resource = Resource.model(name, version=version)
        me = self.principal.name
        model_entry, version_entry = self.risk.entry(name), self.risk.entry(name, version)
        registrant = mv.tags.get("mlops.registered_by")
        owners = {e for x in (model_entry, version_entry) for e in (x.business_owner, x.technical_owner) if e}
        if me == registrant or me in owners:
            why = "registered it" if me == registrant else "is one of its owners"
            raise self.governance.refuse(
                "validate", me, self.user, str(resource),
                f"{me!r} {why} and cannot validate {mv.uri}: validation must be independent. Ask a validator "
                "who neither registered nor owns the model.",
            )  # fmt: skip
        self._authorize("validate", resource)
        gathered = self._evidence(mv, request.evidence)
        result = self.risk.add_validation(name, version, me, request, gathered, self._now())
        self._audit("validate", resource, None, result.model_dump(mode="json", exclude={"evidence"}))
        return result

    @override
    def validations(self, name: str, version: str | None = None) -> list[Validation]:
        return self.risk.validations(validation.model_name(name), None if version is None else str(version))

    def _evidence(self, mv: ModelVersion, kinds: Sequence[str]) -> dict[str, Any]:
        """What the validator looked at, as held now: metrics, parity sample and checks, monitoring, card."""
        found: dict[str, Any] = {}
        if "metrics" in kinds:
            found["metrics"] = dict(mv.metrics)
        if "parity" in kinds:
            events = [
                e.detail for e in self.audit.events(f"model/{mv.name}", limit=10_000) if "parity" in (e.detail or "")
            ]
            found["parity"] = {"sample_rows_recorded": "mlops.data.parity_sample" in mv.tags, "checks": events}
        if "monitoring" in kinds:
            try:
                found["monitoring"] = self.monitoring_summary(mv.name, mv.version)
            except Exception:  # evidence is best effort: a validation is not refused for lack of monitoring
                found["monitoring"] = None
        if "card" in kinds:
            try:
                found["card"] = self.card(mv.name, mv.version).markdown
            except Exception:
                found["card"] = None
        return found

    def _require_validation(self, deployment: str, pinned: ModelVersion, owner: str | None) -> None:
        """Refuse (403, audited) to serve a version without an approved validation in a protected deployment."""
        if not self.risk.requires_validation(deployment) or self.risk.approved(pinned.name, pinned.version):
            return
        latest = self.risk.validations(pinned.name, pinned.version)
        missing = (
            f"its latest validation (#{latest[0].id} by {latest[0].validator}) is {latest[0].outcome}"
            if latest
            else "it has no validation"
        )
        raise self.governance.refuse(
            "deploy", self.principal, owner, str(Resource.deployment(deployment)),
            f"deployment/{deployment} serves only validated versions (MLOpsConfig.require_validation_for) and "
            f"{pinned.uri} is missing an approved validation: {missing}. A user with the validator role records "
            f"one with POST /mlops/api/models/{pinned.name}/versions/{pinned.version}/validations or "
            f"mlops.validate_version({pinned.name!r}, {pinned.version!r}, 'approved').",
        )  # fmt: skip

    # --- periodic review --------------------------------------------------------------------------------------

    @override
    def check_reviews(self) -> list[ReviewAlert]:
        today = self._now().date()
        raised = []
        for entry, first in self.risk.due_alerts(today):
            if not first or entry.next_review_due is None:
                continue
            alert = ReviewAlert(
                model=entry.model,
                tier=entry.risk_tier,
                due=entry.next_review_due,
                days_overdue=(today - entry.next_review_due).days,
            )
            self._audit(
                "review_overdue", Resource.model(entry.model), None, alert.model_dump(mode="json"),
                detail=f"periodic review of {entry.model} was due {entry.next_review_due.isoformat()}",
            )  # fmt: skip
            raised.append(alert)
        return raised

    @override
    def risk_summary(self) -> RiskSummary:
        return self.risk.summary(self._model_names(), self._now().date())

    def _model_names(self) -> list[str]:
        names: list[str] = []
        token: str | None = None
        while True:
            page = self.registry.search(None, max_results=1000, page_token=token)
            names += [m.name for m in page.items]
            token = page.next_page_token
            if not token:
                return names

    # --- retention guard --------------------------------------------------------------------------------------

    @override
    def set_retention(
        self,
        deployment: str,
        *,
        inference_log_days: float | None = None,
        ledger_days: float | None = None,
        override: bool = False,
    ) -> Retention:
        record = self.store.get_deployment(validation.deployment_name(deployment))
        resource = Resource.deployment(record.name)
        self._authorize("set_retention", resource, owner=record.owner)
        changes: dict[str, float | None] = {}
        for key, days in (("inference_log_days", inference_log_days), ("ledger_days", ledger_days)):
            if days is None:
                continue
            if not isinstance(days, (int, float)) or days < 0:
                raise InvalidRequest(f"{key} must be a number of days, 0 or more (0 keeps records forever).")
            changes[key] = float(days)
        if not changes:
            raise InvalidRequest("Give inference_log_days and/or ledger_days (days; 0 keeps records forever).")
        tier = self._deployment_tier(record.model_name, record.model_version)
        short = [k for k, v in changes.items() if below_minimum(v)]
        overridden = False
        if short and tier is not None and tier == self.risk.high_tier():
            reason = (
                f"deployment/{record.name} serves a {tier}-risk model: {' and '.join(short)} below "
                f"{SIX_MONTHS_DAYS:.0f} days would keep logs less than the six months the EU AI Act requires "
                "(Articles 19 and 26). Keep 183 days or more, or have an admin override it (override=true)."
            )
            if not override or self.governance.role(self.principal) != "admin":
                raise self.governance.refuse("set_retention", self.principal, record.owner, str(resource), reason)
            overridden = True
        before, after = self.risk.set_retention(record.name, changes, overridden, self.principal.name, self._now())
        detail = "admin override of the six-month minimum" if overridden else None
        self._audit("set_retention", resource, before.model_dump(), after.model_dump(), owner=record.owner,
                    detail=detail)  # fmt: skip
        return after

    def _deployment_tier(self, model: str, version: str) -> str | None:
        """The risk tier of what a deployment serves: the version's own, else its model's."""
        return self.risk.entry(model, version).risk_tier or self.risk.entry(model).risk_tier

    # --- reports ----------------------------------------------------------------------------------------------

    @override
    def inventory_report(self, as_of: date | str | None = None, format: str = "csv") -> bytes:
        reports.check_format(format, reports.INVENTORY_FORMATS)
        day = _day(as_of, "as_of") if as_of is not None else self._now().date()
        models = []
        token: str | None = None
        while True:
            page = self.registry.search(None, max_results=1000, page_token=token)
            models += page.items
            token = page.next_page_token
            if not token:
                break
        history = self.audit.events(None, until=None, limit=1_000_000) if day < self._now().date() else None
        rows = reports.inventory_rows(models, self.risk.entries(), day, history)
        return reports.render_inventory(rows, day, format)

    @override
    def technical_documentation(self, name: str, version: str, format: str = "md") -> bytes:
        reports.check_format(format, reports.DOCUMENT_FORMATS)
        name, version = validation.model_name(name), validation.version(version)
        mv = self.registry.version(name, version)
        try:
            monitoring = self.monitoring_summary(name, version)
        except Exception:  # a document must build even when monitoring has nothing yet
            monitoring = None
        serving = [d.name for d in self.store.list_deployments()
                   if any(v.model_name == name and v.model_version == version for v in d.variants)]  # fmt: skip
        alerts = [a for d in serving for a in self.alerts(d)]
        context = reports.DocumentContext(
            version=mv,
            model_entry=self.risk.entry(name),
            version_entry=self.risk.entry(name, version),
            validations=self.risk.validations(name, version),
            approvals=[a for a in self.governance.approvals() if str(a.payload.get("version")) == version
                       and (a.target.startswith(f"model/{name}@") or a.target in {f"deployment/{d}" for d in serving})],
            ledger=self.audit.events(f"model/{name}", limit=100_000)
            + [e for d in serving for e in self.audit.events(f"deployment/{d}", limit=100_000)],
            monitoring=monitoring,
            alerts=[a.model_dump(mode="json") for a in alerts],
            deployments=serving,
            generated_at=self._now(),
        )  # fmt: skip
        return reports.render_document(reports.technical_document(context), format)

    @override
    def logging_evidence(
        self, deployment: str, start: datetime | str, end: datetime | str, format: str = "json"
    ) -> bytes:
        reports.check_format(format, (*reports.DOCUMENT_FORMATS, "json"))
        begin, finish = _moment(start, "start"), _moment(end, "end")
        if finish < begin:
            raise InvalidRequest(f"The period ends ({finish.isoformat()}) before it starts ({begin.isoformat()}).")
        name = validation.deployment_name(deployment)
        try:
            record = self.store.get_deployment(name)
        except NotFound:
            record = None  # an undeployed deployment still has evidence in the ledger and the log
        if record is not None:
            self._authorize("read", Resource.deployment(name), owner=record.owner)
        evidence = reports.logging_evidence(
            name, begin, finish, self.config, self.risk.retention(name), self.store, self.audit,
            self._deployment_tier(record.model_name, record.model_version) if record else None,
        )  # fmt: skip
        if format == "json":
            return evidence.model_dump_json(indent=2).encode()
        return reports.render_document(reports.logging_document(evidence), format)


def _parsed(model: type[M], body: Any, what: str) -> M:
    """``body`` parsed into ``model``; InvalidRequest naming the first wrong field and what it accepts."""
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        first = exc.errors()[0]
        where = ".".join(str(p) for p in first.get("loc", ())) or "body"
        raise InvalidRequest(f"Invalid {what} at {where!r}: {first.get('msg', 'invalid value')}.") from None


def _day(value: date | str, what: str) -> date:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        raise InvalidRequest(f"{what} must be a date like 2026-12-31 (got {value!r}).") from None


def _moment(value: datetime | str, what: str) -> datetime:
    from .audit import to_iso

    try:
        return datetime.fromisoformat(to_iso(value))
    except (ValueError, InvalidRequest):
        raise InvalidRequest(f"{what} must be an ISO 8601 time like 2026-12-01T00:00:00Z (got {value!r}).") from None
