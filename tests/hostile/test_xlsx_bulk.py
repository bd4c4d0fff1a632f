"""The safe writer's bulk path for long sheets (canbao.xlsx_bulk) writes the cells the
cell-by-cell path writes: hostile text (formulas, XML specials, control characters, Excel's own
``_xHHHH_`` escapes, emoji, spaces at the ends), numbers, NaN and infinities, booleans, dates and
datetimes read back identically (calamine, as fastexcel reads returned workbooks), every text
stays a text cell, and the form (drop-downs, hidden columns, frozen header, filter) is there."""

from __future__ import annotations

import datetime as dt
import math
from pathlib import Path

import fastexcel
import openpyxl
import polars as pl
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from canbao import outputs, xlsx_bulk

TEXT = st.lists(
    st.one_of(
        st.characters(blacklist_categories=("Cs",), max_codepoint=0x2FFFF),
        st.sampled_from(["&", "<", ">", "=", "_x0041_", "_x000D_", "\x00", "\x0b", "\r", " "]),
    ),
    max_size=8,
).map("".join)
FLOAT = st.one_of(  # xlsxwriter's 16 digits turn the largest doubles into infinity: not those
    st.none(), st.sampled_from([math.nan, math.inf, -math.inf]),
    st.floats(min_value=-1e300, max_value=1e300),
)  # fmt: skip
DAY = st.dates(min_value=dt.date(1900, 3, 1), max_value=dt.date(2200, 1, 1))
MOMENT = st.datetimes(min_value=dt.datetime(1900, 3, 1), max_value=dt.datetime(2200, 1, 1)).map(
    lambda m: m.replace(microsecond=0)  # Excel keeps milliseconds; data has whole seconds
)


def _frames(n: int) -> st.SearchStrategy[pl.DataFrame]:
    return st.builds(
        lambda t, i, f, b, d, m: pl.DataFrame(
            {
                "row": list(range(n)),
                "text": t,
                "int": i,
                "float": f,
                "flag": b,
                "day": d,
                "moment": m,
            },
            schema={
                "row": pl.Int64,
                "text": pl.Utf8,
                "int": pl.Int64,
                "float": pl.Float64,
                "flag": pl.Boolean,
                "day": pl.Date,
                "moment": pl.Datetime("us"),
            },
        ),  # fmt: skip
        *(
            st.lists(s, min_size=n, max_size=n)
            for s in (
                st.one_of(st.none(), TEXT),
                st.one_of(st.none(), st.integers(-(2**52), 2**52)),
                FLOAT,
                st.one_of(st.none(), st.booleans()),
                st.one_of(st.none(), DAY),
                st.one_of(st.none(), MOMENT),
            )
        ),
    )


def _write(df: pl.DataFrame, path: Path, bulk: bool, monkeypatch: pytest.MonkeyPatch) -> Path:
    with monkeypatch.context() as m:
        m.setattr(xlsx_bulk, "BULK_ROWS", 1 if bulk else 10**9)
        m.setattr(xlsx_bulk, "CHUNK", 3)  # several chunks even in a small sheet
        outputs.write_workbook({"名单": df}, path)
    return path


def _read(path: Path) -> pl.DataFrame:
    sheet = fastexcel.read_excel(path).load_sheet(0)
    types = {c: "float" if c == "float" else "string" for c in sheet.to_polars().columns}
    return fastexcel.read_excel(path).load_sheet(0, dtypes=types).to_polars()  # type: ignore[arg-type]


@settings(
    max_examples=20, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(df=_frames(7))
def test_bulk_cells_read_back_as_the_cell_by_cell_ones(
    df: pl.DataFrame, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    d = tmp_path_factory.mktemp("bulk")
    slow = _read(_write(df, d / "slow.xlsx", False, monkeypatch))
    fast = _read(_write(df, d / "fast.xlsx", True, monkeypatch))
    assert fast.columns == slow.columns
    for column in fast.columns:
        if column != "float":
            assert fast[column].to_list() == slow[column].to_list(), column
    # floats: xlsxwriter writes 16 significant digits, the bulk path the exact shortest form
    want_f = [v if v is not None and math.isfinite(v) else None for v in df["float"].to_list()]
    for got, was, exact in zip(fast["float"].to_list(), slow["float"].to_list(), want_f,
                               strict=True):  # fmt: skip
        assert (got is None) == (was is None) == (exact is None)
        if exact is not None:
            assert got == exact and math.isclose(was, exact, rel_tol=1e-15)
    # the text itself survives (empty text is an empty cell)
    # (U+FFFE / U+FFFF, no characters at all, stay as xlsxwriter writes them: _xFFFE_)
    want = [None if v in (None, "") else v for v in df["text"].to_list()]
    for got, v in zip(fast["text"].to_list(), want, strict=True):
        if v is None or not ("\ufffe" in v or "\uffff" in v):
            assert got == v


def test_the_bulk_sheet_is_a_form_with_text_cells(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(xlsx_bulk, "BULK_ROWS", 1)
    payloads = ["=1+1", '=HYPERLINK("http://x","y")', "@SUM(A1)", "a<b>&c", "长" * 40_000]
    df = pl.DataFrame(
        {"name": payloads, "day": [dt.date(2018, 1, 31)] * 5, "outcome": [None] * 5,
         "key": [f"k{i}" for i in range(5)]},
        schema={"name": pl.Utf8, "day": pl.Date, "outcome": pl.Utf8, "key": pl.Utf8},
    )  # fmt: skip
    summary = outputs.write_workbook(
        {"清单": df}, tmp_path / "x.xlsx", labels={"name": "姓名"},
        dropdowns={"清单": {"outcome": ["已参保", "拒绝参保"]}}, hidden=("key",),
    )  # fmt: skip
    assert summary.cut_cells == 1 and summary.rows == 5
    ws = openpyxl.load_workbook(tmp_path / "x.xlsx").worksheets[0]
    assert [c.value for c in ws[1]] == ["姓名", "day", "outcome", "key"]
    names = [row[0] for row in ws.iter_rows(min_row=2)]
    assert [c.data_type for c in names] == ["s"] * 5  # text, never a formula
    assert [c.value for c in names[:4]] == payloads[:4]
    assert names[4].value.endswith(outputs.CUT_MARK)
    assert ws.cell(2, 2).value == dt.datetime(2018, 1, 31)
    assert ws.cell(2, 2).number_format == xlsx_bulk.DATE_FORMAT
    assert ws.freeze_panes == "A2" and ws.auto_filter.ref == "A1:D6"
    assert ws.dimensions == "A1:D6"
    assert ws.column_dimensions["D"].hidden
    (rule,) = ws.data_validations.dataValidation
    assert str(rule.sqref) == "C2:C6" and rule.formula1 == '"已参保,拒绝参保"'
    assert not list(tmp_path.glob(".*.part*"))  # no leftovers


def test_a_failing_build_leaves_no_file_and_no_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import threading

    monkeypatch.setattr(xlsx_bulk, "BULK_ROWS", 1)
    monkeypatch.setattr(xlsx_bulk, "CHUNK", 2)
    calls = {"n": 0}
    real = xlsx_bulk._cell

    def flaky(*args, **kwargs):  # type: ignore[no-untyped-def]
        calls["n"] += 1
        if calls["n"] > 4:
            raise RuntimeError("boom")
        return real(*args, **kwargs)

    monkeypatch.setattr(xlsx_bulk, "_cell", flaky)
    with pytest.raises(RuntimeError, match="boom"):
        outputs.write_workbook({"s": pl.DataFrame({"a": list(range(10))})}, tmp_path / "x.xlsx")
    assert not list(tmp_path.iterdir())
    assert not [t for t in threading.enumerate() if t.name == "xlsx-rows"]


def test_every_column_type_is_written(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Types a cell does not hold become numbers or text on the bulk path, never an error."""
    import decimal

    monkeypatch.setattr(xlsx_bulk, "BULK_ROWS", 1)
    df = pl.DataFrame(
        {"dec": [decimal.Decimal("1.50"), None], "dur": [dt.timedelta(days=1), None],
         "t": [dt.time(8, 30), None], "cat": pl.Series(["a", None], dtype=pl.Categorical),
         "nul": [None, None], "lst": [[1, 2], None], "u64": pl.Series([1, 2], dtype=pl.UInt64),
         "tz": pl.Series([dt.datetime(2018, 1, 1, 8)] * 2).dt.replace_time_zone("Asia/Shanghai"),
         "st": [{"a": 1}, {"a": 2}], "bin": [b"x", None]},
    )  # fmt: skip
    outputs.write_workbook({"s": df}, tmp_path / "x.xlsx")
    ws = openpyxl.load_workbook(tmp_path / "x.xlsx").worksheets[0]
    rows = [[c.value for c in r] for r in ws.iter_rows(min_row=2)]
    assert rows[0] == [1.5, "P1D", "08:30:00", "a", None, "1;2", 1,
                       dt.datetime(2018, 1, 1, 8), '{"a":1}', "78"]  # fmt: skip
    assert rows[1] == [None, None, None, None, None, None, 2, dt.datetime(2018, 1, 1, 8),
                       '{"a":2}', None]  # fmt: skip
