"""Names and references checked at the boundary, so every door gives the same answer to the same mistake."""

from __future__ import annotations

import re

from .errors import InvalidRequest

MAX_NAME_LENGTH = 63
_MODEL_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
# Deployment names become URL path segments and, on Kubernetes, resource names: RFC 1123 labels.
_DEPLOYMENT_NAME = re.compile(r"^[a-z0-9]([a-z0-9-]*[a-z0-9])?$")
_ALIAS = re.compile(r"^[A-Za-z_][A-Za-z0-9_-]*$")


def _common(kind: str, value: object) -> str:
    if not isinstance(value, str) or not value:
        raise InvalidRequest(f"A {kind} name is required (a non-empty string).")
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        raise InvalidRequest(f"The {kind} name contains control characters; use letters, digits, '.', '_', '-'.")
    if "/" in value or "\\" in value or ".." in value:
        raise InvalidRequest(f"The {kind} name must not contain '/', '\\' or '..'.")
    if len(value) > MAX_NAME_LENGTH:
        raise InvalidRequest(f"The {kind} name is {len(value)} characters long; the limit is {MAX_NAME_LENGTH}.")
    return value


def model_name(value: object) -> str:
    """A registered model name: letters, digits, '.', '_' and '-', at most 63 characters."""
    name = _common("model", value)
    if not _MODEL_NAME.match(name):
        raise InvalidRequest(
            f"Invalid model name {name!r}: use letters, digits, '.', '_' and '-', starting with a letter or digit."
        )
    return name


def deployment_name(value: object) -> str:
    """A deployment name: lowercase DNS label (RFC 1123), at most 63 characters."""
    name = _common("deployment", value)
    if not _DEPLOYMENT_NAME.match(name):
        suggestion = re.sub(r"[^a-z0-9-]+", "-", name.lower()).strip("-")[:MAX_NAME_LENGTH] or "my-model"
        raise InvalidRequest(
            f"Invalid deployment name {name!r}: use lowercase letters, digits and '-', starting and ending "
            f"with a letter or digit (for example {suggestion!r})."
        )
    return name


def alias(value: object) -> str:
    """A checked alias name (InvalidRequest saying what is allowed)."""
    name = _common("alias", value)
    if not _ALIAS.match(name) or name.lower() == "latest" or re.match(r"^v\d+$", name):
        raise InvalidRequest(
            f"Invalid alias {name!r}: use letters, digits, '_' and '-', starting with a letter; "
            "'latest' and 'v<number>' are reserved by MLflow."
        )
    return name


def version(value: object) -> str:
    """A checked version number as text (positive integers only)."""
    text = str(value).strip() if isinstance(value, (str, int)) and not isinstance(value, bool) else ""
    if not text.isdigit() or int(text) < 1:
        raise InvalidRequest(f"Invalid model version {value!r}: versions are positive integers such as 3.")
    return str(int(text))
