"""One source of settings for every door (server extension, magics, Python API, CLI) and the serving daemon.

Zero configuration: everything lives under ``data_dir`` (a local MLflow store on SQLite with local artifacts,
our own SQLite store, the serving daemon's state). Each setting can come from Jupyter config
(``c.MLOpsConfig.tracking_uri = ...``) or from the environment (``JUPYTER_MLOPS_TRACKING_URI``); the server
extension exports its effective settings to the environment so kernels it starts agree with it.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

from traitlets import Bool, Dict, Float, Int, List, Unicode, default
from traitlets.config import Configurable

ENV_PREFIX = "JUPYTER_MLOPS_"


def private_file(path: Path) -> Path:
    """Create ``path``'s folder (0700) and the file itself (0600, empty) so that SQLite, which gives its -wal and
    -shm files the database's mode, never makes the store readable by other local users."""
    try:
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        os.close(os.open(path, os.O_CREAT | os.O_RDWR, 0o600))
        os.chmod(path, 0o600)
    except OSError:
        pass  # not ours or read-only: SQLite reports what matters when it opens the file
    return path


def _default_data_dir() -> str:
    from jupyter_core.paths import jupyter_data_dir

    return str(Path(jupyter_data_dir()) / "mlops")


def _from_env(trait: Any, text: str) -> Any:
    """A trait value from an environment variable; lists as JSON or comma-separated (traitlets' List.from_string
    fails on an unbound trait)."""
    if isinstance(trait, List):
        return json.loads(text) if text.strip().startswith("[") else [s.strip() for s in text.split(",") if s.strip()]
    if isinstance(trait, Dict):
        return json.loads(text) if text.strip() else {}
    return trait.from_string(text)


def _to_env(value: Any) -> str:
    """A trait value as environment text that ``_from_env`` reads back (containers as JSON, not Python repr)."""
    if isinstance(value, (dict, list, tuple)):
        return json.dumps(value)
    return str(value)


# Every trait that decides who may do what: exported to kernels so the rules of every door are the same.
GOVERNANCE_TRAITS = (
    "roles",
    "default_role",
    "grants",
    "protected_aliases",
    "protected_deployments",
    "protected_actions",
    "require_deployment_token",
    "isolate_users",
    "allow_remote_serving",
    "allow_private_webhooks",
    "require_validation_for",
)
# Settings only the MLOps service uses (its signing key): never handed to kernels.
SERVICE_ONLY_TRAITS = ("audit_key_file", "audit_checkpoint_dir")


class MLOpsConfig(Configurable):
    """Settings of jupyter_mlops. Every trait may be overridden by ``JUPYTER_MLOPS_<TRAIT_NAME_UPPER>``."""

    data_dir = Unicode(help="Folder for the embedded defaults: MLflow store, our store, serving state.").tag(
        config=True
    )
    tracking_uri = Unicode(help="MLflow tracking URI. Default: $MLFLOW_TRACKING_URI, else SQLite in data_dir.").tag(
        config=True
    )
    registry_uri = Unicode(help="MLflow registry URI. Default: the tracking URI.").tag(config=True)
    artifact_root = Unicode(help="Artifact root for experiments we create. Default: data_dir/mlartifacts.").tag(
        config=True
    )
    experiment_name = Unicode("jupyter_mlops", help="MLflow experiment that registrations log runs into.").tag(
        config=True
    )
    store_url = Unicode(help="SQLAlchemy URL of our store. Default: SQLite in data_dir.").tag(config=True)
    serving_host = Unicode("127.0.0.1", help="Interface the serving daemon binds. Keep loopback unless fronted.").tag(
        config=True
    )
    serving_port = Int(0, help="Port of the serving daemon; 0 picks a free one.").tag(config=True)
    serving_memory_budget_mb = Int(
        8192, help="MiB the serving daemon's loaded models may use; beyond it idle ones are unloaded (0 = no limit)."
    ).tag(config=True)
    serving_workers = Int(
        0,
        help="Serving worker processes of the local daemon, sharing its port (0 = one per core). Each loads every "
        "deployment, so memory grows with the count.",
    ).tag(config=True)
    serving_prestart = Bool(
        False,
        help="Start the local serving daemon when Jupyter starts, so the first deploy finds its workers running "
        "with MLflow imported (about 0.3 s instead of 5-8 s on 2 cores). It then uses its memory while nothing is "
        "deployed (about 1.1 GiB idle with 2 workers: workers, their log writers and the standby interpreter).",
    ).tag(config=True)
    serving_compiled_trees = Bool(
        True,
        help="Serve scikit-learn tree ensembles (forests, gradient boosting) with a compiled predictor once it has "
        "given the same answers as scikit-learn on the input example and the stored training rows (needs the "
        "'compiled' extra and a C compiler; compiled in the background after the deploy).",
    ).tag(config=True)
    deploy_timeout = Float(120.0, help="Seconds a deploy may take to become ready before it fails.").tag(config=True)
    # Monitoring (jupyter_mlops.core.monitoring; the inference log writer in the serving daemon reads these too).
    inference_log_enabled = Bool(True, help="Log every scoring request of the serving daemon (monitoring).").tag(
        config=True
    )
    inference_log_sample_rate = Float(1.0, help="Share of requests whose inputs/outputs are logged (0-1).").tag(
        config=True
    )
    inference_log_retention_days = Float(30.0, help="Days the inference log keeps records (0 = forever).").tag(
        config=True
    )
    inference_log_queue_size = Int(10000, help="Records the serving daemon buffers before dropping.").tag(config=True)
    inference_log_redact = Unicode(
        "", help="'module:function' applied to each logged input DataFrame before it is stored (redaction hook)."
    ).tag(config=True)
    latency_objective_ms = Float(250.0, help="p95 latency objective for the health score and alerts.").tag(config=True)
    alert_webhook_url = Unicode("", help="Webhook called with every firing alert (optional).").tag(config=True)
    allow_private_webhooks = Bool(
        False, help="Allow alert webhooks to private, loopback and link-local addresses."
    ).tag(config=True)
    alert_interval = Float(
        30.0,
        help="Seconds between two evaluations of every deployment's alert rules by the serving daemon's log "
        "writer process (so alerts fire and webhooks are called even when no one reads); 0 = only on read.",
    ).tag(config=True)
    default_target = Unicode("local", help="Target used when a deploy names none.").tag(config=True)
    mlflow_ui_url = Unicode("", help="Base URL of an MLflow UI to link to from the sidebar (optional).").tag(
        config=True
    )
    allow_remote_serving = Bool(False, help="Allow serving_host other than loopback.").tag(config=True)
    roles = Dict(help="Role of each user name or hub group, e.g. {'alice': 'approver'}.").tag(config=True)
    default_role = Unicode(
        "deployer", help="Role of users not named in roles: viewer, deployer, approver or admin."
    ).tag(config=True)
    grants = Dict(
        help="Deployments a user may use and change although another user owns them: {'bob': ['churn-*']}."
    ).tag(config=True)
    protected_aliases = List(Unicode(), help="Aliases whose move needs an approval, e.g. ['champion'].").tag(
        config=True
    )
    protected_deployments = List(
        Unicode(), help="Deployment names (glob patterns) whose deploys need an approval, e.g. ['*-prod']."
    ).tag(config=True)
    # Model risk management (issue 17, core/governance/risk.py).
    risk_tiers = List(Unicode(), ["high", "medium", "low"], help="Risk tiers, highest first.").tag(config=True)
    review_interval_days = Dict(
        {"high": 182, "medium": 365, "low": 730}, help="Days between periodic reviews, by risk tier."
    ).tag(config=True)
    require_validation_for = List(
        Unicode(), help="Deployment names (globs) that serve only versions with an approved validation."
    ).tag(config=True)
    require_deployment_token = Bool(
        False, help="Require each deployment's bearer token on its endpoint (always on under JupyterHub)."
    ).tag(config=True)
    parity_tolerance = Float(
        1e-6, help="Largest difference allowed between served and in-process predictions at deploy time."
    ).tag(config=True)
    parity_sample_rows = Int(
        100, help="Training rows (a seeded sample) stored at register for the parity gate to replay; 0 = off."
    ).tag(config=True)
    protected_actions = List(
        Unicode(),
        ["deploy", "promote", "set_traffic", "sync"],
        help="Changes to a protected deployment that need an approval: deploy, promote, set_traffic, sync, "
        "rollback. Rollback is left out by default: it returns to what already served (and an admin may always "
        "roll back without one, audited as an emergency rollback).",
    ).tag(config=True)
    isolate_users = Bool(
        help="Each user sees and changes only their own deployments unless granted. Default: on under JupyterHub."
    ).tag(config=True)
    isolate_deployments = Bool(
        False,
        help="Serve every deployment from a worker process of its own, whose environment holds no store or MLflow "
        "credential (deploy(..., isolated=True) for all). The MLOps hub service turns it on: users' models are code.",
    ).tag(config=True)
    targets = Dict(
        help="Extra deployment targets: name -> class path, e.g. {'kserve': "
        "'jupyter_mlops.core.targets.kserve.KServeTarget'}. Each class is built as cls(config, store); "
        "'local' (the serving daemon) is always there."
    ).tag(config=True)
    target_options = Dict(
        help="Settings of each target by name, e.g. {'kserve': {'namespace': 'models', 'kubeconfig': 'PATH'}}."
    ).tag(config=True)

    # Team mode (issue 13): the MLOps hub service owns the store, the ledger and team serving; users' servers and
    # kernels reach it with their own JUPYTERHUB_API_TOKEN.
    service_url = Unicode(
        "",
        help="URL of the MLOps hub service (team mode), e.g. http://127.0.0.1:8081/services/mlops/. When set, "
        "the Python API, magics and the sidebar act through the service with the user's hub token, and this "
        "process needs (and is given) no store credentials.",
    ).tag(config=True)
    service_timeout = Float(120.0, help="Seconds a call to the MLOps hub service may take (deploys wait).").tag(
        config=True
    )
    audit_key_file = Unicode(
        "",
        help="File holding the secret key that signs ledger checkpoints (HMAC-SHA256). Only the MLOps service "
        "should be able to read it. Empty: checkpoints are not signed.",
    ).tag(config=True)
    audit_checkpoint_dir = Unicode(
        "",
        help="Folder where signed ledger checkpoints are kept (writable only by the MLOps service). "
        "Default: next to the key file.",
    ).tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for name in self.trait_names(config=True):
            env = os.environ.get(ENV_PREFIX + name.upper())
            if env is not None and name not in (self.config.get(type(self).__name__) or {}) and name not in kwargs:
                trait = self.traits()[name]
                self.set_trait(name, _from_env(trait, env))

    @default("isolate_users")
    def _isolate_users(self) -> bool:
        return bool(os.environ.get("JUPYTERHUB_USER"))

    @default("data_dir")
    def _data_dir(self) -> str:
        return _default_data_dir()

    @default("tracking_uri")
    def _tracking_uri(self) -> str:
        return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{private_file(Path(self.data_dir) / 'mlflow.db')}"

    @default("registry_uri")
    def _registry_uri(self) -> str:
        return os.environ.get("MLFLOW_REGISTRY_URI") or self.tracking_uri

    @default("artifact_root")
    def _artifact_root(self) -> str:
        if self.tracking_uri.startswith(("http://", "https://")):
            return ""  # a tracking server decides where artifacts go (e.g. proxied with --serve-artifacts)
        return (Path(self.data_dir) / "mlartifacts").as_uri()

    @default("store_url")
    def _store_url(self) -> str:
        return f"sqlite:///{private_file(Path(self.data_dir) / 'mlops.db')}"

    @property
    def serving_dir(self) -> Path:
        return Path(self.data_dir) / "serving"

    def to_env(self) -> dict[str, str]:
        """Effective settings as environment variables, for kernels and the serving daemon to inherit.

        Every governance trait is included so a kernel started by the server enforces the same rules as its REST
        handlers. In team mode (``service_url`` set) no store or tracking credentials are exported at all: kernels
        reach only the MLOps hub service, with their own hub token.
        """
        if self.service_url:
            team = ("service_url", "service_timeout", "experiment_name", "mlflow_ui_url", "default_target")
            return {ENV_PREFIX + n.upper(): _to_env(getattr(self, n)) for n in team}
        # Every setting (stores, serving, monitoring, targets and every governance trait): a kernel builds the
        # same MLOpsConfig as its server, so each door enforces the same rules.
        names = [n for n in self.trait_names(config=True) if n not in SERVICE_ONLY_TRAITS]
        return {ENV_PREFIX + n.upper(): _to_env(getattr(self, n)) for n in names}
