"""The generated city as a whole: manifest, complete truth, calibration, gap lists, determinism."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import polars as pl
import pytest

from canbao.ingest.kinds import (
    ENROLLMENT_STATUS,
    KINDS,
    SCHEME_LABELS_ZH,
    SCHEME_VALUES,
    SCHEMES,
    SEX_VALUES,
    header_synonyms,
)
from canbao.synth import NO_DAMAGE, TARGETS_2017, generate
from canbao.synth.config import CENSUS_TOTAL
from canbao.synth.extracts import specs

from .conftest import manifest, read_extract

ENCODINGS = {"utf-8", "utf-8-sig", "gb18030", "gbk"}


def _links(root: Path, name: str) -> pl.DataFrame:
    return pl.read_csv(root / "truth" / name, schema_overrides={"source": pl.Utf8})


def test_manifest_is_valid(city: Path) -> None:
    m = manifest(city)
    assert m["format"] == "canbao-manifest/1" and m["city"] == "360400" and m["year"] == 2017
    assert m["generator"] == {"name": "canbao synth", "persons": 20_000, "seed": 11}
    sources = [f["source"] for f in m["files"]]
    assert len(sources) == len(set(sources)) == len(specs(2017))
    enrol = set()
    for f in m["files"]:
        assert (city / f["path"]).is_file(), f["path"]
        assert f["kind"] in KINDS
        assert f["as_of"] == "2017-12-31" and f["map"] == {}
        if f["kind"] == "enrollment":
            assert f["scheme"] in SCHEMES
            enrol.add(f["scheme"])
        else:
            assert f["scheme"] is None
        if f["path"].endswith(".csv"):
            assert f["encoding"] in ENCODINGS and f["sheet"] is None
        else:
            assert f["path"].endswith(".xlsx") and f["encoding"] is None
    assert enrol == set(SCHEMES)
    assert {f["kind"] for f in m["files"]} == set(KINDS)


def test_headers_come_from_the_kinds_contract(city: Path) -> None:
    m = manifest(city)
    used: dict[str, set[str]] = {}
    for f in m["files"]:
        df = read_extract(city, f)
        syn = header_synonyms(f["kind"])
        fields = [syn.get(h) for h in df.columns]
        assert None not in fields, (f["source"], df.columns)
        assert len(set(fields)) == len(fields), f["source"]
        used.setdefault(f["kind"], set()).update(h for h in df.columns if syn[h] == "id")
    # departments use different words for the same field
    assert len(used["enrollment"]) >= 5


def test_coded_values_come_from_the_contract(city: Path) -> None:
    m = {f["source"]: f for f in manifest(city)["files"]}
    sex_words = {w for ws in SEX_VALUES.values() for w in ws}
    status_words = {w for ws in ENROLLMENT_STATUS.values() for w in ws}
    for src, f in m.items():
        if f["kind"] != "enrollment":
            continue
        df = read_extract(city, f)
        syn = header_synonyms("enrollment")
        cols = {syn[h]: h for h in df.columns}
        assert set(df[cols["sex"]].unique()) <= sex_words, src
        assert set(df[cols["status"]].unique()) <= status_words, src


def test_truth_is_complete(city: Path) -> None:
    """Every data row of every extract has its line in links.csv / employer_links.csv."""
    links = _links(city, "links.csv")
    elinks = _links(city, "employer_links.csv")
    persons = pl.read_parquet(city / "truth" / "persons.parquet")
    employers = pl.read_parquet(city / "truth" / "employers.parquet")
    for f in manifest(city)["files"]:
        n = read_extract(city, f).height
        assert n > 0, f["source"]
        mine = links.filter(pl.col("source") == f["source"])
        emine = elinks.filter(pl.col("source") == f["source"])
        if f["kind"] in ("population", "enrollment", "employment", "death", "special_group"):
            assert mine["row"].to_list() == list(range(1, n + 1)), f["source"]
            assert mine["pid"].is_in(persons["pid"].implode()).all()
        else:
            assert mine.height == 0
        if f["kind"] in ("employer", "employment", "declaration", "payment"):
            assert emine["row"].to_list() == list(range(1, n + 1)), f["source"]
        if f["kind"] == "enrollment":
            assert emine["row"].is_unique().all() and (emine["row"] <= n).all()
            if f["scheme"] in ("work_injury", "maternity", "unemployment"):
                assert emine.height == n
        assert emine["eid"].is_in(employers["eid"].implode()).all()


def test_links_point_at_the_right_person(city: Path) -> None:
    """Where no ID damage was applied, the ID in the file is the linked person's true ID."""
    links = _links(city, "links.csv")
    damage = _links(city, "damage.csv")
    persons = pl.read_parquet(city / "truth" / "persons.parquet").select("pid", "id18", "name")
    for f in manifest(city)["files"]:
        if f["kind"] not in ("population", "enrollment", "employment", "death", "special_group"):
            continue
        df = read_extract(city, f)
        syn = header_synonyms(f["kind"])
        idh = next(h for h in df.columns if syn[h] == "id")
        nh = next(h for h in df.columns if syn[h] == "name")
        rows = df.select(pl.col(idh).alias("id"), pl.col(nh).alias("name")).with_row_index("row", 1)
        rows = rows.with_columns(pl.col("row").cast(pl.Int64))
        dmg = damage.filter(pl.col("source") == f["source"]).select("row", "kinds")
        j = (
            rows.join(links.filter(pl.col("source") == f["source"]), on="row")
            .join(persons, on="pid")
            .join(dmg, on="row", how="left")
            .with_columns(pl.col("kinds").fill_null(""))
        )
        clean_id = j.filter(~pl.col("kinds").str.contains("id_"))
        assert (clean_id["id"] == clean_id["id18"]).all(), f["source"]
        clean_name = j.filter(~pl.col("kinds").str.contains("name_"))
        assert (clean_name["name"] == clean_name["name_right"]).all(), f["source"]
        damaged = j.filter(
            pl.col("kinds").str.contains("id_") & ~pl.col("kinds").str.contains("id_relative")
        )
        assert (damaged["id"].fill_null("") != damaged["id18"]).all(), f["source"]


def test_calibration_to_the_2017_targets(city: Path) -> None:
    enr = pl.read_parquet(city / "truth" / "enrollments.parquet").filter(
        pl.col("status") == "active"
    )
    counts = dict(enr.group_by("scheme").len().iter_rows())
    n = 20_000
    got = {
        "employee_pension": counts["employee_pension"],
        "urban_medical": counts["employee_medical"] + counts["resident_medical"],
        "work_injury": counts["work_injury"],
        "maternity": counts["maternity"],
        "unemployment": counts["unemployment"],
        "resident_pension": counts["resident_pension"],
    }
    for name, target in TARGETS_2017.items():
        expected = target / CENSUS_TOTAL * n
        assert abs(got[name] - expected) / expected < 0.08, (name, got[name], round(expected))


def test_gap_lists_are_consistent_with_the_files(city: Path) -> None:
    t = city / "truth"
    elinks = _links(city, "employer_links.csv")
    links = _links(city, "links.csv")
    m = {f["source"]: f for f in manifest(city)["files"]}
    # unregistered employers: pay wages (tax file) but are absent from the SI employer registry
    tax_e = set(elinks.filter(pl.col("source") == "tax_iit")["eid"].to_list())
    si_e = set(elinks.filter(pl.col("source") == "si_employer")["eid"].to_list())
    unreg = set(pl.read_csv(t / "unregistered_employers.csv")["eid"].to_list())
    assert unreg and unreg == tax_e - si_e
    # declarations: headcount vs distinct people paid wages that month (tax file)
    tax = (
        read_extract(city, m["tax_iit"])
        .with_row_index("row", 1)
        .with_columns(pl.col("row").cast(pl.Int64))
    )
    tax = tax.join(links.filter(pl.col("source") == "tax_iit"), on="row").join(
        elinks.filter(pl.col("source") == "tax_iit").rename({"eid": "eid"}), on="row"
    )
    staff = tax.group_by("eid", period=pl.col("所得所属期")).agg(staff=pl.col("pid").n_unique())
    staff = staff.with_columns(
        period=pl.col("period").str.slice(0, 4) + "-" + pl.col("period").str.slice(4, 2)
    )
    dec = (
        read_extract(city, m["si_declaration"])
        .with_row_index("row", 1)
        .with_columns(pl.col("row").cast(pl.Int64))
    )
    dec = dec.join(elinks.filter(pl.col("source") == "si_declaration"), on="row").unique(
        ["eid", "费款所属期", "险种"]
    )
    dec = dec.select(
        "eid",
        period=pl.col("费款所属期"),
        scheme=pl.col("险种"),
        headcount=pl.col("申报人数").cast(pl.Int64),
    )
    cmp = dec.join(staff, on=["eid", "period"], how="left")
    short = cmp.filter(pl.col("headcount") < pl.col("staff"))["eid"].unique().to_list()
    under = pl.read_csv(t / "under_reporters.csv")
    h_under = set(under.filter(pl.col("kind").str.contains("headcount"))["eid"].to_list())
    assert h_under and set(short) == h_under
    assert (cmp["headcount"] <= cmp["staff"]).all()  # nobody declares staff it does not pay
    # arrears: declared months paid less than due, every payment once (the re-sent file repeats
    # rows of si_payment; a duplicate_row copy is the same payment)
    words = {w: k for k, ws in SCHEME_VALUES.items() for w in ws}
    words |= {v: k for k, v in SCHEME_LABELS_ZH.items()}
    copies = _links(city, "damage.csv").filter(pl.col("kinds").str.contains("duplicate_row"))
    paid = []
    for src in ("si_payment", "si_payment_counter"):
        syn = header_synonyms("payment")
        raw = read_extract(city, m[src])
        raw = raw.rename({h: syn[h] for h in raw.columns}).with_row_index("row", 1)
        raw = raw.with_columns(pl.col("row").cast(pl.Int64))
        paid.append(
            raw.join(copies.filter(pl.col("source") == src), on="row", how="anti")
            .join(elinks.filter(pl.col("source") == src), on="row")
            .select(
                "eid",
                period=pl.col("period").str.replace(r"^(\d{4})-?(\d{2})$", "$1-$2"),
                scheme=pl.col("scheme").replace_strict(words),
                paid=pl.col("paid").cast(pl.Decimal(20, 2)),
            )
        )
    keys = ["eid", "period", "scheme"]
    got = pl.concat(paid).group_by(keys).agg(pl.col("paid").sum())
    due = (
        read_extract(city, m["si_declaration"])
        .with_row_index("row", 1)
        .with_columns(pl.col("row").cast(pl.Int64))
        .join(elinks.filter(pl.col("source") == "si_declaration"), on="row")
        .unique(["eid", "费款所属期", "险种"])
        .select(
            "eid",
            period=pl.col("费款所属期"),
            scheme=pl.col("险种").replace_strict(words),
            due=pl.col("应缴金额").cast(pl.Decimal(20, 2)),
        )
    )
    owed = due.join(got, on=keys, how="left").filter(pl.col("due") > pl.col("paid").fill_null(0))
    arrears = pl.read_csv(t / "arrears.csv")
    assert owed.height == arrears.height > 0
    assert set(owed.select(keys).iter_rows()) == set(arrears.select(keys).iter_rows())


def test_people_gap_lists(city: Path) -> None:
    t = city / "truth"
    persons = pl.read_parquet(t / "persons.parquet")
    enr = pl.read_parquet(t / "enrollments.parquet")
    dec = pl.read_csv(t / "deceased_enrolled.csv", try_parse_dates=True)
    assert dec.height > 0
    d = dec.join(persons.select("pid", pl.col("death_date").alias("dd")), on="pid")
    assert d["dd"].is_not_null().all()
    dups = pl.read_csv(t / "duplicate_enrollments.csv")
    assert set(dups["kind"]) == {"cross_scheme", "two_counties"}
    two = dups.filter(pl.col("kind") == "two_counties")
    assert (two["counties"].str.split("|").list.len() >= 2).all()
    unins = pl.read_csv(t / "uninsured.csv")
    active = enr.filter(pl.col("status") == "active")
    med = set(active.filter(pl.col("scheme").str.ends_with("medical"))["pid"].to_list())
    gap = unins.filter("medical_gap")
    assert gap.height > 0 and not (set(gap["pid"].to_list()) & med)
    # everyone alive, resident and absent from the list has an active medical record
    alive = persons.filter(pl.col("death_date").is_null() & (pl.col("hukou_status") != "迁出"))
    covered = set(alive["pid"].to_list()) - set(gap["pid"].to_list())
    assert covered <= med


def _digest(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_deterministic_for_a_seed(tmp_path: Path) -> None:
    a = _digest(generate(1500, 42, tmp_path / "a").parent)
    b = _digest(generate(1500, 42, tmp_path / "b").parent)
    c = _digest(generate(1500, 43, tmp_path / "c").parent)
    assert a == b
    assert a["gongan/huji_2017.csv"] != c["gongan/huji_2017.csv"]


def test_configured_damage_rates_are_realised(tmp_path: Path) -> None:
    rates = NO_DAMAGE.__class__(**{**NO_DAMAGE.to_dict(), "id_missing": 0.05, "name_padding": 0.05})
    root = generate(6000, 3, tmp_path / "d", rates=rates).parent
    summary = json.loads((root / "truth" / "summary.json").read_text(encoding="utf-8"))
    spec = specs(2017)
    for src, counts in summary["rows"].items():
        kinds = set(counts) - {"rows"}
        assert kinds <= {
            "id_missing",
            "name_padding",
            "date_format",
            "duplicate_row",
            "stale_address",
        }
        assert (
            "date_format" not in kinds
            and "duplicate_row" not in kinds
            and "stale_address" not in kinds
        )
        n = counts["rows"]
        if spec[src].kind not in ("population", "enrollment", "death", "special_group") or n < 2000:
            continue
        p = min(1.0, 0.05 * spec[src].damage_scale)
        for k in ("id_missing", "name_padding"):
            sigma = (n * p * (1 - p)) ** 0.5
            assert abs(counts.get(k, 0) - n * p) < 4.5 * sigma, (src, k, counts.get(k), n * p)


def test_extracts_rendered_in_parts_are_complete(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Large CSV extracts are rendered in parts; rows and truth must still line up."""
    import canbao.synth.extracts as extracts

    monkeypatch.setattr(extracts, "PART_ROWS", 700)
    root = generate(3000, 8, tmp_path / "p").parent
    m = manifest(root)
    assert len({f["source"] for f in m["files"]}) == len(m["files"]) == len(specs(2017))
    test_truth_is_complete(root)
    test_links_point_at_the_right_person(root)
    hukou = read_extract(root, next(f for f in m["files"] if f["source"] == "police_hukou"))
    assert hukou.height > 2 * 700  # really more than one part, and one header only
    assert not (hukou["公民身份号码"] == "公民身份号码").any()
