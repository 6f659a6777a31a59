"""Child processes: the only module of fleet-hive that imports ``subprocess`` and ``signal``.

A child run with a time limit gets its own process group, so that stopping it also stops
whatever it started (a shell's children would otherwise outlive it and keep its pipes
open). A child without one stays in ours: it shares the terminal, and Ctrl-C reaches it as
it would reach a hook git runs.
"""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

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
