"""Login names: one normal form to store, look up, throttle and log.

Names are stored normalised (NFKC, case-folded, trimmed) in a binary-collated column, so
the row a login finds is exactly the one its throttle counts for: `Admin`, `admin ` and
its full-width form are all `admin`, and nothing else is. The same rule validates a
name when an account is created and before a login looks one up.
"""

from __future__ import annotations

import hashlib
import re
import unicodedata

MIN_LENGTH = 3
MAX_LENGTH = 50
RULE = re.compile(r"[a-z0-9_.-]{%d,%d}" % (MIN_LENGTH, MAX_LENGTH))  # noqa: UP031
RULE_TEXT = (
    f"{MIN_LENGTH} to {MAX_LENGTH} characters, letters a-z, digits, '_', '.' or '-' "
    "(upper case is stored as lower case; spaces around the name are dropped)"
)


class InvalidUsername(ValueError):
    """The name does not follow the rule, after normalisation."""


def normalize(raw: str) -> str:
    """NFKC, case-folded, NFKC again (case folding can leave a non-normal form), trimmed."""
    folded = unicodedata.normalize("NFKC", raw).casefold()
    return unicodedata.normalize("NFKC", folded).strip()


def validate(raw: str) -> str:
    """The normalised name, or InvalidUsername."""
    name = normalize(raw)
    if not RULE.fullmatch(name):
        raise InvalidUsername(f"a username is {RULE_TEXT}")
    return name


def throttle_name(raw: str) -> str:
    """The name a login attempt is counted under.

    The normalised name with accents removed as well, so the variants the old
    accent-insensitive collation matched (`ádmin`) land in the same counter as the name
    they imitate, even though such a name is refused before any lookup. For a valid
    name this is the name itself.
    """
    decomposed = unicodedata.normalize("NFKD", normalize(raw))
    return normalize("".join(char for char in decomposed if not unicodedata.combining(char)))


def digest(name: str, length: int = 12) -> str:
    """A short SHA-256 of a name, for logs and Redis keys that must not carry the name
    (people type their password into the username field)."""
    return hashlib.sha256(name.encode("utf-8", "surrogatepass")).hexdigest()[:length]
