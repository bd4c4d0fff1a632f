"""The coded outcomes of a case: one table (:data:`OUTCOMES`) — code, Chinese label, the case
kinds it applies to, what it needs, and whether the data can confirm it.

**What it needs.** ``date`` (the day it happened: 已参保 from, 已死亡 on…), ``reason`` (the words
the outcome stands on, with their own label: where for 已在外地参保, why for 不符合参保条件, which
record was stopped for 重复已清理, the scheme for 已参保), ``expiry`` (the day an outcome stops
holding: a student's expected graduation). Evidence (证明材料) and a note are always allowed.

**Confirmed by data** (``confirm``): the outcome says the gap will close in the bureau's own data
(an enrolment appears, a record is stopped, the employer registers, the death is registered), so
when the case's row is no longer in a later build's list, the case is ``confirmed``; if the row
comes back, the case is ``reopened`` (:mod:`canbao.cases.opening`). The other outcomes — 已在外地参保,
在校学生, 不符合参保条件, 拒绝参保, 联系不上, … — are facts the data cannot see: they stand on their
evidence note, stay ``resolved`` while the row stays in the list (the person is counted as
"explained by an outcome", a separate category, never silently as insured), and an outcome with
an expiry reopens its case once the expiry has passed and the row is still there.

**Arrears** (``arrears``, one case per employer and scheme): 已足额缴清 is confirmed when the
employer owes nothing past due for that scheme in a later build's ledger; 已签分期或缓缴协议,
已移送劳动监察, 已申请强制执行, 单位已注销或破产, 对欠费有异议 and 联系不上 are what staff found and
stay ``resolved`` while the debt is there (they explain it; they do not clear it).

**Review pairs** (``review``): 同一人 / 不同人 are the registry's decisions — resolving the case
records the decision in the registry (:mod:`canbao.cases.effects`) and the next build honours it,
which takes the pair out of the review queue: the case is then ``confirmed``. 无法判断 records no
decision; the pair stays in the queue.
"""

from __future__ import annotations

from dataclasses import dataclass

from canbao.cases.kinds import KINDS
from canbao.errors import UsageError

UNINSURED = ("uninsured_pension", "uninsured_medical", "land_farmer", "presumed_student")
PERSON_GAPS = (*UNINSURED, "missing_employee_pension")
EMPLOYERS = ("unregistered_employer", "under_reporter", "selective_employer")


@dataclass(frozen=True)
class Outcome:
    label: str
    kinds: tuple[str, ...]
    confirm: bool = False  # the next builds' data can confirm it (see the module docstring)
    date: bool = False  # needs the date it happened
    reason: str = ""  # needs words: their label (参保地, 原因…); empty: not needed
    expiry: bool = False  # needs the date it stops holding


OUTCOMES: dict[str, Outcome] = {
    "enrolled": Outcome("已参保", (*PERSON_GAPS, "identity_to_verify"), confirm=True, date=True,
                        reason="参保险种"),
    "insured_elsewhere": Outcome("已在外地参保", PERSON_GAPS, reason="参保地"),
    "student": Outcome("在校学生", (*UNINSURED,), expiry=True),
    "not_eligible": Outcome("不符合参保条件", PERSON_GAPS, reason="原因"),
    "deceased": Outcome("已死亡", (*PERSON_GAPS, "identity_to_verify"), confirm=True, date=True),
    "moved_away": Outcome("已迁出", (*PERSON_GAPS, "identity_to_verify"), confirm=True,
                          date=True),
    "left_employer": Outcome("已离职", ("missing_employee_pension",), confirm=True, date=True),
    "refused": Outcome("拒绝参保", (*PERSON_GAPS, *EMPLOYERS)),
    "unreachable": Outcome("联系不上", (*PERSON_GAPS, "identity_to_verify", "duplicate",
                                       "deceased", *EMPLOYERS, "arrears", "contact_change")),
    "identity_fix": Outcome("身份信息需更正", (*PERSON_GAPS, "identity_to_verify", "duplicate",
                                               "deceased"), confirm=True, reason="需更正的内容"),
    "duplicate_cleared": Outcome("重复已清理", ("duplicate",), confirm=True, reason="已停保的记录"),
    "not_duplicate": Outcome("核实非重复", ("duplicate",), reason="核实情况"),
    "stopped": Outcome("已终止参保或停发待遇", ("deceased",), confirm=True, date=True),
    "alive": Outcome("核实未死亡", ("deceased",), reason="核实情况"),
    "registered": Outcome("单位已登记", ("unregistered_employer",), confirm=True, date=True),
    "declared": Outcome("已补报人数或基数", ("under_reporter",), confirm=True, date=True),
    "schemes_completed": Outcome("已补齐险种", ("selective_employer",), confirm=True, date=True),
    "not_employer": Outcome("非独立用工单位或已注销", EMPLOYERS, reason="核实情况"),
    # the ledger's arrears (canbao.cases.arrears): one case per employer and scheme
    "paid": Outcome("已足额缴清", ("arrears",), confirm=True, date=True),
    "agreement": Outcome("已签分期或缓缴协议", ("arrears",), date=True, reason="协议编号或内容"),
    "inspection": Outcome("已移送劳动监察", ("arrears",), date=True),
    "enforcement": Outcome("已申请强制执行", ("arrears",), date=True),
    "closed_down": Outcome("单位已注销或破产", ("arrears",), reason="核实情况"),
    "disputed": Outcome("对欠费有异议", ("arrears",), reason="异议内容"),
    # the registry's review queue (canbao.cases.review): the decision goes to the registry
    "same": Outcome("同一人", ("review",), confirm=True),
    "different": Outcome("不同人", ("review",), confirm=True),
    "undecidable": Outcome("无法判断", ("review",), reason="原因"),
    # a self-service change of phone or address (canbao.selfservice.contact_change): staff
    # check it with the person and change the source system; the registry is never written
    "change_made": Outcome("已核实并在业务系统变更", ("contact_change",), date=True,
                           reason="变更的业务系统"),
    "change_refused": Outcome("不予变更", ("contact_change",), reason="原因"),
}  # fmt: skip
CONFIRMABLE = frozenset(code for code, o in OUTCOMES.items() if o.confirm)
VALIDATION_MAX = 255  # Excel: the characters of an in-cell drop-down list


def for_kind(kind: str) -> dict[str, Outcome]:
    """The outcomes of ``kind``, in the table's order."""
    return {code: o for code, o in OUTCOMES.items() if kind in o.kinds}


def labels(kind: str) -> list[str]:
    return [o.label for o in for_kind(kind).values()]


def code_of(kind: str, text: str) -> str:
    """The outcome ``text`` names for ``kind`` (its Chinese label or its code); a UsageError
    that lists the kind's outcomes otherwise."""
    want = text.strip()
    for code, o in for_kind(kind).items():
        if want in (code, o.label):
            return code
    allowed = "、".join(labels(kind)) or "（无：该类案件尚未接入）"
    raise UsageError(
        f"未知的处理结果“{want}”（{KINDS[kind].label}可用：{allowed}）",
        f"unknown outcome {want!r} for kind {kind!r}",
    )
