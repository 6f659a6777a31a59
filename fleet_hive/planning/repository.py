"""What the strategies know of the repository: its tracked files, their sizes, the Python
import relations between them, and git churn.

Each part is computed on first use: the file list comes from ``.git/index`` read by hand
(``git ls-files`` without a process), churn from one ``git log --name-only`` (through
:mod:`fleet_hive.kernel.processes`), imports from the import statements of the Python
files asked about (cut out with a regular expression, then parsed with :mod:`ast`, so a
5,000-file repository is read in a fraction of a second).
"""

from __future__ import annotations

import ast
import os
import re
from collections.abc import Iterable, Sequence
from functools import cached_property
from pathlib import Path

from ..kernel.globs import GlobError, matches

#: commits of history the churn counts at most
CHURN_COMMITS = 1000
_IMPORTS = re.compile(rb"^[ \t]*(?:from[ \t]+[.\w]+[ \t]+import[ \t]+(?:\([^)]*\)|[^\n]*)"
                      rb"|import[ \t]+[^\n]*)", re.MULTILINE)
#: files bigger than this are not read for imports (generated code, data)
MAX_READ = 512 * 1024


class Repository:
    """One repository's structure, for planning. ``git_dir`` is its git directory
    (default ``root/.git``; a worktree's is elsewhere); ``files`` replaces the git index's
    list (tests, plans over a subset)."""

    def __init__(self, root: Path, files: Sequence[str] | None = None, *,
                 git_dir: Path | None = None) -> None:
        self.root = Path(root)
        self._git_dir = Path(git_dir) if git_dir is not None else self.root / ".git"
        self._base = str(self.root)
        self._given = None if files is None else list(files)
        self._imports: dict[str, set[str]] = {}

    @cached_property
    def files(self) -> list[str]:
        """Tracked files (stage 0 and conflicted alike, once each), sorted, without
        ``.fleet/``."""
        if self._given is not None:
            return sorted(self._given)
        from ..git.index_file import IndexFile
        from ..kernel.errors import FleetHiveError

        try:
            raw = IndexFile.read(self._git_dir / "index").names
        except FleetHiveError:  # an index this reader refuses (split, sparse): ask git
            raw = self._ls_files()
        names = sorted({n.decode("utf-8", "replace") for n in raw})
        return [n for n in names if not n.startswith(".fleet/")]

    def _ls_files(self) -> list[bytes]:
        from ..kernel.processes import run

        try:
            done = run(["git", "-C", str(self.root), "ls-files", "-z"], capture=True,
                       timeout=60, input=b"")
        except OSError:
            return []
        if done.returncode != 0 or done.stdout is None:
            return []
        return [n for n in done.stdout.split(b"\0") if n]

    def scoped(self, globs: Sequence[str]) -> list[str]:
        """The files matched by any of ``globs`` (all files without globs)."""
        if not globs:
            return self.files
        out = []
        for path in self.files:
            try:
                if any(matches(g, path) for g in globs):
                    out.append(path)
            except GlobError:
                continue  # a tracked name the dialect cannot express: not in scope
        return out

    def size(self, path: str) -> int:
        try:
            return os.stat(os.path.join(self._base, path)).st_size
        except OSError:
            return 0

    @cached_property
    def churn(self) -> dict[str, int]:
        """Commits (of the last :data:`CHURN_COMMITS`, merges left out) touching each
        file; empty when git cannot say (no history, no git)."""
        from ..kernel.processes import run

        try:
            done = run(["git", "-C", str(self.root), "log", "--no-merges", "--format=",
                        "--name-only", f"-n{CHURN_COMMITS}", "--", "."],
                       capture=True, timeout=30, input=b"")
        except OSError:
            return {}
        if done.returncode != 0 or done.stdout is None:
            return {}
        counts: dict[str, int] = {}
        for line in done.stdout.decode("utf-8", "replace").splitlines():
            if line:
                counts[line] = counts.get(line, 0) + 1
        return counts

    @cached_property
    def _modules(self) -> dict[str, str]:
        """Dotted module name -> file, for every tracked Python file (a ``src/`` layout
        is known by both names)."""
        out: dict[str, str] = {}
        for path in self.files:
            if not path.endswith(".py"):
                continue
            parts = path[:-3].split("/")
            if parts[-1] == "__init__":
                parts.pop()
            if not parts:
                continue
            out.setdefault(".".join(parts), path)
            if parts[0] in ("src", "lib") and len(parts) > 1:
                out.setdefault(".".join(parts[1:]), path)
        return out

    def imports(self, paths: Iterable[str]) -> dict[str, set[str]]:
        """For each Python file of ``paths``: the tracked files it imports."""
        out: dict[str, set[str]] = {}
        for path in paths:
            if not path.endswith(".py"):
                continue
            found = self._imports.get(path)
            if found is None:
                found = {t for t in (self._resolve(path, name) for name in
                                     self._imported_names(path)) if t and t != path}
                self._imports[path] = found
            out[path] = found
        return out

    def _imported_names(self, path: str) -> list[tuple[int, str, list[str]]]:
        try:
            with open(os.path.join(self._base, path), "rb") as f:
                data = f.read(MAX_READ + 1)
        except OSError:
            return []
        if len(data) > MAX_READ:
            return []
        statements = [m.strip().decode("utf-8", "replace") for m in _IMPORTS.findall(data)]
        if not statements:
            return []
        try:  # all at once; one statement at a time only when one of them does not parse
            bodies = [ast.parse("\n".join(statements)).body]
        except SyntaxError:
            bodies = []
            for text in statements:
                try:
                    bodies.append(ast.parse(text).body)
                except SyntaxError:
                    continue
        found: list[tuple[int, str, list[str]]] = []
        for node in (n for body in bodies for n in body):
            if isinstance(node, ast.Import):
                found += [(0, a.name, []) for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                found.append((node.level, node.module or "", [a.name for a in node.names]))
        return found

    def _resolve(self, path: str, name: tuple[int, str, list[str]]) -> str | None:
        level, module, names = name
        modules = self._modules
        if level:
            package = path[:-3].split("/")[:-1]
            if path.endswith("__init__.py"):
                package = path.split("/")[:-1]
            base = package[: len(package) - level + 1] if level > 1 else package
            if not base and level > 1:
                return None
            dotted = ".".join([*base, *([module] if module else [])])
            # relative names resolve inside the file's own tree, src/ layout or not
            for candidate in ([f"{dotted}.{n}" for n in names] + [dotted]):
                if candidate in modules:
                    return modules[candidate]
            return None
        for candidate in ([f"{module}.{n}" for n in names] + [module]):
            if candidate in modules:
                return modules[candidate]
        return None

    def fan_in(self, paths: Iterable[str]) -> dict[str, int]:
        """How many of ``paths`` import each file."""
        counts: dict[str, int] = {}
        for targets in self.imports(paths).values():
            for t in targets:
                counts[t] = counts.get(t, 0) + 1
        return counts
