"""The one address rule of the stack (playbooks/group_vars/all/stack.yml).

A host reaches a peer on its own host through loopback, and any other peer through that
peer's private address (its default IPv4 address). A service listens on loopback only when
its only client is its own host, and on its private address as well otherwise.

Tested by tests/test_stack_filters.py (run by `make test`).
"""

LOOPBACK = "127.0.0.1"


def _address(facts):
    return ((facts or {}).get("default_ipv4") or {}).get("address") or LOOPBACK


def private_address(host, hostvars):
    """The host's default IPv4 address from its facts (loopback before facts exist)."""
    return _address(hostvars[host].get("ansible_facts"))


def stack_address(peer, host, hostvars, loopback=True):
    """The address `host` uses for `peer` (or sees `peer`'s connections come from).

    An empty peer (no such host in the inventory) is taken to run on `host` itself.
    loopback=False: the service in between does not listen on loopback (MariaDB takes one
    bind address), so the private address is used even on the same host.
    """
    if (not peer or peer == host) and loopback:
        return LOOPBACK
    return private_address(peer or host, hostvars)


def stack_listen_addresses(host, clients, facts):
    """Where a service on `host` (whose own ansible_facts are `facts`) listens for
    `clients` (a list of hosts): loopback alone when its only client is `host` itself, else
    loopback and the private address (the last of the list is the one address for a
    service that takes only one).

    It takes the host's own facts, not hostvars: a variable defined with it can be read
    through hostvars from another host (every app host's flask_app_gunicorn_address for
    the upstream), where hostvars itself is not defined.
    """
    address = _address(facts)
    if list(clients) == [host] or address == LOOPBACK:
        return [LOOPBACK]
    return [LOOPBACK, address]


class FilterModule:
    def filters(self):
        return {
            "stack_address": stack_address,
            "stack_listen_addresses": stack_listen_addresses,
        }
