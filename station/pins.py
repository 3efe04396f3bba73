"""Staff and supervisor PINs, stored only as salted scrypt hashes.

A hash reads ``scrypt$<salt>$<digest>``. Its parameters (``scrypt$<salt>``)
are enough to hash a typed PIN the same way: on PostgreSQL a station gets only
those, never the digest, and the database compares (migration 0007).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import secrets

_N, _R, _P = 2**14, 8, 1


def hash_pin(pin: str) -> str:
    salt = secrets.token_bytes(16)
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"scrypt${base64.b64encode(salt).decode()}${base64.b64encode(digest).decode()}"


def pin_parameters(stored: str) -> str:
    """The scheme and salt of a stored hash, without its digest."""
    return "$".join(stored.split("$")[:2])


def hash_pin_with(pin: str, parameters: str) -> str | None:
    """The hash of ``pin`` under a stored hash's parameters; None if they are not ours."""
    try:
        scheme, salt_b64 = parameters.split("$")
        if scheme != "scrypt":
            return None
        salt = base64.b64decode(salt_b64, validate=True)
    except ValueError:
        return None
    digest = hashlib.scrypt(pin.encode(), salt=salt, n=_N, r=_R, p=_P, dklen=32)
    return f"{parameters}${base64.b64encode(digest).decode()}"


def verify_pin(pin: str, stored: str) -> bool:
    hashed = hash_pin_with(pin, pin_parameters(stored))
    return hashed is not None and hmac.compare_digest(hashed.encode(), stored.encode())
