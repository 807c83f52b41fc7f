"""Who is writing: the default author of journal events, and one id per writer session.

Every event carries an author (design.md §3). When the caller names none, the author is the
operating-system user at this host (``ana@gpu-box``), so a shared store's history always says who
did what, and a dashboard's undo can find its own work.
"""

from __future__ import annotations

import getpass
import math
import os
import socket
import uuid

__all__ = ["default_author", "new_session_id", "normalise_author"]


def default_author() -> str:
    """The operating-system user and host, as ``user@host``.

    Falls back to ``uid<N>`` where the user has no name (containers without a passwd entry), and
    leaves the host out where it has none.
    """
    try:
        # LOGNAME / USER as a container or a CI job sets them may be empty or "nan"
        user = normalise_author(getpass.getuser())
    except (KeyError, OSError):  # no LOGNAME/USER and no passwd entry for the uid
        user = None
    if user is None:
        user = f"uid{os.getuid()}" if hasattr(os, "getuid") else "unknown"
    host = socket.gethostname().split(".")[0]
    return f"{user}@{host}" if host else user


def normalise_author(author: object) -> str | None:
    """``author`` as a clean string, or None where it names nobody (None, NaN, blank, "nan")."""
    if author is None or (isinstance(author, float) and math.isnan(author)):
        return None
    text = str(author).strip()
    if not text or text.lower() in ("nan", "none", "<na>"):
        return None
    return text


def new_session_id() -> str:
    """A fresh id for one writer session (a store handle, a dashboard)."""
    return uuid.uuid4().hex[:16]
