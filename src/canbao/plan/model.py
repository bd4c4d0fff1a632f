"""The plan: periods, targets per unit × indicator × period, groups, phases, leadership.

A plan is plain data (frozen dataclasses) with a JSON form (:meth:`Plan.to_dict`,
:meth:`Plan.from_dict`). Target values are :class:`~decimal.Decimal` in base measures (persons,
yuan, fractions); see :mod:`canbao.plan.indicators`. A plan belongs to a region profile
(:mod:`canbao.profile`): its units are the profile's (:func:`canbao.plan.units.plan_units`), and
its JSON names the profile (``"profile": NAME``) so that it is never read against another city.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from datetime import date
from decimal import Decimal
from typing import Any, Literal

from canbao.errors import DataError
from canbao.plan.indicators import Indicator, indicator
from canbao.plan.key_groups import (
    KEY_GROUPS,
    KeyGroup,
    check_group_indicator,
    group_code,
    resolve_key_group,
)
from canbao.plan.units import PlanUnit, plan_units, resolve_unit
from canbao.profile import Profile, default_profile, shipped
from canbao.standards.names import normalize_person_name

GroupKind = Literal["work", "supervision"]


def person(name: str) -> str:
    """A person's name as stored and shown: padding removed ("黄  虹" → "黄虹")."""
    out = normalize_person_name(name)
    if not out:
        raise DataError(f"人员姓名为空：{name!r}", "empty person name")
    return out


@dataclass(frozen=True)
class Period:
    code: str  # "2017"
    start: date
    end: date
    label: str = ""  # 2017年

    @property
    def days(self) -> int:
        return (self.end - self.start).days + 1


@dataclass(frozen=True)
class Target:
    unit: str  # unit code
    indicator: str  # indicator code
    period: str  # period code
    value: Decimal  # base measure
    source: str = ""  # where the number comes from (plan text section, imported file)
    group: str | None = None  # a key group's code (canbao.plan.key_groups): 重点群体 target

    @property
    def ind(self) -> Indicator:
        return indicator(self.indicator)

    @property
    def key(self) -> tuple[str, str, str, str | None]:
        return (self.unit, self.indicator, self.period, self.group)


@dataclass(frozen=True)
class Group:
    code: str
    name: str  # 综合协调组, 第一督导组
    kind: GroupKind
    leader: str
    members: tuple[str, ...]
    duty: str = ""
    units: tuple[str, ...] = ()  # unit codes a supervision group owns
    units_as_written: tuple[str, ...] = ()  # as the plan text names them

    @property
    def contact(self) -> str | None:
        """The plan: 各小组第一位成员为联络人."""
        return self.members[0] if self.members else None


@dataclass(frozen=True)
class Leadership:
    name: str  # 市社会保险扩面征缴工作领导小组
    head: str  # 组长
    executive_deputy: str | None  # 常务副组长
    deputies: tuple[str, ...]  # 副组长
    members: tuple[str, ...]  # 成员


@dataclass(frozen=True)
class Phase:
    code: str
    name: str
    start: date
    end: date
    description: str = ""

    def contains(self, day: date) -> bool:
        return self.start <= day <= self.end


@dataclass(frozen=True)
class Plan:
    code: str
    title: str
    period: Period  # the plan's main (annual) period
    targets: tuple[Target, ...] = ()
    leadership: Leadership | None = None
    work_groups: tuple[Group, ...] = ()
    supervision_groups: tuple[Group, ...] = ()
    phases: tuple[Phase, ...] = ()
    document: dict[str, Any] = field(default_factory=dict)  # 文号, 发文机关, 日期, 附件, 依据…
    notes: tuple[str, ...] = ()
    profile: Profile = field(default_factory=default_profile)  # the region the plan is for

    @property
    def units(self) -> tuple[PlanUnit, ...]:
        """The plan's units in report order (from its region profile)."""
        return plan_units(self.profile)

    @property
    def issuer(self) -> str:
        """The issuing body: the plan document's, else the profile's letterhead."""
        return str(self.document.get("issuer") or self.profile.letterhead.issuer)

    # --- look-ups ---------------------------------------------------------------------------
    def unit(self, code: str) -> PlanUnit:
        for u in self.units:
            if u.code == code:
                return u
        raise DataError(f"计划中没有单位“{code}”", f"unknown unit {code!r} in plan {self.code}")

    def target(
        self, unit: str, indicator_code: str, period: str | None = None, group: str | None = None
    ) -> Target | None:
        """The target of unit × indicator × period (default: the plan's), of key group
        ``group`` (default: none, the unit's own target)."""
        key = (unit, indicator_code, period or self.period.code, group)
        for t in self.targets:
            if t.key == key:
                return t
        return None

    def targets_for(self, unit: str) -> list[Target]:
        """The unit's own targets (key-group targets: :attr:`group_targets`)."""
        return [t for t in self.targets if t.unit == unit and t.group is None]

    @property
    def group_targets(self) -> tuple[Target, ...]:
        """The key-group targets (重点群体扩面目标)."""
        return tuple(t for t in self.targets if t.group is not None)

    @property
    def key_groups(self) -> tuple[KeyGroup, ...]:
        """The key groups the plan names (document ``focus_groups``, as written) and those it
        sets targets for, in the catalogue's order."""
        named = {g.code for g in map(resolve_key_group, self.document.get("focus_groups", ())) if g}
        named |= {t.group for t in self.targets if t.group is not None}
        return tuple(g for g in KEY_GROUPS if g.code in named)

    def supervision_group_of(self, unit: str) -> Group | None:
        for g in self.supervision_groups:
            if unit in g.units:
                return g
        return None

    def phase_at(self, day: date) -> Phase | None:
        for ph in self.phases:
            if ph.contains(day):
                return ph
        return None

    def ranked_units(self) -> list[PlanUnit]:
        return [u for u in self.units if u.ranked]

    def with_targets(self, new: Iterable[Target]) -> tuple[Plan, int, int]:
        """A copy with ``new`` targets added or replacing the same unit × indicator × period.

        Returns (plan, added, replaced)."""
        by_key = {t.key: t for t in self.targets}
        added = replaced = 0
        for t in new:
            key = t.key
            if key in by_key:
                replaced += by_key[key].value != t.value
            else:
                added += 1
            by_key[key] = t
        order = {u.code: i for i, u in enumerate(self.units)}
        ind_order = {c: i for i, c in enumerate(_indicator_codes())}
        group_order = {g.code: i for i, g in enumerate(KEY_GROUPS)}
        targets = sorted(
            by_key.values(),
            key=lambda t: (
                t.period,
                -1 if t.group is None else group_order.get(t.group, 999),
                order.get(t.unit, 999),
                ind_order.get(t.indicator, 999),
            ),
        )
        return replace(self, targets=tuple(targets)), added, replaced

    # --- JSON -------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        return {
            "code": self.code,
            "title": self.title,
            "profile": self.profile.name,
            "period": {
                "code": self.period.code,
                "start": self.period.start.isoformat(),
                "end": self.period.end.isoformat(),
                "label": self.period.label,
            },
            "document": self.document,
            "notes": list(self.notes),
            "leadership": None
            if self.leadership is None
            else {
                "name": self.leadership.name,
                "head": self.leadership.head,
                "executive_deputy": self.leadership.executive_deputy,
                "deputies": list(self.leadership.deputies),
                "members": list(self.leadership.members),
            },
            "work_groups": [_group_dict(g) for g in self.work_groups],
            "supervision_groups": [_group_dict(g) for g in self.supervision_groups],
            "phases": [
                {
                    "code": p.code,
                    "name": p.name,
                    "start": p.start.isoformat(),
                    "end": p.end.isoformat(),
                    "description": p.description,
                }
                for p in self.phases
            ],
            "targets": [
                {
                    "unit": t.unit,
                    "indicator": t.indicator,
                    "period": t.period,
                    "value": str(t.value),
                    "source": t.source,
                    **({"group": t.group} if t.group is not None else {}),
                }
                for t in self.targets
            ],
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any], profile: Profile | None = None) -> Plan:
        """A plan from its JSON form. Its units are those of ``profile``; without one, of the
        profile the JSON names (a shipped profile), else of the default profile. A plan whose
        JSON names another profile than ``profile`` is a :class:`DataError`."""
        named = d.get("profile") if isinstance(d, dict) else None
        if profile is None:
            profile = shipped(str(named)) if named else default_profile()
        elif named and named != profile.name:
            raise DataError(
                f"计划“{d.get('code', '')}”属于地区配置“{named}”，与当前的地区配置"
                f"“{profile.name}”（{profile.city.name}）不一致",
                f"plan is for profile {named!r}, not {profile.name!r}",
            )
        units = plan_units(profile)
        try:
            pd = d["period"]
            period = Period(
                pd["code"],
                date.fromisoformat(pd["start"]),
                date.fromisoformat(pd["end"]),
                pd.get("label", ""),
            )
            ld = d.get("leadership")
            leadership = (
                None
                if not ld
                else Leadership(
                    ld["name"],
                    person(ld["head"]),
                    person(ld["executive_deputy"]) if ld.get("executive_deputy") else None,
                    tuple(person(p) for p in ld.get("deputies", [])),
                    tuple(person(p) for p in ld.get("members", [])),
                )
            )
            targets = tuple(_target_from_dict(t, period.code, units) for t in d.get("targets", []))
            return cls(
                code=d["code"],
                title=d["title"],
                period=period,
                targets=targets,
                leadership=leadership,
                work_groups=tuple(
                    _group_from_dict(g, "work", units) for g in d.get("work_groups", [])
                ),
                supervision_groups=tuple(
                    _group_from_dict(g, "supervision", units)
                    for g in d.get("supervision_groups", [])
                ),
                phases=tuple(
                    Phase(
                        p["code"],
                        p["name"],
                        date.fromisoformat(p["start"]),
                        date.fromisoformat(p["end"]),
                        p.get("description", ""),
                    )
                    for p in d.get("phases", [])
                ),
                document=dict(d.get("document", {})),
                notes=tuple(d.get("notes", [])),
                profile=profile,
            )
        except (KeyError, TypeError, ValueError) as e:
            raise DataError("计划文件格式不正确", f"malformed plan data: {e!r}") from e


def _indicator_codes() -> list[str]:
    from canbao.plan.indicators import indicators

    return [i.code for i in indicators()]


def _group_dict(g: Group) -> dict[str, Any]:
    out: dict[str, Any] = {
        "code": g.code,
        "name": g.name,
        "leader": g.leader,
        "members": list(g.members),
        "contact": g.contact,
        "duty": g.duty,
    }
    if g.kind == "supervision":
        out["units"] = list(g.units)
        out["units_as_written"] = list(g.units_as_written)
    return out


def _group_from_dict(d: dict[str, Any], kind: GroupKind, known: tuple[PlanUnit, ...]) -> Group:
    written = tuple(d.get("units_as_written", ()))
    units = tuple(d.get("units", ()))
    if not units and written:
        resolved = [resolve_unit(w, known) for w in written]
        missing = [w for w, u in zip(written, resolved, strict=True) if u is None]
        if missing:
            raise DataError(f"督导组单位无法识别：{'、'.join(missing)}", f"unknown units {missing}")
        units = tuple(u.code for u in resolved if u is not None)
    return Group(
        code=d["code"],
        name=d["name"],
        kind=kind,
        leader=person(d["leader"]),
        members=tuple(person(m) for m in d.get("members", [])),
        duty=d.get("duty", ""),
        units=units,
        units_as_written=written,
    )


def _target_from_dict(
    d: dict[str, Any], default_period: str, units: tuple[PlanUnit, ...]
) -> Target:
    from canbao.plan.indicators import to_base

    ind = indicator(d["indicator"])
    u = resolve_unit(d["unit"], units)
    if u is None:
        raise DataError(f"未知单位“{d['unit']}”", f"unknown unit {d['unit']!r}")
    value = Decimal(str(d["value"]))
    if "display_unit" in d:  # the seed file keeps the plan text's own units (万人, 亿元 …)
        value = to_base(ind, value, d["display_unit"])
    group = None
    if d.get("group") not in (None, ""):  # a key group's target (code or name: 灵活就业)
        group = group_code(d["group"])
        check_group_indicator(ind.code, group)
    period = d.get("period", default_period)
    return Target(u.code, ind.code, period, value, d.get("source", ""), group)
