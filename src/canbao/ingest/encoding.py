"""Text encodings of departmental CSV extracts: UTF-8, UTF-8 with BOM, GB18030 (a superset of
GBK and GB2312). Detection is by strict decoding, not guessing: a file that decodes as UTF-8 is
UTF-8 (GB18030 text with Chinese characters practically never does); otherwise GB18030.

An encoding *claim* (from a manifest or ``--encoding``) is checked against the bytes: a claim of
GBK for a UTF-8 file, or of UTF-8 for a GB18030 file, is an error rather than mojibake.
"""

from __future__ import annotations

import codecs
from dataclasses import dataclass
from pathlib import Path

from canbao.errors import InputFileError, UsageError

BOM_UTF8 = codecs.BOM_UTF8
_UTF16_BOMS = (codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE)

# Accepted claims → the canonical codec used to decode.
CLAIMS = {
    "utf-8": "utf-8",
    "utf8": "utf-8",
    "utf-8-sig": "utf-8-sig",
    "utf_8_sig": "utf-8-sig",
    "gb18030": "gb18030",
    "gbk": "gb18030",  # GB18030 is a superset of GBK: decode with it
    "cp936": "gb18030",
    "gb2312": "gb18030",
}


@dataclass(frozen=True)
class Decoded:
    text: str
    encoding: str  # what the bytes turned out to be: utf-8 | utf-8-sig | gb18030
    claimed: str | None


def looks_binary(head: bytes) -> bool:
    """NUL bytes (or a zip/OLE signature) in the first block: not a text file."""
    if head.startswith((b"PK\x03\x04", b"\xd0\xcf\x11\xe0", b"PAR1")):
        return True
    return b"\x00" in head[:8192]


def _codec(claim: str | None) -> str | None:
    if not claim:
        return None
    codec = CLAIMS.get(claim.strip().lower().replace("_", "-"))
    if codec is None:
        raise UsageError(
            f"不支持的编码“{claim}”，可用：utf-8、utf-8-sig、gb18030、gbk",
            f"unsupported encoding claim {claim!r}",
        )
    return codec


def _judge(has_bom: bool, valid_utf8: bool, ascii_only: bool, claim: str | None, name: str) -> str:
    codec = _codec(claim)
    if codec in (None, "utf-8", "utf-8-sig"):
        if valid_utf8:
            return "utf-8-sig" if has_bom else "utf-8"
        if codec is not None:
            raise InputFileError(
                f"文件“{name}”声明为 {claim} 编码，但内容不是有效的 UTF-8（可能是 GBK/GB18030）",
                f"claimed {claim} but the bytes are not valid UTF-8",
                claimed=claim,
            )
    elif has_bom or (valid_utf8 and not ascii_only):
        # A GB claim for bytes that are valid UTF-8 with Chinese text would give mojibake.
        raise InputFileError(
            f"文件“{name}”声明为 {claim} 编码，但内容是 UTF-8 编码",
            f"claimed {claim} but the bytes are UTF-8",
            claimed=claim,
        )
    return "gb18030"


def refuse_utf16(head: bytes, name: str) -> None:
    """UTF-16 (by its BOM) is refused with its own message (its NUL bytes look binary)."""
    if head.startswith(_UTF16_BOMS):
        raise InputFileError(
            f"文件“{name}”是 UTF-16 编码，请另存为 UTF-8 或 GB18030 后再导入",
            "UTF-16 text is not supported; save as UTF-8 or GB18030",
        )


def detect(data: bytes, claim: str | None = None, name: str = "") -> str:
    """The encoding of ``data`` (utf-8 | utf-8-sig | gb18030), checking ``claim``."""
    refuse_utf16(data, name)
    has_bom = data.startswith(BOM_UTF8)
    body = data[len(BOM_UTF8) :] if has_bom else data
    try:
        body.decode("utf-8")
        valid = True
    except UnicodeDecodeError:
        valid = False
    return _judge(has_bom, valid, body.isascii(), claim, name)


def detect_file(path: Path, claim: str | None = None, chunk: int = 1 << 25) -> str:
    """:func:`detect` for a file, reading it in chunks (the text is never held in memory). A NUL
    byte anywhere is an :class:`InputFileError` naming its line (text extracts never hold one;
    a damaged copy or a binary file does)."""
    dec = codecs.getincrementaldecoder("utf-8")()
    valid, ascii_only = True, True
    lines_before = 0
    with path.open("rb") as f:
        first = f.read(chunk)
        refuse_utf16(first, path.name)
        has_bom = first.startswith(BOM_UTF8)
        block = first[len(BOM_UTF8) :] if has_bom else first
        while block:
            nul = block.find(b"\x00")
            if nul >= 0:
                line = lines_before + block.count(b"\n", 0, nul) + 1
                raise InputFileError(
                    f"文件“{path.name}”第 {line} 行含有空字符（NUL，\\0），文件可能已损坏或不是文本文件",
                    f"NUL byte on line {line}",
                    line=line,
                )
            lines_before += block.count(b"\n")
            ascii_only = ascii_only and block.isascii()
            if valid and not block.isascii():
                try:
                    dec.decode(block)
                except UnicodeDecodeError:
                    valid = False
            elif valid:
                dec.decode(block)
            block = f.read(chunk)
        if valid:
            try:
                dec.decode(b"", final=True)
            except UnicodeDecodeError:
                valid = False
    return _judge(has_bom, valid, ascii_only, claim, path.name)


def decode_gb18030(data: bytes, claim: str | None = None, name: str = "") -> str:
    try:
        return data.decode("gb18030")
    except UnicodeDecodeError as e:
        what = f"声明为 {claim} 编码，但" if claim else ""
        raise InputFileError(
            f"文件“{name}”{what}无法按 UTF-8 或 GB18030 解码（第 {e.start} 字节附近），可能不是文本文件或已损坏",
            f"cannot decode as UTF-8 or GB18030 near byte {e.start}",
        ) from e


def decode(data: bytes, claim: str | None = None, name: str = "") -> Decoded:
    """Decode a whole text file, checking ``claim`` when one is given."""
    enc = detect(data, claim, name)
    if enc == "utf-8-sig":
        return Decoded(data[len(BOM_UTF8) :].decode("utf-8"), enc, claim)
    if enc == "utf-8":
        return Decoded(data.decode("utf-8"), enc, claim)
    return Decoded(decode_gb18030(data, claim, name), enc, claim)
