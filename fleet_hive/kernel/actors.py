"""Who acts: a name, or a way to find it that is asked only when a write needs it.

Finding the default actor reads git's config (:func:`fleet_hive.app.hive.default_actor`,
:func:`git_user_name`); the capabilities take :data:`Actor` so that a read never pays for it.
"""

from __future__ import annotations

import os
from collections.abc import Callable

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TypeAlias

Actor: TypeAlias = "str | Callable[[], str]"


def actor_name(actor: Actor) -> str:
    """The name ``actor`` gives (calling it when it is a way to find one)."""
    return actor() if callable(actor) else actor


def git_user_name(root: str | os.PathLike[str], home: str | None = None) -> str:
    """``user.name`` as git would find it for the repository at ``root``: its own config
    (a linked worktree's is its main repository's), then ``~/.gitconfig``, then
    ``$XDG_CONFIG_HOME/git/config``; "" when none names the user. (``include`` and
    ``includeIf`` are not followed.)"""
    home = os.path.expanduser("~") if home is None else home
    xdg = os.environ.get("XDG_CONFIG_HOME") or os.path.join(home, ".config")
    for path in (_repository_config(os.fspath(root)), os.path.join(home, ".gitconfig"),
                 os.path.join(xdg, "git", "config")):
        try:
            with open(path, encoding="utf-8") as f:
                name = git_config_value(f.read(), "user", "name")
        except (OSError, UnicodeDecodeError):
            continue
        if name and name.strip():
            return name.strip()
    return ""


def _repository_config(root: str) -> str:
    dot_git = os.path.join(root, ".git")
    if os.path.isfile(dot_git):  # a linked worktree: "gitdir: <main>/.git/worktrees/<name>"
        try:
            with open(dot_git, encoding="utf-8") as f:
                first = f.readline().strip()
        except (OSError, UnicodeDecodeError):
            return dot_git
        if first.startswith("gitdir:"):
            gitdir = os.path.join(root, first[len("gitdir:"):].strip())
            try:
                with open(os.path.join(gitdir, "commondir"), encoding="utf-8") as f:
                    gitdir = os.path.join(gitdir, f.read().strip())
            except OSError:
                pass  # no commondir: the gitdir is the repository itself
            dot_git = gitdir
    return os.path.join(dot_git, "config")


def git_config_value(text: str, section: str, key: str) -> str | None:
    """The last value of ``section.key`` (a section without subsection) in the text of
    one git config file, as git reads it: names are case-insensitive, ``#`` and ``;``
    start a comment outside double quotes, quotes group, ``\\``, ``\\"``, ``\\n``,
    ``\\t`` and ``\\b`` are escapes, a final backslash continues the line, and a key with no
    ``=`` is ``"true"``. None when the file does not set it."""
    current: str | None = None
    found: str | None = None
    lines = iter(text.splitlines())
    for raw in lines:
        line = raw.strip()
        if line.startswith("["):
            end = line.find("]")
            current = line[1:end].strip().lower() if end > 0 else None
            line = line[end + 1:].strip() if end > 0 else ""
        if current != section or not line or line[0] in "#;":
            continue
        name, eq, value = line.partition("=")
        if name.strip().lower() != key:
            continue
        while _continued(value):
            value = value[:-1] + next(lines, "")
        found = _config_value(value) if eq else "true"
    return found


def _continued(value: str) -> bool:
    trailing = len(value) - len(value.rstrip("\\"))
    return trailing % 2 == 1


_ESCAPES = {"n": "\n", "t": "\t", "b": "\b"}


def _config_value(raw: str) -> str:
    out: list[str] = []
    quoted = False
    kept = 0  # how much of ``out`` stays: whitespace outside quotes at the end does not
    chars = iter(raw.strip())
    for c in chars:
        if c == '"':
            quoted = not quoted
            continue
        if c == "\\":
            out.append(_ESCAPES.get(escaped := next(chars, ""), escaped))
        elif c in "#;" and not quoted:
            break
        else:
            out.append(c)
        if quoted or c not in " \t":
            kept = len(out)
    return "".join(out[:kept])
