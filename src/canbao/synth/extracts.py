"""The departmental extracts of the synthetic city: which source sends what, under which headers.

Every header is taken from :mod:`canbao.ingest.kinds` (departments use different synonyms for
the same field); coded values (sex, status, ownership, groups) use the words listed there.
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np
import polars as pl

from canbao.ingest.kinds import SCHEME_LABELS_ZH
from canbao.synth import payments
from canbao.synth._rng import stream
from canbao.synth.agencies import agency_text, profile
from canbao.synth.config import SynthConfig
from canbao.synth.insurance import Reality
from canbao.synth.render import Extract, Rendered, damage_person_columns, finish

OWNERSHIP_WORDS = {  # per department: the words of kinds.OWNERSHIP they use
    "amr": {"private": "有限责任公司(自然人投资或控股)", "individual": "个体工商户", "state": "国有独资",
            "collective": "集体企业", "public_institution": "事业单位"},
    "si": {"private": "私营企业", "individual": "个体", "state": "国有企业", "collective": "集体",
           "public_institution": "机关事业单位"},
}  # fmt: skip
STATUS_WORDS = {  # kinds.ENROLLMENT_STATUS words per department
    "pension": {"active": "参保缴费", "suspended": "暂停缴费", "ended": "终止参保"},
    "medical": {"active": "在保", "suspended": "暂停", "ended": "终止"},
    "injury": {"active": "正常", "suspended": "中断", "ended": "终止"},
    "codes": {"active": "1", "suspended": "2", "ended": "3"},
    "resident": {"active": "正常参保", "suspended": "中断", "ended": "注销"},
}
SEX_WORDS = {"cn": {"M": "男", "F": "女"}, "code": {"M": "1", "F": "2"}}
GROUP_WORDS = {"low_income": "城乡低保", "extreme_poverty": "特困供养",
               "land_expropriated": "被征地农民", "village_cadre": "村干部"}  # fmt: skip


PAYMENT_COLUMNS = (
    ("txn_id", "缴费流水号"), ("credit_code", "社会信用代码"), ("employer_name", "缴费单位名称"),
    ("period", "所属期"), ("scheme", "征收项目"), ("paid", "实缴金额"), ("paid_date", "到账日期"),
)  # fmt: skip


def specs(year: int) -> dict[str, Extract]:
    y = year
    out = [
        Extract("police_hukou", f"gongan/huji_{y}.csv", "population", (
            ("household_id", "户号"), ("id", "公民身份号码"), ("name", "姓名"), ("sex", "性别"),
            ("birth_date", "出生日期"), ("relation", "与户主关系"), ("address", "户籍地址"),
            ("county_code", "行政区划代码"), ("township", "乡镇(街道)"), ("hukou_status", "户口状态"),
            ("event", "变动类型"), ("event_date", "变动日期"), ("phone", "联系电话"),
        ), encoding="gb18030", date_style="compact", damage_scale=0.3, stale_addresses=False),
        Extract("amr_registry", f"shichang/shichang_zhuti_{y}.xlsx", "employer", (
            ("credit_code", "统一社会信用代码"), ("employer_name", "企业名称"), ("ownership", "企业类型"),
            ("legal_rep", "法定代表人"), ("registered_date", "成立日期"), ("status", "登记状态"),
            ("address", "住所"), ("industry", "所属行业"), ("county_code", "行政区划代码"),
        ), encoding=None, date_style="iso",
            title_rows=("九江市市场主体登记信息表", f"数据截止：{y}-12-31    导出单位：九江市市场和质量监督管理局")),
        Extract("si_employer", f"shebao/danwei_dengji_{y}.csv", "employer", (
            ("si_number", "单位编号"), ("employer_name", "单位名称"), ("credit_code", "统一社会信用代码"),
            ("org_code", "组织机构代码"), ("ownership", "单位类型"), ("industry", "行业类别"),
            ("risk_class", "工伤风险类别"), ("county_code", "所属区县代码"),
            ("agency_code", "参保经办机构"), ("park", "是否园区企业"),
            ("registered_date", "参保登记日期"), ("status", "单位状态"),
        ), encoding="utf-8-sig", date_style="slash"),
        Extract("tax_iit", f"shuiwu/geshui_kouJiao_{y}.csv", "employment", (
            ("credit_code", "扣缴义务人识别号"), ("employer_name", "扣缴义务人名称"), ("period", "所得所属期"),
            ("id", "证件号码"), ("name", "姓名"), ("wage", "收入额"), ("tax", "已扣缴税额"),
        ), encoding="utf-8-sig", damage_scale=1.2),
        Extract("civil_deaths", f"minzheng/siwang_{y}.csv", "death", (
            ("name", "死者姓名"), ("id", "身份证号码"), ("sex", "性别"), ("death_date", "死亡日期"),
            ("address", "家庭住址"), ("county_code", "行政区划代码"), ("cause", "死亡原因"),
        ), encoding="gb18030", date_style="cn", damage_scale=1.5),
        Extract("civil_low_income", f"minzheng/dibao_tekun_{y}.xlsx", "special_group", (
            ("name", "姓名"), ("id", "身份证号"), ("county_code", "区划代码"), ("township", "乡镇街道"),
            ("address", "家庭住址"), ("group", "保障类别"), ("start_date", "享受开始日期"),
            ("end_date", "退出日期"),
        ), encoding=None, date_style="slash", damage_scale=1.5,
            title_rows=(f"九江市城乡低保及特困供养人员花名册（{y}年12月）",)),
        Extract("land_expropriated", f"ziranziyuan/beizhengdi_nongmin_{y}.csv", "special_group", (
            ("name", "姓名"), ("id", "身份证"), ("county_code", "户籍地区划"), ("township", "所属乡镇"),
            ("group", "人员类别"), ("start_date", "认定日期"),
        ), encoding="gb18030", date_style="compact", damage_scale=1.5),
        Extract("village_cadre", f"zuzhibu/cun_ganbu_{y}.csv", "special_group", (
            ("name", "姓名"), ("id", "证件号码"), ("county_code", "行政区划代码"), ("township", "乡镇"),
            ("group", "群体类别"), ("start_date", "起始日期"), ("end_date", "终止日期"),
        ), encoding="utf-8", date_style="cn", damage_scale=1.2),
        Extract("si_employee_pension", f"shebao/zhigong_yanglao_{y}.csv", "enrollment", (
            ("id", "社会保障号码"), ("name", "姓名"), ("sex", "性别"), ("birth_date", "出生日期"),
            ("county_code", "参保地区划"), ("agency_code", "社保经办机构"), ("status", "人员参保状态"),
            ("start_date", "参保日期"),
            ("end_date", "终止日期"), ("credit_code", "单位统一社会信用代码"), ("employer_name", "参保单位名称"),
            ("person_type", "人员类别"), ("base", "缴费基数"), ("benefit", "是否领取待遇"),
        ), scheme="employee_pension", date_style="compact"),
        Extract("si_employee_medical", f"yibao/zhigong_yibao_{y}.csv", "enrollment", (
            ("id", "身份证号码"), ("name", "参保人姓名"), ("sex", "性别"), ("county_code", "参保地区划"),
            ("agency_code", "统筹区编码"),
            ("status", "参保状态"), ("start_date", "参保时间"), ("end_date", "停保日期"),
            ("employer_name", "单位名称"), ("org_code", "单位组织机构代码"), ("person_type", "参保身份"),
            ("base", "缴费工资"),
        ), scheme="employee_medical", encoding="gb18030", date_style="slash"),
        Extract("si_work_injury", f"shebao/gongshang_{y}.csv", "enrollment", (
            ("id", "证件号码"), ("name", "职工姓名"), ("sex", "性别"), ("county_code", "行政区划代码"),
            ("agency_code", "经办机构编码"),
            ("status", "缴费状态"), ("start_date", "开始日期"), ("end_date", "结束日期"),
            ("employer_name", "用人单位名称"), ("credit_code", "信用代码"), ("base", "申报工资"),
        ), scheme="work_injury", date_style="cn"),
        Extract("si_maternity", f"yibao/shengyu_{y}.xlsx", "enrollment", (
            ("id", "身份证号"), ("name", "姓名"), ("sex", "性别"), ("county_code", "所属区县代码"),
            ("agency_code", "统筹区编码"),
            ("status", "参保状态"), ("start_date", "参保日期"), ("end_date", "终止日期"),
            ("employer_name", "单位名称"), ("credit_code", "社会信用代码"), ("base", "缴费基数"),
        ), scheme="maternity", encoding=None, date_style="iso", title_rows=(f"生育保险参保人员名册 {y}年",)),
        Extract("si_unemployment", f"jiuye/shiye_baoxian_{y}.csv", "enrollment", (
            ("id", "公民身份号码"), ("name", "姓名"), ("sex", "性别"), ("county_code", "区划代码"),
            ("agency_code", "经办机构"),
            ("status", "人员参保状态"), ("start_date", "首次参保日期"), ("end_date", "中断日期"),
            ("employer_name", "缴费单位名称"), ("credit_code", "统一社会信用代码"), ("base", "缴费基数"),
        ), scheme="unemployment", encoding="utf-8-sig", date_style="serial"),
        Extract("si_resident_pension", f"shebao/jumin_yanglao_{y}.csv", "enrollment", (
            ("id", "身份证号码"), ("name", "姓名"), ("sex", "性别"), ("birth_date", "出生年月"),
            ("county_code", "户籍地区划"), ("status", "缴费状态"), ("start_date", "参保时间"),
            ("end_date", "终止日期"), ("person_type", "参保身份"), ("benefit", "领取待遇"),
        ), scheme="resident_pension", encoding="gb18030", date_style="slash", birth_style="ym",
            damage_scale=1.3),
        Extract("si_resident_medical", f"yibao/jumin_yibao_{y}.csv", "enrollment", (
            ("id", "证件号码"), ("name", "姓名"), ("sex", "性别"), ("birth_date", "出生日期"),
            ("county_code", "参保地区划"), ("agency_code", "统筹区编码"), ("status", "参保状态"),
            ("start_date", "参保日期"),
            ("end_date", "终止日期"), ("person_type", "人员类别"), ("phone", "联系电话"),
        ), scheme="resident_medical", date_style="iso", damage_scale=1.3),
        Extract("si_declaration", f"zhengshou/jiaofei_shenbao_{y}.csv", "declaration", (
            ("credit_code", "统一社会信用代码"), ("employer_name", "单位名称"), ("period", "费款所属期"),
            ("scheme", "险种"), ("headcount", "申报人数"), ("base", "缴费基数合计"), ("due", "应缴金额"),
        ), copies=False),
        # payments (synth.payments): with transaction numbers; the same system's re-sent quarter;
        # the county counters' list without them; the opening arrears (附件2 layout)
        Extract(payments.SI, f"zhengshou/jiaofei_daozhang_{y}.csv", "payment", PAYMENT_COLUMNS,
                date_style="iso"),
        Extract(payments.RESENT, f"zhengshou/jiaofei_daozhang_{y}_chongchuan.csv",
                "payment", PAYMENT_COLUMNS, date_style="iso"),
        Extract(payments.COUNTER, f"zhengshou/guitai_jiaofei_{y}.csv", "payment", (
            ("credit_code", "统一社会信用代码"), ("employer_name", "单位名称"), ("period", "费款所属期"),
            ("scheme", "险种"), ("paid", "到账金额"), ("paid_date", "缴费日期"),
        ), encoding="gb18030", date_style="slash", copies=False),
        Extract(payments.ARREARS, f"zhengshou/zhongdian_qianfei_danwei_{y - 1}.xlsx", "arrears", (
            ("employer_name", "单位名称"), ("credit_code", "统一社会信用代码"),
            ("county_code", "所属区县代码"), ("scheme", "险种"), ("period", "费款所属期"),
            ("amount", "欠费金额"), ("arrears_as_of", "截止日期"),
        ), encoding=None, date_style="iso", damage_scale=0.0, title_rows=(
            "附件2", f"{profile().city.name}重点欠费单位明细表",
            f"统计截止日期：{y - 1}年12月31日    金额单位：元",
        )),
    ]  # fmt: skip
    return {e.source: e for e in out}


STATUS_STYLE = {
    "employee_pension": "pension", "employee_medical": "medical", "work_injury": "injury",
    "maternity": "medical", "unemployment": "codes", "resident_pension": "resident",
    "resident_medical": "medical",
}  # fmt: skip
PART_ROWS = 500_000  # rows of a CSV extract rendered at a time

SEX_STYLE = {"si_employee_pension": "code", "si_unemployment": "code"}
# how each extract with an agency column writes it (synth.agencies.agency_text)
AGENCY_STYLE = {
    "si_employer": "name", "si_employee_pension": "name", "si_employee_medical": "code",
    "si_work_injury": "code", "si_maternity": "code", "si_unemployment": "name",
    "si_resident_medical": "code",
}  # fmt: skip


def _persons_cols(persons: pl.DataFrame) -> pl.DataFrame:
    """pid, id, name, sex, birth_date, address, _old_address, _rel_id (another household member)."""
    hh = persons["household_id"].to_numpy()
    order = np.argsort(hh, kind="stable")
    hs = hh[order]
    prev_same = np.r_[False, hs[1:] == hs[:-1]]
    next_same = np.r_[hs[:-1] == hs[1:], False]
    pos = np.arange(len(order))
    pick = np.where(prev_same, pos - 1, np.where(next_same, pos + 1, -1))
    rel_row = np.full(len(order), -1, dtype=np.int64)
    rel_row[order] = np.where(pick >= 0, order[np.maximum(pick, 0)], -1)
    ids = persons["id18"]
    rel_id = ids.gather(pl.Series(np.maximum(rel_row, 0)))
    rel = pl.select(_rel_id=pl.when(pl.lit(pl.Series(rel_row >= 0))).then(pl.lit(rel_id)))
    return persons.select(
        "pid", pl.col("id18").alias("id"), "name", "sex", "birth_date", "address",
        pl.col("old_address").alias("_old_address"), "county_code", "township", "phone",
    ).hstack(rel)  # fmt: skip


def _with_person(frame: pl.DataFrame, pc: pl.DataFrame, cols: list[str]) -> pl.DataFrame:
    """Attach person columns by position (pc row i is pid i + 1): no hash join, order kept."""
    idx = frame["pid"] - 1
    return frame.hstack(pc.select([c for c in cols if c not in frame.columns]).gather(idx))


def _with_employer(frame: pl.DataFrame, ecols: pl.DataFrame) -> pl.DataFrame:
    """Attach employer columns by position (ecols row i is eid i + 1); null eid → nulls."""
    eid = frame["eid"]
    got = ecols.drop("eid").gather(eid.fill_null(1) - 1)
    mask = eid.is_not_null()
    return frame.hstack(got.select(pl.when(pl.lit(mask)).then(pl.all())))


def _shuffle(frame: pl.DataFrame, rng: np.random.Generator) -> pl.DataFrame:
    return frame[rng.permutation(frame.height)] if frame.height else frame


def render_all(cfg: SynthConfig, persons: pl.DataFrame, reality: Reality) -> Iterator[Rendered]:
    """Yield each extract rendered (one at a time, to keep memory low at city scale)."""
    y = cfg.year
    rates = cfg.rates
    book = reality.book
    sp = specs(y)
    pc = _persons_cols(persons)
    emp = reality.employers
    ecols = emp.select(
        "eid", pl.col("name").alias("employer_name"), "credit_code", "org_code",
        pl.col("county_code").alias("e_county"),
    )  # fmt: skip

    def person_extract(source: str, frame: pl.DataFrame) -> Iterator[Rendered]:
        """Render in parts of PART_ROWS rows (CSV only) to bound memory at city scale."""
        spec = sp[source]
        rng = stream(cfg.seed, "extract:" + source)
        step = frame.height if spec.xlsx else PART_ROWS
        for part, start in enumerate(range(0, max(frame.height, 1), max(step, 1))):
            chunk = damage_person_columns(frame.slice(start, step), spec, rng, rates)
            r = finish(chunk, spec, rng, rates)
            r.part = part
            del chunk
            yield r
            del r

    # --- police: the household register (hukou residents only) ------------------------------
    # select, then filter, then sort by one integer key: few copies of a 5-million-row frame
    hk = persons.select(
        "pid", "household_id", pl.col("id18").alias("id"), "name",
        pl.col("sex").replace_strict(SEX_WORDS["cn"]), "birth_date", "relation", "address",
        "county_code", "township", "hukou_status", "event", "event_date", "phone", "in_hukou",
    ).hstack(pc.select("_rel_id"))  # fmt: skip
    hk = hk.filter("in_hukou").drop("in_hukou")
    # household ids run in county/township order
    hk = hk.sort(
        pl.col("household_id").cast(pl.Int64) * 1_000_000
        + (pl.col("relation") != "户主").cast(pl.Int64) * 100_000
        + pl.col("birth_date").cast(pl.Int64)
        + 40_000,
        maintain_order=True,  # persons come in pid order: ties (twins) stay in that order
    )
    yield from person_extract("police_hukou", hk)
    del hk  # the generator keeps its locals alive: free the big frames as soon as possible

    # --- business registry (xlsx) ----------------------------------------------------------------
    rng = stream(cfg.seed, "extract:amr")
    amr = emp.filter(pl.col("ownership") != "public_institution")
    adults = np.flatnonzero((persons["age"] >= 25).to_numpy())
    legal = (
        persons["name"].gather(adults[rng.integers(0, len(adults), amr.height)])
        if len(adults)
        else None
    )
    amr = amr.select(
        "eid", "credit_code", pl.col("name").alias("employer_name"),
        pl.col("ownership").replace_strict(OWNERSHIP_WORDS["amr"]),
        (legal if legal is not None else pl.Series([""] * amr.height)).rename("legal_rep"),
        "registered_date", pl.lit("存续").alias("status"),
        pl.concat_str(pl.lit("江西省九江市"), pl.col("county_code").replace_strict(_county_names()), pl.lit("工业大道"), (pl.col("eid") % 300 + 1).cast(pl.Utf8), pl.lit("号")).alias("address"),
        "industry", "county_code",
    ).sort("registered_date", "eid")  # fmt: skip
    yield finish(amr, sp["amr_registry"], rng, rates)

    # --- social-insurance employer registry ------------------------------------------------------
    rng = stream(cfg.seed, "extract:si_employer")
    reg = emp.filter("registered")
    no_cc = reg["legacy"].to_numpy() & (rng.random(reg.height) < 0.35)
    si_emp = reg.select(
        "eid", pl.concat_str(pl.lit("36"), pl.col("county_code").str.slice(4, 2), pl.col("eid").cast(pl.Utf8).str.zfill(8)).alias("si_number"),
        pl.col("name").alias("employer_name"),
        pl.when(pl.Series(no_cc)).then(None).otherwise(pl.col("credit_code")).alias("credit_code"),
        pl.when(pl.col("legacy")).then(pl.col("org_code")).alias("org_code"),
        pl.col("ownership").replace_strict(OWNERSHIP_WORDS["si"]), "industry",
        pl.col("risk_class").cast(pl.Utf8), "county_code",
        agency_text(pl.col("agency_unit"), AGENCY_STYLE["si_employer"]).alias("agency_code"),
        pl.when(pl.col("park")).then(pl.lit("是")).otherwise(pl.lit("否")).alias("park"),
        # SI registration follows the business registration (and the SI law, 2011-07-01)
        pl.min_horizontal(
            pl.max_horizontal(
                pl.col("registered_date") + pl.duration(days=pl.lit(pl.Series(rng.integers(3, 90, reg.height)))),
                pl.date(2011, 7, 1) + pl.duration(days=pl.lit(pl.Series(rng.integers(0, 540, reg.height)))),
            ),
            pl.date(y, 12, 31),
        ).alias("registered_date"),
        pl.lit("正常").alias("status"),
    ).sort("si_number")  # fmt: skip
    yield finish(si_emp, sp["si_employer"], rng, rates)

    # --- tax withholding: damage per employee record, then one row per month --------------------
    spells = _with_employer(reality.spells, ecols)
    sfr = spells.select(
        "spell_id",
        "pid",
        "eid",
        "start_month",
        "end_month",
        "wage",
        "declared_base",
        "employer_name",
        "credit_code",
    )
    sfr = _with_person(sfr, pc, ["id", "name", "_rel_id"])
    spec = sp["tax_iit"]
    rng = stream(cfg.seed, "extract:tax_iit")
    sfr = damage_person_columns(sfr, spec, rng, rates)
    taxable = (pl.col("wage") - pl.col("declared_base") * 105 // 1000 - 350_000).clip(lower_bound=0)
    sfr = sfr.sort(pl.col("eid") * 100_000_000 + pl.col("spell_id"))
    for part, month in enumerate(sorted(cfg.tax_months)):  # one monthly batch at a time
        tax = sfr.filter((pl.col("start_month") <= month) & (pl.col("end_month") >= month))
        tax = tax.with_columns(
            period=pl.lit(f"{y}{month:02d}"),
            tax=pl.when(taxable <= 150_000).then(taxable * 3 // 100)
            .when(taxable <= 450_000).then(taxable * 10 // 100 - 10_500)
            .when(taxable <= 900_000).then(taxable * 20 // 100 - 55_500)
            .otherwise(taxable * 25 // 100 - 100_500),
        )  # fmt: skip
        r = finish(tax, spec, rng, rates)
        r.part = part
        del tax
        yield r
        del r
    del sfr, spells

    # --- civil affairs: deaths -----------------------------------------------------------------
    rng = stream(cfg.seed, "extract:civil_deaths")
    dead = persons.filter(pl.col("death_date").is_not_null())
    dead = dead.filter(pl.Series(rng.random(dead.height) < cfg.behaviour.death_in_civil))
    causes = np.array(["病故", "病故", "病故", "意外", "其他"])
    deaths = (
        _with_person(dead.select("pid", "death_date"), pc, pc.columns)
        .with_columns(
            sex=pl.col("sex").replace_strict(SEX_WORDS["cn"]),
            cause=pl.Series(causes[rng.integers(0, len(causes), dead.height)]),
        )
        .sort("death_date", "pid")
    )
    yield from person_extract("civil_deaths", deaths)

    # --- special groups ---------------------------------------------------------------------------
    special = _with_person(reality.special, pc, pc.columns).with_columns(
        group=pl.col("group").replace_strict(GROUP_WORDS)
    )
    low = special.filter(pl.col("group").is_in(["城乡低保", "特困供养"])).sort(
        "county_code", "township", "group", "pid"
    )
    yield from person_extract("civil_low_income", low)
    yield from person_extract(
        "land_expropriated",
        special.filter(pl.col("group") == "被征地农民").sort(
            pl.col("county_code").cast(pl.Int32), "start_date", "pid"
        ),
    )
    yield from person_extract(
        "village_cadre",
        special.filter(pl.col("group") == "村干部").sort("county_code", "township", "pid"),
    )

    # --- the seven enrolment extracts --------------------------------------------------------------
    enr = reality.enrollments
    for scheme in ("employee_pension", "employee_medical", "work_injury", "maternity", "unemployment",
                   "resident_pension", "resident_medical"):  # fmt: skip
        source = "si_" + scheme
        f = enr.filter(pl.col("scheme") == scheme)
        f = _with_employer(
            _with_person(f, pc, ["id", "name", "sex", "birth_date", "phone", "_rel_id"]), ecols
        )
        f = f.with_columns(
            sex=pl.col("sex").replace_strict(SEX_WORDS[SEX_STYLE.get(source, "cn")]),
            status=pl.col("status").replace_strict(STATUS_WORDS[STATUS_STYLE[scheme]]),
            benefit=pl.when(pl.col("benefit")).then(pl.lit("是")).otherwise(pl.lit("否")),
        )
        if source in AGENCY_STYLE:
            f = f.with_columns(agency_code=agency_text(pl.col("agency_unit"), AGENCY_STYLE[source]))
        f = f.sort(
            pl.col("county_code").cast(pl.Int64) * 10**13
            + (pl.col("start_date").cast(pl.Int64) + 40_000) * 10**8
            + pl.col("pid"),
            maintain_order=True,
        )
        yield from person_extract(source, f)
        del f

    # --- declarations, payments and the opening arrears ---------------------------------------------
    rng = stream(cfg.seed, "extract:si_declaration")
    f = (
        _with_employer(reality.declarations, ecols)
        .with_columns(
            period=pl.concat_str(pl.lit(f"{y}-"), pl.col("month").cast(pl.Utf8).str.zfill(2)),
            scheme=pl.col("scheme").replace_strict(SCHEME_LABELS_ZH),
        )
        .sort(pl.col("month").cast(pl.Int64) * 10**9 + pl.col("eid") * 10, maintain_order=True)
    )
    yield finish(f, sp["si_declaration"], rng, rates)
    del f
    if book is not None:
        for source, frame in payments.extract_frames(book, emp):
            yield finish(frame, sp[source], stream(cfg.seed, "extract:" + source), rates)


def _county_names() -> dict[str, str]:
    from canbao.standards import divisions
    from canbao.synth.config import CENSUS_2020

    return {c: divisions.name_of(c) or c for c in CENSUS_2020}
