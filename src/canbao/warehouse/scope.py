"""Scope: who is reading, and which part of the city they may see. Every data read of the
registry, coverage and the store takes one.

A scope is built from a signed-in user by :func:`canbao.store.scopes.scope_for` (county staff:
their counties, with every retired code that counts for them in the region profile), or is
:meth:`Scope.system` for batch jobs and the command line's operator — named loudly, with a
reason, so an unscoped read cannot be written by accident.

``counties`` is the set of area codes (division or pooling-area codes, as records carry them)
the reader may see; ``None`` means the whole city. ``personal``: the reader may see personal
data at all (masked); ``reveal``: may see full ID numbers, phones and addresses (each such read
is an audit-log entry).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import polars as pl

from canbao.errors import PermissionDenied

_CODE = re.compile(r"^[0-9A-Za-z_]{1,32}$")


@dataclass(frozen=True)
class Scope:
    actor: str
    role: str
    counties: frozenset[str] | None
    personal: bool = True
    reveal: bool = False
    reason: str = ""  # for system scopes: why the job reads everything
    client: str = ""  # client address, when there is one (web)

    def __post_init__(self) -> None:
        if self.counties is not None:
            bad = [c for c in self.counties if not _CODE.match(c)]
            if bad:
                raise ValueError(f"scope: not an area code: {bad[:3]}")

    @classmethod
    def system(cls, reason: str, actor: str = "system") -> Scope:
        """The whole city, full access: batch jobs and the local operator's CLI. ``reason``
        says why (it is written to the audit log of any reveal)."""
        if not reason:
            raise ValueError("Scope.system needs a reason")
        return cls(actor, "admin", None, personal=True, reveal=True, reason=reason)

    @property
    def city_wide(self) -> bool:
        return self.counties is None

    def allows(self, county: str | None) -> bool:
        """May the reader see a row of this area code? (A row without one: city-wide only.)"""
        if self.counties is None:
            return True
        return county is not None and county in self.counties

    def sql(self, column: str) -> str:
        """A SQL condition on ``column`` (an area code) for this scope: ``TRUE`` city-wide."""
        if self.counties is None:
            return "TRUE"
        if not self.counties:
            return "FALSE"
        codes = ", ".join(f"'{c}'" for c in sorted(self.counties))
        return f"({column} IN ({codes}))"

    def expr(self, column: str) -> pl.Expr:
        """The same condition as a Polars expression."""
        if self.counties is None:
            return pl.lit(True)
        return pl.col(column).is_in(sorted(self.counties))

    def filter(self, frame: pl.DataFrame, column: str) -> pl.DataFrame:
        return frame if self.counties is None else frame.filter(self.expr(column))

    def lazy(self, frame: pl.LazyFrame, column: str) -> pl.LazyFrame:
        return frame if self.counties is None else frame.filter(self.expr(column))

    def require_personal(self) -> None:
        if not self.personal:
            raise PermissionDenied(
                f"“{self.actor}”无权查看个人信息", f"{self.actor!r} may not read personal data"
            )

    def require_reveal(self) -> None:
        if not self.reveal:
            raise PermissionDenied(
                f"“{self.actor}”无权查看完整的身份证号、电话或地址",
                f"{self.actor!r} may not reveal personal data",
            )

    def require_city_wide(self, what: str) -> None:
        """Refuse a reader limited to some counties (``what``: the read, in Chinese)."""
        if self.counties is not None:
            raise PermissionDenied(
                f"{what}需要全市范围的权限，“{self.actor}”只能查看所负责的区县",
                f"{self.actor!r} is limited to counties: {what} is city-wide",
            )

    def require_county(self, county: str | None) -> None:
        if not self.allows(county):
            raise PermissionDenied(
                "该记录不在您负责的区县范围内", f"{self.actor!r}: area {county!r} out of scope"
            )
