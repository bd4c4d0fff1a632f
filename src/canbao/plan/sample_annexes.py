"""The demo's 附件3 and 争资 register, made from a synthetic city — NOT real statistics (示例数据).

* **附件3** (:func:`land_farmer_tasks`): per unit, the number of land-expropriated farmers the
  synthetic city's truth holds there (``truth/special_groups.parquet`` with the persons'
  counties; on the list by the plan year's end), times a seeded factor in [0.9, 1.1] — task
  numbers near the count, so that completion is the share already enrolled, with some spread
  between counties.
* **争资** (:func:`subsidy_receipts`): receipts of the year before the plan year and of the plan
  year: a central subsidy to resident pension for every county, provincial subsidies to 市本级
  (employee pension) and to the city as a whole. The plan year's receipts come in three
  tranches by September and a top-up in November, about 0–10% above the year before (市本级
  2–12%), so the growth by the year's end lands around the plan's 5.5% / 6% targets with units
  on both sides. Document numbers are made up (``财社〔2017〕…``, ``省财社〔2017〕…``).

:func:`import_demo_annexes` writes both workbooks (labelled 示例数据) and imports them into a
data directory, the way a user would with ``canbao plan land-farmers import`` and ``canbao plan
subsidies import``.
"""

from __future__ import annotations

import datetime as dt
import random
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

import polars as pl

from canbao.collection import subsidy_workbook
from canbao.collection.subsidies import Receipt
from canbao.plan import catalog, land_farmer_table
from canbao.plan.model import Plan
from canbao.profile import CITY_LEVEL, Profile
from canbao.standards.money import fen_of, round_half_up

REMARK = "示例数据：由合成城市生成，非真实数据"
LAST_YEAR = ((4, 0.4), (7, 0.35), (10, 0.25))  # (month, share of the year's amount)
PLAN_YEAR = ((3, 0.38), (6, 0.32), (9, 0.25), (11, 0.05))


def land_farmer_tasks(city: Path, profile: Profile, year: int, seed: int = 2017) -> dict[str, int]:
    """{unit code: task} for the units with land-expropriated farmers in the city's truth."""
    truth = city / "truth"
    groups = pl.read_parquet(truth / "special_groups.parquet")
    persons = pl.read_parquet(truth / "persons.parquet", columns=["pid", "county_code"])
    counts = (
        groups.filter(
            pl.col("group") == "land_expropriated", pl.col("start_date") <= dt.date(year, 12, 31)
        )
        .join(persons, on="pid")
        .with_columns(
            unit=pl.col("county_code").replace_strict(
                profile.area_units(), default=None, return_dtype=pl.Utf8
            )
        )
        .filter(pl.col("unit").is_not_null())
        .group_by("unit")
        .len()
        .sort("unit")
    )
    rng = random.Random(seed)
    return {
        unit: max(1, round(n * rng.uniform(0.9, 1.1))) for unit, n in counts.iter_rows()
    }  # a dozen units


def _fen(wan: float) -> int:
    """万元 → fen, rounded to whole yuan."""
    return fen_of(round_half_up(Decimal(str(wan)) * 10_000, Decimal(1)))


def subsidy_receipts(profile: Profile, year: int, seed: int = 2017) -> list[Receipt]:
    """Receipts of ``year - 1`` and ``year`` (see the module doc)."""
    rng = random.Random(seed)
    out: list[Receipt] = []
    grants: list[tuple[str | None, str, str, str, float, float]] = [
        # unit, source, level, scheme, last year's amount (万元), growth range upper bound
        *((c.code, "财政部", "central", "resident_pension", rng.uniform(200, 900), 0.10)
          for c in profile.counties),
        (CITY_LEVEL if profile.city_level_unit else None, "省财政厅", "provincial",
         "employee_pension", rng.uniform(1500, 3000), 0.12),
        (None, "省财政厅", "provincial", "other", rng.uniform(300, 800), 0.10),
    ]  # fmt: skip
    serial = {"central": 100, "provincial": 20}
    for unit, source, level, scheme, last, top in grants:
        low = 0.02 if unit == CITY_LEVEL else 0.0
        this = last * (1 + rng.uniform(low, top))
        for y, total, tranches in ((year - 1, last, LAST_YEAR), (year, this, PLAN_YEAR)):
            for m, share in tranches:
                serial[level] += 1
                prefix = "财社" if level == "central" else "省财社"
                out.append(
                    Receipt(
                        f"{prefix}〔{y}〕{serial[level]}号",
                        source,
                        level,
                        scheme,
                        _fen(total * share),
                        dt.date(y, m, rng.randint(5, 25)),
                        unit,
                        "示例数据",
                    )  # fmt: skip
                )
    return out


@dataclass(frozen=True)
class DemoAnnexes:
    plan: Plan  # the stored plan, now with the 附件3 targets
    where: dict[str, str]


def import_demo_annexes(
    city: Path, base: Path, data_dir: Path, plan_code: str, profile: Profile
) -> DemoAnnexes:
    """Write the synthetic 附件3 and 争资 workbooks under ``base`` and import both into
    ``data_dir`` (the plan ``plan_code`` and the subsidy register)."""
    where: dict[str, str] = {}
    plan = catalog.load(plan_code, data_dir, profile)
    year = int(plan.period.code)
    template = land_farmer_table.write_template(base / "附件3-被征地农民参保任务-模板.xlsx", plan)
    where["附件3 被征地农民参保任务分解表空白模板 (land farmers' task template)"] = str(template)
    if (city / "truth" / "special_groups.parquet").is_file():
        table = land_farmer_table.write_template(
            base / "附件3-被征地农民参保任务-示例数据.xlsx",
            plan,
            values=land_farmer_tasks(city, profile, year),
            title=land_farmer_table.default_title(plan.period.code, profile)
            + "（示例数据：按合成城市被征地农民人数生成，非真实任务）",
        )
        plan = land_farmer_table.import_table(table, data_dir, plan_code, profile).plan
        where["示例附件3（合成，已导入）(synthetic 附件3, imported)"] = str(table)
    book = subsidy_workbook.write_template(
        base / "争资-补助资金到账登记-示例数据.xlsx",
        profile,
        subsidy_receipts(profile, year),
        title=f"{profile.city.name}社会保险补助资金到账登记表（示例数据）",
        remark=REMARK,
    )
    subsidy_workbook.import_workbook(book, data_dir, profile)
    where["示例争资登记（合成，已导入）(synthetic subsidy register, imported)"] = str(book)
    return DemoAnnexes(plan, where)
