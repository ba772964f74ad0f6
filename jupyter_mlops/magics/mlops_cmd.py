"""``%mlops SUBCOMMAND ...``: governance, aliases, alerting and feedback from the notebook.

A dict router from the subcommand to one function in ``magics/cmd/`` with its own parser (``%mlops X --help``)::

    %mlops audit [TARGET]                     ledger entries (deployment/NAME, model/NAME, ...)
    %mlops audit verify                       check the hash chain
    %mlops audit served DEPLOYMENT TIME       which version served DEPLOYMENT at TIME (ISO 8601)
    %mlops audit export csv|json [TARGET]     the ledger as text
    %mlops approvals [STATUS]                 approval requests
    %mlops request ACTION TARGET [K=V ...]    ask for a protected change (promote deployment/NAME, ...)
    %mlops approve ID [COMMENT]               grant a request (%mlops reject ID to refuse it)
    %mlops card NAME[/VERSION]                the model card
    %mlops lineage DEPLOYMENT|NAME[/VERSION]  deployment -> version -> run -> notebook/commit
    %mlops alias set|rm MODEL ALIAS [VERSION] move or remove an alias
    %mlops sync DEPLOYMENT                    redeploy an alias-driven deployment whose alias moved
    %mlops feedback DEPLOYMENT --ids V --labels V   ground truth for logged requests
    %mlops alerts [DEPLOYMENT]                alerts (%mlops ack ID acknowledges one)
    %mlops rules DEPLOYMENT [--set N M OP T]  alert rules
    %mlops settings DEPLOYMENT [K=V ...]      show or change serving/monitoring settings
    %mlops token DEPLOYMENT                   a new bearer token for the endpoint
    %mlops whoami                             your name, the server's owner and your role
    %mlops log [N]                            what the magics kept quiet (warnings, MLflow messages)
    %mlops risk show|set|validate|summary|reviews|inventory|doc|evidence ...   model risk management
"""

from __future__ import annotations

from typing import Any

from IPython.core.error import UsageError
from IPython.core.magic import Magics, line_magic, magics_class

from ..core.errors import MLOpsError
from .cmd import Context, Subcommand
from .cmd.access import token, whoami
from .cmd.alias import alias
from .cmd.approvals import approvals, approve, reject, request
from .cmd.audit import audit
from .cmd.card import card, lineage
from .cmd.log import log
from .cmd.monitoring import ack, alerts, feedback, rules
from .cmd.risk import risk
from .cmd.rollout import sync
from .cmd.settings import settings
from .display import Preformatted
from .quiet import captured

COMMANDS: dict[str, Subcommand] = {
    "audit": audit,
    "approvals": approvals,
    "request": request,
    "approve": approve,
    "reject": reject,
    "card": card,
    "lineage": lineage,
    "alias": alias,
    "sync": sync,
    "settings": settings,
    "feedback": feedback,
    "alerts": alerts,
    "ack": ack,
    "rules": rules,
    "token": token,
    "whoami": whoami,
    "log": log,
    "risk": risk,
}


@magics_class
class GovernanceMagics(Magics):
    """The ``%mlops`` line magic."""

    @line_magic
    def mlops(self, line: str) -> Any:
        """Governance and operations: %mlops audit|approvals|request|approve|... (see %mlops?)."""
        word, _, rest = line.strip().partition(" ")
        command = COMMANDS.get(word)
        if command is None:
            raise UsageError(f"Usage: %mlops {'|'.join(COMMANDS)} ... (%mlops SUBCOMMAND --help for its options)")
        if rest.split()[:1] in (["-h"], ["--help"]):
            return Preformatted(command.parser.format_help().replace("::\n", "").strip())  # type: ignore[attr-defined]
        from ..core.api import client

        namespace = self.shell.user_ns if self.shell is not None else {}
        try:
            with captured():
                return command(Context(client(), namespace), rest)
        except MLOpsError as exc:
            raise UsageError(exc.message) from None


GovernanceMagics.mlops.__doc__ = __doc__
