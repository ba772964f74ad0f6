"""``jupyter mlops``: the command line for pipelines, a thin door over the core facade like the magics.

Each subcommand parses its arguments, makes one facade call and renders the result: a table for people, stable
JSON with ``--json`` for pipelines. Exit codes: 0 done, 1 the operation failed (deploy failed, verify found
tampering, predict refused), 2 usage error. Errors are one line on stderr, never a traceback; the libraries'
warnings and messages are kept quiet (``--verbose`` shows them).
"""

from __future__ import annotations

import argparse
import contextlib
import sys
from collections.abc import Sequence
from typing import Any, NoReturn

from .commands import OperationFailed, Output, UsageProblem

PROG = "jupyter mlops"


class _Parser(argparse.ArgumentParser):
    """An argparse parser whose errors are one line on stderr and exit code 2."""

    def error(self, message: str) -> NoReturn:
        """Print ``prog: message (see --help)`` and exit with 2."""
        self.exit(2, f"{self.prog}: {message} (see {self.prog} --help)\n")


def _json(parser: argparse.ArgumentParser) -> None:
    """Give a read command the --json flag."""
    parser.add_argument("--json", action="store_true", help="Print stable JSON (see README, 'From a pipeline').")


def _settings_flags(parser: argparse.ArgumentParser) -> None:
    """The deployment settings flags shared by ``deploy`` and ``settings``."""
    parser.add_argument("--timeout-ms", type=int, metavar="N", help="Per-request model call timeout (1-600000).")
    parser.add_argument("--max-queue", type=int, metavar="N", help="Requests waiting beyond this many answer 503.")
    parser.add_argument("--max-rows", type=int, metavar="N", help="Requests with more rows answer 400.")
    parser.add_argument("--auto-rollback", choices=["on", "off"], help="Roll a worse canary back automatically.")
    parser.add_argument("--set", dest="settings", action="append", metavar="KEY=VALUE",
                        help="Any setting, dotted for nested ones: --set monitoring.drift_share=0.3.")  # fmt: skip


def build_parser() -> argparse.ArgumentParser:
    """The ``jupyter mlops`` parser: one subparser per subcommand, each bound to its function in ``commands``."""
    from . import commands as c

    root = _Parser(prog=PROG, description=__doc__.split("\n\n")[0] if __doc__ else None)
    root.add_argument("--verbose", "-v", action="store_true", help="Also show library warnings and messages.")
    sub = root.add_subparsers(dest="command", metavar="COMMAND", parser_class=_Parser)
    sub.required = True

    def add(name: str, func: Any, help: str) -> argparse.ArgumentParser:
        """A subcommand bound to its function."""
        parser = sub.add_parser(name, help=help, description=help)
        parser.set_defaults(func=func)
        return parser

    p = add("models", c.models, "List registered models.")
    p.add_argument("filter", nargs="?", help="Only models whose name contains this text.")
    _json(p)
    p = add("versions", c.versions, "List a model's versions.")
    p.add_argument("name")
    _json(p)
    p = add("register", c.register, "Register a runs:/ or models:/ URI as a new model version.")
    p.add_argument("uri", help="runs:/RUN_ID/PATH or models:/NAME/VERSION.")
    p.add_argument("--name", required=True, help="Registered model name.")
    p.add_argument("--alias", help="Point this alias at the new version.")
    p.add_argument("--description", help="Description of the version.")
    p.add_argument("--reference", metavar="FILE.csv", help="Labelled held-out rows, to estimate performance.")
    p.add_argument("--label-column", metavar="COL", help="The label column of the --reference file.")
    _json(p)
    p = add("alias", c.alias, "Move or remove a model alias.")
    alias_sub = p.add_subparsers(dest="alias_cmd", metavar="set|rm", parser_class=_Parser)
    alias_sub.required = True
    a = alias_sub.add_parser("set", help="Point ALIAS of NAME at VERSION.")
    a.add_argument("name")
    a.add_argument("alias")
    a.add_argument("version")
    a = alias_sub.add_parser("rm", help="Remove ALIAS of NAME.")
    a.add_argument("name")
    a.add_argument("alias")

    p = add("deploy", c.deploy, "Deploy NAME, NAME/VERSION or NAME@ALIAS as a live endpoint.")
    p.add_argument("ref", help="NAME, NAME/VERSION or NAME@ALIAS.")
    p.add_argument("--as", dest="as_name", help="Deployment name (default: from the model name).")
    mode = p.add_mutually_exclusive_group()
    mode.add_argument("--canary", type=int, metavar="PCT", help="Add as a canary with this share of traffic.")
    mode.add_argument("--shadow", action="store_true", help="Add as a shadow (mirrored requests).")
    mode.add_argument("--replace", action="store_true", help="Swap the model of an existing deployment.")
    p.add_argument("--isolated", action="store_true", help="Serve from a supervised process of its own (local).")
    p.add_argument("--target", help="Where to deploy (default: the configured default target).")
    p.add_argument("--no-wait", action="store_true", help="Return at once; `status NAME` shows progress.")
    p.add_argument("--timeout", type=float, metavar="S", help="Seconds to wait for ready (default: configured).")
    _settings_flags(p)
    _json(p)
    p = add("settings", c.settings, "Show or change a deployment's settings: settings NAME --set max_rows=1000.")
    p.add_argument("name")
    _settings_flags(p)
    _json(p)
    p = add("deployments", c.deployments, "List deployments.")
    _json(p)
    p = add("status", c.status, "Show one deployment.")
    p.add_argument("name")
    _json(p)
    p = add("predict", c.predict, "Score input with a deployment (JSON in MLflow's formats, or CSV).")
    p.add_argument("name")
    p.add_argument("-I", "--input", default="-", metavar="FILE|-", help="Input file, or - for stdin (default).")
    p.add_argument("--content-type", choices=["json", "csv"], help="Input format (default: from suffix or content).")
    p = add("traffic", c.traffic, "Set traffic weights: traffic NAME primary=80 canary=20.")
    p.add_argument("name")
    p.add_argument("weights", nargs="+", metavar="ROLE=PCT")
    _json(p)
    for name, func, text in (
        ("promote", c.promote, "Make the canary (or shadow) the primary at 100%."),
        ("rollback", c.rollback, "Drop the canary, or go back to the previous primary."),
        ("sync", c.sync, "Redeploy an alias-driven deployment whose alias moved."),
    ):
        p = add(name, func, text)
        p.add_argument("name")
        _json(p)
    p = add("undeploy", c.undeploy, "Stop a deployment and remove its endpoint.")
    p.add_argument("name")

    p = add("monitor", c.monitor, "A deployment's monitoring report.")
    p.add_argument("name")
    p.add_argument("--window", default="1h", help="How far back: 15m, 1h, 1d (default 1h).")
    _json(p)
    p = add("alerts", c.alerts, "Alerts, newest first.")
    p.add_argument("name", nargs="?", help="Only this deployment's alerts.")
    _json(p)
    p = add("feedback", c.feedback, "Send ground-truth labels for logged requests.")
    p.add_argument("name")
    p.add_argument("-I", "--input", default="-", metavar="FILE|-",
                   help='JSON {"request_ids": [...], "labels": [...]} or CSV request_id,label.')  # fmt: skip
    _json(p)

    p = add("audit", c.audit, "The audit ledger as JSON or CSV; audit verify; audit served NAME TIME.")
    p.add_argument("--target", help="Only entries of this target (deployment/NAME, model/NAME, ...).")
    p.add_argument("--since", help="Only entries at or after this ISO 8601 time.")
    p.add_argument("--format", choices=["json", "csv"], default="json")
    audit_sub = p.add_subparsers(dest="audit_cmd", metavar="verify|served", parser_class=_Parser)
    a = audit_sub.add_parser("verify", help="Check the ledger's hash chain (exit 1 when tampered).")
    a.set_defaults(func=c.audit_verify)
    _json(a)
    a = audit_sub.add_parser("served", help="Which version served NAME at TIME.")
    a.set_defaults(func=c.audit_served)
    a.add_argument("name")
    a.add_argument("time", help="ISO 8601, e.g. 2026-11-27T05:00:00Z.")
    _json(a)

    p = add("approvals", c.approvals_list, "Approval requests: list, request, grant, reject.")
    ap = p.add_subparsers(dest="approvals_cmd", metavar="list|request|grant|reject", parser_class=_Parser)
    ap.required = True
    a = ap.add_parser("list", help="List requests.")
    a.add_argument("status", nargs="?", help="pending, granted, rejected, used, expired.")
    a.set_defaults(func=c.approvals_list)
    _json(a)
    a = ap.add_parser("request", help="Ask for a protected change.")
    a.add_argument("action", help="promote, rollback, sync, set_traffic, deploy, set_alias.")
    a.add_argument("target", help="deployment/NAME or model/NAME@ALIAS.")
    a.add_argument("payload", nargs="*", metavar="KEY=VALUE")
    a.set_defaults(func=c.approvals_request)
    _json(a)
    for verb in ("grant", "reject"):
        a = ap.add_parser(verb, help=f"{verb.capitalize()} a pending request.")
        a.add_argument("id", type=int)
        a.add_argument("--comment")
        a.set_defaults(func=c.approvals_decide)
        _json(a)

    p = add("card", c.card, "A model version's card.")
    p.add_argument("ref", metavar="NAME[/VERSION]")
    _json(p)
    from . import risk

    risk.add_parser(add, _json)
    return root


def main(argv: Sequence[str] | None = None) -> int:
    """Run one ``jupyter mlops`` command; returns the exit code (0 done, 1 failed, 2 usage error)."""
    parser = build_parser()
    args = parser.parse_args(argv)
    args.stderr = sys.stderr
    if getattr(args, "timeout", None) is not None and args.timeout <= 0:
        parser.exit(2, f"{PROG} {args.command}: --timeout must be a positive number of seconds\n")
    from ..magics.quiet import CAPTURED, captured

    output: Output | None = None
    message, code = None, 0
    mlops = None
    try:
        with captured():
            from ..core.errors import MLOpsError

            try:
                mlops = _facade(args)
                output = args.func(mlops, args)
            except MLOpsError as exc:
                # 400/404: the request named something wrong; anything else: the operation failed.
                message, code = exc.message, 2 if exc.status in (400, 404) else 1
    except UsageProblem as exc:
        message, code = str(exc), 2
    except OperationFailed as exc:
        message, code = str(exc), 1
    except KeyboardInterrupt:
        message, code = "interrupted", 130
    except Exception as exc:  # a bug or an unexpected environment problem: still one line, no traceback
        message, code = f"unexpected error: {type(exc).__name__}: {exc}", 1
    finally:
        if mlops is not None:
            from ..core.api import reset_client

            with contextlib.suppress(Exception):  # closing must not hide the command's own result
                reset_client(None)
    if args.verbose and CAPTURED:
        sys.stderr.write("\n".join(CAPTURED) + "\n")
    if message is not None:
        sys.stderr.write(f"{PROG} {args.command}: {' '.join(str(message).split())}\n")
        return code
    assert output is not None
    if output.text:
        sys.stdout.write(output.text + "\n")
    if output.error:
        sys.stderr.write(f"{PROG} {args.command}: {' '.join(output.error.split())}\n")
    return output.code


def _facade(args: Any) -> Any:
    """The facade a notebook of this user would get (same settings: JUPYTER_MLOPS_* variables, Jupyter config)."""
    from ..core.api import client

    mlops = client()
    config = getattr(mlops, "config", None)
    if getattr(args, "timeout", None) is not None and config is not None:
        config.deploy_timeout = args.timeout
    return mlops
