"""The flask_app role's upstream servers (roles/flask_app/filter_plugins/flask_app.py)."""

from __future__ import annotations

import plugin_loader
import pytest

flask_app = plugin_loader.load("roles/flask_app/filter_plugins/flask_app.py")
servers = flask_app.upstream_servers

ADDRESSES = {"app1": "10.0.0.11", "app2": "10.0.0.12"}


def lines(result):
    return [(s["address"], s["max_fails"], s["down"]) for s in result]


def test_every_app_host_in_order_with_the_passive_check():
    assert lines(servers(ADDRESSES, 8000, 8001)) == [
        ("10.0.0.11:8000", 3, False),
        ("10.0.0.12:8000", 3, False),
    ]
    assert {s["fail_timeout"] for s in servers(ADDRESSES, 8000, 8001)} == {"10s"}


def test_a_lone_server_is_never_taken_out():
    assert lines(servers({"aio": "127.0.0.1"}, 8000, 8001)) == [("127.0.0.1:8000", 0, False)]


def test_one_live_server_left_gets_max_fails_zero_even_beside_a_down_one():
    assert lines(servers(ADDRESSES, 8000, 8001, down=["app1"])) == [
        ("10.0.0.11:8000", 0, True),
        ("10.0.0.12:8000", 0, False),
    ]


def test_a_standby_is_added_after_its_host_and_counts_as_live():
    # app1's own port drained, its standby serves beside app2: two live servers.
    assert lines(servers(ADDRESSES, 8000, 8001, down=["app1"], standby=["app1"])) == [
        ("10.0.0.11:8000", 3, True),
        ("10.0.0.11:8001", 3, False),
        ("10.0.0.12:8000", 3, False),
    ]


def test_all_in_one_host_serving_from_its_standby_only():
    assert lines(servers({"aio": "127.0.0.1"}, 8000, 8001, down=["aio"], standby=["aio"])) == [
        ("127.0.0.1:8000", 0, True),
        ("127.0.0.1:8001", 0, False),
    ]


def test_a_host_that_is_not_an_app_host_is_an_error():
    with pytest.raises(ValueError, match="web1"):
        servers(ADDRESSES, 8000, 8001, down=["web1"])
