"""How deep a JSON request may nest, checked before parsing: one limit for every door (REST and the daemon).

A small body of nested brackets costs a parser, and every later step, a walk as deep as it is; no request of ours
needs more than a few levels (tensors a few more), so bodies nested deeper than ``MAX_JSON_DEPTH`` are refused with
a 400 before anything parses them.
"""

from __future__ import annotations

import re

MAX_JSON_DEPTH = 32
# Structure of a JSON body in one C call: every byte but [ ] { } " \\ deleted, braces made brackets (same depth).
_NOT_STRUCTURE = bytes(b for b in range(256) if b not in b'[]{}"\\')
_AS_BRACKETS = bytes.maketrans(b"{}", b"[]")
_JSON_STRING = re.compile(rb'"(?:[^"\\]|\\.)*"')


def nested_deeper_than(body: bytes, limit: int = MAX_JSON_DEPTH) -> bool:
    """True when the JSON ``body`` nests arrays/objects more than ``limit`` levels deep (strings do not count).

    Cheap on the hot path, all in C: a body with at most ``limit`` opening brackets cannot be too deep. Otherwise
    its bracket structure is extracted (strings dropped) and each pass of ``replace(b"[]", b"")`` removes exactly
    the innermost level, so ``limit`` passes leave a pair only in a deeper body. Invalid JSON is left to the parser.
    """
    if body.count(b"[") + body.count(b"{") <= limit:
        return False
    structure = body.translate(_AS_BRACKETS, _NOT_STRUCTURE)
    if b'"' in structure:
        structure = _JSON_STRING.sub(b"", structure)
    for _ in range(limit):
        reduced = structure.replace(b"[]", b"")
        if len(reduced) == len(structure):
            return False
        structure = reduced
    return b"[]" in structure


def depth_message(limit: int = MAX_JSON_DEPTH) -> str:
    """The 400 message of a body nested too deep."""
    return f"The JSON body is nested more than {limit} levels deep; no request needs that many. Send a flatter body."
