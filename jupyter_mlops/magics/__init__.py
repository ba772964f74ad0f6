"""IPython magics: ``%load_ext jupyter_mlops`` registers %register, %deploy, %undeploy, %models, %deployments."""

from __future__ import annotations

from typing import Any


def load_ipython_extension(ipython: Any) -> None:
    from .commands import MLOpsMagics

    ipython.register_magics(MLOpsMagics)
    from .governance import GovernanceMagics  # %mlops audit|card|approve ... (issue 6)

    ipython.register_magics(GovernanceMagics)
