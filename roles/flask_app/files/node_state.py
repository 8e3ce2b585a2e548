"""Read an app host's deploy state in one pass, for the flask_app role (tasks/state.yml).

    python3 -c "<this file>" '<json: root, user, release, dirs, shared, staged, files, activations>'

Prints one JSON object, changing nothing:
  account     whether the app's account (user) exists
  dirs        {path: "owner:group:mode"} of the layout directories ("" when missing)
  release     whether releases/<release>/.complete exists
  current     where `current` points ("" when it does not exist)
  releases    [[name, mtime, completed], ...] of the release directories, newest first;
              completed is the UTC time of its .complete marker ("" for a partial one)
  activations the release ids of the activations log, oldest first ([] without one)
  drift       the config files whose staged copy (shared/.staging/) differs from the live
              one (shared/), so a run reinstalls a live file changed by hand
  files       {path: exists} for the other files asked about
"""

import grp
import hashlib
import json
import os
import pwd
import stat
import sys
import time

args = json.loads(sys.argv[1])
root = args["root"]


def describe(path):
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return ""
    if not stat.S_ISDIR(info.st_mode):
        return "not a directory"
    try:
        owner = pwd.getpwuid(info.st_uid).pw_name
    except KeyError:
        owner = str(info.st_uid)
    try:
        group = grp.getgrgid(info.st_gid).gr_name
    except KeyError:
        group = str(info.st_gid)
    return f"{owner}:{group}:{stat.S_IMODE(info.st_mode):04o}"


def account_exists(name):
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def digest(path):
    try:
        with open(path, "rb") as handle:
            return hashlib.sha1(handle.read()).hexdigest()  # noqa: S324 - a change check
    except FileNotFoundError:
        return None


releases_dir = os.path.join(root, "releases")
try:
    entries = [e for e in os.scandir(releases_dir) if e.is_dir(follow_symlinks=False)]
except FileNotFoundError:
    entries = []


def completed(name):
    try:
        mtime = os.stat(os.path.join(releases_dir, name, ".complete")).st_mtime
    except FileNotFoundError:
        return ""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(mtime))


def activations(path):
    try:
        with open(path, encoding="utf-8") as handle:
            return [line.split()[1] for line in handle if len(line.split()) == 2]
    except FileNotFoundError:
        return []


releases = sorted(
    ([e.name, e.stat().st_mtime, completed(e.name)] for e in entries), key=lambda r: -r[1]
)
current = os.path.join(root, "current")

print(
    json.dumps(
        {
            "account": account_exists(args["user"]),
            "dirs": {path: describe(path) for path in args["dirs"]},
            "release": os.path.exists(os.path.join(releases_dir, args["release"], ".complete")),
            "current": os.readlink(current) if os.path.islink(current) else "",
            "releases": releases,
            "drift": [
                name
                for name in args["staged"]
                if digest(os.path.join(args["shared"], ".staging", name))
                != digest(os.path.join(args["shared"], name))
            ],
            "files": {path: os.path.lexists(path) for path in args["files"]},
            "activations": activations(args["activations"]) if args.get("activations") else [],
        }
    )
)
