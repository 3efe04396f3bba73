"""libpq's TLS failures in a sysadmin's words: what is wrong and which setting fixes it.

libpq says "SSL error: certificate verify failed" or "server does not support
SSL, but SSL was required"; whoever sets a station up at a venue needs to know
that the CA file is the wrong one, the host name is not in the certificate, or
the server has TLS off, and which setting or file to change.
"""

from __future__ import annotations

import re

from sqlalchemy.engine import URL

_NOT_NAMED = re.compile(r'server certificate for "([^"]*)"(.*?) does not match host name "([^"]*)"')
_NO_ROOT = re.compile(r'root certificate file "([^"]*)" does not exist')


def tls_failure(detail: str, url: URL, sslmode: str | None, sslrootcert: str | None) -> str | None:
    """What went wrong, when ``detail`` (a libpq message) is a TLS failure; else None."""
    mode = sslmode or _query(url, "sslmode") or "prefer"
    ca = sslrootcert or _query(url, "sslrootcert") or "~/.postgresql/root.crt"
    if "certificate verify failed" in detail:
        return (
            f"the server's TLS certificate is not signed by the CA in sslrootcert {ca} "
            "(certificate verify failed): set sslrootcert to the CA that signed it"
        )
    named = _NOT_NAMED.search(detail)
    if named:
        names, more, host = named.groups()
        return (
            f'the server\'s TLS certificate is for "{names}"{more}, not "{host}" '
            f"(sslmode={mode}): connect by a name the certificate holds, "
            "or give the server a certificate for this name"
        )
    if "server does not support SSL" in detail:
        return (
            f"the server does not offer TLS and sslmode={mode} requires it: "
            "turn ssl on in the server's postgresql.conf, or lower sslmode"
        )
    missing = _NO_ROOT.search(detail)
    if missing:
        return (
            f"sslmode={mode} checks the server's certificate against a CA file, and "
            f"{missing.group(1)} does not exist: set sslrootcert to the CA's file"
        )
    return None


def _query(url: URL, name: str) -> str | None:
    value = url.query.get(name)
    if value is None or isinstance(value, str):
        return value
    return value[-1] if value else None
