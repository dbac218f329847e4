"""Names for lease holders, and telling which holders on this host have died.

Inbox rows and outbox entries are leased by a process while it works on them. The
holder's name carries its host and pid, so a process starting on the same host can see
that a holder was killed (kill -9) and free its leases at once instead of waiting for
them to lapse.
"""

from __future__ import annotations

import os
import socket


def process_owner(instance: object) -> str:
    """A name for the lease holder: host, pid (to tell a dead process) and instance."""
    return f"{socket.gethostname()}:{os.getpid()}:{id(instance):x}"


def _process_exists(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, under another user
    return True


def is_dead_holder(owner: str, *, me: str) -> bool:
    """True when `owner` names a process on this host, other than `me`'s, that is gone."""
    owner_host, _, rest = owner.partition(":")
    pid_text = rest.partition(":")[0]
    if owner_host != socket.gethostname() or not pid_text.isdigit() or owner == me:
        return False
    return int(pid_text) != os.getpid() and not _process_exists(int(pid_text))
