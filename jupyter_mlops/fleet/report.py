"""The audit report as one printable HTML page: the model inventory, approvals and changes over a period.

Suitable for a regulator: who owns which deployment serving which model version, its health at report time,
every approval requested or decided in the period (with who decided), every recorded change (actor, owner,
before and after), and whether the tamper-evident ledger's chain verifies. Every value is HTML-escaped.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from html import escape
from itertools import repeat
from typing import Any

_STYLE = """
body { font: 13px/1.4 system-ui, sans-serif; margin: 2em; color: #222; }
h1 { font-size: 20px; } h2 { font-size: 16px; margin-top: 2em; border-bottom: 1px solid #999; }
table { border-collapse: collapse; width: 100%; } th, td { border: 1px solid #ccc; padding: 3px 6px;
text-align: left; vertical-align: top; } th { background: #eee; }
.green { color: #176b2c; } .amber { color: #8a5a00; } .red { color: #a61b1b; font-weight: bold; }
.unknown { color: #5f6670; }
.ok { color: #176b2c; } .broken { color: #a61b1b; font-weight: bold; } code { font-size: 11px; }
@media print { body { margin: 0; } h2 { page-break-after: avoid; } tr { page-break-inside: avoid; } }
"""


def _cell(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return f"<code>{escape(json.dumps(value, sort_keys=True, default=str))}</code>"
    return escape(str(value))


def _table(headers: Sequence[str], rows: Iterable[Sequence[Any]], classes: Iterable[str] | None = None) -> str:
    head = "".join(f"<th>{escape(h)}</th>" for h in headers)
    body = []
    for row, css in zip(rows, repeat("") if classes is None else classes, strict=False):
        cells = "".join(f"<td>{_cell(v)}</td>" for v in row)
        body.append(f'<tr class="{escape(css)}">{cells}</tr>' if css else f"<tr>{cells}</tr>")
    if not body:
        return "<p>None in this period.</p>"
    return f"<table><thead><tr>{head}</tr></thead><tbody>{''.join(body)}</tbody></table>"


def render_report(data: dict[str, Any]) -> str:
    """The report page from ``FleetView.report_data``."""
    inventory = data["inventory"]
    chain = data["chain"]
    status = "ok" if chain["ok"] else "broken"
    inv = _table(
        ["Deployment", "Owner", "Model", "Version", "Aliases", "Health", "Colour", "Error rate", "p95 ms",
         "Drift share", "Last deploy", "Pending approvals", "Open alerts"],
        (
            [r["name"], r["owner"], r["model_name"], r["model_version"],
             " ".join(f"{k}={v}" for k, v in sorted((r["aliases"] or {}).items())), r["health_score"],
             r["health_colour"], f"{r['error_rate']:.2%}", _round(r["p95_ms"]), _round(r["drift_share"]),
             r["last_deploy"], r["pending_approvals"], r["open_alerts"]]
            for r in inventory
        ),
        (r["health_colour"] for r in inventory),
    )  # fmt: skip
    approvals = _table(
        ["#", "Action", "Target", "Requested by", "Owner", "Created", "Status", "Decided by", "Decided", "Comment"],
        (
            [a["id"], a["action"], a["target"], a["requested_by"], a["owner"], a["created_at"], a["status"],
             a["decided_by"], a["decided_at"], a["comment"]]
            for a in data["approvals"]
        ),
    )  # fmt: skip
    changes = _table(
        ["#", "Time", "Action", "Actor", "Owner", "Target", "Outcome", "Before", "After", "Detail"],
        (
            [e["seq"], e["at"], e["action"], e["actor"], e["owner"], e["target"], e["outcome"], e["before"],
             e["after"], e["detail"]]
            for e in data["changes"]
        ),
    )  # fmt: skip
    period = f"{escape(data['since'])} to {escape(data['until'])}"
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Model inventory and audit report, {period}</title><style>{_STYLE}</style></head><body>"
        f"<h1>Model inventory and audit report</h1><p>Period: {period}. Generated {escape(data['generated_at'])}."
        f" {len(inventory)} deployment(s), {len(data['approvals'])} approval(s), {len(data['changes'])} change(s)."
        f"</p><p class='{status}'>Audit ledger chain: {escape(chain['message'])} ({chain['entries']} entries)</p>"
        f"<h2>Inventory</h2>{inv}<h2>Approvals</h2>{approvals}<h2>Changes</h2>{changes}</body></html>"
    )


def _round(value: float | None) -> str:
    return "" if value is None else f"{value:.3g}"
