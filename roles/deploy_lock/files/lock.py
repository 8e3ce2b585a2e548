"""The deploy lock's file on the lock host, for the deploy_lock role (one call per step).

    python3 -c "<this file>" '<json: op, path, record, replace>'

op "take": create `path` holding `record` unless it exists (O_EXCL: two runs racing get one
winner); with `replace` (a takeover), overwrite it only while it still holds exactly
`replace`, so two runs taking over the same stale lock still get one winner.
op "release": remove `path` when it holds a record of this run (`record`'s run id).
Prints {"taken"|"released": bool, "holder": the record found there (or null)}.
"""

import json
import os
import sys
import tempfile

args = json.loads(sys.argv[1])
path = args["path"]
record = args["record"]


def current():
    try:
        with open(path, encoding="utf-8") as handle:
            return json.load(handle)
    except FileNotFoundError:
        return None
    except ValueError:
        return {"unreadable": True}


def write_new():
    os.makedirs(os.path.dirname(path), mode=0o755, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o644)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(record, handle)


def replace_with_record():
    fd, scratch = tempfile.mkstemp(dir=os.path.dirname(path), prefix=".deploy-lock.")
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        json.dump(record, handle)
    os.chmod(scratch, 0o644)
    os.replace(scratch, path)


if args["op"] == "take":
    if args.get("replace") is None:
        try:
            write_new()
            result = {"taken": True, "holder": record}
        except FileExistsError:
            result = {"taken": False, "holder": current()}
    else:
        found = current()
        if found == args["replace"]:
            replace_with_record()
            result = {"taken": True, "holder": record}
        else:
            result = {"taken": False, "holder": found}
else:
    found = current()
    mine = found is not None and found.get("run") == record["run"]
    if mine:
        os.remove(path)
    result = {"released": mine, "holder": found}
print(json.dumps(result))
