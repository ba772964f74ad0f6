"""One source of settings for every door (server extension, magics, Python API, CLI) and the serving daemon.

Zero configuration: everything lives under ``data_dir`` (a local MLflow store on SQLite with local artifacts,
our own SQLite store, the serving daemon's state). Each setting can come from Jupyter config
(``c.MLOpsConfig.tracking_uri = ...``) or from the environment (``JUPYTER_MLOPS_TRACKING_URI``); the server
extension exports its effective settings to the environment so kernels it starts agree with it.
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from traitlets import Bool, Dict, Float, Int, Unicode, default
from traitlets.config import Configurable

ENV_PREFIX = "JUPYTER_MLOPS_"


def _default_data_dir() -> str:
    from jupyter_core.paths import jupyter_data_dir

    return str(Path(jupyter_data_dir()) / "mlops")


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
    deploy_timeout = Float(120.0, help="Seconds a deploy may take to become ready before it fails.").tag(config=True)
    default_target = Unicode("local", help="Target used when a deploy names none.").tag(config=True)
    mlflow_ui_url = Unicode("", help="Base URL of an MLflow UI to link to from the sidebar (optional).").tag(
        config=True
    )
    allow_remote_serving = Bool(False, help="Allow serving_host other than loopback.").tag(config=True)
    roles = Dict(help="Role of each user name or hub group, e.g. {'alice': 'approver'}.").tag(config=True)

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        for name in self.trait_names(config=True):
            env = os.environ.get(ENV_PREFIX + name.upper())
            if env is not None and name not in (self.config.get(type(self).__name__) or {}) and name not in kwargs:
                trait = self.traits()[name]
                self.set_trait(name, trait.from_string(env))

    @default("data_dir")
    def _data_dir(self) -> str:
        return _default_data_dir()

    @default("tracking_uri")
    def _tracking_uri(self) -> str:
        return os.environ.get("MLFLOW_TRACKING_URI") or f"sqlite:///{Path(self.data_dir) / 'mlflow.db'}"

    @default("registry_uri")
    def _registry_uri(self) -> str:
        return os.environ.get("MLFLOW_REGISTRY_URI") or self.tracking_uri

    @default("artifact_root")
    def _artifact_root(self) -> str:
        return (Path(self.data_dir) / "mlartifacts").as_uri()

    @default("store_url")
    def _store_url(self) -> str:
        return f"sqlite:///{Path(self.data_dir) / 'mlops.db'}"

    @property
    def serving_dir(self) -> Path:
        return Path(self.data_dir) / "serving"

    def to_env(self) -> dict[str, str]:
        """Effective settings as environment variables, for kernels and the serving daemon to inherit."""
        names = (
            "data_dir",
            "tracking_uri",
            "registry_uri",
            "artifact_root",
            "store_url",
            "serving_host",
            "serving_port",
            "experiment_name",
        )
        return {ENV_PREFIX + n.upper(): str(getattr(self, n)) for n in names}
