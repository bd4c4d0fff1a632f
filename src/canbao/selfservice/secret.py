"""The data directory's self-service key (``DATA/selfservice/hmac.secret``, made on first use,
readable by the owner only) and the keyed hash of an identifier.

An ID number is not a secret and has little entropy (region, birth date, sequence): a plain
SHA-256 of it can be reversed by trying every number. Throttle keys, one-time codes and
audit-log entries therefore name an identifier by its HMAC-SHA256 under this key. Losing the
key loses nothing but the current throttles and unused codes.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import secrets
from pathlib import Path

FILE = Path("selfservice") / "hmac.secret"
_cache: dict[Path, bytes] = {}


def key(data_dir: Path) -> bytes:
    path = data_dir / FILE
    found = _cache.get(path)
    if found is not None:
        return found
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".tmp-{os.getpid()}-{secrets.token_hex(4)}")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w", encoding="ascii") as f:
            f.write(secrets.token_hex(32))
        try:  # another process may have made it meanwhile: the first one stays
            os.link(tmp, path)
        except FileExistsError:
            pass
        finally:
            tmp.unlink(missing_ok=True)
    value = bytes.fromhex(path.read_text(encoding="ascii").strip())
    _cache[path] = value
    return value


def subject_hash(data_dir: Path, kind: str, identifier: str) -> str:
    """The keyed hash of a normalised identifier (``kind``: ``person`` or ``employer``)."""
    msg = f"{kind}:{identifier}".encode()
    return hmac.new(key(data_dir), msg, hashlib.sha256).hexdigest()


def sign(data_dir: Path, text: str) -> str:
    """A short signature of ``text`` (the code form's ticket)."""
    return hmac.new(key(data_dir), b"ticket:" + text.encode(), hashlib.sha256).hexdigest()[:32]
