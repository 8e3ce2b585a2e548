"""The stack's one address rule (playbooks/filter_plugins/stack.py)."""

from __future__ import annotations

import plugin_loader

stack = plugin_loader.load("playbooks/filter_plugins/stack.py")

ADDRESSES = {"web": "10.0.0.2", "app1": "10.0.0.11", "app2": "10.0.0.12", "db": "10.0.0.3"}
HOSTVARS = {
    name: {"ansible_facts": {"default_ipv4": {"address": ip}}} for name, ip in ADDRESSES.items()
}
HOSTVARS["fresh"] = {}  # facts not gathered yet
FACTS = {name: vars_.get("ansible_facts", {}) for name, vars_ in HOSTVARS.items()}


def test_a_peer_on_the_same_host_through_loopback_others_through_their_address():
    assert stack.stack_address("db", "db", HOSTVARS) == "127.0.0.1"
    assert stack.stack_address("db", "app1", HOSTVARS) == "10.0.0.3"
    # No such host in the inventory (no db group): the service is on this host.
    assert stack.stack_address("", "app1", HOSTVARS) == "127.0.0.1"


def test_a_service_without_loopback_is_reached_on_its_address_even_from_its_host():
    assert stack.stack_address("db", "db", HOSTVARS, False) == "10.0.0.3"
    assert stack.stack_address("app1", "db", HOSTVARS, False) == "10.0.0.11"


def test_listen_on_loopback_only_when_the_one_client_shares_the_host():
    assert stack.stack_listen_addresses("app1", ["app1"], FACTS["app1"]) == ["127.0.0.1"]
    both = ["127.0.0.1", "10.0.0.3"]
    assert stack.stack_listen_addresses("db", ["app1", "app2"], FACTS["db"]) == both
    assert stack.stack_listen_addresses("db", ["db", "app2"], FACTS["db"]) == both
    # Another host is the only client.
    assert stack.stack_listen_addresses("db", ["app1"], FACTS["db"]) == both


def test_a_host_without_facts_falls_back_to_loopback():
    assert stack.stack_address("fresh", "app1", HOSTVARS) == "127.0.0.1"
    assert stack.stack_listen_addresses("fresh", ["app1"], FACTS["fresh"]) == ["127.0.0.1"]
