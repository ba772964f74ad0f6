"""The Jupyter server extension: settings, the shared MLOps facade, and the route table."""

from __future__ import annotations

import logging
import os
import threading
from typing import Any

from jupyter_server.extension.application import ExtensionApp

from ..config import MLOpsConfig
from .routes import route_table

log = logging.getLogger(__name__)


class MLOpsExtension(ExtensionApp):
    """Serves /mlops/api/* and keeps the deployments of this server's store running."""

    name = "jupyter_mlops"
    load_other_extensions = True
    classes = [MLOpsConfig]

    def initialize_settings(self) -> None:
        """Export the store settings to kernels, register the facade factory, reconcile in the background."""
        self.mlops_config = MLOpsConfig(parent=self)
        # Kernels started by this server inherit the same stores, so %register and the sidebar agree.
        os.environ.update(self.mlops_config.to_env())
        self._mlops: Any = None
        self._mlops_lock = threading.Lock()
        self.settings["mlops_service"] = self.service
        # Bring deployments back after a restart without delaying the server's start-up (in team mode the MLOps
        # hub service owns deployments and serving: this server only forwards, with its owner's hub token).
        if not self.mlops_config.service_url:
            threading.Thread(target=self._reconcile, name="mlops-reconcile", daemon=True).start()

    def service(self) -> Any:
        """The MLOps facade, built on first use (importing MLflow takes over a second)."""
        with self._mlops_lock:
            if self._mlops is None and self.mlops_config.service_url:
                from ..hub.client import RemoteMLOps

                self._mlops = RemoteMLOps.from_config(self.mlops_config)
            if self._mlops is None:
                from ..core.service import MLOps

                # Acts as this server's user (JUPYTERHUB_USER or the OS user); requests act through acting_as views.
                self._mlops = MLOps(self.mlops_config)
            return self._mlops

    def _reconcile(self) -> None:
        try:
            mlops = self.service()
            count = mlops.reconcile()
            if count:
                self.log.info("jupyter_mlops: reconciled %d deployment(s)", count)
            if self.mlops_config.serving_prestart:
                # The local daemon now, not at the first deploy: that deploy then skips the daemon's start and
                # MLflow's import (seconds), at the cost of the daemon's memory while nothing is deployed.
                mlops.target("local").ensure_daemon()
                self.log.info("jupyter_mlops: serving daemon started ahead of the first deploy (serving_prestart)")
        except Exception as exc:
            self.log.warning("jupyter_mlops: could not reconcile deployments at start-up: %s", exc)

    def initialize_handlers(self) -> None:
        """Add the /mlops/api routes."""
        self.handlers.extend(route_table())

    async def stop_extension(self) -> None:
        # The serving daemon outlives Jupyter on purpose; only our clients are closed.
        """Close our clients (the serving daemon outlives Jupyter on purpose)."""
        if getattr(self, "_mlops", None) is not None:
            self._mlops.close()
