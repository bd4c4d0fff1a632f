"""Demo step: build the registry on OUT/data and export what a bureau user looks at; with a
maker of the next month's extract (the demo face passes the synthetic city's), apply that month
incrementally. Nothing here imports the synthetic-data tool."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable
from pathlib import Path

from canbao import outputs
from canbao.registry import api, corrections, quality, snapshot
from canbao.warehouse.scope import Scope

DEMO = Scope.system("demo: the registry step")


MonthMaker = Callable[[Path, Path], Path]  # (city dir, file to write) → the extract written


def run_registry_demo(out: Path, next_month: MonthMaker | None = None) -> dict[str, str]:
    """``next_month``: writes the next month's resident-medical extract of the city (1 % of the
    residents newly enrolled); None: no monthly update is shown."""
    data = out / "data"
    if not (data / "batches").exists():
        return {}
    result = api.build(data, full=True)
    exports = out / "registry"
    exports.mkdir(parents=True, exist_ok=True)
    # lists people look at: IDs, phones and birth dates masked (standards.masking)
    api.export_table(api.persons(data, DEMO), exports / "persons.xlsx")
    api.export_table(api.employers(data, DEMO), exports / "employers.xlsx")
    api.export_table(
        api.links(data, DEMO).select("source", "row", "person_key"), exports / "links.csv"
    )
    api.export_table(api.review_items(data, DEMO), exports / "review-queue.xlsx")
    # corrections: one workbook per department (full proposed values: only for that department)
    # and a masked overview for staff
    corr = corrections.collect(data)
    sent = corrections.write(corr, exports / "corrections")
    outputs.write_table(
        corrections.staff_table(corr),
        exports / "corrections-overview.xlsx",
        labels=corrections.COLUMN_LABELS_ZH,
        sheet="更正建议（脱敏）",
    )
    where = {
        "主人员索引 (master persons, IDs masked)": str(exports / "persons.xlsx"),
        "主单位 (master employers)": str(exports / "employers.xlsx"),
        "待人工复核 (review queue)": str(exports / "review-queue.xlsx"),
        "建议更正的身份证号和姓名，脱敏总表 (proposed corrections, masked)": str(
            exports / "corrections-overview.xlsx"
        ),
        f"发回各部门的更正建议，{len(sent.where)} 个文件，含个人信息，仅限发送给该部门"
        " (corrections per department)": str(sent.root),
    }
    city = out / "city"
    if (city / "truth" / "links.csv").exists():
        q = quality.evaluate_synthetic(api.links(data, DEMO), city)
        path = exports / "linkage-quality.json"
        path.write_text(
            json.dumps(
                {"build": result.build_id, "counts": result.counts, "quality": q},
                ensure_ascii=False,
                indent=2,
            ),
            encoding="utf-8",
        )
        where["关联质量（对照合成真值）(linkage quality vs truth)"] = str(path)
        if next_month is not None:
            where["月度增量更新 (next month, applied incrementally)"] = str(
                _next_month(out, data, city, exports, next_month)
            )
    return where


def _next_month(out: Path, data: Path, city: Path, exports: Path, make: MonthMaker) -> Path:
    """On a copy of the data: 1 % of residents newly in resident medical insurance, ingested
    as the next month's extract and applied without a full rebuild; what it touched."""
    from canbao.ingest.batches import ingest_file

    month = out / "registry-next-month"
    if month.exists():
        shutil.rmtree(month)
    shutil.copytree(data, month)
    extract = make(city, exports / "jumin_yibao_next_month.csv")
    ingest_file(
        month, extract, source="si_resident_medical_next", kind="enrollment",
        scheme="resident_medical", as_of="2018-01-31",
    )  # fmt: skip
    result = api.build(month)
    info = snapshot.require_current(month).info
    path = exports / "next-month-update.json"
    path.write_text(
        json.dumps(
            {
                "mode": result.mode,
                "seconds": result.seconds,
                "touched": info.get("incremental", {}),
                "layers": info.get("layers", {}),
            },
            ensure_ascii=False,
            indent=2,
        ),
        encoding="utf-8",
    )
    return path
