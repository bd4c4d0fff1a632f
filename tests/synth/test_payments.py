"""The synthetic city's payment behaviour and the contribution ledger's truth (synth.payments).

The truth is checked against the extracts as delivered (read here independently: headers
through the kinds contract, dates and yuan parsed by hand) and recomputed with Decimal.
Assertion messages name employers by their synthetic number (eid) only.
"""

from __future__ import annotations

import calendar
import datetime as dt
import json
from collections import defaultdict
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import numpy as np
import polars as pl
import pytest

from canbao.cli import run
from canbao.ingest.kinds import SCHEME_LABELS_ZH, SCHEME_VALUES, header_synonyms
from canbao.synth import generate, payments
from canbao.synth.config import SynthConfig

from .conftest import manifest, read_extract

WORDS = {w: k for k, ws in SCHEME_VALUES.items() for w in ws} | {
    v: k for k, v in SCHEME_LABELS_ZH.items()
}
Key = tuple[int, str, str]  # eid, scheme, period


def _meta(root: Path) -> dict:
    return json.loads((root / "truth" / "payments.json").read_text(encoding="utf-8"))


def _as_of(root: Path) -> dt.date:
    return dt.date.fromisoformat(_meta(root)["as_of"])


def _ledger(root: Path) -> pl.DataFrame:
    return pl.read_csv(
        root / "truth" / "ledger.csv",
        schema_overrides={"credit_code": pl.Utf8, "unit": pl.Utf8, "period": pl.Utf8},
        try_parse_dates=True,
    )


def _day(text: str) -> dt.date:
    """The date styles of the synthetic extracts, read by hand."""
    t = text.strip()
    if t.isdigit() and len(t) == 8:
        return dt.date(int(t[:4]), int(t[4:6]), int(t[6:]))
    if t.isdigit():  # an Excel serial day
        return dt.date(1899, 12, 30) + dt.timedelta(days=int(t))
    for sep in ("-", "/"):
        if sep in t:
            y, m, d = (int(x) for x in t.split(sep))
            return dt.date(y, m, d)
    year, rest = t.split("年")
    month, rest = rest.split("月")
    return dt.date(int(year), int(month), int(rest.rstrip("日")))


def _fen(text: str) -> int:
    return int(Decimal(text.replace(",", "")) * 100)


def _period(text: str) -> str:
    t = text.replace("-", "")
    return f"{t[:4]}-{t[4:6]}"


def _due_date(period: str) -> dt.date:
    y, m = int(period[:4]), int(period[5:7])
    y, m = (y + 1, 1) if m == 12 else (y, m + 1)
    return dt.date(y, m, calendar.monthrange(y, m)[1])


def _rows(root: Path, source: str, kind: str) -> list[dict]:
    """An extract's rows with canonical field names, its row number and true employer."""
    entry = {f["source"]: f for f in manifest(root)["files"]}[source]
    raw = read_extract(root, entry)
    syn = header_synonyms(kind)
    raw = raw.rename({h: syn[h] for h in raw.columns}).with_row_index("row", 1)
    links = pl.read_csv(root / "truth" / "employer_links.csv").filter(pl.col("source") == source)
    joined = raw.with_columns(pl.col("row").cast(pl.Int64)).join(
        links.select("row", "eid"), on="row", how="left"
    )
    assert joined["eid"].null_count() == 0, source  # every row has its true employer
    return joined.to_dicts()


def _file_payments(root: Path) -> list[dict]:
    """Every payment of the payment extracts once: a transaction number identifies a payment;
    a row without one is a payment of its own (that file repeats no row)."""
    meta = _meta(root)["files"]
    out: dict[object, dict] = {}
    for source in [*meta["with_txn_id"], *meta["without_txn_id"]]:
        for i, r in enumerate(_rows(root, source, "payment")):
            pay = {
                "eid": r["eid"],
                "scheme": WORDS[r["scheme"]],
                "period": _period(r["period"]),
                "fen": _fen(r["paid"]),
                "date": _day(r["paid_date"]),
                "txn": r.get("txn_id"),
            }
            key = (
                (pay["eid"], pay["scheme"], pay["period"], pay["txn"])
                if pay["txn"]
                else (source, i)
            )
            if key in out:
                assert out[key]["fen"] == pay["fen"] and out[key]["date"] == pay["date"]
            out[key] = pay
    return list(out.values())


@pytest.fixture(scope="module")
def paid_by_key(city: Path) -> dict[Key, list[tuple[dt.date, int]]]:
    got: dict[Key, list[tuple[dt.date, int]]] = defaultdict(list)
    for p in _file_payments(city):
        got[(p["eid"], p["scheme"], p["period"])].append((p["date"], p["fen"]))
    return got


def test_the_ledger_truth_adds_up(city: Path) -> None:
    led = _ledger(city)
    as_of = _as_of(city)
    assert led.height > 0 and led.select("eid", "scheme", "period").is_unique().all()
    assert (led["balance_fen"] == led["due_fen"] - led["paid_fen"]).all()
    assert (led["estimated"] == (led["origin"] == "estimated")).all()
    assert set(led["origin"]) == {"declared", "estimated", "opening"}
    assert (led["late_fee_fen"] >= 0).all() and (led["due_fen"] >= 0).all()
    for period, due in led.select("period", "due_date").unique().iter_rows():
        assert due == _due_date(period), period
    # nothing is late before its due date; an estimated month is never paid
    not_due = led.filter(pl.col("due_date") >= as_of)
    assert not_due.height > 0 and (not_due["late_fee_fen"] == 0).all()
    assert (led.filter("estimated")["paid_fen"] == 0).all()
    # a credit (overpayment) stays with its period as a negative balance
    assert (led["balance_fen"] < 0).any()


def test_estimated_rows_are_exactly_the_months_without_a_declaration(city: Path) -> None:
    as_of = _as_of(city)
    declared: dict[tuple[int, str], dict[str, int]] = defaultdict(dict)
    for r in _rows(city, "si_declaration", "declaration"):
        declared[(r["eid"], WORDS[r["scheme"]])][_period(r["period"])] = _fen(r["due"])
    want: dict[Key, int] = {}
    for (eid, scheme), months in declared.items():
        periods = sorted(months)
        last = periods[-1]
        year = int(periods[0][:4])
        previous = None
        for m in range(int(periods[0][5:]), 13):
            p = f"{year}-{m:02d}"
            if p in months:
                previous = months[p]
            elif p < last or _due_date(p) <= as_of:  # between declared months, or overdue
                assert previous is not None
                est = (Decimal(previous) * Decimal("1.1")).quantize(Decimal(1), ROUND_HALF_UP)
                want[(eid, scheme, p)] = int(est)
    led = _ledger(city).filter("estimated")
    got = {(e, s, p): d for e, s, p, d in led.select("eid", "scheme", "period", "due_fen").rows()}
    assert want and got == want
    # the employers that leave months out have estimated months; nobody else plants them
    emp = pl.read_parquet(city / "truth" / "employers.parquet")
    missing = set(emp.filter(pl.col("pay_class") == "missing")["eid"])
    assert missing and missing <= {e for e, _, _ in got}


def test_paid_counts_each_payment_once(city: Path, paid_by_key: dict) -> None:
    as_of = _as_of(city)
    led = _ledger(city)
    truth = pl.read_parquet(city / "truth" / "payments.parquet")
    assert sum(len(v) for v in paid_by_key.values()) == truth.height
    assert (truth["paid_date"] <= as_of).all()
    got = {(e, s, p): f for e, s, p, f in led.select("eid", "scheme", "period", "paid_fen").rows()}
    want = {k: sum(f for d, f in v if d <= as_of) for k, v in paid_by_key.items()}
    assert set(want) <= set(got)  # every payment names a period of the ledger
    assert all(got[k] == want.get(k, 0) for k in got)


def test_a_file_without_transaction_numbers_repeats_no_payment(city: Path) -> None:
    meta = _meta(city)["files"]
    (counter,) = meta["without_txn_id"]
    rows = _rows(city, counter, "payment")
    assert rows and all("txn_id" not in r for r in rows)
    content = [(r["eid"], r["scheme"], r["period"], _fen(r["paid"]), _day(r["paid_date"]))
               for r in rows]  # fmt: skip
    assert len(set(content)) == len(content)
    for source in meta["with_txn_id"]:
        assert all(r["txn_id"] for r in _rows(city, source, "payment")), source


def test_the_duplicated_file_repeats_a_quarter_of_the_first(city: Path) -> None:
    dup = _meta(city)["files"]["duplicated"]
    entry = {f["source"]: f for f in manifest(city)["files"]}
    assert (
        entry[dup["source"]]["path"] == dup["path"] and entry[dup["repeats"]]["kind"] == "payment"
    )
    first = {r["txn_id"]: r for r in _rows(city, dup["repeats"], "payment")}
    again = _rows(city, dup["source"], "payment")
    txns = {r["txn_id"] for r in again}
    assert len(txns) == dup["rows"] > 0 and txns < set(first)
    q = dup["quarter"]
    for r in again:
        o = first[r["txn_id"]]
        assert (o["eid"], o["credit_code"], o["period"], o["scheme"]) == (
            r["eid"], r["credit_code"], r["period"], r["scheme"]
        )  # fmt: skip
        assert _fen(o["paid"]) == _fen(r["paid"]) and _day(o["paid_date"]) == _day(r["paid_date"])
        assert (_day(r["paid_date"]).month - 1) // 3 + 1 == q
    # every first-file payment received in that quarter is repeated
    in_q = {t for t, r in first.items() if (_day(r["paid_date"]).month - 1) // 3 + 1 == q}
    assert in_q == txns


def test_every_behaviour_class_occurs_and_shows_in_the_ledger(city: Path) -> None:
    emp = pl.read_parquet(city / "truth" / "employers.parquet")
    assert set(emp["pay_class"].drop_nulls()) == set(payments.CLASSES)
    assert set(emp["pay_channel"].drop_nulls()) == {"txn", "counter"}
    as_of = _as_of(city)
    led = _ledger(city).filter(pl.col("origin") == "declared")
    overdue = led.filter((pl.col("due_date") < as_of) & (pl.col("due_fen") > 0))

    def of(cls: str) -> pl.DataFrame:
        return overdue.filter(pl.col("pay_class") == cls)

    ok = of("on_time")
    assert ok.height > 0 and (ok["balance_fen"] <= 0).all() and (ok["late_fee_fen"] == 0).all()
    late = of("late")
    assert (late.filter(pl.col("balance_fen") == 0)["late_fee_fen"] > 0).any()
    part = of("partial")
    assert ((part["paid_fen"] > 0) & (part["balance_fen"] > 0)).any()
    chronic = of("chronic").filter(pl.col("paid_fen") == 0)
    runs = chronic.group_by("eid", "scheme").len()
    assert (runs["len"] >= 2).any()  # stops paying for months


def test_opening_arrears_list_is_the_ledger_opening(city: Path) -> None:
    meta = _meta(city)
    rows = _rows(city, meta["files"]["opening_arrears"], "arrears")
    year = meta["year"]
    assert rows and {r["arrears_as_of"] for r in rows} == {f"{year - 1}-12-31"}
    listed = {(r["eid"], WORDS[r["scheme"]], _period(r["period"])): _fen(r["amount"])
              for r in rows}  # fmt: skip
    assert len(listed) == len(rows)  # one row per employer, scheme and month
    led = _ledger(city).filter(pl.col("origin") == "opening")
    got = {(e, s, p): d for e, s, p, d in led.select("eid", "scheme", "period", "due_fen").rows()}
    assert got == listed and all(p < f"{year}-01" for _, _, p in got)
    paid = led["paid_fen"]
    # some recovered in full, some in part, some not at all
    assert (paid == led["due_fen"]).any() and ((paid > 0) & (paid < led["due_fen"])).any()
    assert (paid == 0).any()


def _fee(due: int, due_date: dt.date, pays: list[tuple[dt.date, int]], as_of: dt.date) -> int:
    """The late fee by its definition, with Decimal: each payment (in date order) settles
    principal up to the due; days after the due date; the rest unpaid up to as-of."""
    rest = Decimal(due)
    days = Decimal(0)
    for day, fen in sorted(p for p in pays if p[0] <= as_of):
        settles = max(Decimal(0), min(Decimal(fen), rest))
        days += settles * max(0, (day - due_date).days)
        rest -= settles
    days += rest * max(0, (as_of - due_date).days)
    return int((days * Decimal("0.0005")).quantize(Decimal(1), ROUND_HALF_UP))


def test_late_fees_by_their_definition(city: Path, paid_by_key: dict) -> None:
    as_of = _as_of(city)
    led = _ledger(city)
    cols = ["eid", "scheme", "period", "due_fen", "due_date", "late_fee_fen"]
    fees = 0
    for eid, scheme, period, due, due_date, fee in led.select(cols).rows():
        want = _fee(due, due_date, paid_by_key.get((eid, scheme, period), []), as_of)
        assert fee == want, (eid, scheme, period)
        fees += want > 0
    assert fees > 0


def test_late_fees_never_decrease_and_an_earlier_ledger_is_a_subset(city: Path) -> None:
    """ledger_at / kpi_at recompute the truth at another as-of date from the truth files."""
    as_of = _as_of(city)
    pays = pl.read_parquet(city / "truth" / "payments.parquet")
    assessed = _ledger(city).select(
        "eid", "scheme", "period", "due_fen", "due_date", "estimated", "origin"
    )
    again = payments.ledger_at(assessed, pays, as_of)
    led = _ledger(city)
    same = ["eid", "scheme", "period", "paid_fen", "balance_fen", "late_fee_fen"]
    assert again.select(same).sort(same[:3]).equals(led.select(same).sort(same[:3]))
    earlier = payments.ledger_at(assessed, pays, dt.date(as_of.year, 6, 30))
    assert earlier.height > 0 and (earlier["period"] <= f"{as_of.year}-06").all()
    both = earlier.join(led, on=["eid", "scheme", "period"], suffix="_end")
    assert both.height == earlier.height
    assert (both["late_fee_fen"] <= both["late_fee_fen_end"]).all()
    assert (both["paid_fen"] <= both["paid_fen_end"]).all()
    assert (both["late_fee_fen"] < both["late_fee_fen_end"]).any()


def _units(city: Path) -> dict[int, tuple[str, str]]:
    emp = pl.read_parquet(city / "truth" / "employers.parquet")
    group = {o: g for o, g in payments.OWNERSHIP_GROUP.items()}
    return {
        e: (u, group[o]) for e, u, o in emp.select("eid", "agency_unit", "ownership").iter_rows()
    }


def test_collection_kpis_follow_their_definitions(city: Path, paid_by_key: dict) -> None:
    as_of = _as_of(city)
    start = dt.date(as_of.year, 1, 1)
    units = _units(city)
    dues: dict[tuple[str, str], list[int]] = defaultdict(lambda: [0, 0, 0, 0])
    collected: dict[tuple[str, str], int] = defaultdict(int)
    for key, pays in paid_by_key.items():
        unit = units[key[0]][0]
        for day, fen in pays:
            if start <= day <= as_of:
                for u in (unit, "city"):
                    collected[(u, key[1])] += fen
    cols = ["eid", "scheme", "period", "due_fen", "due_date"]
    for eid, scheme, period, due, due_date in _ledger(city).select(cols).rows():
        unit, group = units[eid]
        pays = paid_by_key.get((eid, scheme, period), [])
        parts = [0, 0, 0, 0]  # dues in the year, new arrears, opening arrears, recovered
        if start <= due_date <= as_of:
            parts[0] = due
            parts[1] = max(0, due - sum(f for d, f in pays if d <= as_of))
        if due_date < start:  # due by the end of the last year: an opening arrear
            opening = max(0, due - sum(f for d, f in pays if d < start))
            parts[2] = opening
            parts[3] = min(opening, sum(f for d, f in pays if start <= d <= as_of))
        for u in (unit, "city"):
            acc = dues[(u, group)]
            for i, v in enumerate(parts):
                acc[i] += v
    want: dict[tuple[str, str], str] = {}
    for (u, scheme), fen in collected.items():
        want[(u, payments.INDICATORS[scheme])] = f"{Decimal(fen) / 100:.2f}"
    for (u, g), (d, new, opening, recovered) in dues.items():
        if d:
            want[(u, f"new_arrears_ratio.{g}")] = str(
                (Decimal(new) / d).quantize(Decimal("0.0001"), ROUND_HALF_UP)
            )
        if opening:
            want[(u, f"clearance_rate.{g}")] = str(
                (Decimal(recovered) / opening).quantize(Decimal("0.0001"), ROUND_HALF_UP)
            )
    kpi = pl.read_csv(city / "truth" / "collection_kpi.csv", infer_schema=False)
    got = {(u, i): v for u, i, v in kpi.rows()}
    zero = {k: v for k, v in got.items() if k not in want}
    assert all(k[1].startswith("collected.") and v == "0.00" for k, v in zero.items())
    assert {k: got[k] for k in want} == want
    city_codes = {i for u, i in got if u == "city"}
    assert {"clearance_rate.private", "clearance_rate.public", "new_arrears_ratio.private",
            "new_arrears_ratio.public", *payments.INDICATORS.values()} == city_codes  # fmt: skip
    assert {"city_level", "devzone"} <= {u for u, _ in got}


def _book_for(ownership: list[str], staff: int, seed: int) -> pl.DataFrame:
    """The classes drawn for employers of the given ownership, each with ``staff`` employees on
    the payroll all year and a declaration every month."""
    n = len(ownership)
    eid = np.arange(1, n + 1, dtype=np.int64)
    employers = pl.DataFrame({"eid": eid, "ownership": ownership, "county_code": ["360402"] * n})
    spells = pl.DataFrame(
        {
            "eid": np.repeat(eid, staff),
            "pid": np.arange(1, n * staff + 1, dtype=np.int64),
            "start_month": np.ones(n * staff, dtype=np.int32),
            "end_month": np.full(n * staff, 12, dtype=np.int32),
        }
    )
    decl = pl.DataFrame(
        {
            "eid": np.repeat(eid, 12),
            "scheme": ["employee_pension"] * (12 * n),
            "month": np.tile(np.arange(1, 13, dtype=np.int32), n),
            "headcount": np.full(12 * n, staff, dtype=np.int64),
            "base": np.full(12 * n, staff * 300_000, dtype=np.int64),
            "due": np.full(12 * n, staff * 81_000, dtype=np.int64),
            "true_headcount": np.full(12 * n, staff, dtype=np.int64),
            "true_base": np.full(12 * n, staff * 300_000, dtype=np.int64),
        }
    )
    _, book = payments.build_book(SynthConfig(persons=n, seed=seed), employers, spells, decl)
    return book.employers.join(employers.select("eid", "ownership"), on="eid")


def test_ownership_and_size_drive_the_behaviour() -> None:
    own = ["private", "individual", "state", "collective", "public_institution"] * 800
    small = _book_for(own, staff=3, seed=5)
    bad = small.with_columns(
        bad=pl.col("pay_class") != "on_time",
        group=pl.col("ownership").replace_strict(payments.OWNERSHIP_GROUP),
    )
    share = dict(bad.group_by("group").agg(pl.col("bad").mean()).iter_rows())
    exp = {g: 1 - s[0] for g, s in payments.CLASS_SHARES.items()}
    for g in ("private", "public"):  # the configured shares, within 4 standard deviations
        n = bad.filter(pl.col("group") == g).height
        assert abs(share[g] - exp[g]) < 4 * (exp[g] * (1 - exp[g]) / n) ** 0.5, (g, share[g])
    assert share["private"] > share["public"] + 0.15
    big = _book_for(own, staff=250, seed=5)
    big_bad = (big["pay_class"] != "on_time").to_numpy().mean()
    assert big_bad < 0.5 * bad["bad"].to_numpy().mean()  # large employers pay more reliably
    # classes follow the draw; a small employer may pay at a counter, a large one never does
    assert set(small["pay_class"]) == set(payments.CLASSES)
    assert set(big["pay_channel"]) == {"txn"} and "counter" in set(small["pay_channel"])


def test_a_small_city_has_every_file_and_class(tmp_path: Path) -> None:
    root = generate(1500, 7, tmp_path / "c").parent
    meta = _meta(root)
    assert set(meta["classes"]) == set(payments.CLASSES)
    for f in manifest(root)["files"]:
        if f["kind"] in ("payment", "arrears"):
            assert read_extract(root, f).height > 0, f["source"]
    led = _ledger(root)
    assert led.filter("estimated").height > 0
    opening = led.filter(pl.col("origin") == "opening")
    assert (opening["paid_fen"] > 0).any() and (opening["paid_fen"] < opening["due_fen"]).any()


def test_nothing_personal_is_printed(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "c"
    assert run(["synth", "--persons", "600", "--seed", "4", "--out", str(out)]) == 0
    printed = "".join(capsys.readouterr())
    persons = pl.read_parquet(out / "truth" / "persons.parquet")
    assert not any(i in printed for i in persons["id18"].to_list())
    assert not any(n in printed for n in persons["name"].to_list() if len(n) >= 2)
    emp = pl.read_parquet(out / "truth" / "employers.parquet")
    assert not any(c in printed for c in emp["credit_code"].to_list())
