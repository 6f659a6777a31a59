"""The default actor's name is read from git's config as git reads it (checked against
the git CLI on the same files), without configparser on the hot path."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

import pytest

from fleet_hive.kernel.actors import git_config_value, git_user_name

CONFIGS = {
    "plain": "[user]\n\tname = Ada Lovelace\n\temail = ada@example.com\n",
    "quoted": '[user]\n\tname = "Ada  Lovelace "\n',
    "comment": "[user]\n  name = Ada Lovelace   # the first programmer\n",
    "semicolon": "[user]\n  name = Ada ; a comment\n",
    "hash in quotes": '[user]\n  name = "Ada #1"\n',
    "escapes": '[user]\n  name = Ada \\"the\\" \\\\ Lovelace\n',
    "case": "[User]\n  NAME = Ada\n",
    "last wins": "[user]\n name = First\n[core]\n bare = false\n[user]\n name = Second\n",
    "subsection is another section": '[user "work"]\n name = Work\n[user]\n name = Home\n',
    "only a subsection": '[user "work"]\n name = Work\n',
    "continued": "[user]\n name = Ada \\\n Lovelace\n",
    "no spaces": "[user]\nname=Ada\n",
    "header and key on one line": "[user] name = Ada\n",
    "other keys only": "[user]\n email = a@example.com\n",
    "empty": "",
    "tab inside": "[user]\n name = Ada\\tL\n",
}


def _git_says(path: Path) -> str | None:
    out = subprocess.run(["git", "config", "--file", str(path), "user.name"],
                         capture_output=True, text=True)
    return out.stdout.rstrip("\n") if out.returncode == 0 else None


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_reads_user_name_as_git_does(tmp_path: Path, name: str) -> None:
    path = tmp_path / "config"
    path.write_text(CONFIGS[name], encoding="utf-8")
    expected = _git_says(path)
    assert git_config_value(CONFIGS[name], "user", "name") == expected


def test_a_key_without_a_value_is_true() -> None:
    assert git_config_value("[core]\n\tbare\n", "core", "bare") == "true"


def _repo(path: Path, name: str | None) -> Path:
    subprocess.run(["git", "init", "-q", str(path)], check=True)
    if name is not None:
        subprocess.run(["git", "-C", str(path), "config", "user.name", name], check=True)
    return path


def test_repository_then_global_then_xdg(tmp_path: Path, monkeypatch: pytest.MonkeyPatch,
                                         ) -> None:
    home = tmp_path / "home"
    (home / ".config" / "git").mkdir(parents=True)
    monkeypatch.delenv("XDG_CONFIG_HOME", raising=False)
    repo = _repo(tmp_path / "repo", None)
    assert git_user_name(repo, home=str(home)) == ""
    (home / ".config" / "git" / "config").write_text("[user]\n name = Xdg\n")
    assert git_user_name(repo, home=str(home)) == "Xdg"
    (home / ".gitconfig").write_text("[user]\n name = Global\n")
    assert git_user_name(repo, home=str(home)) == "Global"
    subprocess.run(["git", "-C", str(repo), "config", "user.name", "Local"], check=True)
    assert git_user_name(repo, home=str(home)) == "Local"


def test_a_linked_worktree_reads_its_main_repository(tmp_path: Path) -> None:
    repo = _repo(tmp_path / "repo", "Main Repo")
    env = {**os.environ, "GIT_AUTHOR_NAME": "t", "GIT_AUTHOR_EMAIL": "t@example.com",
           "GIT_COMMITTER_NAME": "t", "GIT_COMMITTER_EMAIL": "t@example.com"}
    subprocess.run(["git", "-C", str(repo), "commit", "-q", "--allow-empty", "-m", "x"],
                   check=True, env=env)
    tree = tmp_path / "tree"
    subprocess.run(["git", "-C", str(repo), "worktree", "add", "-q", str(tree)], check=True)
    assert (tree / ".git").is_file()
    assert git_user_name(tree, home=str(tmp_path / "nohome")) == "Main Repo"


def test_unreadable_files_are_skipped(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    (repo / ".git").mkdir(parents=True)
    (repo / ".git" / "config").write_bytes(b"[user]\n name = \xff\xfe\n")
    home = tmp_path / "home"
    home.mkdir()
    (home / ".gitconfig").write_text("[user]\n name = Fallback\n")
    assert git_user_name(repo, home=str(home)) == "Fallback"
