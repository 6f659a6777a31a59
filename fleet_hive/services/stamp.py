"""``python -m fleet_hive.services.stamp --log FILE --exit FILE -- COMMAND...``: run the
server with every line it prints timestamped into its log, and record how it ended.

The local provider starts this detached, as the leader of a process group of its own; the
server runs in the same group, so stopping the group stops both, and this process writes
the server's last lines and its exit before it goes.
"""

from __future__ import annotations

import json
import sys

from ..kernel import processes
from ..kernel.clock import utc_now
from ..kernel.fsio import write_atomic


def main(argv: list[str]) -> int:
    if "--" not in argv:
        sys.stderr.write("usage: stamp --log FILE --exit FILE -- COMMAND...\n")
        return 2
    cut = argv.index("--")
    opts, command = argv[:cut], argv[cut + 1:]
    log = opts[opts.index("--log") + 1]
    exit_file = opts[opts.index("--exit") + 1]
    with open(log, "ab") as out:
        status = processes.run_stamped(command, out, utc_now)
        name = processes.signal_name(status)
        how = f"killed by {name}" if name else f"exited with status {status}"
        out.write(f"{utc_now()} [services] server {how}\n".encode())
    write_atomic(exit_file, json.dumps({"status": status, "signal": name, "how": how,
                                        "time": utc_now()}) + "\n", durable=False)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
