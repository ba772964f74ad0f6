"""IPython magics, registered by ``%load_ext jupyter_mlops``.

%register, %deploy, %undeploy, %models, %deployments, %traffic, %promote, %rollback, %monitor and %mlops.
"""

from __future__ import annotations

from typing import Any


def load_ipython_extension(ipython: Any) -> None:
    """Register the magics on ``ipython`` and show our alerts as notices instead of stderr lines."""
    from .commands import MLOpsMagics
    from .mlops_cmd import GovernanceMagics
    from .quiet import install_notices

    ipython.register_magics(MLOpsMagics)
    ipython.register_magics(GovernanceMagics)
    install_notices()
