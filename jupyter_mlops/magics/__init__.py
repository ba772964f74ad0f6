"""IPython magics: ``%load_ext jupyter_mlops`` registers %register, %deploy, %undeploy, %models, %deployments."""

from __future__ import annotations

from typing import Any


def load_ipython_extension(ipython: Any) -> None:
    from .commands import MLOpsMagics

    ipython.register_magics(MLOpsMagics)
