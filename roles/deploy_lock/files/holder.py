"""Who this run is, on the controller, for the deploy_lock role.

    python3 holder.py <playbook> [<pid to check>]

Prints {"run", "user", "controller", "pid", "since", "playbook"} for this run (pid: the
ansible-playbook process this task runs under), and with a pid, "alive": whether that pid
is an ansible-playbook process on this controller now.
"""

import getpass
import json
import os
import socket
import sys
import time
import uuid


def command_line(pid: int) -> str:
    try:
        with open(f"/proc/{pid}/cmdline", "rb") as handle:
            return handle.read().replace(b"\0", b" ").decode(errors="replace")
    except OSError:
        return ""


def parent(pid: int) -> int:
    with open(f"/proc/{pid}/stat", encoding="utf-8") as handle:
        # The command name (field 2) may hold spaces; the fields after its ")" do not.
        return int(handle.read().rsplit(")", 1)[1].split()[1])


def playbook_process() -> int:
    pid = os.getpid()
    while pid > 1:
        if "ansible-playbook" in command_line(pid):
            return pid
        pid = parent(pid)
    return os.getppid()


result = {
    "run": uuid.uuid4().hex,
    "user": getpass.getuser(),
    "controller": socket.getfqdn(),
    "pid": playbook_process(),
    "since": int(time.time()),
    "playbook": sys.argv[1],
}
if len(sys.argv) > 2:
    result["alive"] = "ansible-playbook" in command_line(int(sys.argv[2]))
print(json.dumps(result))
