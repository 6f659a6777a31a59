"""The ``fleet-hive`` command line: thin commands over :class:`fleet_hive.app.hive.Hive`.

Only this package imports click, and only when it must. Command groups live in their own
modules, imported only when invoked. The hot commands are declared with :mod:`.spec`
(plain data, no click) and an ordinary invocation of one is parsed by :mod:`.fast`, so
``fleet-hive ready --json`` never imports click; everything else (``--help``, errors,
commands written as plain click modules) goes to the click app in :mod:`.clickapp`.
``COMMANDS`` maps names to either kind.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any

    from ..app.hive import Hive
    from .clickapp import LazyGroup, cli, json_option, pass_ctx

__all__ = ["COMMANDS", "Ctx", "LazyGroup", "cli", "json_option", "main", "pass_ctx"]

#: command name -> "module:attribute" (relative to this package), loaded on use.
COMMANDS: dict[str, str] = {
    "init": "basic:init_cmd",
    "events": "events:events",
    "index": "basic:index",
    "verify": "basic:verify_cmd",
    "demo": "basic:demo_cmd",
    "lock": "locks:lock",
    "mission": "missions:mission",
    "sortie": "missions:sortie",
    "ready": "missions:ready_cmd",
    "status": "status:status_cmd",
    "commit": "gitcmds:commit_cmd",
    "sync": "gitcmds:sync_cmd",
    "history": "gitcmds:history_cmd",
    "hooks": "gitcmds:hooks",
    "recover": "recovery:recover_cmd",
    "context": "recovery:context_cmd",
    "checkpoint": "checkpoints:checkpoint",
    "decompose": "planning:decompose_cmd",
    "plan": "planning:plan",
    "dispatch": "dispatch:dispatch_cmd",
    "mail": "mail:mail",
    "specialist": "specialists:specialist",
    "learn": "learning:learn",
    "serve": "server:serve_cmd",
    "mcp": "mcp:mcp_cmd",
    "services": "services:services",
}


class Ctx:
    """What every command needs, resolved once: where, who, and how to print."""

    def __init__(self, cwd: str | os.PathLike[str], actor: str | None,
                 json: bool = False) -> None:
        self.cwd = cwd  # absolute (a string on the fast path: no pathlib)
        self.actor = actor
        self.json = json
        #: The command reports the log's integrity itself (``verify``): no warning at exit.
        self.reports_integrity = False
        self._hive: Hive | None = None

    def hive(self) -> Hive:
        if self._hive is None:
            from ..app.hive import open as open_hive
            from .output import info

            self._hive = open_hive(self.cwd, actor=self.actor)
            self._hive.notice = lambda text: info(f"fleet-hive: {text}")
        return self._hive


def __getattr__(name: str) -> Any:
    """``cli`` (the click app), ``json_option``, ``pass_ctx`` and ``LazyGroup`` for plain
    click command modules and tests: importing one of them imports click."""
    if name in ("cli", "json_option", "pass_ctx", "LazyGroup"):
        from . import clickapp

        return getattr(clickapp, name)
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def main(argv: list[str] | None = None) -> None:
    """Run one command and exit with its code (``spec/cli.md``).

    As the program itself (the ``fleet-hive`` script, ``python -m fleet_hive``) it leaves
    with ``os._exit`` once everything is flushed and closed, skipping the interpreter's
    teardown; called from Python (tests, ``main([...])``) it raises ``SystemExit``."""
    from .output import run

    program = argv is None and _called_as_program()
    if program:
        import gc

        # Start-up allocates many objects (imports, schemas) and frees few: collect less
        # often than every 700 (a few ms on writes, near the noise; gc.freeze() gained
        # nothing). A long command (events follow, index rebuild) still collects.
        gc.set_threshold(100_000, 20, 100)
    args = sys.argv[1:] if argv is None else argv
    ctx_obj = Ctx(os.getcwd(), None)

    def invoke() -> Any:
        from . import fast, spec

        call = fast.plan(args, ctx_obj)
        if call is not None:
            try:
                return call()
            except spec.UsageError:
                if ctx_obj._hive is not None:
                    raise RuntimeError("a usage error after the hive was opened") from None
                # click says it, with the usage line: the body runs again, up to the check
        from .clickapp import invoke as click_invoke

        return click_invoke(args, ctx_obj)

    code = run(invoke, args, on_crash=lambda e, text: ctx_obj._hive is not None
               and ctx_obj._hive.checkpoints.on_exception(e, text))
    hive = ctx_obj._hive
    if hive is not None:
        from .output import warn

        if "uow" in hive.__dict__:  # the command wrote: say what fell behind, if anything
            hive.uow.settle()  # its snapshots, once the writer lock is free
            for problem in hive.uow.warnings:
                warn(problem)
        if "index" in hive.__dict__ and hive.index.opened and not ctx_obj.reports_integrity:
            from ..app.status import index_warnings

            for notice in index_warnings(hive.index):
                warn(notice)
        # Closed even before os._exit: the index's close checkpoints its WAL, which the
        # next process would otherwise replay; skipping it measured no CPU gain.
        hive.close()
    if program:
        _exit(code)
    sys.exit(code)


def _called_as_program() -> bool:
    """Whether ``main()`` was called by the program's own ``__main__`` (the console script
    or ``fleet_hive/__main__.py`` run by ``python -m``), not from a test or a library."""
    main_module = sys.modules.get("__main__")
    caller = sys._getframe(2).f_globals
    return main_module is not None and caller is vars(main_module)


def _exit(code: int) -> None:
    """Flush what is buffered and leave without the interpreter's teardown (which only
    frees memory the kernel frees anyway: every file and lock was closed above)."""
    for stream in (sys.stdout, sys.stderr):
        try:
            stream.flush()
        except BrokenPipeError:  # the reader went away: what teardown would do
            os.dup2(os.open(os.devnull, os.O_WRONLY), stream.fileno())
            code = 120
        except (OSError, ValueError, AttributeError):
            pass  # a stream already closed or replaced: nothing left to flush
    os._exit(code)
