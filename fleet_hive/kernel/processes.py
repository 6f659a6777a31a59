"""Child processes: the only module of fleet-hive that imports ``subprocess`` and ``signal``.

A child run with a time limit gets its own process group, so that stopping it also stops
whatever it started (a shell's children would otherwise outlive it and keep its pipes
open). A child without one stays in ours: it shares the terminal, and Ctrl-C reaches it as
it would reach a hook git runs.
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import BinaryIO

#: A started child (for the types of modules that must not import ``subprocess``).
Process = subprocess.Popen[bytes]

#: Seconds a stopped process group gets between SIGTERM and SIGKILL.
GRACE = 2.0


@dataclass(frozen=True)
class Completed:
    """How a child ended. ``stdout``/``stderr`` are None unless captured."""

    returncode: int  # negative: killed by that signal
    stdout: bytes | None = None
    stderr: bytes | None = None
    timed_out: bool = False

    @property
    def status(self) -> int:
        """The exit status as a shell reports it (128 + N for a death by signal N)."""
        return 128 - self.returncode if self.returncode < 0 else self.returncode


def spawn(argv: Sequence[str], *, env: Mapping[str, str] | None = None,
          cwd: str | os.PathLike[str] | None = None, stdin: int | None = None,
          stdout: int | None = None, stderr: int | None = None,
          ) -> subprocess.Popen[bytes]:
    """Start ``argv`` in a process group of its own (:func:`stop` ends all of it)."""
    return subprocess.Popen(list(argv), env=None if env is None else dict(env), cwd=cwd,
                            stdin=stdin, stdout=stdout, stderr=stderr,
                            start_new_session=True)


def stop(proc: subprocess.Popen[bytes], *, grace: float = GRACE) -> int:
    """End ``proc``'s process group: SIGTERM, then SIGKILL after ``grace`` seconds."""
    for sig, wait in ((signal.SIGTERM, grace), (signal.SIGKILL, None)):
        try:
            os.killpg(proc.pid, sig)
        except (ProcessLookupError, PermissionError):
            break  # the group is gone (or was never ours to signal)
        try:
            return proc.wait(wait)
        except subprocess.TimeoutExpired:
            continue
    return proc.wait()


def run(argv: Sequence[str], *, input: bytes | None = None, timeout: float | None = None,
        env: Mapping[str, str] | None = None, cwd: str | os.PathLike[str] | None = None,
        capture: bool = False) -> Completed:
    """Run ``argv`` to its end. Without ``input`` the child reads our stdin; without
    ``capture`` it writes to our stdout and stderr. Past ``timeout`` seconds its process
    group is stopped and the result says ``timed_out``. Raises ``OSError`` when it cannot
    be started (``ENOEXEC``: not a program)."""
    pipe = subprocess.PIPE if capture else None
    if timeout is None:
        done = subprocess.run(list(argv), input=input, stdout=pipe, stderr=pipe, check=False,
                              env=None if env is None else dict(env), cwd=cwd)
        return Completed(done.returncode, done.stdout, done.stderr)
    proc = spawn(argv, env=env, cwd=cwd, stdin=subprocess.PIPE if input is not None else None,
                 stdout=pipe, stderr=pipe)
    try:
        out, err = proc.communicate(input, timeout=timeout)
    except subprocess.TimeoutExpired:
        code = stop(proc)
        out, err = proc.communicate()
        return Completed(code, out, err, timed_out=True)
    return Completed(proc.returncode, out, err)


# -- agent process groups (dispatch) -------------------------------------------------------
# An agent runs through the shell in a session (and so a process group) of its own, its
# stdin a file (a prompt never blocks the dispatcher) and its output on pipes the
# dispatcher drains. Everything it starts stays in its group unless it leaves on purpose
# (setsid), so ending the group ends its grandchildren too.


def start_group(command: str, *, env: Mapping[str, str], cwd: str | os.PathLike[str],
                stdin_path: str | os.PathLike[str]) -> subprocess.Popen[bytes]:
    """Run ``command`` through ``/bin/sh -c`` in a new session; stdout and stderr are
    non-blocking pipes. Raises ``OSError`` when it cannot be started."""
    with open(stdin_path, "rb") as stdin:
        proc = subprocess.Popen(["/bin/sh", "-c", command], env=dict(env), cwd=cwd,
                                stdin=stdin, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                                start_new_session=True, close_fds=True)
    for pipe in (proc.stdout, proc.stderr):
        if pipe is not None:
            os.set_blocking(pipe.fileno(), False)
    return proc


def exit_handle(proc: subprocess.Popen[bytes]) -> int | None:
    """A file descriptor that becomes readable when ``proc`` exits (a Linux pidfd), or
    None where there is none (the caller polls)."""
    opener = getattr(os, "pidfd_open", None)
    if opener is None:
        return None
    try:
        fd: int = opener(proc.pid)
    except OSError:
        return None
    return fd


def wait_readable(fds: Sequence[int], timeout: float) -> list[int]:
    """The descriptors of ``fds`` readable within ``timeout`` seconds (``[]`` if none);
    through ``poll(2)``, since ``select(2)`` refuses descriptors above 1023 (a dispatcher
    of many agents, or a process with many files open, has them). A descriptor that hung
    up or failed counts as readable: reading it says what happened."""
    import select

    if not fds:
        if timeout > 0:
            import time

            time.sleep(timeout)
        return []
    poller = select.poll()
    for fd in fds:
        poller.register(fd, select.POLLIN | select.POLLPRI)
    try:
        events = poller.poll(max(0.0, timeout) * 1000)
    except InterruptedError:
        return []
    return [fd for fd, _ in events]


def signal_group(pgid: int, sig: str) -> bool:
    """Send ``sig`` (``"TERM"``, ``"KILL"`` or ``"0"``: only look) to process group
    ``pgid``; False when no process of that group is left."""
    number = 0 if sig == "0" else getattr(signal, f"SIG{sig}")
    try:
        os.killpg(pgid, number)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True  # it exists, and is not ours to signal
    return True


def group_alive(pgid: int) -> bool:
    """Whether any process of group ``pgid`` is left (zombies count until reaped)."""
    return signal_group(pgid, "0")


def stop_groups(pgids: Sequence[int], *, grace: float = GRACE,
                reap: Sequence[subprocess.Popen[bytes]] = ()) -> list[int]:
    """End every group of ``pgids``: SIGTERM, then SIGKILL to what is left after
    ``grace`` seconds; ``reap`` are our own children among them (waited for, so they
    leave no zombie). Returns the groups that had to be killed."""
    import time

    alive = [g for g in pgids if signal_group(g, "TERM")]
    deadline = time.monotonic() + grace
    while alive and time.monotonic() < deadline:
        for proc in reap:
            proc.poll()
        alive = [g for g in alive if group_alive(g)]
        if alive:
            time.sleep(0.02)
    killed = [g for g in alive if signal_group(g, "KILL")]
    end = time.monotonic() + 5.0
    for proc in reap:
        with contextlib.suppress(subprocess.TimeoutExpired):
            proc.wait(max(0.0, end - time.monotonic()))
    while killed and time.monotonic() < end and any(group_alive(g) for g in killed):
        time.sleep(0.01)
    return killed


class Terminated(BaseException):
    """This process was asked to stop (SIGTERM, SIGHUP): raised in the main thread so
    ``finally`` blocks run and stop the process groups it owns (like Ctrl-C)."""


class stop_signals_raise:
    """Within this context SIGTERM and SIGHUP raise :class:`Terminated` in the main
    thread (SIGINT stays KeyboardInterrupt); the previous handlers come back after."""

    _SIGNALS = ("SIGTERM", "SIGHUP")

    def __init__(self) -> None:
        self._old: dict[int, object] = {}

    def __enter__(self) -> stop_signals_raise:
        import threading

        if threading.current_thread() is not threading.main_thread():
            return self

        def handler(number: int, _frame: object) -> None:
            raise Terminated(signal.Signals(number).name)

        for name in self._SIGNALS:
            number = getattr(signal, name, None)
            if number is not None:
                self._old[number] = signal.signal(number, handler)
        return self

    def __exit__(self, *_: object) -> None:
        for number, old in self._old.items():
            signal.signal(number, old)  # type: ignore[arg-type]
        self._old.clear()
def run_stamped(argv: Sequence[str], out: BinaryIO, stamp: Callable[[], str], *,
                env: Mapping[str, str] | None = None) -> int:
    """Run ``argv`` in this process group, its stdout and stderr written to ``out`` line by
    line, each line prefixed with ``stamp()`` and a space; returns its exit status (as
    :attr:`Completed.status`). SIGTERM, SIGINT and SIGHUP do not end this process (a
    stop signals the whole group: the child gets it, and this one writes to the end)."""
    for sig in (signal.SIGTERM, signal.SIGINT, signal.SIGHUP):
        signal.signal(sig, lambda *_: None)  # a handler, not SIG_IGN: exec resets it
    proc = subprocess.Popen(list(argv), stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                            stderr=subprocess.STDOUT, env=None if env is None else dict(env))
    assert proc.stdout is not None
    for line in iter(proc.stdout.readline, b""):
        out.write(f"{stamp()} ".encode() + line.rstrip(b"\r\n") + b"\n")
        out.flush()
    return Completed(proc.wait()).status


def signal_name(status: int) -> str | None:
    """``SIGKILL`` for a shell exit status of 137, None for a status that is no signal."""
    if status <= 128:
        return None
    try:
        return signal.Signals(status - 128).name
    except ValueError:
        return None


def stop_group(pgid: int, gone: Callable[[], bool], *, grace: float = GRACE,
               poll: float = 0.05) -> str:
    """End the process group ``pgid`` that another process started: SIGTERM, then SIGKILL
    once ``grace`` seconds pass without ``gone()``. Returns ``terminated``, ``killed``,
    or ``gone`` (nothing was left to signal)."""
    import time

    for sig, outcome in ((signal.SIGTERM, "terminated"), (signal.SIGKILL, "killed")):
        try:
            os.killpg(pgid, sig)
        except ProcessLookupError:
            return "gone" if sig == signal.SIGTERM else "terminated"
        deadline = time.monotonic() + (grace if sig == signal.SIGTERM else max(grace, 5.0))
        while time.monotonic() < deadline:
            if gone():
                return outcome
            time.sleep(poll)
    return "killed"
