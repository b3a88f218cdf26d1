"""The one rule for transmission ids (no torch: the client checks ids the services return with it too)."""

from __future__ import annotations

import re

ID_RULE = "1-64 characters of A-Z a-z 0-9 _ . - (ASCII)"
_ID = re.compile(r"[A-Za-z0-9_.-]{1,64}")


def id_ok(tid: str) -> bool:
    """Whether `tid` is a transmission id: ids name result files and client outputs, so nothing else is."""
    return _ID.fullmatch(tid) is not None and tid not in (".", "..")


def check_id(tid: str) -> str:
    """`tid`, or ValueError with the rule and (a printable cut of) the offending id."""
    if not id_ok(tid):
        shown = ascii(tid[:80]) + ("..." if len(tid) > 80 else "")
        raise ValueError(f"transmission id {shown} is not allowed: an id is {ID_RULE}")
    return tid
