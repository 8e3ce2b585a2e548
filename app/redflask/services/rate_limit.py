"""Login throttling in Redis, keyed so that nobody can lock someone else out.

Two counters, both taken in one Lua script (atomic, one round trip) BEFORE the password
is checked, so parallel guesses cannot all slip past a check made before any of them is
counted:

- per client address (`rl:login:addr:<address>`): every attempt, fixed window of
  APP_LOGIN_RATE_WINDOW seconds starting with the first one (retrying cannot extend it);
  above APP_LOGIN_RATE_LIMIT_PER_IP the address gets 429 until the window ends.
- per account and client address (`rl:login:pair:<sha256 of the name>:<address>`): a
  progressive delay instead of a lock. The first APP_LOGIN_FREE_FAILURES attempts go
  through at once; from then on each attempt must wait APP_LOGIN_DELAY_BASE x 2^(n - free)
  seconds (at most APP_LOGIN_DELAY_MAX) after the previous one, n being the failures so
  far. Attempts made too early are refused (429, Retry-After) and do not lengthen the
  wait. A successful login resets the pair; otherwise it is forgotten APP_LOGIN_RATE_WINDOW
  seconds after its last delay ran out.

Wrong guesses from one address therefore only slow down that address: the account's
owner, from their own address, logs in as usual. IPv6 clients are counted per /64 (one
host usually holds a whole /64), IPv4-mapped addresses as IPv4.

The time comes from Redis (TIME), so several app hosts agree on it. The redis role's ACL
allows the app user only the commands the app sends: a command added to the script (or
anywhere else) must be added to redis_app_commands too, or Redis answers NOPERM.
"""

from __future__ import annotations

import ipaddress
from dataclasses import dataclass

from redflask.config import Settings
from redflask.services.usernames import digest
from redflask.utils.redis_store import redis_store

# KEYS: address counter, pair state (hash: fails, refused, next = earliest next attempt in
# ms). ARGV: address limit, window (s), free failures, base delay (s), max delay (s).
# Returns {verdict, wait_ms, count}: verdict 0 = go ahead (count: the pair's failures with
# this attempt), 1 = address over its limit (count: attempts in the window), 2 = too early
# for this pair.
_ATTEMPT = """
if redis.replicate_commands then redis.replicate_commands() end
local clock = redis.call('TIME')
local now = tonumber(clock[1]) * 1000 + math.floor(tonumber(clock[2]) / 1000)
local window = tonumber(ARGV[2]) * 1000
local attempts = redis.call('INCR', KEYS[1])
if attempts == 1 or redis.call('PTTL', KEYS[1]) < 0 then
  redis.call('PEXPIRE', KEYS[1], window)
end
if attempts > tonumber(ARGV[1]) then
  return {1, math.max(redis.call('PTTL', KEYS[1]), 1), attempts}
end
local next_at = tonumber(redis.call('HGET', KEYS[2], 'next') or '0')
if now < next_at then
  redis.call('HINCRBY', KEYS[2], 'refused', 1)
  return {2, next_at - now, 0}
end
local fails = redis.call('HINCRBY', KEYS[2], 'fails', 1)
local free = tonumber(ARGV[3])
local delay = 0
if fails >= free then
  delay = math.floor(math.min(tonumber(ARGV[4]) * 2 ^ (fails - free), tonumber(ARGV[5])) * 1000)
end
redis.call('HSET', KEYS[2], 'next', now + delay)
redis.call('PEXPIRE', KEYS[2], delay + window)
return {0, delay, fails}
"""

ALLOWED, ADDRESS_LIMITED, TOO_EARLY = 0, 1, 2


@dataclass(frozen=True)
class Verdict:
    code: int
    # Refused: seconds until the next attempt can go through. Allowed: 0.
    retry_after: int
    count: int

    @property
    def allowed(self) -> bool:
        return self.code == ALLOWED


def address_bucket(address: str) -> str:
    """The address a client is counted under."""
    try:
        ip = ipaddress.ip_address(address.strip())
    except ValueError:
        # Not an address (no proxy in front, a test client): count the string itself.
        return "other-" + digest(address, 16)
    if isinstance(ip, ipaddress.IPv6Address):
        if ip.ipv4_mapped is not None:
            return str(ip.ipv4_mapped)
        return str(ipaddress.IPv6Network((ip, 64), strict=False))
    return str(ip)


def address_key(address: str) -> str:
    return redis_store.key("rl", "login", "addr", address_bucket(address))


def pair_key(account: str, address: str) -> str:
    return redis_store.key("rl", "login", "pair", digest(account, 32), address_bucket(address))


def attempt(account: str, address: str, settings: Settings) -> Verdict:
    """Count one attempt for account from address, before its password is checked."""
    script = redis_store.r.register_script(_ATTEMPT)
    code, wait_ms, count = script(
        keys=[address_key(address), pair_key(account, address)],
        args=[
            settings.login_rate_limit_ip,
            settings.login_rate_window,
            settings.login_free_failures,
            settings.login_delay_base,
            settings.login_delay_max,
        ],
    )
    code, wait_ms = int(code), int(wait_ms)
    retry_after = 0 if code == ALLOWED else max(-(-wait_ms // 1000), 1)
    return Verdict(code=code, retry_after=retry_after, count=int(count))


def succeeded(account: str, address: str) -> None:
    """The password was right: the pair starts afresh (the address counter does not)."""
    redis_store.r.delete(pair_key(account, address))
