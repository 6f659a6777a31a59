"""Other systems doing the same job, measured in the same run as fleet-hive.

Each peer is a small project of its own in this directory, its version pinned by its own
lock file. It is installed into the run's work directory (never into the checkout) with
the machine's tools; where they are missing, or the install fails, the peer is not
measured and :class:`PeerUnavailable` says why (the benchmark prints that instead of a
number).

* ``swarm-mail/``: SwarmTools' event store (npm ``swarm-mail``: libSQL in WAL mode), one
  ``appendEvent`` at a time, as fleet-hive's durable single append.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
#: An install downloads ~130 MB the first time (npm keeps them in its cache after).
INSTALL_TIMEOUT = 600


class PeerUnavailable(Exception):
    """The peer could not be measured here (the reason is the message)."""


def swarm_mail_appends(workdir: Path, count: int) -> dict[str, Any]:
    """``count`` swarm-mail appends, after a warm-up: ``appends_per_s``,
    ``latencies_ms``, ``open_ms``, ``version``. PeerUnavailable without node and npm, or
    when the install or the run fails."""
    node, npm = shutil.which("node"), shutil.which("npm")
    if node is None or npm is None:
        raise PeerUnavailable("node and npm are not installed")
    project = workdir / "swarm-mail"
    project.mkdir(parents=True, exist_ok=True)
    for name in ("package.json", "package-lock.json", "append.mjs"):
        shutil.copy2(HERE / "swarm-mail" / name, project / name)
    home = project / "home"  # swarm-mail's one database lives under $HOME/.config
    home.mkdir(exist_ok=True)
    # npm's download cache stays the user's (a second run installs from it)
    env = {**os.environ, "HOME": str(home),
           "NPM_CONFIG_CACHE": os.environ.get("NPM_CONFIG_CACHE", str(Path.home() / ".npm"))}
    _run([npm, "ci", "--no-audit", "--no-fund", "--loglevel=error"], project, env,
         INSTALL_TIMEOUT, "npm ci")
    data = project / "data"
    data.mkdir(exist_ok=True)
    out = _run([node, "append.mjs", str(data), str(count)], project, env,
               max(120, count // 10), "node append.mjs")
    try:
        result: dict[str, Any] = json.loads(out.strip().splitlines()[-1])
    except (ValueError, IndexError) as e:
        raise PeerUnavailable(f"swarm-mail printed no result: {out[-300:]!r}") from e
    lock = json.loads((project / "package-lock.json").read_text(encoding="utf-8"))
    result["version"] = lock["packages"]["node_modules/swarm-mail"]["version"]
    result["node"] = subprocess.run([node, "--version"], capture_output=True, text=True,
                                    check=False).stdout.strip()
    return result


def _run(argv: list[str], cwd: Path, env: dict[str, str], timeout: float, what: str) -> str:
    try:
        done = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True,
                              timeout=timeout, check=False)
    except subprocess.TimeoutExpired as e:
        raise PeerUnavailable(f"{what} took over {timeout:.0f} s") from e
    except OSError as e:
        raise PeerUnavailable(f"{what} could not start: {e}") from e
    if done.returncode != 0:
        tail = (done.stderr or done.stdout).strip().splitlines()[-3:]
        raise PeerUnavailable(f"{what} failed ({done.returncode}): {' / '.join(tail)}")
    return done.stdout
