"""Who may be reminded, and where: opt-outs (table ``contact_preferences``: a recipient's
refusal, recorded by staff) and the employers' contact phones.

The employer extracts carry no phone, so an employer is reminded only at a contact number the
bureau registered: ``DATA/notify/employer_contacts.csv`` (``credit_code,phone``, imported with
``canbao remind contacts FILE.csv``; it holds business contacts, not residents' data). An
employer without one is held back as 无联系电话.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

import polars as pl
from sqlalchemy import select

from canbao.errors import DataError, InputFileError, NotFoundError, UsageError
from canbao.standards import credit_code
from canbao.store import Actor, Store, roles
from canbao.store.audit_log import append
from canbao.store.models import ContactPreference, utcnow

RECIPIENT_TYPES = {"person": "个人", "employer": "单位"}
PHONE_RE = r"^1[3-9][0-9]{9}$"
_HEADERS = {"credit_code": ("credit_code", "统一社会信用代码"), "phone": ("phone", "联系电话")}


def check_recipient(recipient_type: str, key: str) -> tuple[str, str]:
    if recipient_type not in RECIPIENT_TYPES or not key.strip() or len(key.strip()) > 64:
        raise UsageError("请用 --person 或 --employer 指定一个对象", "bad recipient")
    return recipient_type, key.strip()


def require_known(data_dir: Path, recipient_type: str, key: str) -> None:
    """Refuse a recipient the current registry build does not know (a mistyped key would
    otherwise record a refusal nobody has made and stop no reminder)."""
    from canbao.registry import snapshot

    snap = snapshot.current(data_dir)
    if snap is None:
        return  # no registry yet: nothing to check against
    table, column = ("persons", "person_key") if recipient_type == "person" else (
        "employers", "employer_key")  # fmt: skip
    found = snap.scan(table).filter(pl.col(column) == key).select(pl.len()).collect().item()
    if not found:
        raise NotFoundError(
            f"登记库中没有{RECIPIENT_TYPES[recipient_type]}标识“{key}”，请先查询确认（未登记拒收）",
            f"no {recipient_type} {key!r} in the registry",
        )


def set_opt_out(
    store: Store,
    actor: Actor,
    recipient_type: str,
    recipient_key: str,
    *,
    opted_out: bool = True,
    source: str = "counter",
    note: str = "",
) -> None:
    """Record that the recipient refuses (or again accepts) reminders; one-time codes still go."""
    roles.require(actor.role, "reminders.manage", actor.name)
    rtype, key = check_recipient(recipient_type, recipient_key)
    with store.transaction() as s:
        row = s.execute(
            select(ContactPreference).where(
                ContactPreference.recipient_type == rtype, ContactPreference.recipient_key == key
            )
        ).scalar_one_or_none()
        if row is None:
            row = ContactPreference(recipient_type=rtype, recipient_key=key)
            s.add(row)
        row.opted_out, row.source, row.note = opted_out, source[:32], note[:2000]
        row.updated_by, row.updated_at = actor.name, utcnow()
        action = "reminders.opt_out" if opted_out else "reminders.opt_in"
        append(s, [actor.event(action, rtype, [key], source=source)])


def opted_out(store: Store) -> pl.DataFrame:
    """recipient_type, recipient_key of every recipient who refused reminders."""
    with store.sessions() as s:
        rows = s.execute(
            select(ContactPreference.recipient_type, ContactPreference.recipient_key).where(
                ContactPreference.opted_out.is_(True)
            )
        ).all()
    return pl.DataFrame(
        [tuple(r) for r in rows],
        schema={"recipient_type": pl.Utf8, "recipient_key": pl.Utf8},
        orient="row",
    )


def contacts_file(data_dir: Path) -> Path:
    return data_dir / "notify" / "employer_contacts.csv"


def employer_contacts(data_dir: Path) -> pl.DataFrame:
    """credit_code, phone of the registered employer contacts (empty without the file)."""
    path = contacts_file(data_dir)
    if not path.exists():
        return pl.DataFrame(schema={"credit_code": pl.Utf8, "phone": pl.Utf8})
    return pl.read_csv(path, schema={"credit_code": pl.Utf8, "phone": pl.Utf8})


def import_employer_contacts(data_dir: Path, source: Path) -> int:
    """Replace the registered employer contacts with ``source`` (CSV, UTF-8, headers
    ``credit_code,phone`` or 统一社会信用代码,联系电话); every bad row is reported."""
    try:
        text = source.read_text(encoding="utf-8-sig")
    except (OSError, UnicodeDecodeError) as e:
        raise InputFileError(f"无法读取联系电话文件：{source}", str(e)) from e
    rows = list(csv.reader(io.StringIO(text)))
    if not rows:
        raise DataError("联系电话文件为空", "empty contacts file")
    head = [h.strip() for h in rows[0]]
    cols = {}
    for field, names in _HEADERS.items():
        found = [i for i, h in enumerate(head) if h in names]
        if not found:
            raise DataError(f"联系电话文件缺少列：{names[1]}", f"missing column {field}")
        cols[field] = found[0]
    frame = pl.DataFrame(
        {f: [r[i].strip() if i < len(r) else "" for r in rows[1:]] for f, i in cols.items()},
        schema={"credit_code": pl.Utf8, "phone": pl.Utf8},
    ).with_row_index("line", offset=2)
    checked = credit_code.check_frame(frame["credit_code"])
    frame = frame.with_columns(
        checked["cc_norm"].alias("credit_code"),
        (checked["cc_valid"].fill_null(False) & (checked["cc_kind"] == "uscc")).alias("ok"),
    )
    valid = pl.col("ok").fill_null(False)
    bad = frame.filter(~valid | ~pl.col("phone").str.contains(PHONE_RE))
    if bad.height:
        lines = "、".join(str(n) for n in bad["line"].head(20).to_list())
        raise DataError(
            f"联系电话文件有 {bad.height} 行无效（统一社会信用代码或手机号码有误），行号：{lines}",
            f"{bad.height} bad rows",
        )
    out = frame.unique("credit_code", keep="last").select("credit_code", "phone")
    path = contacts_file(data_dir)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp")
    out.write_csv(tmp)
    tmp.replace(path)
    return out.height
