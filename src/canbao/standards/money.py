"""Money and ratios: the one place where Canbao rounds.

Money is integer fen everywhere inside Canbao; :class:`~decimal.Decimal` appears only at the edges
(a yuan amount typed by a user, a ratio shown in a report). Every rounding is **half-up** in the
accounting sense: a half goes away from zero (ROUND_HALF_UP of :mod:`decimal`; 0.005 → 0.01,
−0.005 → −0.01), done once on the exact value, never on an already-rounded one.

* :func:`div_half_up` — an integer quotient rounded half-up (exact integer arithmetic; the late
  fee and every SQL twin use the same formula);
* :func:`round_half_up` — a Decimal rounded to a multiple of a quantum (0.0001, 0.1, 1 …);
* :func:`fen_of` / :func:`yuan_of` — yuan ↔ fen; :func:`parse_yuan` — a yuan text typed by a
  person or found in a file → fen, strictly (the same rules as the vectorised
  :func:`canbao.ingest.normalize.parse_money`); :func:`yuan_text` — fen → ``"1234.50"``;
* :func:`ratio` — an exact quotient of two integers rounded half-up to a quantum.
"""

from __future__ import annotations

import operator
import re
from decimal import MAX_PREC, Decimal, localcontext
from fractions import Fraction

from canbao.errors import DataError, UsageError
from canbao.standards._text import FULLWIDTH, HALFWIDTH

FEN_PER_YUAN = 100

# Unicode White_Space: what the Rust regex class \s of parse_money matches (Python's \s would also
# match the ASCII separators U+001C..U+001F).
_WS = "\t\n\x0b\x0c\r \x85\xa0\u1680\u2000-\u200a\u2028\u2029\u202f\u205f\u3000"
_HALFWIDTH = str.maketrans(dict(zip(FULLWIDTH, HALFWIDTH, strict=True)))
_NOISE = re.compile(f"[,，¥￥元{_WS}]")
_AMOUNT = re.compile(r"([+-]?)([0-9]+)(?:\.([0-9]*))?", re.ASCII)
MAX_WHOLE_DIGITS = 15  # parse_money's limit: at most 15 digits before the decimal point


def div_half_up(numer: int, denom: int) -> int:
    """``numer / denom`` rounded to an integer, a half away from zero: 5/2 → 3, −5/2 → −3,
    7/4 → 2. Exact for integers of any size."""
    numer, denom = operator.index(numer), operator.index(denom)
    if denom == 0:
        raise UsageError("除数不能为零", "division by zero in div_half_up")
    if denom < 0:
        numer, denom = -numer, -denom
    q = (2 * abs(numer) + denom) // (2 * denom)
    return q if numer >= 0 else -q


def _finite(value: Decimal, what: str) -> Decimal:
    if not isinstance(value, Decimal) or not value.is_finite():
        raise DataError(f"{what}不是有效数值：{value}", f"{what!r}: not a finite Decimal")
    return value


def _to_quantum(exact: Fraction, quantum: Decimal) -> Decimal:
    """The multiple of ``quantum`` nearest to ``exact``, a half away from zero."""
    if not isinstance(quantum, Decimal) or not quantum.is_finite() or quantum <= 0:
        raise UsageError(f"舍入单位必须为正数：{quantum}", f"bad quantum {quantum!r}")
    steps = exact / Fraction(quantum)
    n = div_half_up(steps.numerator, steps.denominator)
    with localcontext() as ctx:
        ctx.prec = MAX_PREC  # the product is exact then
        return Decimal(n) * quantum


def round_half_up(value: Decimal, quantum: Decimal) -> Decimal:
    """``value`` rounded to the nearest multiple of ``quantum`` (> 0), a half away from zero,
    exactly; the result has ``quantum``'s exponent: (0.74795, 0.0001) → 0.7480,
    (−2.5, 1) → −3, (7.5, 5) → 10."""
    return _to_quantum(Fraction(_finite(value, "数值")), quantum)


def ratio(numer: int, denom: int, quantum: Decimal) -> Decimal | None:
    """``numer / denom`` (integers: fen, persons, days) rounded half-up to ``quantum``, exactly;
    None when ``denom`` is 0 (no ratio, never a division by zero): (1, 3, 0.0001) → 0.3333,
    (−1, 8, 0.01) → −0.13."""
    numer, denom = operator.index(numer), operator.index(denom)
    if denom == 0:
        return None
    return _to_quantum(Fraction(numer, denom), quantum)


def fen_of(value: Decimal | int | str) -> int:
    """Yuan → integer fen, rounded half-up once: Decimal("12.345") → 1235, 3 → 300; a text goes
    through :func:`parse_yuan` (its rules, its errors)."""
    if isinstance(value, str):
        return parse_yuan(value)
    if isinstance(value, bool) or not isinstance(value, int | Decimal):
        raise UsageError(
            f"金额应为整数、Decimal 或文本，不能是 {type(value).__name__}",
            f"fen_of takes int, Decimal or str, not {type(value).__name__}",
        )
    if isinstance(value, int):
        return value * FEN_PER_YUAN
    steps = Fraction(_finite(value, "金额")) * FEN_PER_YUAN
    return div_half_up(steps.numerator, steps.denominator)


def yuan_of(fen: int) -> Decimal:
    """Integer fen → exact yuan as a Decimal with two decimals: 123450 → Decimal("1234.50")."""
    return Decimal(operator.index(fen)).scaleb(-2)


def yuan_text(fen: int, *, thousands: bool = False) -> str:
    """Integer fen → yuan text with exactly two decimals: 123450 → "1234.50", −300 → "-3.00";
    ``thousands=True`` groups the yuan: 123456789 → "1,234,567.89"."""
    fen = operator.index(fen)
    sign = "-" if fen < 0 else ""
    whole, cents = divmod(abs(fen), FEN_PER_YUAN)
    return f"{sign}{whole:,}.{cents:02d}" if thousands else f"{sign}{whole}.{cents:02d}"


def parse_yuan(text: str) -> int:
    """A yuan amount as text → integer fen, strictly; raises :class:`DataError` (Chinese
    message) for anything that is not an amount ("", "abc", "1.2.3", "NaN", "1e5", ".5").

    The rules are those of :func:`canbao.ingest.normalize.parse_money` (its vectorised twin):
    full-width characters are read as half-width; separators ``,`` ``，``, the signs ``¥ ￥``,
    ``元`` and whitespace are ignored; an optional sign, at most 15 digits before the point, any
    number after it, rounded half-up to the fen: "1,234.5" → 123450, "¥12" → 1200,
    "-0.125" → −13."""
    if not isinstance(text, str):
        raise DataError(f"金额应为文本：{text!r}", f"parse_yuan takes str, not {type(text)}")
    clean = _NOISE.sub("", text.translate(_HALFWIDTH))
    if not clean:
        raise DataError("金额为空", "empty amount")
    m = _AMOUNT.fullmatch(clean)
    if m is None or len(m.group(2)) > MAX_WHOLE_DIGITS:
        shown = text if len(text) <= 40 else text[:40] + "…"
        raise DataError(
            f"金额格式不正确：“{shown}”（应为元，如 1234.50）",
            f"not a yuan amount: {shown!r}",
        )
    sign, whole, frac = m.group(1), m.group(2), (m.group(3) or "")[:3]
    # half-up depends only on the first dropped digit: three decimals are enough
    fen = div_half_up(int(whole + frac) * FEN_PER_YUAN, 10 ** len(frac))
    return -fen if sign == "-" else fen
