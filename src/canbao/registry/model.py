"""The probabilistic person-linkage model (Splink), with Chinese-aware comparisons.

The m probabilities are set from what we know about damage in real extracts (documented per
level below); the u probabilities are estimated from the data by random sampling; names get a
term-frequency adjustment so that a match on 王伟 counts for less than a match on 欧阳修. The
trained model (settings JSON + the name term-frequency table) is saved in the data directory and
reused by every later build, so that an incremental update scores pairs exactly as a full
rebuild does. ``canbao build --retrain`` trains it again.
"""

from __future__ import annotations

from typing import Any

from splink import SettingsCreator
from splink.internals.comparison_library import CustomComparison

from canbao.registry.dialect import DUCKDB, Dialect

# Pairs are only generated where at least one side is an unresolved record (B); trusted
# persons (A) are never compared with each other: two different trusted IDs never merge.
NOT_BOTH_TRUSTED = "(l.node_type = 'B' OR r.node_type = 'B')"

# Rules on keys that can be hot (household, phone, employer, name + county) use the capped
# ``*_block`` columns of canbao.registry.hotkeys: never the raw key (see that module's table).
BLOCKING_RULES = [
    "l.name_norm = r.name_norm AND l.birth = r.birth",
    "l.name_pinyin = r.name_pinyin AND l.birth = r.birth",
    "l.name_county_block = r.name_county_block",
    "l.hh_block = r.hh_block AND l.surname_py = r.surname_py",
    "l.owner_hh_block = r.hh_block",
    "r.owner_hh_block = l.hh_block",
    "l.id_prefix15 = substr(r.id_norm, 1, 15)",
    "r.id_prefix15 = substr(l.id_norm, 1, 15)",
    "l.id_prefix15_alt = substr(r.id_norm, 1, 15)",
    "r.id_prefix15_alt = substr(l.id_norm, 1, 15)",
    "substr(l.id_norm, 1, 14) = substr(r.id_norm, 1, 14) AND l.surname_py = r.surname_py",
    "substr(l.id_norm, 7, 12) = substr(r.id_norm, 7, 12) AND l.surname_py = r.surname_py",
    "l.phone_block = r.phone_block",
    "l.employer_block = r.employer_block",
]


def _level(sql: str, label: str, m: float | None = None, **extra: Any) -> dict[str, Any]:
    out: dict[str, Any] = {"sql_condition": sql, "label_for_charts": label}
    if m is not None:
        out["m_probability"] = m
    out.update(extra)
    return out


def _null(cols: str) -> dict[str, Any]:
    a, b = f"{cols}_l", f"{cols}_r"
    return _level(f"{a} IS NULL OR {b} IS NULL", "缺失 (null)", is_null_level=True)


def comparisons(d: Dialect = DUCKDB) -> list[CustomComparison]:
    dl = d.damerau_levenshtein
    return [
        CustomComparison(
            output_column_name="id",
            comparison_description="公民身份号码 (citizen ID)",
            comparison_levels=[
                _null("id_norm"),
                # one typo or swap (a record with exactly one agreeing trusted repair candidate
                # is linked deterministically before this model runs: these are the rest)
                _level(f"{dl('id_norm_l', 'id_norm_r')} <= 1", "一处之差 (one edit)", 0.80),
                _level(
                    "id_prefix15_l = substr(id_norm_r, 1, 15) "
                    "OR id_prefix15_r = substr(id_norm_l, 1, 15) "
                    "OR id_prefix15_alt_l = substr(id_norm_r, 1, 15) "
                    "OR id_prefix15_alt_r = substr(id_norm_l, 1, 15)",
                    "Excel前15位相同 (Excel prefix)",
                    0.10,
                ),
                _level(f"{dl('id_norm_l', 'id_norm_r')} <= 2", "两处之差 (two edits)", 0.05),
                _level("ELSE", "不同 (different)", 0.05),
            ],
        ),
        CustomComparison(
            output_column_name="name",
            comparison_description="姓名 (name)",
            comparison_levels=[
                _null("name_norm"),
                _level(
                    "name_norm_l = name_norm_r",
                    "姓名相同 (exact)",
                    0.90,
                    tf_adjustment_column="name_norm",
                    tf_adjustment_weight=1.0,
                ),
                _level("name_pinyin_l = name_pinyin_r", "同音 (same pinyin)", 0.08),
                _level(
                    f"{d.levenshtein('name_norm_l', 'name_norm_r')} <= 1 "
                    "AND length(name_norm_l) = length(name_norm_r)",
                    "一字之差 (one character)",
                    0.015,
                ),
                # after normalisation (spaces, traditional, homophones) a person's names
                # rarely differ entirely; siblings' names often differ in one character
                _level("ELSE", "不同 (different)", 0.005),
            ],
        ),
        CustomComparison(
            output_column_name="birth",
            comparison_description="出生日期 (birth date)",
            comparison_levels=[
                _null("birth"),
                _level("birth_l = birth_r", "相同 (exact)", 0.95),
                _level(f"{dl('birth_l', 'birth_r')} <= 1", "一处之差 (one edit)", 0.03),
                _level("substr(birth_l, 1, 4) = substr(birth_r, 1, 4)", "同年 (same year)", 0.01),
                _level("ELSE", "不同 (different)", 0.01),
            ],
        ),
        CustomComparison(
            output_column_name="sex",
            comparison_description="性别 (sex)",
            comparison_levels=[
                _null("sex"),
                _level("sex_l = sex_r", "相同 (same)", 0.99),
                _level("ELSE", "不同 (different)", 0.01),
            ],
        ),
        CustomComparison(
            output_column_name="county",
            comparison_description="区县 (county)",
            comparison_levels=[
                _null("county_code"),
                _level("county_code_l = county_code_r", "相同 (same)", 0.85),
                _level("ELSE", "不同 (different)", 0.15),
            ],
        ),
        CustomComparison(
            output_column_name="household",
            comparison_description="户 / 住址 (household or address)",
            comparison_levels=[
                # hot households (集体户: hotkeys.py) are NULL in hh_block: no evidence either way
                _level(
                    "(hh_block_l IS NULL OR hh_block_r IS NULL) "
                    "AND (owner_hh_block_l IS NULL AND owner_hh_block_r IS NULL)",
                    "缺失 (null)",
                    is_null_level=True,
                ),
                # u fixed: sharing a household says little among the household's members
                _level(
                    "hh_block_l = hh_block_r",
                    "同户 (same household)",
                    0.55,
                    u_probability=0.002,
                    fix_u_probability=True,
                ),
                _level(
                    "owner_hh_block_l = hh_block_r OR owner_hh_block_r = hh_block_l",
                    "与证件号主人同户 (lives with the ID's owner)",
                    0.35,
                    u_probability=0.002,
                    fix_u_probability=True,
                ),
                _level("ELSE", "不同 (different)", 0.10),
            ],
        ),
        CustomComparison(
            output_column_name="phone",
            comparison_description="联系电话 (phone)",
            comparison_levels=[
                _null("phone_block"),  # a switchboard phone (hotkeys.py) is no evidence
                _level("phone_block_l = phone_block_r", "相同 (same)", 0.60),
                _level("ELSE", "不同 (different)", 0.40),
            ],
        ),
        CustomComparison(
            output_column_name="employer",
            comparison_description="工作单位 (employer)",
            comparison_levels=[
                _null("employer_cmp"),  # NULL for a hot employer: 40,000 share it (hotkeys.py)
                _level("employer_cmp_l = employer_cmp_r", "同一单位 (same employer)", 0.70),
                _level("ELSE", "不同 (different)", 0.30),
            ],
        ),
    ]


def settings(d: Dialect = DUCKDB) -> SettingsCreator:
    return SettingsCreator(
        link_type="dedupe_only",
        unique_id_column_name="node_id",
        comparisons=comparisons(d),  # type: ignore[arg-type]
        blocking_rules_to_generate_predictions=[
            {"blocking_rule": f"{rule} AND {NOT_BOTH_TRUSTED}", "sql_dialect": d.name}
            for rule in BLOCKING_RULES
        ],
        probability_two_random_records_match=1e-5,
        retain_intermediate_calculation_columns=True,
        retain_matching_columns=True,
        additional_columns_to_retain=["node_type", "cluster_hint"],
    )
