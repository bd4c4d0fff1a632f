"""The secret that makes person keys pseudonyms, not hashes anyone can recompute.

A person key is ``'P' || md5(secret || ':' || id18)`` (15 hex digits). Without the secret, a
key next to a masked ID (first 6 + last 4 shown) would give the full number back in
milliseconds: the hidden birth date has only ~40,000 possible values, and an unkeyed hash of
each can be compared with the key. The secret is made once per data directory
(``DATA/registry/person-key.secret``, readable by its owner only) and never leaves it: keep it
with the data's backups, since a new secret gives every person a new key (the next build is
then a full one).
"""

from __future__ import annotations

import hashlib
import os
import secrets
from pathlib import Path

import pyarrow as pa

SECRET_FILE = "person-key.secret"
SCHEME = "keyed-md5-1"
TABLE = "key_secret"  # the one-row table builds read the secret from (column ``secret``)


def secret_path(data_dir: Path) -> Path:
    return Path(data_dir) / "registry" / SECRET_FILE


def secret(data_dir: Path) -> str:
    """The data directory's key secret (64 hex digits), created on first use."""
    path = secret_path(data_dir)
    if path.exists():
        value = path.read_text("ascii").strip()
        if len(value) == 64 and all(c in "0123456789abcdef" for c in value):
            return value
    path.parent.mkdir(parents=True, exist_ok=True)
    value = secrets.token_hex(32)
    tmp = path.with_name(f".{SECRET_FILE}.{os.getpid()}")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="ascii") as f:
        f.write(value)
    try:
        os.link(tmp, path)  # first writer wins; a concurrent one reads the winner's value
    except FileExistsError:
        return secret(data_dir)
    finally:
        tmp.unlink(missing_ok=True)
    return value


def fingerprint(data_dir: Path) -> str:
    """Names the key scheme and secret in build.json (never the secret itself): a snapshot
    whose keys came from another secret or scheme is not updated incrementally."""
    digest = hashlib.sha256(("canbao-key-fingerprint:" + secret(data_dir)).encode()).hexdigest()
    return f"{SCHEME}:{digest[:12]}"


def secret_table(data_dir: Path) -> pa.Table:
    return pa.table({"secret": [secret(data_dir)]})
