"""Planning helpers: small real repositories with history, and a fake LLM command.

The fake LLM is a real script run through the shell, as any LLM command-line client
would be: it reads the prompt from stdin, saves it (``prompt-1.txt``, ``prompt-2.txt``,
... in its state directory), and answers the scripted answer for that call: text on
stdout, an exit status, or a hang.
"""

from __future__ import annotations

import json
import shlex
import sys
from pathlib import Path
from typing import Any

from . import git

FAKE_LLM = r'''
import json, sys, time
from pathlib import Path

state = Path(sys.argv[1])
prompt = sys.stdin.read()
calls = len(list(state.glob("prompt-*.txt"))) + 1
(state / f"prompt-{calls}.txt").write_text(prompt)
answers = json.loads((state / "answers.json").read_text())
answer = answers[min(calls, len(answers)) - 1]
if answer.get("sleep"):
    time.sleep(answer["sleep"])
sys.stderr.write(answer.get("stderr", ""))
sys.stdout.write(answer.get("stdout", ""))
sys.exit(answer.get("exit", 0))
'''


class FakeLLM:
    """A scripted LLM command in ``state``; ``answers``: per call, a plan (dict), raw text
    (str), or ``{"stdout", "exit", "stderr", "sleep"}``; the last one repeats."""

    def __init__(self, state: Path, answers: list[Any]) -> None:
        state.mkdir(parents=True, exist_ok=True)
        self.state = state
        script = state / "fake_llm.py"
        script.write_text(FAKE_LLM)
        scripted = []
        for a in answers:
            if isinstance(a, str):
                scripted.append({"stdout": a})
            elif isinstance(a, dict) and "sorties" in a:
                scripted.append({"stdout": json.dumps(a)})
            else:
                scripted.append(a)
        (state / "answers.json").write_text(json.dumps(scripted))
        self.command = f"{shlex.quote(sys.executable)} {shlex.quote(str(script))} " \
                       f"{shlex.quote(str(state))}"

    @property
    def planner(self) -> str:
        return f"cmd:{self.command}"

    def prompts(self) -> list[str]:
        found = sorted(self.state.glob("prompt-*.txt"), key=lambda p: int(p.stem[7:]))
        return [p.read_text() for p in found]


def plan(*sorties: dict[str, Any], strategy: str = "feature", title: str = "a plan",
         ) -> dict[str, Any]:
    return {"title": title, "strategy": strategy, "sorties": list(sorties)}


def sortie(title: str, files: list[str] | None = None, depends_on: list[int] | None = None,
           **more: Any) -> dict[str, Any]:
    return {"title": title, "description": f"do {title}", "files": files or [],
            "depends_on": depends_on or [], **more}


def write_files(repo: Path, files: dict[str, str]) -> None:
    for name, text in files.items():
        path = repo / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)


def commit(repo: Path, files: dict[str, str], message: str) -> None:
    write_files(repo, files)
    git(repo, "add", "--", *files)
    git(repo, "commit", "-q", "-m", message)


#: a small Python project: an auth package the api and the tests import, docs, billing
PROJECT_FILES = {
    "src/app/__init__.py": "",
    "src/app/auth/__init__.py": "",
    "src/app/auth/tokens.py": "import hashlib\n\n\ndef issue(user):\n    return user\n",
    "src/app/auth/sessions.py": "from . import tokens\n\n\ndef open_session(u):\n"
                                "    return tokens.issue(u)\n",
    "src/app/api/__init__.py": "",
    "src/app/api/routes.py": "from app.auth import tokens\nfrom app.billing import invoices\n",
    "src/app/api/views.py": "from app.auth.sessions import open_session\n",
    "src/app/billing/__init__.py": "",
    "src/app/billing/invoices.py": "from app.auth import tokens\n\n\nTOTAL = 0\n",
    "tests/test_auth.py": "from app.auth import tokens\n",
    "tests/test_billing.py": "from app.billing import invoices\n",
    "docs/auth.md": "# Auth\n",
    "docs/billing.md": "# Billing\n",
}


def python_project(repo: Path, *, history: bool = True) -> None:
    """Commit :data:`PROJECT_FILES` into ``repo``; with ``history``, then many commits
    that keep changing ``src/app/auth/tokens.py`` (churn) and make it large."""
    commit(repo, PROJECT_FILES, "project")
    if history:
        for k in range(1, 9):
            body = PROJECT_FILES["src/app/auth/tokens.py"] + "".join(
                f"\n\ndef helper_{j}(x):\n    return x + {j}\n" for j in range(k * 20))
            commit(repo, {"src/app/auth/tokens.py": body}, f"tokens {k}")
        commit(repo, {"docs/auth.md": "# Auth\n\nMore.\n"}, "docs")
