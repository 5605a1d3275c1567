"""``--nice``: a campaign in the background takes only the CPU that nothing else wants.

``os.nice`` alone does not achieve that on Linux with autogroup scheduling (``/proc/sys/kernel/sched_autogroup_enabled``,
the default of most distributions): the CPU is shared fairly between sessions first, so a niced process in its own
session still takes its half of a 2-core machine from a test run in another terminal. The session's autogroup
carries its own niceness, which this process sets when it leads its session (started with ``setsid``); otherwise
it would lower the terminal's whole session, so it says how to start it instead, unless the session's autogroup is
already as low (a queue script started with ``setsid`` that lowered it for the builds it runs).
"""

from __future__ import annotations

import os
from pathlib import Path

AUTOGROUP_SWITCH = Path("/proc/sys/kernel/sched_autogroup_enabled")
AUTOGROUP = Path("/proc/self/autogroup")


def lower_priority(niceness: int) -> str | None:
    """Lower this process's CPU priority by ``niceness`` (and its session's autogroup's, when it leads the session);
    returns a one-line note when autogroup scheduling keeps the lower priority from reaching other sessions."""
    os.nice(niceness)
    try:
        autogroup_on = AUTOGROUP_SWITCH.read_text().strip() == "1"
    except OSError:  # not Linux, or no autogroup support: plain nice is the whole story
        return None
    if not autogroup_on:
        return None
    if _autogroup_niceness() >= niceness:
        return None
    if os.getsid(0) == os.getpid():
        try:
            AUTOGROUP.write_text(str(niceness))
            return None
        except OSError as err:
            return f"--nice {niceness}: could not lower this session's autogroup ({err}); other sessions still share the CPU fairly with it"
    return (f"--nice {niceness}: autogroup scheduling is on, so this lowers the priority only against processes of this "
            "terminal session; start the campaign with `setsid` to leave the CPU to the other sessions too")


def _autogroup_niceness() -> int:
    """The niceness of this process's autogroup (``/autogroup-42 nice 19``); 0 when unreadable or in the root group."""
    try:
        fields = AUTOGROUP.read_text().split()
    except OSError:
        return 0
    return int(fields[-1]) if len(fields) == 3 and fields[1] == "nice" else 0
