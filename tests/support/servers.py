"""Real git servers on loopback for sync tests: ``git daemon`` (git://), ``git
http-backend`` behind a small CGI server (smart HTTP), and ``sshd`` with a generated key.

Each is a context manager that serves the bare repositories under one directory and yields
how to reach them. A server whose binary is not installed raises :class:`Unavailable`, which
:func:`serving` turns into a skip naming the package (``.ci/run`` installs it, so CI runs
every one); a server that is installed but does not start raises :class:`ServerFailed`, and
the test fails.
"""

from __future__ import annotations

import base64
import contextlib
import getpass
import os
import shutil
import signal
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from urllib.parse import urlsplit


class Unavailable(Exception):
    """This server's binary is not installed here (the message says which package)."""


class ServerFailed(RuntimeError):
    """An installed server would not start: a real failure, never a skip."""


@contextlib.contextmanager
def serving(server: contextlib.AbstractContextManager[Served]) -> Iterator[Served]:
    """Enter ``server``; skip the test, with the reason, only if its binary is missing."""
    import pytest

    try:
        served = server.__enter__()
    except Unavailable as e:
        pytest.skip(f"{e}; CI installs it (.ci/run)")
    try:
        yield served
    finally:
        server.__exit__(None, None, None)


@dataclass
class Served:
    """Bare repositories under ``root`` as one server serves them."""

    scheme: str
    root: Path
    base_url: str
    git_config: dict[str, str] = field(default_factory=dict)  # for a clone that uses it

    def url(self, repo: Path) -> str:
        return f"{self.base_url}/{repo.relative_to(self.root).as_posix()}"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def wait_for_port(port: int, proc: subprocess.Popen[bytes] | None, what: str,
                  timeout: float = 20) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            err = proc.stderr.read().decode(errors="replace") if proc.stderr else ""
            raise ServerFailed(f"{what} exited with {proc.returncode}: {err.strip()[:300]}")
        with contextlib.suppress(OSError), socket.create_connection(("127.0.0.1", port), 0.2):
            return
        time.sleep(0.05)
    raise ServerFailed(f"{what} did not listen on 127.0.0.1:{port} within {timeout:.0f} s")


def stop(proc: subprocess.Popen[bytes]) -> None:
    """End ``proc`` and what it forked (it leads its own process group)."""
    with contextlib.suppress(ProcessLookupError):
        os.killpg(proc.pid, signal.SIGTERM)
    try:
        proc.wait(timeout=10)
    except subprocess.TimeoutExpired:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()


def git_exec_path() -> Path:
    return Path(subprocess.run(["git", "--exec-path"], check=True, capture_output=True,
                               text=True).stdout.strip())


# -- git daemon ------------------------------------------------------------------------------
@contextlib.contextmanager
def git_daemon(root: Path) -> Iterator[Served]:
    """``git daemon`` serving every repository under ``root``, pushes allowed."""
    if not (git_exec_path() / "git-daemon").exists():
        raise Unavailable("git daemon is not installed (Debian: the git package)")
    port = free_port()
    proc = subprocess.Popen(
        ["git", "daemon", "--reuseaddr", "--listen=127.0.0.1", f"--port={port}",
         f"--base-path={root}", "--export-all", "--enable=receive-pack",
         "--informative-errors", str(root)],
        stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, start_new_session=True)
    try:
        wait_for_port(port, proc, "git daemon")
        yield Served("git", root, f"git://127.0.0.1:{port}")
    finally:
        stop(proc)


# -- smart HTTP: git http-backend as CGI -----------------------------------------------------
class _Backend(BaseHTTPRequestHandler):
    """Runs ``git http-backend`` for each request, as a CGI server would."""

    server: _HTTPServer
    protocol_version = "HTTP/1.1"

    def do_GET(self) -> None:
        self._cgi()

    def do_POST(self) -> None:
        self._cgi()

    def log_message(self, format: str, *args: object) -> None:
        return  # quiet

    def _body(self) -> bytes:
        if self.headers.get("Transfer-Encoding", "").lower() == "chunked":
            chunks = []
            while True:
                size = int(self.rfile.readline().split(b";")[0].strip(), 16)
                if size == 0:
                    while self.rfile.readline() not in (b"\r\n", b"\n", b""):
                        pass  # trailers
                    return b"".join(chunks)
                chunks.append(self.rfile.read(size))
                self.rfile.readline()
        return self.rfile.read(int(self.headers.get("Content-Length") or 0))

    def _cgi(self) -> None:
        body = self._body()
        user = self._user()
        if self.server.credentials is not None and user is None:
            self.send_response(401)
            self.send_header("WWW-Authenticate", 'Basic realm="git"')
            self.send_header("Content-Length", "0")
            self.end_headers()
            return
        self.server.requests.append(f"{self.command} {self.path}")
        parts = urlsplit(self.path)
        env = {
            "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
            "GIT_PROJECT_ROOT": str(self.server.root),
            "GIT_HTTP_EXPORT_ALL": "1",
            "GATEWAY_INTERFACE": "CGI/1.1",
            "SERVER_PROTOCOL": "HTTP/1.1",
            "REQUEST_METHOD": self.command,
            "PATH_INFO": parts.path,
            "QUERY_STRING": parts.query,
            "CONTENT_TYPE": self.headers.get("Content-Type", ""),
            "CONTENT_LENGTH": str(len(body)),
            "REMOTE_ADDR": self.client_address[0],
            "REMOTE_USER": user or "anonymous",  # receive-pack needs an authenticated user
        }
        for name in ("Content-Encoding", "Git-Protocol"):
            if name in self.headers:
                env["HTTP_" + name.upper().replace("-", "_")] = self.headers[name]
        out = subprocess.run(["git", "http-backend"], input=body, env=env,
                             capture_output=True, check=False).stdout
        head, _, payload = out.partition(b"\r\n\r\n")
        if not _:
            head, _, payload = out.partition(b"\n\n")
        status, headers = 200, []
        for line in head.decode("latin-1").splitlines():
            name, _, value = line.partition(":")
            if name.lower() == "status":
                status = int(value.split()[0])
            else:
                headers.append((name, value.strip()))
        self.send_response(status)
        for name, value in headers:
            self.send_header(name, value)
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    def _user(self) -> str | None:
        expected = self.server.credentials
        if expected is None:
            return None
        given = self.headers.get("Authorization", "")
        if not given.startswith("Basic "):
            return None
        user, _, password = base64.b64decode(given[6:]).decode().partition(":")
        return user if (user, password) == expected else None


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, root: Path, credentials: tuple[str, str] | None) -> None:
        super().__init__(("127.0.0.1", 0), _Backend)
        self.root = root
        self.credentials = credentials
        self.requests: list[str] = []


@contextlib.contextmanager
def smart_http(root: Path, *, credentials: tuple[str, str] | None = None,
               ) -> Iterator[Served]:
    """``git http-backend`` behind a CGI server on a free loopback port; with
    ``credentials`` (user, password), every request needs them (HTTP basic auth)."""
    if not (git_exec_path() / "git-http-backend").exists():
        raise Unavailable("git http-backend is not installed (Debian: the git package)")
    server = _HTTPServer(root, credentials)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield Served("http", root, f"http://127.0.0.1:{server.server_address[1]}")
    finally:
        server.shutdown()
        server.server_close()
        thread.join()


# -- sshd ------------------------------------------------------------------------------------
SSHD = shutil.which("sshd") or next(
    (p for p in ("/usr/sbin/sshd", "/usr/local/sbin/sshd") if os.path.exists(p)), None)


@contextlib.contextmanager
def ssh_server(root: Path, work: Path) -> Iterator[Served]:
    """``sshd`` on a free loopback port that lets this user in with a key generated here;
    the clone reaches it through ``core.sshCommand`` (the key, no host key check)."""
    if SSHD is None or shutil.which("ssh") is None or shutil.which("ssh-keygen") is None:
        raise Unavailable("sshd, ssh or ssh-keygen is not installed "
                          "(Debian: openssh-server, openssh-client)")
    work.mkdir(parents=True, exist_ok=True)
    for name in ("host_key", "user_key"):
        subprocess.run(["ssh-keygen", "-q", "-t", "ed25519", "-N", "", "-f",
                        str(work / name)], check=True, capture_output=True)
    (work / "authorized_keys").write_text((work / "user_key.pub").read_text())
    os.chmod(work / "authorized_keys", 0o600)
    port = free_port()
    config = work / "sshd_config"
    config.write_text("\n".join([
        f"Port {port}", "ListenAddress 127.0.0.1", f"HostKey {work / 'host_key'}",
        f"PidFile {work / 'sshd.pid'}", f"AuthorizedKeysFile {work / 'authorized_keys'}",
        "PubkeyAuthentication yes", "PasswordAuthentication no",
        "KbdInteractiveAuthentication no", "UsePAM no", "StrictModes no",
        "PermitRootLogin prohibit-password", "LogLevel ERROR", ""]))
    if os.geteuid() == 0:
        os.makedirs("/run/sshd", mode=0o755, exist_ok=True)  # privilege separation dir
    check = subprocess.run([SSHD, "-t", "-f", str(config)], capture_output=True, text=True)
    if check.returncode != 0:
        raise ServerFailed(f"sshd refuses its test configuration: {check.stderr.strip()[:300]}")
    proc = subprocess.Popen([SSHD, "-D", "-e", "-f", str(config)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True)
    try:
        wait_for_port(port, proc, "sshd")
        command = (f"ssh -i {work / 'user_key'} -o IdentitiesOnly=yes -o BatchMode=yes "
                   "-o StrictHostKeyChecking=no -o UserKnownHostsFile=/dev/null "
                   "-o LogLevel=ERROR")
        yield Served("ssh", root, f"ssh://{getpass.getuser()}@127.0.0.1:{port}{root}",
                     git_config={"core.sshCommand": command})
    finally:
        stop(proc)
