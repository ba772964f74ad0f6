"""The one IPython shell of a test process, for the tests of magics.

IPython allows one shell singleton per process: a plain ``InteractiveShell.instance()`` in one module and IPython's
test shell (a ``TerminalInteractiveShell``) in another cannot coexist, so which module ran first in a process
(pytest-xdist gives each worker its own mix of files) would decide which one fails. Every module asks here.
"""

from __future__ import annotations

from typing import Any

from IPython.core.getipython import get_ipython
from IPython.testing.globalipapp import start_ipython


def ipython_shell() -> Any:
    """IPython's process-wide test shell (started on first use) with the jupyter_mlops extension loaded."""
    start_ipython()  # returns None once started; get_ipython() then answers the same shell
    shell = get_ipython()
    shell.run_line_magic("load_ext", "jupyter_mlops")  # a no-op once loaded
    return shell
