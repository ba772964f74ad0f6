"""Roles, authorization and approvals: who may do what, and which changes need a second person.

Roles come from ``MLOpsConfig.roles`` (user names, or ``group:NAME`` for JupyterHub groups) and from the
``custom:mlops:*`` scopes a hub granted the principal (``SCOPE_ROLES``); the highest wins, else
``MLOpsConfig.default_role``. A user acts on deployments owned by someone else only with the admin role or a
grant (``MLOpsConfig.grants``). Protected changes need an approval granted by a different user holding the
approver (or admin) role; a grant is used up by the change. Protected are: moving a ``protected_aliases`` alias,
and, on a ``protected_deployments`` deployment, the actions in ``protected_actions`` (default deploy, promote,
set_traffic and sync). An approval of a rollout action (promote, set_traffic, sync, rollback) is for exactly
the serving state it proposes (variants, versions and weights); if the deployment moved since, it no longer
matches.

Rollback is not protected by default: it returns to what already served (the previous primary, or the primary
alone without its canary), and in an incident nobody should wait for a second person to stop the damage. Where
it is made protected, an admin may still roll back without an approval (break-glass); the ledger records it as
an emergency rollback. Every refusal raises ``Forbidden`` and is recorded in the audit ledger.
"""

from __future__ import annotations

import fnmatch
import json
import logging
import threading
from datetime import datetime
from typing import Any

from pydantic import BaseModel
from sqlalchemy import select

from ...config import MLOpsConfig
from ..errors import ApprovalRequired, Conflict, Forbidden, InvalidRequest, MLOpsError, NotFound, Unavailable
from ..monitoring.models import ApprovalEvidence
from ..principal import SCOPE_ADMIN, SCOPE_APPROVE, SCOPE_DEPLOY, SCOPE_READ, SCOPE_VALIDATE, Principal
from ..resource import Resource
from ..store import Store
from ..store.governance_tables import ApprovalRow
from .audit import AuditEvent, AuditLedger, now_iso

log = logging.getLogger(__name__)

ROLES = ("viewer", "validator", "deployer", "approver", "admin")
# The ladder: each role holds the rights of those below it. The validator is no rung of it: validating is a
# capability of its own (independent of deploying or approving), held with whatever rung a user also has.
LADDER = ("viewer", "deployer", "approver", "admin")
_DEPLOYER = frozenset({"read", "register", "alias", "deploy", "request"})
PERMISSIONS: dict[str, frozenset[str]] = {
    "viewer": frozenset({"read"}),
    "validator": frozenset({"read", "validate"}),  # independent model validation (issue 17)
    "deployer": _DEPLOYER,
    "approver": _DEPLOYER | {"approve"},
    "admin": _DEPLOYER | {"approve", "others", "validate"},
}
# What each audited action needs; anything unlisted needs "deploy".
ACTION_PERMISSION = {
    "read": "read",
    "register": "register",
    "set_alias": "alias",
    "delete_alias": "alias",
    "request_approval": "request",
    "grant": "approve",
    "reject": "approve",
    "validate": "validate",
    "set_inventory": "register",
}
ROLLOUT_ACTIONS = ("promote", "set_traffic", "sync", "rollback")
APPROVABLE = ("set_alias", "deploy", *ROLLOUT_ACTIONS)
# The role each JupyterHub custom scope implies.
SCOPE_ROLES = {
    SCOPE_ADMIN: "admin", SCOPE_APPROVE: "approver", SCOPE_DEPLOY: "deployer", SCOPE_READ: "viewer",
    SCOPE_VALIDATE: "validator",
}  # fmt: skip
# Who acts, as governance accepts it: a principal (name, groups, scopes) or a bare user name.
Who = Principal | str
# Actions an admin may take on a protected deployment without an approval (audited as emergencies).
BREAK_GLASS = ("rollback",)


class Approval(BaseModel):
    """A request for a protected change, with the evidence an approver needs and its decision."""

    id: int
    action: str
    target: str
    payload: dict[str, Any] = {}
    evidence: ApprovalEvidence = ApprovalEvidence()
    requested_by: str
    owner: str | None = None
    status: str = "pending"
    decided_by: str | None = None
    comment: str | None = None
    created_at: datetime
    decided_at: datetime | None = None


def record_or_fail(
    ledger: AuditLedger,
    action: str,
    actor: str,
    owner: str | None,
    target: str,
    before: Any = None,
    after: Any = None,
    *,
    outcome: str = "ok",
    detail: str | None = None,
) -> AuditEvent:
    """Append one ledger entry; a write that fails fails the change (``Unavailable``), it is never swallowed."""
    try:
        return ledger.record(action, actor, owner, target, before, after, outcome=outcome, detail=detail)
    except MLOpsError:
        raise
    except Exception as exc:
        log.exception("Could not record %s on %s in the audit ledger", action, target)
        raise Unavailable(
            f"The audit ledger could not record {action} on {target} ({type(exc).__name__}), so the change is "
            "reported as failed; check the store (MLOpsConfig.store_url) and retry."
        ) from exc


def _approval(row: ApprovalRow) -> Approval:
    return Approval(
        id=row.id,
        action=row.action,
        target=row.target,
        payload=row.payload or {},
        evidence=ApprovalEvidence.model_validate(row.evidence or {}),
        requested_by=row.requested_by,
        owner=row.owner,
        status=row.status,
        decided_by=row.decided_by,
        comment=row.comment,
        created_at=datetime.fromisoformat(row.created_at),
        decided_at=datetime.fromisoformat(row.decided_at) if row.decided_at else None,
    )


class Governance:
    """Role resolution, authorization checks and the approval workflow over our store and the audit ledger."""

    def __init__(self, config: MLOpsConfig, store: Store, ledger: AuditLedger) -> None:
        self.config = config
        self.store = store
        self.ledger = ledger
        self._groups: dict[str, tuple[str, ...]] = {}
        self._lock = threading.Lock()

    # --- roles ------------------------------------------------------------------------------------------------

    def remember_groups(self, user: str, groups: list[str] | tuple[str, ...]) -> None:
        """Record the hub groups of a user known only by name (e.g. an approver deciding through another door)."""
        with self._lock:
            self._groups[user] = tuple(groups)

    def roles(self, who: Who) -> set[str]:
        """Every role given by name, through any hub group, or by a ``custom:mlops:*`` hub scope.

        The default role (``MLOpsConfig.default_role``) applies when no rung of the ladder was given, so a user
        named only as a validator is a validator and nothing more, never also a default deployer.
        """
        principal = self._principal(who)
        roles = dict(self.config.roles)
        found = [roles[principal.name]] if principal.name in roles else []
        found += [roles[f"group:{g}"] for g in principal.groups if f"group:{g}" in roles]
        found += [SCOPE_ROLES[s] for s in principal.scopes if s in SCOPE_ROLES]
        given = {r for r in found if r in ROLES}
        return given or {self.config.default_role}

    def role(self, who: Who) -> str:
        """The highest rung of the ladder held (``validator`` for a user who holds no rung but that role)."""
        held = self.roles(who)
        rungs = [r for r in held if r in LADDER]
        if rungs:
            return max(rungs, key=LADDER.index)
        return "validator" if "validator" in held else self.config.default_role

    def _principal(self, who: Who) -> Principal:
        """A principal for ``who``; a bare name gets the groups last remembered for it."""
        if isinstance(who, Principal):
            return who
        with self._lock:
            groups = self._groups.get(who, ())
        return Principal(name=who, groups=groups)

    def can(self, who: Who, permission: str) -> bool:
        """True when a role of ``who`` holds ``permission`` (read, register, alias, deploy, request, validate, ...).

        ``validate`` comes only with the validator role (or scope) or admin, never with deployer or approver.
        """
        return any(permission in PERMISSIONS.get(r, frozenset()) for r in self.roles(who))

    def may_use(self, who: Who, owner: str | None, deployment: str | None = None) -> bool:
        """True when the actor owns the resource, is an admin, or was granted the deployment."""
        actor = str(who)
        if not self.config.isolate_users or owner is None or actor == owner or self.can(who, "others"):
            return True
        granted = self.config.grants.get(actor, [])
        return deployment is not None and any(fnmatch.fnmatchcase(deployment, p) for p in granted)

    # --- authorization ----------------------------------------------------------------------------------------

    def refuse(
        self,
        action: str,
        actor: Who,
        owner: str | None,
        target: str,
        reason: str,
        request: dict[str, Any] | None = None,
    ) -> Forbidden:
        """Record a refused action in the ledger and return the Forbidden to raise.

        That is ``ApprovalRequired``, carrying the approval request to file, when an approval would allow it.
        """
        record_or_fail(self.ledger, action, str(actor), owner, target, outcome="refused", detail=reason)
        return Forbidden(reason) if request is None else ApprovalRequired(reason, request)

    def authorize(
        self, action: str, who: Who, *, owner: str | None, target: str, deployment: str | None = None
    ) -> None:
        """Raise Forbidden (recorded) unless ``who`` may perform ``action`` on ``target`` owned by ``owner``."""
        permission = ACTION_PERMISSION.get(action, "deploy")
        actor = str(who)
        if not self.can(who, permission):
            held = " and ".join(sorted(self.roles(who)))
            hint = (
                "validating needs the validator role (MLOpsConfig.roles) or the custom:mlops:validate hub scope"
                if permission == "validate"
                else "ask an admin for a role with that right (MLOpsConfig.roles)"
            )
            raise self.refuse(
                action,
                actor,
                owner,
                target,
                f"{actor!r} has the {held} role, which may not {action.replace('_', ' ')} ({target}); {hint}.",
            )
        if permission != "read" and not self.may_use(who, owner, deployment):
            raise self.refuse(
                action,
                actor,
                owner,
                target,
                f"{target} belongs to {owner!r}; {actor!r} may not change it. Ask {owner!r} or an admin to grant "
                "access (MLOpsConfig.grants).",
            )
        if permission == "read" and not self.may_use(who, owner, deployment):
            raise self.refuse(action, actor, owner, target, f"{target} belongs to {owner!r}; {actor!r} may not use it.")

    # --- protected changes ------------------------------------------------------------------------------------

    def is_protected(self, action: str, *, alias: str | None = None, deployment: str | None = None) -> bool:
        """True when ``action`` on this alias or deployment needs a granted approval."""
        if action == "set_alias" and alias is not None:
            return alias in self.config.protected_aliases
        if action in APPROVABLE and deployment is not None and action in self.config.protected_actions:
            return self.is_protected_deployment(deployment)
        return False

    def is_protected_deployment(self, deployment: str) -> bool:
        """True when the deployment's name matches ``protected_deployments`` (whatever the action)."""
        return any(fnmatch.fnmatchcase(deployment, p) for p in self.config.protected_deployments)

    def use_grant(self, action: str, target: str, value: str, *, key: str = "version") -> Approval | None:
        """Use up the oldest granted approval of ``action`` on ``target`` for ``value``; None if there is none.

        ``value`` is compared with the approval payload's ``key``: the version, or the proposed serving state of a
        rollout change. The approval is marked used and returned.
        """
        with self.store.session() as s:
            rows = s.scalars(
                select(ApprovalRow)
                .where(ApprovalRow.action == action, ApprovalRow.target == target, ApprovalRow.status == "granted")
                .order_by(ApprovalRow.id)
            ).all()
            row = next((r for r in rows if str((r.payload or {}).get(key)) == str(value)), None)
            if row is None:
                return None
            row.status = "used"
            s.flush()
            return _approval(row)

    def require_approval(
        self, action: str, actor: Who, owner: str | None, target: str, version: str, *, model: str | None = None
    ) -> Approval:
        """Use up a granted approval for exactly this change, or raise Forbidden saying how to get one.

        The refusal carries the request that would allow the change, in the form ``request_approval`` accepts: a
        deploy names its ``model`` (``NAME/VERSION``), an alias move its ``version``.
        """
        approval = self.use_grant(action, target, version)
        if approval is not None:
            return approval
        payload = {"model": model} if model is not None else {"version": version}
        raise self.refuse(
            action,
            actor,
            owner,
            target,
            f"{target} is protected: {action.replace('_', ' ')} to version {version} needs an approval granted by "
            f"another user with the approver role. Request it with POST /mlops/api/approvals "
            f"{json.dumps({'action': action, 'target': target, 'payload': payload})} "
            "or mlops.request_approval(...).",
            {"action": action, "target": target, "payload": payload},
        )

    def clear_rollout(
        self, action: str, actor: Who, owner: str | None, target: str, proposed: str, payload: dict[str, Any]
    ) -> str:
        """Clear a protected rollout change to the ``proposed`` serving state, or raise Forbidden (recorded).

        Uses up its approval, or lets an admin break the glass (BREAK_GLASS actions); the refusal names the
        request to make.

        Returns the note the ledger keeps with the change (which approval allowed it, or that it was an emergency).
        """
        approval = self.use_grant(action, target, proposed, key="proposed")
        if approval is not None:
            return f"approval #{approval.id} granted by {approval.decided_by}"
        if action in BREAK_GLASS and self.role(actor) == "admin":
            return f"emergency {action.replace('_', ' ')} by admin {str(actor)!r} without an approval"
        request = json.dumps({"action": action, "target": target, "payload": payload})
        raise self.refuse(
            action,
            actor,
            owner,
            target,
            f"{target} is protected: {action.replace('_', ' ')} (to {proposed}) needs an approval granted by "
            f"another user with the approver role. Request it with POST /mlops/api/approvals {request} or "
            f"mlops.request_approval({action!r}, {target!r}{', ' + repr(payload) if payload else ''}).",
            {"action": action, "target": target, "payload": payload},
        )

    # --- approvals --------------------------------------------------------------------------------------------

    def create_request(
        self,
        action: str,
        target: str,
        payload: dict[str, Any],
        evidence: dict[str, Any],
        actor: Who,
        owner: str | None,
    ) -> Approval:
        """File a pending approval request for ``action`` on ``target`` (recorded in the ledger)."""
        if action not in APPROVABLE:
            raise InvalidRequest(f"Approvals cover {', '.join(APPROVABLE)}; {action!r} needs none.")
        self.authorize("request_approval", actor, owner=owner, target=target)
        requester = str(actor)
        with self.ledger.atomic(), self.store.session() as s:  # the request and its ledger entry, or neither
            row = ApprovalRow(
                action=action,
                target=target,
                payload=payload,
                evidence=evidence,
                requested_by=requester,
                owner=owner,
                status="pending",
                created_at=now_iso(),
            )
            s.add(row)
            s.flush()
            approval = _approval(row)
            target = str(Resource.approval(approval.id))
            record_or_fail(self.ledger, "request_approval", requester, owner, target, after=approval)
        return approval

    def approvals(self, status: str | None = None) -> list[Approval]:
        """Approval requests, newest first (at most 500), optionally with one status."""
        query = select(ApprovalRow).order_by(ApprovalRow.id.desc())
        if status:
            query = query.where(ApprovalRow.status == status)
        with self.store.session() as s:
            return [_approval(r) for r in s.scalars(query.limit(500))]

    def approval(self, approval_id: int) -> Approval:
        """One approval request (NotFound naming how to list them)."""
        with self.store.session() as s:
            row = s.get(ApprovalRow, approval_id)
            if row is None:
                raise NotFound(f"No approval request #{approval_id}. List them with GET /mlops/api/approvals.")
            return _approval(row)

    def decide(self, approval_id: int, who: Who, *, grant: bool, comment: str | None = None) -> Approval:
        """Grant or reject a pending request; the requester can never decide their own request."""
        action = "grant" if grant else "reject"
        actor = str(who)
        current = self.approval(approval_id)
        target = str(Resource.approval(approval_id))
        if not self.can(who, "approve"):
            raise self.refuse(
                action,
                actor,
                current.owner,
                target,
                f"{actor!r} has the {self.role(who)} role; only approvers and admins may {action} requests.",
            )
        if actor == current.requested_by:
            raise self.refuse(
                action,
                actor,
                current.owner,
                target,
                f"{actor!r} requested #{approval_id} and cannot {action} it: a different approver must decide.",
            )
        with self.ledger.atomic(), self.store.session() as s:  # the decision and its ledger entry, or neither
            row = s.get(ApprovalRow, approval_id)
            assert row is not None
            if row.status != "pending":
                raise Conflict(f"Approval request #{approval_id} is already {row.status}.")
            row.status = "granted" if grant else "rejected"
            row.decided_by = actor
            row.comment = comment
            row.decided_at = now_iso()
            s.flush()
            decided = _approval(row)
            record_or_fail(
                self.ledger,
                action,
                actor,
                current.owner,
                target,
                before={"status": "pending"},
                after={"status": decided.status, "comment": comment},
            )
        return decided
