"""Configuration of the synthetic city: damage rates, coverage targets and money rules.

Every rate is a probability *per eligible row* of an extract (a 15-digit form needs a birth year
before 2000, a lowercase x needs an ID ending in X, …); ``damage_scale`` of each extract
multiplies them (the police register is cleaner than a hand-kept civil-affairs list).
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from canbao.errors import InputFileError, UsageError

# 2020 census resident population of the 13 county units (total 4,600,276).
CENSUS_2020 = {
    "360403": 433_122,  # 浔阳
    "360402": 418_339,  # 濂溪
    "360404": 312_807,  # 柴桑
    "360424": 710_620,  # 修水
    "360428": 577_684,  # 都昌
    "360481": 403_655,  # 瑞昌
    "360423": 322_161,  # 武宁
    "360425": 316_365,  # 永修
    "360430": 284_757,  # 彭泽
    "360483": 231_525,  # 庐山市
    "360429": 227_462,  # 湖口
    "360482": 194_689,  # 共青城
    "360426": 167_090,  # 德安
}
CENSUS_TOTAL = sum(CENSUS_2020.values())

# 2017 city targets from 九人社字〔2017〕85号 (persons enrolled at the end of 2017).
TARGETS_2017 = {
    "employee_pension": 908_000,
    "urban_medical": 4_367_000,  # employee_medical + resident_medical
    "work_injury": 574_000,
    "maternity": 247_000,
    "unemployment": 340_000,
    "resident_pension": 1_840_000,
}

# ID damage kinds (at most one per row) and name damage kinds (at most one per row).
ID_DAMAGE = (
    "id_15_digit",
    "id_typo",
    "id_transposition",
    "id_lowercase_x",
    "id_excel_number",
    "id_spaces_fullwidth",
    "id_missing",
    "id_relative",
    "id_date_typo",
    "id_float_cell",
)
NAME_DAMAGE = ("name_traditional", "name_homophone", "name_padding")
OTHER_DAMAGE = ("duplicate_row", "date_format", "stale_address")
DAMAGE_KINDS = ID_DAMAGE + NAME_DAMAGE + OTHER_DAMAGE


@dataclass(frozen=True)
class DamageRates:
    """Probability of each damage kind per eligible row (before an extract's damage_scale)."""

    id_15_digit: float = 0.02  # born before 2000: old 15-digit form
    id_typo: float = 0.008  # one digit replaced
    id_transposition: float = 0.004  # two adjacent digits swapped
    id_lowercase_x: float = 0.25  # ID ending in X: typed as x
    id_excel_number: float = 0.01  # through Excel as a number (ID not ending in X)
    id_spaces_fullwidth: float = 0.01  # spaces inside, or full-width digits
    id_missing: float = 0.01  # empty
    id_relative: float = 0.003  # another member of the household's ID
    # a typo or adjacent swap in the birth-date digits 7-14 that makes the date invalid (with
    # it, about two thirds of all ID typos land in the date digits: see docs/synth.md)
    id_date_typo: float = 0.006
    # xlsx rows a program wrote (a list compiled partly from a system's export): the ID cell
    # is a binary double (xlsx extracts only, ID not ending in X)
    id_float_cell: float = 0.1
    name_traditional: float = 0.01  # name with convertible characters: traditional form
    name_homophone: float = 0.008  # a given-name character swapped for a homophone
    name_padding: float = 0.03  # "黄  虹", U+3000 or trailing spaces
    duplicate_row: float = 0.005  # the row is repeated (exact copy)
    date_format: float = 0.03  # a date in another format than the file's own
    stale_address: float = 0.4  # person who moved: the old address is shown

    def scaled(self, factor: float) -> DamageRates:
        return replace(
            self, **{f.name: min(1.0, getattr(self, f.name) * factor) for f in fields(self)}
        )

    def to_dict(self) -> dict[str, float]:
        return asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, object]) -> DamageRates:
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(data) - known)
        if unknown:
            raise UsageError(
                f"未知的损坏类型：{', '.join(unknown)}", f"unknown damage rates: {unknown}"
            )
        vals: dict[str, float] = {}
        for k, v in data.items():
            if not isinstance(v, int | float) or not 0 <= float(v) <= 1:
                raise UsageError(f"损坏比例 {k} 应在 0 到 1 之间", f"rate {k} must be in [0, 1]")
            vals[k] = float(v)
        return cls(**vals)

    @classmethod
    def from_json(cls, path: Path) -> DamageRates:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as e:
            raise InputFileError(f"无法读取损坏比例文件 {path}", str(e)) from e
        if not isinstance(data, dict):
            raise InputFileError(f"损坏比例文件 {path} 应为 JSON 对象", "expected a JSON object")
        return cls.from_dict(data)


NO_DAMAGE = DamageRates(**{f.name: 0.0 for f in fields(DamageRates)})


@dataclass(frozen=True)
class Behaviour:
    """Shares of people and employers with the behaviour the bureau is looking for."""

    migrant_share: float = 0.06  # adults 18-60 with an ID from another province
    migrant_in_hukou: float = 0.4  # of those, hukou moved to Jiujiang
    death_in_hukou: float = 0.92  # deaths of the year already cancelled in the hukou register
    death_in_civil: float = 0.85  # deaths of the year in the civil-affairs (funeral) list
    deceased_still_enrolled: float = 0.3  # enrolled people who died: record still active
    cross_scheme_medical: float = 0.02  # employee-medical enrolees also in resident medical
    two_county: float = 0.006  # resident-scheme enrolees enrolled in a second county
    unregistered_employers: float = 0.07  # employers not registered with social insurance
    under_report_headcount: float = 0.08  # registered employers leaving staff out
    under_report_base: float = 0.10  # registered employers declaring a lower base
    arrears: float = 0.06  # registered employers paying less than due in some months
    late_payers: float = 0.08  # registered employers paying late but in full
    # managing agencies (synth.agencies): the city-level agency's (市本级) share of all
    # employees, and the share of park employers in the zone's counties the development
    # zone's agency (开发区) manages
    city_level_share: float = 0.28
    zone_park_share: float = 0.8


@dataclass(frozen=True)
class Money:
    """Contribution rules (assumed; see docs/synth.md). Amounts in fen."""

    avg_wage_2016: int = 460_000  # local average monthly wage of 2016 (yuan 4,600)
    floor_share: float = 0.6
    ceiling_share: float = 3.0
    # employer + employee rates in per-ten-thousand
    rates_bp: dict[str, int] = field(
        default_factory=lambda: {
            "employee_pension": 2700,  # 19% + 8%
            "employee_medical": 800,  # 6% + 2%
            "maternity": 50,  # 0.5%
            "unemployment": 100,  # 0.5% + 0.5%
        }
    )
    # work injury base rates by risk class 1..8 (人社部发〔2015〕71号)
    work_injury_bp: tuple[int, ...] = (20, 40, 70, 90, 110, 130, 160, 190)


@dataclass(frozen=True)
class SynthConfig:
    persons: int
    seed: int = 1
    year: int = 2017
    rates: DamageRates = field(default_factory=DamageRates)
    behaviour: Behaviour = field(default_factory=Behaviour)
    money: Money = field(default_factory=Money)
    tax_months: tuple[int, ...] = tuple(range(1, 13))
    skew: Skew | None = None  # None: today's city, unchanged; see Skew and docs/synth.md


@dataclass(frozen=True)
class Skew:
    """A skewed city (``canbao synth --skew``): hot keys on which a join can turn quadratic.

    Counts given "at 1,000,000" scale with the square root of the city's size (a city of 20,000
    has a seventh of them), never below the minimums; see docs/synth.md ("Skew").
    """

    # very large employers (a provincial utility, a petrochemical plant …); each one employs a
    # share of all employees drawn in [big_share_min, big_share_max]
    big_employers: int = 5
    big_share_min: float = 0.05
    big_share_max: float = 0.10
    # per county one collective account "<县区>灵活就业人员参保专户"; this share of the flexible
    # workers is enrolled (employee pension, employee medical) under it, the others on their own
    flexible_collective: float = 0.9
    # collective households (集体户: school, army, enterprise): count and mean size at 1,000,000
    collective_households: int = 6
    collective_size: int = 3000
    collective_min_households: int = 3
    collective_min_members: int = 200  # each household (cities of 10,000 residents or more)
    # common full names (namedata.HOT_NAMES: 张伟, 王伟, 王芳 …) carried by this share of the
    # people, Zipf over their rank with this exponent (the top name ≈ 0.4% of the people)
    hot_name_share: float = 0.03
    hot_name_zipf: float = 0.7

    def __post_init__(self) -> None:
        shares = (self.big_share_min, self.big_share_max, self.flexible_collective,
                  self.hot_name_share)  # fmt: skip
        ok = (
            all(0 <= x <= 1 for x in shares)
            and self.big_share_min <= self.big_share_max
            and 0 <= self.big_employers
            and self.big_employers * self.big_share_max <= 0.8
            and 0 <= self.collective_min_households <= self.collective_households
            and 0 < self.collective_min_members <= self.collective_size
            and 0 <= self.hot_name_zipf <= 5
        )
        if not ok:
            raise UsageError("倾斜参数不合理（skew）", f"invalid Skew settings: {self}")
