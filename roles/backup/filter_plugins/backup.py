"""Filters of the backup role: the backups of every host merged into sets, a table of them,
and the set a restore asks for."""

from __future__ import annotations

import json

from ansible.errors import AnsibleFilterError


def backup_sets(results: list[dict]) -> list[dict]:
    """Merge the registered results of `backup.py list` run on each host (loop_var
    __backup_host; stdout {"parts", "backups"}) into one entry per backup id, newest first.
    A set is complete when every host that holds parts has that id with each of its parts."""
    lists = [dict(json.loads(result["stdout"]), host=result["__backup_host"]) for result in results]
    holders = {entry["host"]: set(entry["parts"]) for entry in lists if entry["parts"]}
    sets: dict[str, dict] = {}
    for entry in lists:
        for manifest in entry["backups"]:
            found = sets.setdefault(
                manifest["id"],
                {
                    "id": manifest["id"],
                    "tag": manifest["tag"],
                    "created": manifest["created"],
                    "encrypted": manifest.get("encrypted", False),
                    "bytes": 0,
                    "parts": {},
                },
            )
            found["parts"][entry["host"]] = sorted(manifest["parts"])
            found["bytes"] += sum(part["bytes"] for part in manifest["parts"].values())
            found["created"] = min(found["created"], manifest["created"])
    for found in sets.values():
        found["missing"] = sorted(
            f"{host}:{part}"
            for host, parts in holders.items()
            for part in parts - set(found["parts"].get(host, []))
        )
        found["complete"] = not found["missing"]
    return sorted(sets.values(), key=lambda found: found["id"], reverse=True)


def backup_table(sets: list[dict]) -> list[str]:
    """One line per backup set, like the list of releases."""
    if not sets:
        return ["no backups"]
    lines = [f"{'id':<40} {'created (UTC)':<21} {'size':>10}  parts"]
    for found in sets:
        parts = ", ".join(
            f"{host}:{'+'.join(parts)}" for host, parts in sorted(found["parts"].items())
        )
        state = "" if found["complete"] else f"  INCOMPLETE (no {', '.join(found['missing'])})"
        lock = " encrypted" if found["encrypted"] else ""
        size = _size(found["bytes"])
        lines.append(f"{found['id']:<40} {found['created']:<21} {size:>10}  {parts}{lock}{state}")
    return lines


def backup_choose(sets: list[dict], wanted: str) -> str:
    """The id of the complete set `wanted` names: an id, or "latest" (the newest complete)."""
    complete = [found["id"] for found in sets if found["complete"]]
    known = ", ".join(found["id"] for found in sets[:10]) or "none"
    if wanted == "latest":
        if not complete:
            raise AnsibleFilterError(f"There is no complete backup to restore (backups: {known}).")
        return complete[0]
    for found in sets:
        if found["id"] == wanted:
            if not found["complete"]:
                raise AnsibleFilterError(
                    f"Backup {wanted} is incomplete: no {', '.join(found['missing'])}."
                )
            return wanted
    raise AnsibleFilterError(f"There is no backup {wanted!r} (the newest: {known}).")


def _size(count: int) -> str:
    if count < 1024:
        return f"{count} B"
    size = count / 1024
    for unit in ("KiB", "MiB"):
        if size < 1024:
            return f"{size:.1f} {unit}"
        size /= 1024
    return f"{size:.1f} GiB"


class FilterModule:
    def filters(self):
        return {
            "backup_sets": backup_sets,
            "backup_table": backup_table,
            "backup_choose": backup_choose,
        }
