"""Demo step: ingest the synthetic city's extracts (OUT/city/manifest.json) into OUT/data."""

from __future__ import annotations

from pathlib import Path

from canbao.errors import CanbaoError
from canbao.ingest.api import ingest_manifest


def run_ingest_demo(out: Path) -> dict[str, str]:
    city = out / "city"
    if not (city / "manifest.json").exists():
        return {}
    data = out / "data"
    results = ingest_manifest(data, city)
    failures = []
    lines = []
    rows = accepted = quarantined = 0
    for f, res in results:
        if isinstance(res, CanbaoError):
            failures.append(f"{f.path.name}: {res.render()}")
            continue
        b = res.batch
        lines.append(
            f"{f.path.relative_to(city)}\t{b.kind}\t{b.rows}\t{b.accepted}\t{b.quarantined}"
            f"\t{b.warned}\t{data / 'batches' / b.batch_id / 'report.xlsx'}\n"
        )
        rows += res.batch.rows
        accepted += res.batch.accepted
        quarantined += res.batch.quarantined
    summary = data / "ingest-summary.txt"
    summary.write_text(
        f"文件 {len(results)} 个，数据行 {rows}，接收 {accepted}，隔离 {quarantined}\n"
        + "".join(f"失败：{x}\n" for x in failures)
        + "\n文件\t类型\t数据行\t接收\t隔离\t有警告\t校验报告\n"
        + "".join(lines),
        encoding="utf-8",
    )
    return {
        "导入批次与校验报告 (ingest batches; validation reports report.xlsx per batch)": str(
            data / "batches"
        ),
        "导入汇总 (ingest summary)": str(summary),
    }
