"""kernel/processes.py: run to the end, or stop the whole process group at the time limit."""

from __future__ import annotations

import os
import sys
import time

from fleet_hive.kernel import processes


def test_run_passes_input_and_reports_the_shell_status(tmp_path):
    done = processes.run([sys.executable, "-c", "import sys; d = sys.stdin.read(); "
                          "print(d.upper(), end=''); sys.exit(3)"],
                         input=b"hello", capture=True, cwd=tmp_path, env={**os.environ})
    assert (done.returncode, done.status, done.stdout, done.timed_out) == (3, 3, b"HELLO", False)
    killed = processes.run([sys.executable, "-c", "import os; os.kill(os.getpid(), 9)"])
    assert killed.returncode == -9 and killed.status == 137


def test_a_timeout_stops_the_child_and_what_it_started(tmp_path):
    pid_file = tmp_path / "grandchild"
    script = ("import subprocess, sys, time\n"
              "p = subprocess.Popen([sys.executable, '-c', 'import time; time.sleep(60)'])\n"
              f"open({str(pid_file)!r}, 'w').write(str(p.pid))\n"
              "time.sleep(60)\n")
    started = time.monotonic()
    done = processes.run([sys.executable, "-c", script], timeout=1.0, capture=True)
    assert done.timed_out and time.monotonic() - started < 30
    grandchild = int(pid_file.read_text())
    for _ in range(100):  # SIGTERM reached the whole group; give it a moment to end
        if not alive(grandchild):
            break
        time.sleep(0.05)
    else:
        raise AssertionError("the grandchild outlived the timeout")


def alive(pid: int) -> bool:
    """Running, not gone or a zombie nobody reaped yet (an orphan waits for init)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rpartition(")")[2].split()[0] != "Z"
    except FileNotFoundError:
        return False
    except OSError:  # no /proc: ask the kernel
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return False
        return True


def test_wait_readable_takes_descriptors_above_1023():
    """select(2) refuses them; a dispatcher of many agents (or any busy process) has them."""
    import resource

    soft, hard = resource.getrlimit(resource.RLIMIT_NOFILE)
    if soft != resource.RLIM_INFINITY and soft < 1200:  # Linux allows raising it to 4096
        resource.setrlimit(resource.RLIMIT_NOFILE, (1200, hard))
    read_end, write_end = os.pipe()
    high = os.dup2(read_end, 1100)
    try:
        assert processes.wait_readable([high], 0.01) == []
        os.write(write_end, b"x")
        assert processes.wait_readable([high], 5) == [high]
        os.close(write_end)
        write_end = -1
        os.read(high, 1)
        assert processes.wait_readable([high], 5) == [high]  # hung up: readable (EOF)
    finally:
        for fd in (read_end, high, write_end):
            if fd >= 0:
                os.close(fd)
        resource.setrlimit(resource.RLIMIT_NOFILE, (soft, hard))
