"""Who runs this process, and whether a process recorded earlier still runs.

Light on purpose (no ``subprocess``): a wait record names its process with
:func:`current`, and any process on the same host can tell later that it died.
"""

from __future__ import annotations

import os

from .plain import Frozen, setfield


def pid_gone(pid: int) -> bool:
    """Whether no process with ``pid`` exists on this host (one we may not signal exists)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


class ProcessId(Frozen):
    """A process as other processes can recognise it later: its ``pid`` on ``host``, and
    its start time (clock ticks since boot, Linux only) so a reused pid is not taken for
    it. ``host`` is the host name and the kernel's boot id: a pid from before a reboot,
    or from another machine, is never checked against this machine's processes."""

    __slots__ = _fields = ("pid", "host", "start")
    pid: int
    host: str
    start: int | None

    def __init__(self, pid: int, host: str, start: int | None = None) -> None:
        setfield(self, "pid", pid)
        setfield(self, "host", host)
        setfield(self, "start", start)


def _stat(pid: int) -> tuple[bytes, int] | None:
    """(state, start time) from ``/proc/<pid>/stat`` (fields 3 and 22), None without it."""
    try:
        with open(f"/proc/{pid}/stat", "rb") as f:
            stat = f.read()
        fields = stat[stat.rindex(b")") + 2:].split()
        return fields[0], int(fields[19])
    except (OSError, ValueError, IndexError):
        return None


def _start_ticks(pid: int) -> int | None:
    found = _stat(pid)
    return None if found is None else found[1]


def this_host() -> str:
    import socket

    boot = ""
    try:
        with open("/proc/sys/kernel/random/boot_id", encoding="ascii") as f:
            boot = f.read().strip()
    except OSError:
        boot = ""  # no boot id (not Linux): the host name alone
    return f"{socket.gethostname()}/{boot}" if boot else socket.gethostname()


def current() -> ProcessId:
    """This process."""
    pid = os.getpid()
    return ProcessId(pid, this_host(), _start_ticks(pid))


def is_running(proc: ProcessId, host: str) -> bool | None:
    """Whether ``proc`` still runs: True or False when it ran on ``host`` (this machine),
    None when that cannot be known here (another host)."""
    if proc.host != host:
        return None
    try:
        os.kill(proc.pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass  # it exists, under another user
    found = _stat(proc.pid)
    if found is not None:
        state, start = found
        if state == b"Z":
            return False  # killed, not yet reaped by its parent
        if proc.start is not None and start != proc.start:
            return False  # the pid was reused by another process
    return True


def process(pid: int) -> ProcessId:
    """The process ``pid`` of this host as others can recognise it later (a pid file)."""
    return ProcessId(pid, this_host(), _start_ticks(pid))
