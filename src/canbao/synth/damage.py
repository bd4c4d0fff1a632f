"""Damage as departments really produce it: IDs, names, dates, addresses and duplicate rows.

Every function returns the damaged values *and* the kind applied per row ('' = none), so the
truth can record exactly what was done (``truth/damage.csv``). At most one ID damage and one
name damage per row; the rates come from :class:`canbao.synth.config.DamageRates`.
"""

from __future__ import annotations

from decimal import Decimal
from functools import cache

import numpy as np
import polars as pl

from canbao.synth import namedata
from canbao.synth.config import DAMAGE_KINDS, ID_DAMAGE, NAME_DAMAGE, DamageRates

EXCEL_EPOCH = np.datetime64("1899-12-30")
DATE_STYLES = ("iso", "compact", "slash", "cn", "serial")
_FW_DIGITS = [chr(0xFF10 + i) for i in range(10)]


def _pick_kind(rng: np.random.Generator, n: int, probs: list[float]) -> np.ndarray:
    """Index of the kind drawn per row (len(probs) = none), at most one kind per row."""
    edges = np.cumsum(probs)
    if edges[-1] > 1:
        edges = edges / edges[-1]
    return np.searchsorted(edges, rng.random(n), side="right")


def bit(kind: str) -> int:
    """The bit of a damage kind in the per-row damage mask."""
    return 1 << DAMAGE_KINDS.index(kind)


def bits_to_text(bits: np.ndarray) -> np.ndarray:
    """Per-row masks → ';'-joined kind names ('' for clean rows); works on unique masks only."""
    uniq, inv = np.unique(bits, return_inverse=True)
    names = np.array(
        [";".join(k for i, k in enumerate(DAMAGE_KINDS) if int(u) >> i & 1) for u in uniq.tolist()],
        dtype=object,
    )
    return names[inv.reshape(-1)]


def damage_ids(
    rng: np.random.Generator,
    ids: pl.Series,
    relative_ids: pl.Series | None,
    rates: DamageRates,
    xlsx: bool,
) -> tuple[pl.Series, np.ndarray, np.ndarray]:
    """(values, damage bits, numeric) — ``numeric`` marks values to be written as Excel numbers.

    Only the rows drawn for damage are touched (gathered, changed, scattered back).
    """
    n = ids.len()
    bits = np.zeros(n, dtype=np.uint32)
    numeric = np.zeros(n, dtype=bool)
    if n == 0:
        return ids, bits, numeric
    k = _pick_kind(rng, n, [getattr(rates, x) for x in ID_DAMAGE])
    rows = np.flatnonzero(k < len(ID_DAMAGE))
    if len(rows) == 0:
        return ids, bits, numeric
    kk = k[rows]
    sub = ids.gather(rows).to_numpy().astype("<U18")
    rel = (
        relative_ids.gather(rows).fill_null("").to_numpy().astype("<U18")
        if relative_ids is not None
        else np.full(len(rows), "")
    )
    out = sub.astype(object)
    applied = np.zeros(len(rows), dtype=bool)
    m = len(rows)
    mat = np.frombuffer("".join(sub.tolist()).encode("ascii"), dtype=np.uint8).reshape(m, 18).copy()
    ends_x = np.char.endswith(sub, "X")
    eligible = {
        "id_15_digit": _slice(sub, 6, 8) == "19",
        "id_lowercase_x": ends_x,
        "id_excel_number": ~ends_x,
        "id_relative": rel != "",
        "id_float_cell": ~ends_x & xlsx,
    }
    for i, name in enumerate(ID_DAMAGE):
        sel = np.flatnonzero((kk == i) & eligible.get(name, np.ones(m, dtype=bool)))
        if len(sel) == 0:
            continue
        applied[sel] = True
        if name == "id_15_digit":
            out[sel] = np.char.add(_slice(sub[sel], 0, 6), _slice(sub[sel], 8, 17))
        elif name == "id_typo":
            pos = rng.integers(0, 17, len(sel))
            d = mat[sel, pos] - 48
            mat[sel, pos] = (d + rng.integers(1, 10, len(sel))) % 10 + 48
            out[sel] = _rows(mat[sel])
        elif name == "id_transposition":
            pos = rng.integers(0, 16, len(sel))
            for _ in range(6):  # find two adjacent digits that differ
                same = mat[sel, pos] == mat[sel, pos + 1]
                pos = np.where(same, rng.integers(0, 16, len(sel)), pos)
            a = mat[sel, pos].copy()
            changed = a != mat[sel, pos + 1]
            mat[sel, pos] = mat[sel, pos + 1]
            mat[sel, pos + 1] = a
            out[sel] = _rows(mat[sel])
            applied[sel[~changed]] = False
            out[sel[~changed]] = sub[sel[~changed]]
        elif name == "id_lowercase_x":
            out[sel] = np.char.replace(sub[sel], "X", "x")
        elif name == "id_excel_number":
            # what Excel keeps of a number typed in: 15 significant digits, rounded
            kept = [f"{int(v):.14E}" for v in sub[sel].tolist()]
            if xlsx:
                out[sel] = kept  # the cell Excel saves: <v>3.60425197608152E+17</v>
                numeric[rows[sel]] = True
            else:
                sci = rng.random(len(sel)) < 0.5
                sci_s = [x.split("E")[0].rstrip("0").rstrip(".") + "E+17" for x in kept]
                zeros = [str(int(Decimal(x))) for x in kept]
                out[sel] = np.where(
                    sci, np.array(sci_s, dtype=object), np.array(zeros, dtype=object)
                )
        elif name == "id_float_cell":
            # a program wrote the ID as a binary double: ingest reads back the double's exact
            # integer (…152320 for …152348); one that ends in 000 or is exact is no such case
            exact = np.array([str(int(float(int(v)))) for v in sub[sel].tolist()], dtype=object)
            real = (exact != sub[sel]) & ~np.char.endswith(exact.astype(str), "000")
            out[sel] = np.where(real, exact, sub[sel])
            numeric[rows[sel[real]]] = True
        elif name == "id_date_typo":
            out[sel] = _rows(_date_typo(rng, mat[sel]))
        elif name == "id_spaces_fullwidth":
            style = rng.integers(0, 3, len(sel))
            v = sub[sel]
            spaced = np.char.add(
                np.char.add(np.char.add(_slice(v, 0, 6), " "), np.char.add(_slice(v, 6, 14), " ")),
                _slice(v, 14, 18),
            )
            trail = np.char.add(v, np.where(rng.random(len(sel)) < 0.5, " ", "\u3000"))
            table = str.maketrans({str(i): _FW_DIGITS[i] for i in range(10)} | {"X": "\uff38"})
            full = np.array([x.translate(table) for x in v.tolist()], dtype=object)
            out[sel] = np.where(style == 0, spaced, np.where(style == 1, trail, full))
        elif name == "id_missing":
            out[sel] = None
        elif name == "id_relative":
            out[sel] = rel[sel]
        same = np.array([o == x for o, x in zip(out[sel].tolist(), sub[sel].tolist(), strict=True)])
        applied[sel[same]] = False  # e.g. an ID already ending in 000 survives Excel
        bits[rows[sel[applied[sel]]]] |= bit(name)
    done = rows[applied]
    result = (
        ids.cast(pl.Utf8).clone().scatter(done, pl.Series(out[applied].tolist(), dtype=pl.Utf8))
        if len(done)
        else ids
    )
    return result, bits, numeric


_DAYS = np.array([0, 31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])


def _date_ok(mat: np.ndarray) -> np.ndarray:
    """Rows of an ASCII ID matrix whose birth-date digits (positions 7-14) are a real date in
    1890-2099 (a stable bound: the synthetic city does not depend on the day it is made)."""
    d = mat[:, 6:14].astype(np.int64) - 48
    y = d[:, 0] * 1000 + d[:, 1] * 100 + d[:, 2] * 10 + d[:, 3]
    m = d[:, 4] * 10 + d[:, 5]
    day = d[:, 6] * 10 + d[:, 7]
    leap = ((y % 4 == 0) & (y % 100 != 0)) | (y % 400 == 0)
    month_ok = (m >= 1) & (m <= 12)
    last = _DAYS[np.clip(m, 0, 12)] + ((m == 2) & leap)
    return (y >= 1890) & (y <= 2099) & month_ok & (day >= 1) & (day <= last)


def _date_typo(rng: np.random.Generator, mat: np.ndarray, tries: int = 12) -> np.ndarray:
    """One typo (2 in 3) or adjacent swap (1 in 3) inside the birth-date digits (positions
    7-14) that makes the date invalid (month 13, day 92, year 9185); redrawn until it does. A
    row left unchanged after ``tries`` draws (no such edit found) is not damaged."""
    out = mat.copy()
    todo = np.arange(len(mat))
    for _ in range(tries):
        if len(todo) == 0:
            break
        k = len(todo)
        v = mat[todo].copy()
        at = np.arange(k)
        swap = rng.random(k) < 1 / 3
        pos = rng.integers(6, 14, k)
        d = v[at, pos] - 48
        typo = ((d + rng.integers(1, 10, k)) % 10 + 48).astype(np.uint8)
        spos = rng.integers(6, 13, k)
        a, b = v[at, spos].copy(), v[at, spos + 1].copy()
        v[at, pos] = np.where(swap, v[at, pos], typo)
        v[at[swap], spos[swap]] = b[swap]
        v[at[swap], spos[swap] + 1] = a[swap]
        bad = ~_date_ok(v)
        out[todo[bad]] = v[bad]
        todo = todo[~bad]
    return out


def _slice(a: np.ndarray, start: int, stop: int) -> np.ndarray:
    if len(a) == 0:
        return a.astype(f"<U{max(stop - start, 1)}")
    b = a.astype("<U18").view("<U1").reshape(len(a), -1)[:, start:stop]
    return np.ascontiguousarray(b).view(f"<U{stop - start}").ravel()


def _rows(mat: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(mat).view("S18").ravel().astype("<U18").astype(object)


@cache
def homophone_table() -> dict[str, tuple[str, ...]]:
    """Character → other characters with the same toneless pinyin (from pypinyin, built once)."""
    from pypinyin import Style, lazy_pinyin

    chars = sorted(set("".join(namedata.GIVEN_CHARS.values()) + namedata.HOMOPHONE_POOL))
    by_sound: dict[str, list[str]] = {}
    for ch in chars:
        by_sound.setdefault(lazy_pinyin(ch, style=Style.NORMAL)[0], []).append(ch)
    out: dict[str, tuple[str, ...]] = {}
    for group in by_sound.values():
        for ch in group:
            others = tuple(c for c in group if c != ch)
            if others:
                out[ch] = others
    return out


@cache
def _s2t() -> object:
    import opencc

    return opencc.OpenCC("s2t")


def damage_names(
    rng: np.random.Generator, names: pl.Series, rates: DamageRates
) -> tuple[pl.Series, np.ndarray]:
    n = names.len()
    bits = np.zeros(n, dtype=np.uint32)
    if n == 0:
        return names, bits
    k = _pick_kind(rng, n, [getattr(rates, x) for x in NAME_DAMAGE])
    rows = np.flatnonzero(k < len(NAME_DAMAGE))
    if len(rows) == 0:
        return names, bits
    kk = k[rows]
    sub = names.gather(rows).to_numpy().astype(object)
    out = sub.copy()
    applied = np.zeros(len(rows), dtype=bool)
    # traditional: only names that change under s2t are eligible
    sel = np.flatnonzero(kk == 0)
    if len(sel):
        conv = _s2t()
        trad = {u: conv.convert(u) for u in set(sub[sel].tolist())}  # type: ignore[attr-defined]
        new = np.array([trad[v] for v in sub[sel].tolist()], dtype=object)
        ok = new != sub[sel]
        out[sel[ok]] = new[ok]
        applied[sel[ok]] = True
        bits[rows[sel[ok]]] |= bit("name_traditional")
    sel = np.flatnonzero(kk == 1)
    if len(sel):
        table = homophone_table()
        r = rng.integers(0, 1 << 30, len(sel))
        for j, i in enumerate(sel.tolist()):
            v = sub[i]
            alt = table.get(v[-1]) if len(v) >= 2 else None
            if alt:
                out[i] = v[:-1] + alt[r[j] % len(alt)]
                applied[i] = True
                bits[rows[i]] |= bit("name_homophone")
    sel = np.flatnonzero(kk == 2)
    if len(sel):
        v = sub[sel].astype(str)
        two = np.char.str_len(v) == 2
        style = rng.integers(0, 3, len(sel))
        mid = np.char.add(
            np.char.add(_slice(v, 0, 1), np.where(style == 0, "  ", "\u3000")), _slice(v, 1, 2)
        )
        pad = np.where(style == 1, np.char.add(v, " "), np.char.add(" ", v))
        out[sel] = np.where(two & (style != 1), mid, pad)
        applied[sel] = True
        bits[rows[sel]] |= bit("name_padding")
    done = rows[applied]
    if len(done) == 0:
        return names, bits
    return names.clone().scatter(done, pl.Series(out[applied].tolist(), dtype=pl.Utf8)), bits


def render_dates(dates: pl.Series, style: str) -> pl.Series:
    d = dates.cast(pl.Date)
    y, m, day = d.dt.year().cast(pl.Utf8), d.dt.month().cast(pl.Utf8), d.dt.day().cast(pl.Utf8)
    frame = pl.DataFrame({"d": d, "y": y, "m": m, "day": day})
    if style == "iso":
        e = pl.col("d").dt.strftime("%Y-%m-%d")
    elif style == "compact":
        e = pl.col("d").dt.strftime("%Y%m%d")
    elif style == "slash":
        e = pl.concat_str("y", pl.lit("/"), "m", pl.lit("/"), "day")
    elif style == "cn":
        e = pl.concat_str("y", pl.lit("年"), "m", pl.lit("月"), "day", pl.lit("日"))
    elif style == "serial":
        e = (pl.col("d").cast(pl.Int32) + 25569).cast(pl.Utf8)
    elif style == "ym":
        e = pl.col("d").dt.strftime("%Y-%m")
    else:
        raise ValueError(style)
    return frame.select(e.alias(dates.name)).to_series()


def damage_dates(
    rng: np.random.Generator, dates: pl.Series, style: str, rate: float
) -> tuple[pl.Series, np.ndarray, np.ndarray]:
    """Render in the file's style; a share ``rate`` of rows in another style.

    Returns (text, damage bits, serial mask) — serial cells become numbers in xlsx files.
    """
    n = dates.len()
    text = render_dates(dates, style)
    kind = np.zeros(n, dtype=np.uint32)
    serial = np.zeros(n, dtype=bool) | (style == "serial")
    if n == 0 or rate <= 0 or style == "ym":
        return text, kind, serial & dates.is_not_null().to_numpy()
    hit = (rng.random(n) < rate) & dates.is_not_null().to_numpy()
    others = [s for s in DATE_STYLES if s != style]
    which = rng.integers(0, len(others), n)
    out = text.clone()
    for j, s in enumerate(others):
        sel = np.flatnonzero(hit & (which == j))
        if len(sel):
            out = out.scatter(sel, render_dates(dates.gather(sel), s))
            serial[sel] = s == "serial"
            kind[sel] |= bit("date_format")
    return out, kind, serial & dates.is_not_null().to_numpy()


def money(fen: pl.Expr) -> pl.Expr:
    """Integer fen → yuan text with two decimals ("1234.50")."""
    return pl.concat_str(
        (fen // 100).cast(pl.Utf8), pl.lit("."), (fen % 100).cast(pl.Utf8).str.zfill(2)
    )
