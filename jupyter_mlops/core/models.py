"""Typed records that cross layers: REST bodies, magic output, daemon status, TypeScript mirrors (src/api.ts).

MLflow owns models and versions; ``RegisteredModel`` and ``ModelVersion`` are read-only views of its records.
jupyter_mlops owns deployments: ``DeploymentSpec`` is what a user asks for, ``Deployment`` what exists.
"""

from __future__ import annotations

import re
from datetime import datetime
from enum import Enum
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, field_validator

from . import validation
from .errors import InvalidRequest


class Record(BaseModel):
    """Base of the records crossing layers: unknown fields are refused."""

    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --- registry views -------------------------------------------------------------------------------------------


class ModelVersion(Record):
    """A version of a registered model as MLflow records it (read-only here)."""

    name: str
    version: str
    aliases: list[str] = []
    run_id: str | None = None
    source: str | None = None
    status: str | None = None
    description: str | None = None
    tags: dict[str, str] = {}
    created_at: datetime | None = None
    signature: dict[str, Any] | None = None
    metrics: dict[str, float] = {}
    params: dict[str, str] = {}

    @property
    def uri(self) -> str:
        """The version's MLflow URI (``models:/NAME/VERSION``)."""
        return f"models:/{self.name}/{self.version}"


class RegisteredModel(Record):
    """A registered model with its aliases and latest versions (read-only here)."""

    name: str
    description: str | None = None
    tags: dict[str, str] = {}
    aliases: dict[str, str] = {}
    latest_version: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None
    versions: list[ModelVersion] = []


class Page(Record):
    """One page of a list; ``next_page_token`` is absent on the last page."""

    items: list[Any]
    next_page_token: str | None = None
    total: int | None = None


# --- references -----------------------------------------------------------------------------------------------

_REF = re.compile(r"^(?P<name>[^/@]+)(?:/(?P<version>[^/@]+)|@(?P<alias>[^/@]+))?$")


class ModelRef(Record):
    """``NAME``, ``NAME/VERSION`` or ``NAME@ALIAS`` (also accepted with a ``models:/`` prefix).

    A bare ``NAME`` means the latest version at the moment it is resolved.
    """

    name: str
    version: str | None = None
    alias: str | None = None

    @classmethod
    def parse(cls, text: object) -> ModelRef:
        """Read ``NAME``, ``NAME/VERSION``, ``NAME@ALIAS`` or ``models:/...`` (InvalidRequest otherwise)."""
        if not isinstance(text, str) or not text.strip():
            raise InvalidRequest("A model reference is required: NAME, NAME/VERSION or NAME@ALIAS.")
        ref = text.strip()
        if ref.startswith("models:/"):
            ref = ref[len("models:/") :]
        elif "://" in ref or ref.startswith(("runs:/", "file:", "/")):
            raise InvalidRequest(
                f"Unsupported model reference {text!r}: deploy a registered model as NAME, NAME/VERSION, "
                "NAME@ALIAS or models:/NAME/VERSION (register a run first with register('runs:/...'))."
            )
        match = _REF.match(ref)
        if not match:
            raise InvalidRequest(f"Invalid model reference {text!r}: expected NAME, NAME/VERSION or NAME@ALIAS.")
        name = validation.model_name(match["name"])
        version = validation.version(match["version"]) if match["version"] else None
        alias = validation.alias(match["alias"]) if match["alias"] else None
        return cls(name=name, version=version, alias=alias)

    def __str__(self) -> str:
        if self.version:
            return f"{self.name}/{self.version}"
        if self.alias:
            return f"{self.name}@{self.alias}"
        return self.name

    @property
    def uri(self) -> str:
        """The reference as an MLflow ``models:/`` URI."""
        return f"models:/{self}"


# --- deployments ----------------------------------------------------------------------------------------------


class VariantRole(str, Enum):
    """How a variant takes traffic: the primary, a weighted canary, or a mirrored shadow."""

    primary = "primary"
    canary = "canary"
    shadow = "shadow"


class DeploymentState(str, Enum):
    """Where a deployment is in its life: pending, loading, ready, failed, stopped or unknown."""

    pending = "pending"
    resolving = "resolving"
    loading = "loading"
    warming = "warming"
    ready = "ready"
    failed = "failed"
    stopped = "stopped"
    unknown = "unknown"


class StepStatus(str, Enum):
    """State of one deployment step."""

    pending = "pending"
    running = "running"
    done = "done"
    failed = "failed"


DEPLOY_STEPS = ("resolving", "loading", "warming", "ready")


class DeploymentStep(Record):
    """One step of bringing a deployment up (resolving, loading, warming, ready)."""

    name: str
    status: StepStatus = StepStatus.pending
    message: str | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


class Variant(Record):
    """One pinned model version behind a deployment, with its share of traffic."""

    name: str = "primary"
    model_name: str
    model_version: str
    weight: int = Field(default=100, ge=0, le=100)
    role: VariantRole = VariantRole.primary

    @property
    def model_uri(self) -> str:
        """The variant's model as an MLflow URI."""
        return f"models:/{self.model_name}/{self.model_version}"


class DeploymentSpec(Record):
    """What a user asks for: a model reference and a deployment name (derived from the model when absent)."""

    model: str
    name: str | None = None
    target: str = "local"
    wait: bool = True
    # Rollouts onto an existing deployment: a canary taking this share of traffic, or a shadow variant.
    canary: int | None = Field(default=None, ge=0, le=100)
    shadow: bool = False
    batching: dict[str, Any] | None = None  # {"max_batch_size": int, "max_wait_ms": float, "enabled": bool}
    isolated: bool = False
    # Deployment settings (checked by the facade, as for ``configure``): either in ``settings`` or at the top.
    settings: dict[str, Any] | None = None
    timeout_ms: Any = None
    max_queue: Any = None
    max_rows: Any = None
    auto_rollback: Any = None
    monitoring: Any = None

    def deployment_settings(self) -> dict[str, Any] | None:
        """The settings given, from ``settings`` and the top-level fields (InvalidRequest if both name one)."""
        top = {
            key: value
            for key in ("timeout_ms", "max_queue", "max_rows", "auto_rollback", "monitoring")
            if (value := getattr(self, key)) is not None
        }
        if self.settings is None:
            return top or None
        if not isinstance(self.settings, dict):
            raise InvalidRequest("'settings' must be an object such as {\"timeout_ms\": 5000}.")
        both = sorted(set(top) & set(self.settings))
        if both:
            raise InvalidRequest(f"{', '.join(both)} given both at the top and in 'settings': give each once.")
        return {**self.settings, **top}

    @field_validator("model")
    @classmethod
    def _model(cls, value: str) -> str:
        ModelRef.parse(value)
        return value

    @field_validator("name")
    @classmethod
    def _name(cls, value: str | None) -> str | None:
        return None if value is None else validation.deployment_name(value)


class VariantStatus(Record):
    """What the target reports of one variant."""

    name: str
    model_uri: str
    state: DeploymentState = DeploymentState.pending
    message: str | None = None


class RuntimeStatus(Record):
    """What a target reports about one deployment (the observed state)."""

    name: str
    state: DeploymentState
    steps: list[DeploymentStep] = []
    message: str | None = None
    url: str | None = None
    variants: list[VariantStatus] = []
    updated_at: datetime | None = None
    # Store generation this status describes, so a caller can wait for *its* change (not an older one).
    generation: int | None = None


class Deployment(Record):
    """A deployment as users see it: desired state from our store joined with the target's observed state."""

    name: str
    owner: str | None = None
    target: str = "local"
    model_ref: str
    model_name: str
    model_version: str
    variants: list[Variant] = []
    state: DeploymentState = DeploymentState.pending
    steps: list[DeploymentStep] = []
    message: str | None = None
    url: str | None = None
    created_at: datetime | None = None
    updated_at: datetime | None = None

    @property
    def model_uri(self) -> str:
        """The MLflow URI of the primary's version (``models:/NAME/VERSION``)."""
        return f"models:/{self.model_name}/{self.model_version}"

    def observed(self, status: RuntimeStatus | None) -> Deployment:
        """This desired state with what its target reports (``unknown`` when the target reports nothing)."""
        if status is None:
            return self.model_copy(
                update={
                    "state": DeploymentState.unknown,
                    "message": "Not running: the serving target does not report this deployment yet.",
                    "steps": [DeploymentStep(name="resolving", status=StepStatus.done, message=self.model_uri)],
                }
            )
        return self.model_copy(
            update={"state": status.state, "steps": status.steps, "message": status.message, "url": status.url}
        )


class RolloutEvent(Record):
    """One entry of a deployment's rollout history: what changed, why, and which variant it concerned."""

    time: datetime
    kind: str  # deploy, canary, shadow, traffic, promote, rollback, auto_rollback, sync, undeploy
    message: str
    variant: str | None = None
    actor: str | None = None
