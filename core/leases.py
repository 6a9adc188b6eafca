"""Leases on long work (processing a recording, depositing a package): who holds one, and whether it is free.

A lease names its holder as host:pid:thread and lasts until a time the holder keeps pushing forward.
It is free once that time passed, or at once when its holder was a process of this host that no
longer exists (a worker killed with kill -9), so the next run takes the work over without waiting.
"""

from __future__ import annotations

import datetime as dt
import os
import socket
import threading


def lease_owner() -> str:
    """Who holds a lease: this host, process and thread."""
    return f"{socket.gethostname()}:{os.getpid()}:{threading.get_ident()}"


def lease_is_free(owner: str | None, until: dt.datetime | None, now: dt.datetime) -> bool:
    """An expired lease, or one held by a process of this host that no longer exists."""
    if until is None or until < now:
        return True
    host, _, rest = (owner or "").partition(":")
    pid_text = rest.split(":", 1)[0]
    if host != socket.gethostname() or not pid_text.isdigit():
        return False
    pid = int(pid_text)
    if pid == os.getpid():
        return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except PermissionError:
        return False
    return False
