"""Roles and what each may do: the one permission table (role → actions), checked in one place
(:func:`require`).

Geography is not a role: a role says *what* a user may do; the county scope
(:class:`canbao.warehouse.scope.Scope`, built from the user by :mod:`canbao.store.scopes`) says
*where*. A county user (``county_staff``) holds city-staff actions inside their counties
(except approving collection agreements, a decision of the city bureau).
"""

from __future__ import annotations

from canbao.errors import PermissionDenied, UsageError

ROLES: dict[str, str] = {
    "admin": "系统管理员",
    "city_staff": "市级经办人员",
    "county_staff": "区县经办人员",
    "collector": "征缴（清欠）人员",
    "auditor": "稽核人员",
    "leader": "领导（只读）",
    "department": "其他部门（接口，无个人信息）",
}
ACTIONS: dict[str, str] = {
    "users.manage": "管理用户和接口密钥",
    "audit_log.read": "查看审计日志",
    "store.backup": "备份与恢复",
    "person.read": "查看人员信息（脱敏）",
    "person.reveal": "查看完整身份证号、电话、地址（逐次记录）",
    "export.personal": "导出含个人信息的清单",
    "export.aggregate": "导出统计数据（不含个人信息）",
    "review.decide": "复核决定（是否同一人）",
    "worklist.read": "查看工作清单",
    "case.work": "办理扩面个案",
    "ledger.read": "查看征缴台账、催缴案件和缴费协议",
    "dunning.write": "登记催缴步骤（催缴通知、上门催缴、责令限期缴纳、移送、申请强制执行）",
    "agreements.write": "拟定分期/缓缴协议、核对分期缴款",
    "agreements.approve": "批准或终止分期/缓缴协议",
    "audit.work": "办理稽核案件",
    "audit.read": "查看稽核案件和稽核计划",
    "report.read": "查看通报和统计",
    "compliance.query": "查询单位参保缴费情况（不含个人信息）",
    "data.ingest": "数据导入与更新",
    "reminders.manage": "生成、审核和发送提醒短信，登记本人拒收",
    "portal.manage": "发放单位自助查询密码，处理自助服务申请",
    "credit.list": "决定和撤销严重失信名单（须引用法律依据）",
}
_STAFF = frozenset(
    {
        "person.read", "person.reveal", "export.personal", "export.aggregate", "review.decide",
        "worklist.read", "case.work", "ledger.read", "report.read", "compliance.query",
        "dunning.write", "agreements.write",
    }
)  # fmt: skip
# Approving an agreement (a decision of the bureau: 延期缴费协议, 社会保险法 art. 63) is for city
# staff; the approver must not be the proposer (canbao.collection.agreements). Importing a
# department's extract and updating the registry (the web's 数据 page) is the city data team's.
PERMISSIONS: dict[str, frozenset[str]] = {
    "admin": frozenset(ACTIONS),
    "city_staff": _STAFF
    | {
        "agreements.approve",
        "data.ingest",
        "audit.read",
        "reminders.manage",
        "portal.manage",
        "credit.list",
    },
    "county_staff": _STAFF | {"portal.manage"},
    "collector": frozenset(
        {
            "person.read",
            "worklist.read",
            "ledger.read",
            "dunning.write",
            "agreements.write",
            "export.aggregate",
            "report.read",
            "compliance.query",
        }
    ),  # fmt: skip
    "auditor": frozenset(
        {
            "person.read",
            "person.reveal",
            "export.personal",
            "audit.work",
            "audit.read",
            "ledger.read",
            "report.read",
            "compliance.query",
        }
    ),  # fmt: skip
    "leader": frozenset(
        {"report.read", "export.aggregate", "compliance.query", "ledger.read", "audit.read"}
    ),
    "department": frozenset({"compliance.query"}),
}
# County scope per role: required (a county user sees only their counties), allowed (a
# collector or auditor may be posted to counties) or refused (city-wide by nature).
COUNTY_REQUIRED = frozenset({"county_staff"})
COUNTY_ALLOWED = frozenset({"county_staff", "collector", "auditor", "leader"})


def check_role(role: str) -> str:
    if role not in ROLES:
        listed = "、".join(f"{k}（{v}）" for k, v in ROLES.items())
        raise UsageError(f"未知的角色“{role}”。可用角色：{listed}", f"unknown role {role!r}")
    return role


def can(role: str, action: str) -> bool:
    if action not in ACTIONS:
        raise KeyError(action)  # a programming error: every action is in the table
    return action in PERMISSIONS.get(role, frozenset())


def require(role: str, action: str, actor: str = "") -> None:
    """Raise :class:`PermissionDenied` unless ``role`` may do ``action``."""
    if not can(role, action):
        who = f"用户“{actor}”（{ROLES.get(role, role)}）" if actor else ROLES.get(role, role)
        raise PermissionDenied(
            f"{who}没有权限：{ACTIONS[action]}", f"role {role!r} may not {action!r}"
        )
