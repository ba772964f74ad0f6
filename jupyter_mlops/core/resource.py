"""Resource: what a governed action acts on, as one value type instead of strings built and parsed by hand.

Its text form is the ledger's and the approval's ``target``: ``deployment/NAME``, ``deployment/NAME/alert/ID``,
``model/NAME``, ``model/NAME/VERSION``, ``model/NAME@ALIAS`` and ``approval/ID``. ``Resource.parse`` is the only
place that reads that text; ``str(resource)`` the only place that writes it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Literal

from .errors import InvalidRequest

Kind = Literal["deployment", "model", "approval"]
_PATTERN = re.compile(
    r"(?:deployment/(?P<deployment>[^/@]+)(?:/alert/(?P<alert>\d+))?"
    r"|model/(?P<model>[^/@]+)(?:/(?P<version>[^/@]+)|@(?P<alias>[^/@]+))?"
    r"|approval/(?P<approval>\d+))"
)
FORMS = "deployment/NAME, model/NAME, model/NAME/VERSION, model/NAME@ALIAS or approval/ID"


@dataclass(frozen=True)
class Resource:
    """A deployment (optionally one of its alerts), a model (optionally a version or an alias), or an approval."""

    kind: Kind
    name: str
    version: str | None = None
    alias: str | None = None
    alert: int | None = None

    @classmethod
    def deployment(cls, name: str) -> Resource:
        """The deployment ``name``."""
        return cls("deployment", name)

    @classmethod
    def model(cls, name: str, *, version: str | int | None = None, alias: str | None = None) -> Resource:
        """The registered model ``name``, or one of its versions, or one of its aliases."""
        if version is not None and alias is not None:
            raise ValueError("A model resource names a version or an alias, not both.")
        return cls("model", name, version=None if version is None else str(version), alias=alias)

    @classmethod
    def approval(cls, approval_id: int) -> Resource:
        """The approval request ``approval_id``."""
        return cls("approval", str(int(approval_id)))

    def with_alert(self, alert_id: int) -> Resource:
        """One alert of this deployment."""
        if self.kind != "deployment":
            raise ValueError("Only deployments have alerts.")
        return Resource("deployment", self.name, alert=int(alert_id))

    @classmethod
    def parse(cls, text: str | None, *, expect: Kind | None = None) -> Resource:
        """Read a target string; ``expect`` also checks its kind. Raises InvalidRequest naming the accepted forms."""
        match = _PATTERN.fullmatch(text or "")
        if match is None:
            raise InvalidRequest(f"Invalid target {text!r}: use {FORMS}.")
        if match["deployment"]:
            found = cls("deployment", match["deployment"], alert=int(match["alert"]) if match["alert"] else None)
        elif match["model"]:
            found = cls("model", match["model"], version=match["version"], alias=match["alias"])
        else:
            found = cls("approval", match["approval"])
        if expect is not None and found.kind != expect:
            raise InvalidRequest(f"Invalid target {text!r}: expected a {expect} ({FORMS}).")
        return found

    def __str__(self) -> str:
        if self.kind == "deployment":
            return f"deployment/{self.name}" + (f"/alert/{self.alert}" if self.alert is not None else "")
        if self.kind == "model":
            if self.alias is not None:
                return f"model/{self.name}@{self.alias}"
            return f"model/{self.name}" + (f"/{self.version}" if self.version is not None else "")
        return f"approval/{self.name}"
