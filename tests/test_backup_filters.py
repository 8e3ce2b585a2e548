"""The backup role's filters (roles/backup/filter_plugins/backup.py): the `backup.py list` of
every host merged into sets by id, complete when every host holding parts has each of its
parts; the table of them; and the set a restore asks for ("latest" or an id)."""

from __future__ import annotations

import json

import plugin_loader
import pytest
from ansible.errors import AnsibleFilterError

backup = plugin_loader.load("roles/backup/filter_plugins/backup.py")

NEWEST = "20240104T031500Z-manual"  # on the cache host only: incomplete
LATEST_COMPLETE = "20240103T031500Z-scheduled"
DB_ONLY = "20240102T031500Z-scheduled"  # no redis part: incomplete
OLDEST = "20240101T031500Z-before-migrate-1.2.0"  # encrypted


def manifest(backup_id, created, encrypted=False, **sizes):
    tag = backup_id.split("-", 1)[1]
    parts = {
        part: {"file": f"{part}.gz", "bytes": size, "sha256": "0" * 64}
        for part, size in sizes.items()
    }
    return {
        "id": backup_id,
        "tag": tag,
        "created": created,
        "encrypted": encrypted,
        "host": "",
        "parts": parts,
    }


def listing(host, parts, *manifests):
    """A loop item of the registered `backup.py list` results."""
    stdout = json.dumps({"parts": parts, "backups": list(manifests)})
    return {"__backup_host": host, "stdout": stdout, "rc": 0, "changed": False}


RESULTS = [
    listing("app1", []),
    listing(
        "db1",
        ["mysql"],
        manifest(OLDEST, "2024-01-01T03:15:09Z", encrypted=True, mysql=1000),
        manifest(DB_ONLY, "2024-01-02T03:15:02Z", mysql=2000),
        manifest(LATEST_COMPLETE, "2024-01-03T03:15:07Z", mysql=3000),
    ),
    listing(
        "cache1",
        ["redis"],
        manifest(NEWEST, "2024-01-04T03:15:01Z", redis=40),
        manifest(LATEST_COMPLETE, "2024-01-03T03:15:01Z", redis=30),
        manifest(OLDEST, "2024-01-01T03:15:03Z", encrypted=True, redis=10),
    ),
]


def by_id(sets):
    return {found["id"]: found for found in sets}


# ---- backup_sets --------------------------------------------------------------------------


def test_sets_are_one_per_id_newest_first():
    assert [found["id"] for found in backup.backup_sets(RESULTS)] == [
        NEWEST,
        LATEST_COMPLETE,
        DB_ONLY,
        OLDEST,
    ]


def test_a_set_with_every_host_s_parts_is_complete():
    found = by_id(backup.backup_sets(RESULTS))[LATEST_COMPLETE]
    assert found == {
        "id": LATEST_COMPLETE,
        "tag": "scheduled",
        "created": "2024-01-03T03:15:01Z",  # the earliest of its parts
        "encrypted": False,
        "bytes": 3030,
        "parts": {"db1": ["mysql"], "cache1": ["redis"]},
        "missing": [],
        "complete": True,
    }


def test_a_set_missing_a_host_s_part_is_incomplete_and_names_it():
    sets = by_id(backup.backup_sets(RESULTS))
    assert sets[DB_ONLY]["missing"] == ["cache1:redis"]
    assert sets[DB_ONLY]["complete"] is False
    assert sets[DB_ONLY]["parts"] == {"db1": ["mysql"]}
    assert sets[NEWEST]["missing"] == ["db1:mysql"]
    assert sets[NEWEST]["complete"] is False


def test_bytes_are_summed_over_hosts_and_created_is_the_earliest():
    sets = by_id(backup.backup_sets(RESULTS))
    assert {backup_id: found["bytes"] for backup_id, found in sets.items()} == {
        NEWEST: 40,
        LATEST_COMPLETE: 3030,
        DB_ONLY: 2000,
        OLDEST: 1010,
    }
    assert sets[OLDEST]["created"] == "2024-01-01T03:15:03Z"
    assert sets[OLDEST]["encrypted"] is True


def test_a_host_holding_no_part_neither_completes_nor_breaks_a_set():
    for found in backup.backup_sets(RESULTS):
        assert "app1" not in found["parts"]
        assert not any(missing.startswith("app1:") for missing in found["missing"])
    without_app = [result for result in RESULTS if result["__backup_host"] != "app1"]
    assert backup.backup_sets(without_app) == backup.backup_sets(RESULTS)


def test_a_part_a_host_holds_now_but_an_older_backup_lacks_is_missing():
    results = [
        listing(
            "aio",
            ["mysql", "uploads"],
            manifest(LATEST_COMPLETE, "2024-01-03T03:15:07Z", mysql=5, uploads=7),
            manifest(DB_ONLY, "2024-01-02T03:15:02Z", mysql=5),
        )
    ]
    sets = by_id(backup.backup_sets(results))
    assert sets[LATEST_COMPLETE]["parts"] == {"aio": ["mysql", "uploads"]}
    assert sets[LATEST_COMPLETE]["bytes"] == 12
    assert sets[LATEST_COMPLETE]["complete"] is True
    assert sets[DB_ONLY]["missing"] == ["aio:uploads"]


def test_no_backups_anywhere_are_no_sets():
    assert backup.backup_sets([listing("db1", ["mysql"]), listing("app1", [])]) == []
    assert backup.backup_sets([]) == []


# ---- backup_table -------------------------------------------------------------------------


def test_the_table_has_a_header_and_one_line_per_set_in_order():
    lines = backup.backup_table(backup.backup_sets(RESULTS))
    assert len(lines) == 5
    assert lines[0].split() == ["id", "created", "(UTC)", "size", "parts"]
    assert [line.split()[0] for line in lines[1:]] == [NEWEST, LATEST_COMPLETE, DB_ONLY, OLDEST]
    # Columns line up under the header.
    assert {line.index("2024-01-0") for line in lines[1:]} == {lines[0].index("created")}


def test_the_table_marks_incomplete_and_encrypted_sets():
    lines = dict(
        zip(
            [NEWEST, LATEST_COMPLETE, DB_ONLY, OLDEST],
            backup.backup_table(backup.backup_sets(RESULTS))[1:],
            strict=True,
        )
    )
    assert lines[LATEST_COMPLETE].endswith("3.0 KiB  cache1:redis, db1:mysql")
    assert "INCOMPLETE" not in lines[LATEST_COMPLETE] and "encrypted" not in lines[LATEST_COMPLETE]
    assert lines[DB_ONLY].endswith("2.0 KiB  db1:mysql  INCOMPLETE (no cache1:redis)")
    assert lines[NEWEST].endswith("40 B  cache1:redis  INCOMPLETE (no db1:mysql)")
    assert lines[OLDEST].endswith("1010 B  cache1:redis, db1:mysql encrypted")


def test_the_table_of_nothing_says_so():
    assert backup.backup_table([]) == ["no backups"]


@pytest.mark.parametrize(
    ("count", "size"),
    [
        (0, "0 B"),
        (1023, "1023 B"),
        (1024, "1.0 KiB"),
        (1536, "1.5 KiB"),
        (5 * 1024**2, "5.0 MiB"),
        (3 * 1024**3, "3.0 GiB"),
        (2048 * 1024**3, "2048.0 GiB"),
    ],  # fmt: skip
)
def test_sizes_are_in_binary_units(count, size):
    assert backup._size(count) == size


# ---- backup_choose ------------------------------------------------------------------------


def test_latest_is_the_newest_complete_set_skipping_a_newer_incomplete_one():
    assert backup.backup_choose(backup.backup_sets(RESULTS), "latest") == LATEST_COMPLETE


def test_an_explicit_id_of_a_complete_set_is_chosen():
    sets = backup.backup_sets(RESULTS)
    assert backup.backup_choose(sets, OLDEST) == OLDEST
    assert backup.backup_choose(sets, LATEST_COMPLETE) == LATEST_COMPLETE


def test_an_incomplete_id_is_refused_naming_what_is_missing():
    sets = backup.backup_sets(RESULTS)
    with pytest.raises(
        AnsibleFilterError, match=rf"^Backup {DB_ONLY} is incomplete: no cache1:redis\.$"
    ):
        backup.backup_choose(sets, DB_ONLY)
    with pytest.raises(AnsibleFilterError, match="no db1:mysql"):
        backup.backup_choose(sets, NEWEST)


def test_an_unknown_id_is_refused_listing_the_newest():
    sets = backup.backup_sets(RESULTS)
    with pytest.raises(AnsibleFilterError) as raised:
        backup.backup_choose(sets, "20240105T000000Z-manual")
    assert str(raised.value) == (
        "There is no backup '20240105T000000Z-manual' (the newest: "
        f"{NEWEST}, {LATEST_COMPLETE}, {DB_ONLY}, {OLDEST})."
    )


def test_the_list_of_known_ids_stops_at_ten():
    results = [
        listing(
            "db1",
            ["mysql"],
            *(manifest(f"202401{day:02}T000000Z-t", "x", mysql=1) for day in range(1, 16)),
        )
    ]
    with pytest.raises(AnsibleFilterError) as raised:
        backup.backup_choose(backup.backup_sets(results), "nope")
    assert "20240115T000000Z-t" in str(raised.value) and "20240106T000000Z-t" in str(raised.value)
    assert "20240105T000000Z-t" not in str(raised.value)


def test_latest_without_a_complete_set_is_refused():
    incomplete = [result for result in RESULTS if result["__backup_host"] != "db1"]
    incomplete.append(listing("db1", ["mysql"]))
    with pytest.raises(AnsibleFilterError, match="no complete backup to restore") as raised:
        backup.backup_choose(backup.backup_sets(incomplete), "latest")
    assert f"(backups: {NEWEST}, {LATEST_COMPLETE}, {OLDEST})" in str(raised.value)
    with pytest.raises(AnsibleFilterError, match=r"\(backups: none\)"):
        backup.backup_choose([], "latest")


def test_the_filters_are_registered():
    assert set(backup.FilterModule().filters()) == {"backup_sets", "backup_table", "backup_choose"}
