"""Request signing of the SMS providers, as documented (not verified against the live services:
the tests check the shapes, a bureau's first ``team`` run checks the signatures).

- Aliyun RPC (signature version 1.0): the parameters plus ``AccessKeyId``, ``SignatureMethod``
  ``HMAC-SHA1``, ``SignatureVersion`` ``1.0``, ``SignatureNonce``, ``Timestamp`` (UTC ISO 8601),
  sorted and percent-encoded (RFC 3986) into the canonical query; the string to sign is
  ``POST&%2F&`` + the encoded canonical query; the key is ``secret + "&"``.
- Tencent Cloud API 3.0 (TC3-HMAC-SHA256): canonical request over ``content-type`` and
  ``host``, the credential scope ``date/sms/tc3_request``, the key derived from
  ``"TC3" + secret`` through date, service and ``tc3_request``.
"""

from __future__ import annotations

import base64
import datetime as dt
import hashlib
import hmac
import urllib.parse
import uuid


def _pct(text: str) -> str:
    return urllib.parse.quote(text, safe="~")


def aliyun_sign(
    params: dict[str, str], key_id: str, secret: str, *, now: dt.datetime | None = None
) -> dict[str, str]:
    """``params`` with the common parameters and ``Signature`` added."""
    when = now or dt.datetime.now(dt.UTC)
    full = {
        **params,
        "AccessKeyId": key_id,
        "SignatureMethod": "HMAC-SHA1",
        "SignatureVersion": "1.0",
        "SignatureNonce": uuid.uuid4().hex,
        "Timestamp": when.strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    canonical = "&".join(f"{_pct(k)}={_pct(v)}" for k, v in sorted(full.items()))
    to_sign = "POST&%2F&" + _pct(canonical)
    digest = hmac.new((secret + "&").encode(), to_sign.encode(), hashlib.sha1).digest()
    return {**full, "Signature": base64.b64encode(digest).decode("ascii")}


def _hmac(key: bytes, msg: str) -> bytes:
    return hmac.new(key, msg.encode("utf-8"), hashlib.sha256).digest()


def tencent_headers(
    body: bytes,
    host: str,
    action: str,
    version: str,
    region: str,
    key_id: str,
    secret: str,
    *,
    now: dt.datetime | None = None,
) -> dict[str, str]:
    """The headers of a signed Tencent Cloud API 3.0 POST with a JSON ``body``."""
    when = now or dt.datetime.now(dt.UTC)
    stamp, date = int(when.timestamp()), when.strftime("%Y-%m-%d")
    ctype = "application/json; charset=utf-8"
    canonical = "\n".join(
        ["POST", "/", "", f"content-type:{ctype}", f"host:{host}", "", "content-type;host",
         hashlib.sha256(body).hexdigest()]
    )  # fmt: skip
    scope = f"{date}/sms/tc3_request"
    to_sign = "\n".join(
        ["TC3-HMAC-SHA256", str(stamp), scope, hashlib.sha256(canonical.encode()).hexdigest()]
    )
    k = _hmac(_hmac(_hmac(("TC3" + secret).encode(), date), "sms"), "tc3_request")
    signature = hmac.new(k, to_sign.encode(), hashlib.sha256).hexdigest()
    return {
        "Content-Type": ctype,
        "Host": host,
        "X-TC-Action": action,
        "X-TC-Version": version,
        "X-TC-Timestamp": str(stamp),
        "X-TC-Region": region,
        "Authorization": f"TC3-HMAC-SHA256 Credential={key_id}/{scope}, "
        f"SignedHeaders=content-type;host, Signature={signature}",
    }
