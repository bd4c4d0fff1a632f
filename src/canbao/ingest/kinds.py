"""Record kinds, schemes and the canonical fields of each kind — the contract between the
synthetic city (:mod:`canbao.synth`), ingest and everything downstream.

Each canonical field lists the Chinese headers departments really use for it. The synthetic city
picks its headers from these lists (different departments, different words); ingest maps any of
them back to the field. Field names are English snake_case; values after ingest:

- ``id``: the citizen ID as delivered (text); ingest adds id18 / id_valid / id_errors from
  :mod:`canbao.standards.citizen_id`.
- dates are ISO dates; ``birth_date`` may be partial (year-month, 出生年月) and stays partial.
- money (``wage``, ``base``, ``due``, ``paid``, ``amount``) is integer fen after ingest; files
  carry yuan.
- ``period`` is the contribution month ``YYYY-MM`` (费款所属期).
- ``txn_id`` (payment) is the payment's transaction number (缴费流水号/票据号) as delivered, spaces
  removed; null when the file has none or when Excel destroyed it (the ledger then de-duplicates
  the payment by its content).
- ``arrears`` rows (期初欠费明细) are opening balances: ``amount`` owed for a contribution
  ``period`` as of ``arrears_as_of`` (the row's 截止日期; the batch's own ``as_of`` is the
  delivery's, as for every kind).
- ``county_code`` is a 6-digit GB/T 2260 code.
- ``agency_code`` (employer, enrollment) is the managing agency as the region profile knows it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Kind = Literal[
    "population",
    "enrollment",
    "employer",
    "employment",
    "declaration",
    "payment",
    "arrears",
    "death",
    "special_group",
]
KINDS: tuple[str, ...] = (
    "population",
    "enrollment",
    "employer",
    "employment",
    "declaration",
    "payment",
    "arrears",
    "death",
    "special_group",
)
KIND_LABELS_ZH = {
    "population": "户籍人口",
    "enrollment": "参保登记",
    "employer": "单位登记",
    "employment": "个税扣缴明细",
    "declaration": "缴费申报",
    "payment": "缴费到账",
    "arrears": "期初欠费",
    "death": "死亡人员",
    "special_group": "重点人群",
}

SCHEMES: tuple[str, ...] = (
    "employee_pension",
    "resident_pension",
    "employee_medical",
    "resident_medical",
    "work_injury",
    "maternity",
    "unemployment",
)
SCHEME_LABELS_ZH = {
    "employee_pension": "城镇职工基本养老保险",
    "resident_pension": "城乡居民基本养老保险",
    "employee_medical": "职工基本医疗保险",
    "resident_medical": "城乡居民基本医疗保险",
    "work_injury": "工伤保险",
    "maternity": "生育保险",
    "unemployment": "失业保险",
}
# Schemes an employer declares and pays for (the employee schemes).
EMPLOYER_SCHEMES = (
    "employee_pension",
    "employee_medical",
    "work_injury",
    "maternity",
    "unemployment",
)

# Words for a scheme in a declaration/payment file's 险种 column (besides SCHEME_LABELS_ZH).
SCHEME_VALUES = {
    "employee_pension": ["企业职工基本养老保险", "职工养老保险", "基本养老保险", "养老保险", "养老",
                         "企业养老保险", "机关事业单位养老保险", "110", "11"],
    "resident_pension": ["城乡居民养老保险", "居民养老保险", "城乡居民社会养老保险", "居民养老", "120"],
    "employee_medical": ["职工医疗保险", "基本医疗保险", "职工医保", "医疗保险", "医疗", "310", "31"],
    "resident_medical": ["城乡居民医疗保险", "居民医疗保险", "城乡居民医保", "居民医保", "390"],
    "work_injury": ["工伤保险", "工伤", "410", "41"],
    "maternity": ["生育保险", "生育", "510", "51"],
    "unemployment": ["失业保险", "失业", "210", "21"],
}  # fmt: skip
# A 险种 / 征收项目 / 征收品目 text that is not one of the words above (基本养老保险费,
# 城镇职工基本医疗保险, 企业职工基本养老保险（单位缴纳）) is read by the words it contains: not a
# scheme of its own when it has one of SCHEME_NOT_BASE (大额医疗费用补助, 补充医疗); else 养老 →
# a pension, 医疗/医保 → medical (resident when it has one of SCHEME_RESIDENT, else the
# employees'), 工伤, 失业, 生育 → their scheme, first match in that order (职工基本医疗保险（含生育）
# is medical).
SCHEME_NOT_BASE = "大额|补充|补助|公务员|意外|商业|大病|年金"
SCHEME_RESIDENT = "居民|农村|新农|城乡"
SCHEME_WORDS = (
    ("养老", "pension"),
    ("医疗|医保", "medical"),
    ("工伤", "work_injury"),
    ("失业", "unemployment"),
    ("生育", "maternity"),
)

# Values of coded fields (canonical codes; ingest maps the Chinese words listed here).
SEX_VALUES = {"M": ["男", "1", "M", "男性"], "F": ["女", "2", "F", "女性"]}
ENROLLMENT_STATUS = {
    "active": ["参保缴费", "正常参保", "正常", "在保", "参保", "1"],
    "suspended": ["暂停缴费", "中断", "暂停", "停保", "2"],
    "ended": ["终止参保", "终止", "注销", "退保", "3"],
}
OWNERSHIP = {
    "private": ["私营企业", "民营企业", "私营", "有限责任公司(自然人投资或控股)", "民营",
                "私营有限责任公司", "私营股份有限公司", "私营独资企业", "私营合伙企业",
                "个人独资企业", "合伙企业", "普通合伙企业", "有限合伙企业",
                "171", "172", "173", "174"],
    "state": ["国有企业", "国有", "国有独资", "国有独资公司", "国有控股", "国有控股企业",
              "全民所有制", "全民所有制企业", "110", "151"],
    "collective": ["集体企业", "集体", "集体所有制", "集体所有制企业", "股份合作制",
                   "股份合作企业", "股份合作", "120", "130"],
    "public_institution": ["事业单位", "机关事业单位", "机关", "事业法人", "机关法人",
                           "行政机关", "国家机关"],
    "individual": ["个体工商户", "个体", "个体户", "个体经营"],
    # recognised, in neither of the plan's groups (民营私营 / 国有集体企业和事业单位)
    "other": ["其他", "外商投资企业", "外资企业", "外商独资企业", "中外合资经营企业",
              "中外合作经营企业", "港澳台投资企业", "港澳台商投资企业", "社会团体",
              "民办非企业单位", "社会组织", "其他企业"],
}  # fmt: skip
# A business-registry 企业类型 that is not one of the words above (有限责任公司（自然人独资）,
# 股份有限公司（上市、国有控股）) is read by the first of these patterns it contains; ``非自然人``
# does not count as 自然人 (a company's subsidiary: unknown). GB/T 12402 codes are listed above.
OWNERSHIP_PATTERNS = (
    (r"外商|外资|外国|中外|港澳台|台港澳|港资|台资|澳资", "other"),
    (r"国有|全民所有制", "state"),
    (r"集体|股份合作", "collective"),
    (r"个体", "individual"),
    (r"自然人|私营|民营|个人独资|合伙", "private"),
    (r"事业单位|事业法人|机关", "public_institution"),
)

# 待遇状态 (enrollment ``benefit``): is a benefit (pension) being paid to the person? ``receiving``
# is the only code that means money goes out; the others all mean "not receiving". A value outside
# these lists becomes null (warning ``benefit_invalid``; the text stays in ``benefit_raw``).
BENEFIT_STATUS = {
    "receiving": ["是", "1", "Y", "YES", "TRUE", "领取", "领取中", "正常", "正常发放", "发放",
                  "发放中", "在领", "享受", "享受中", "正常领取"],
    "suspended": ["暂停", "暂停发放", "暂停领取", "停发", "中止", "中止发放"],
    "stopped": ["终止", "终止发放", "注销", "停止发放", "停止领取"],
    "none": ["否", "0", "N", "NO", "FALSE", "未领取", "不领取", "未享受", "无"],
}  # fmt: skip
# 园区企业 (employer ``park``): ``yes`` / ``no``. Besides these words, a park's name (所属园区:
# 某某经济技术开发区) means ``yes``: any text containing one of PARK_NAME_MARKERS, unless it starts
# with a negation (非园区企业). Anything else becomes null (warning ``park_invalid``); the text
# stays in ``park_raw``.
PARK_VALUES = {
    "yes": ["是", "1", "Y", "YES", "TRUE", "园区企业"],
    "no": ["否", "0", "N", "NO", "FALSE", "无", "不是", "非园区", "非园区企业"],
}
PARK_NAME_MARKERS = ("园", "开发区", "高新区", "经开区", "新区", "保税区", "示范区", "试验区")
PARK_NEGATIONS = ("非", "无", "不", "否", "未")
SPECIAL_GROUPS = {
    "low_income": ["城乡低保", "低保户", "低保", "最低生活保障"],
    "extreme_poverty": ["特困供养", "特困人员"],
    "land_expropriated": ["被征地农民", "失地农民"],
    "village_cadre": ["村干部", "村(社区)干部"],
    "flexible_worker": ["灵活就业人员", "灵活就业"],
    "disabled": ["重度残疾人", "残疾人"],
}


@dataclass(frozen=True)
class Field:
    name: str
    label_zh: str
    headers: tuple[str, ...]  # Chinese headers seen in real extracts (first = preferred)
    required: bool = False


def _f(name: str, label: str, *headers: str, required: bool = False) -> Field:
    return Field(name, label, (label, *headers), required)


# Shared person fields
ID = _f("id", "公民身份号码", "身份证号码", "身份证号", "证件号码", "社会保障号码", "社保号",
        "身份证", "证件号", "个人社保编号")  # fmt: skip
NAME = _f("name", "姓名", "人员姓名", "参保人姓名", "职工姓名", "户主姓名", "死者姓名")
SEX = _f("sex", "性别")
BIRTH = _f("birth_date", "出生日期", "出生年月", "出生时间", "生日")
ADDRESS = _f("address", "住址", "户籍地址", "联系地址", "现住址", "家庭住址", "居住地址")
PHONE = _f("phone", "联系电话", "手机号码", "电话", "手机号")
COUNTY = _f("county_code", "行政区划代码", "区划代码", "所属区县代码", "参保地区划",
            "户籍地区划")  # fmt: skip
# The managing agency (参保经办机构) or pooling area (统筹区) of an employer or enrolment: a code
# or a name, resolved against the region profile at ingest (canbao.profile.Profile.resolve_agency:
# the canonical code, else the agency's name; an unknown value is kept, warning
# agency_code_unknown). 统筹区编码 names the agency's area, not the division (county_code).
AGENCY = _f("agency_code", "参保经办机构", "经办机构", "经办机构代码", "经办机构编码",
            "经办机构名称", "社保经办机构", "所属经办机构", "参保经办机构代码", "参保经办机构名称",
            "统筹区编码", "统筹区", "统筹区代码", "统筹区名称", "所属统筹区", "参保统筹区")  # fmt: skip
TOWNSHIP = _f("township", "乡镇(街道)", "乡镇街道", "街道", "乡镇", "所属乡镇")
# Shared employer fields
CREDIT = _f("credit_code", "统一社会信用代码", "信用代码", "社会信用代码", "纳税人识别号",
            "单位统一社会信用代码", "扣缴义务人识别号")  # fmt: skip
ORG = _f("org_code", "组织机构代码", "单位组织机构代码", "机构代码")
EMP_NAME = _f("employer_name", "单位名称", "企业名称", "用人单位名称", "扣缴义务人名称",
              "参保单位名称", "缴费单位名称", "名称")  # fmt: skip
PERIOD = _f("period", "费款所属期", "所属期", "所得所属期", "缴费年月", "税款所属期", "申报月份")
SCHEME = _f("scheme", "险种", "险种类型", "征收项目")
DUE = _f("due", "应缴金额", "应缴费额", "应缴合计", "应缴费金额", "应缴额", "应缴总额",
         "应缴纳金额", "应征金额", "核定应缴金额")  # fmt: skip
# A payment's transaction number: idempotency key of the contribution ledger (the same payment in
# two files, or a file ingested twice, counts once).
TXN = _f("txn_id", "缴费流水号", "票据号", "交易流水号", "业务流水号", "电子票据号码", "缴款书号",
         "票据号码", "缴费票据号")  # fmt: skip

FIELDS: dict[str, tuple[Field, ...]] = {
    "population": (
        ID, NAME, SEX, BIRTH, ADDRESS, COUNTY, TOWNSHIP, PHONE,
        _f("household_id", "户号", "户编号"),
        _f("relation", "与户主关系", "户主关系"),
        _f("hukou_status", "户口状态", "人员状态"),
        _f("event", "变动类型", "变动情况", "迁移类型"),
        _f("event_date", "变动日期", "迁移日期", "登记日期"),
    ),
    "enrollment": (
        ID, NAME, SEX, BIRTH, COUNTY, PHONE,
        _f("status", "参保状态", "缴费状态", "人员参保状态"),
        _f("start_date", "参保日期", "参保时间", "首次参保日期", "开始日期"),
        _f("end_date", "终止日期", "停保日期", "中断日期", "结束日期"),
        CREDIT, ORG, EMP_NAME,
        _f("person_type", "人员类别", "参保身份", "缴费类型"),
        _f("base", "缴费基数", "缴费工资", "申报工资"),
        _f("benefit", "待遇状态", "是否领取待遇", "领取待遇"),
        AGENCY,
    ),
    "employer": (
        CREDIT, ORG, EMP_NAME,
        _f("ownership", "经济类型", "企业类型", "单位类型", "所有制性质", "经济性质"),
        _f("industry", "行业", "所属行业", "行业类别", "国民经济行业"),
        _f("risk_class", "工伤风险类别", "行业风险类别", "风险类别"),
        COUNTY,
        _f("park", "园区企业", "是否园区企业", "所属园区"),
        _f("registered_date", "成立日期", "登记日期", "参保登记日期", "注册日期"),
        _f("status", "登记状态", "经营状态", "单位状态"),
        _f("legal_rep", "法定代表人", "负责人", "法人代表"),
        _f("address", "住所", "单位地址", "经营场所", "注册地址"),
        _f("si_number", "单位社保编号", "单位编号", "社保登记证号"),
        AGENCY,
    ),
    "employment": (
        ID, NAME, CREDIT, ORG, EMP_NAME, PERIOD,
        _f("wage", "收入额", "本期收入", "工资薪金收入", "应发工资", "收入"),
        _f("tax", "已扣缴税额", "应扣缴税额", "本期应扣缴税额"),
    ),
    "declaration": (
        CREDIT, ORG, EMP_NAME, PERIOD, SCHEME,
        _f("headcount", "申报人数", "参保人数", "缴费人数"),
        _f("base", "缴费基数", "申报缴费基数", "缴费工资总额", "缴费基数合计"),
        # in a declaration the amount to pay is what was declared due
        Field("due", DUE.label_zh, (*DUE.headers, "申报金额", "申报应缴金额", "缴费金额", "缴费额")),
    ),
    "payment": (
        CREDIT, ORG, EMP_NAME, PERIOD, SCHEME, DUE,
        _f("paid", "实缴金额", "实缴费额", "到账金额", "实缴合计", "实缴费金额", "实缴额",
           "缴费金额", "缴费额", "实收金额", "入账金额", "缴款金额", "到账额"),
        _f("paid_date", "缴费日期", "到账日期", "入库日期", "缴费时间", "到账时间", "入库时间",
           "缴款日期", "实缴日期", "收款日期", "入账日期"),
        TXN,
    ),
    # 期初欠费明细 / 附件2 重点欠费单位明细表: what an employer owed for a contribution month
    # before the ledger's data start
    "arrears": (
        CREDIT, ORG, EMP_NAME, SCHEME,
        Field("period", PERIOD.label_zh, (*PERIOD.headers, "欠费所属期", "欠费年月", "欠费月份")),
        _f("amount", "欠费金额", "欠缴金额", "欠费本金", "欠费总额", "欠缴费额", "欠费额"),
        _f("arrears_as_of", "截止日期", "统计截止日期", "欠费截止日期", "截至日期"),
        COUNTY,
    ),
    "death": (
        ID, NAME, SEX,
        _f("death_date", "死亡日期", "死亡时间"),
        ADDRESS, COUNTY,
        _f("cause", "死亡原因"),
    ),
    "special_group": (
        ID, NAME, COUNTY, TOWNSHIP, ADDRESS,
        _f("group", "人员类别", "救助类别", "保障类别", "群体类别"),
        _f("start_date", "认定日期", "起始日期", "享受开始日期"),
        _f("end_date", "退出日期", "终止日期"),
    ),
}  # fmt: skip

# Kinds whose rows are about a person (they carry id/name) and about an employer.
PERSON_KINDS = ("population", "enrollment", "employment", "death", "special_group")
# amount fields: yuan in the files, integer fen in the records
MONEY_FIELDS = ("wage", "tax", "base", "due", "paid", "amount")
EMPLOYER_KINDS = ("employer", "employment", "declaration", "payment", "arrears", "enrollment")


def fields(kind: str) -> tuple[Field, ...]:
    return FIELDS[kind]


def header_synonyms(kind: str) -> dict[str, str]:
    """Chinese header → canonical field, for one kind."""
    out: dict[str, str] = {}
    for f in FIELDS[kind]:
        for h in f.headers:
            out.setdefault(h, f.name)
        out.setdefault(f.name, f.name)
    return out
