#!/usr/bin/env python3
"""Run one command and report what it cost: wall time, the CPU time of the command and
every process it waited for (the controller: ansible-playbook, its forks, Mitogen's
multiplexer), and the CPU time the containers of one Docker network used meanwhile (the
nodes, read from their cgroups before and after).

    python3 bench/measure.py --network deployer-scale --out run.cost -- ansible-playbook ...

The command's output goes where this script's goes; its exit status is this script's. The
cost is written to --out as one line: ``wall=<s> controller=<cpu s> nodes=<cpu s>``.
"""

import argparse
import resource
import subprocess
import sys
import time

# Where a container's CPU counter lives: cgroup v1 (cpuacct, nanoseconds) or v2 (cpu.stat,
# usage_usec), under Docker's cgroupfs or systemd drivers.
CGROUP_FILES = (
    "/sys/fs/cgroup/cpuacct/docker/{id}/cpuacct.usage",
    "/sys/fs/cgroup/docker/{id}/cpu.stat",
    "/sys/fs/cgroup/system.slice/docker-{id}.scope/cpu.stat",
)


def container_ids(network):
    out = subprocess.run(  # noqa: S603 - fixed arguments
        ["docker", "ps", "-q", "--no-trunc", "--filter", f"network={network}"],  # noqa: S607
        check=True,
        capture_output=True,
        text=True,
    ).stdout
    return out.split()


def container_cpu_seconds(container_id):
    for pattern in CGROUP_FILES:
        path = pattern.format(id=container_id)
        try:
            with open(path, encoding="ascii") as handle:
                text = handle.read()
        except FileNotFoundError:
            continue
        if path.endswith("cpuacct.usage"):
            return int(text) / 1e9
        for line in text.splitlines():
            key, _, value = line.partition(" ")
            if key == "usage_usec":
                return int(value) / 1e6
    raise SystemExit(f"measure.py: no CPU counter found for container {container_id}")


def nodes_cpu_seconds(network):
    return {cid: container_cpu_seconds(cid) for cid in container_ids(network)}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--network", required=True, help="the Docker network of the nodes")
    parser.add_argument("--out", required=True, help="file that receives the cost line")
    parser.add_argument("command", nargs=argparse.REMAINDER, help="-- command [args...]")
    args = parser.parse_args()
    command = args.command[1:] if args.command[:1] == ["--"] else args.command
    if not command:
        parser.error("no command given")

    before = nodes_cpu_seconds(args.network)
    started = time.monotonic()
    rc = subprocess.call(command)  # noqa: S603 - the benchmark's own command line
    wall = time.monotonic() - started
    after = nodes_cpu_seconds(args.network)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    controller = children.ru_utime + children.ru_stime
    nodes = sum(after[cid] - before.get(cid, 0.0) for cid in after)
    with open(args.out, "w", encoding="ascii") as handle:
        handle.write(f"wall={wall:.1f} controller={controller:.1f} nodes={nodes:.1f}\n")
    return rc


if __name__ == "__main__":
    sys.exit(main())
