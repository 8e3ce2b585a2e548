"""argon2id password hashing (argon2-cffi), replacing the seed's salted MD5."""

from __future__ import annotations

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from flask import Flask, current_app

_EXT = "redflask.passwords"


def init_passwords(app: Flask, time_cost: int, memory_kib: int) -> None:
    hasher = PasswordHasher(time_cost=time_cost, memory_cost=memory_kib)
    app.extensions[_EXT] = {
        "hasher": hasher,
        # Verified when the username is unknown, so a miss costs as much as a hit.
        "dummy": hasher.hash("redflask-timing-equaliser"),
    }


def _hasher() -> PasswordHasher:
    return current_app.extensions[_EXT]["hasher"]


def hash_password(password: str) -> str:
    return _hasher().hash(password)


def verify_password(password_hash: str | None, password: str) -> bool:
    try:
        if password_hash is None:
            # Same work as a real check, so response time does not reveal unknown users.
            _hasher().verify(current_app.extensions[_EXT]["dummy"], password)
            return False
        return _hasher().verify(password_hash, password)
    except (VerificationError, InvalidHashError):
        return False


def needs_rehash(password_hash: str) -> bool:
    return _hasher().check_needs_rehash(password_hash)
