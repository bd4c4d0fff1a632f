"""``generate()``: build the city, write every extract, the truth and the manifest."""

from __future__ import annotations

import json
from dataclasses import asdict
from pathlib import Path

from canbao.errors import UsageError
from canbao.synth.config import DamageRates, Skew, SynthConfig
from canbao.synth.employers import build_employers, build_employment
from canbao.synth.extracts import render_all
from canbao.synth.insurance import build_reality
from canbao.synth.manifest import write_manifest
from canbao.synth.payments import write_truth as write_ledger_truth
from canbao.synth.population import build_population
from canbao.synth.render import write
from canbao.synth.task_table import write_task_table
from canbao.synth.truth import TruthWriter, write_gaps

MIN_PERSONS = 200
MAX_PERSONS = 20_000_000


def generate(
    persons: int,
    seed: int,
    out: Path | str,
    year: int = 2017,
    rates: DamageRates | None = None,
    config: SynthConfig | None = None,
    skew: Skew | None = None,
) -> Path:
    """Generate the synthetic city into ``out``; returns the path of ``manifest.json``.

    ``skew`` (or ``config.skew``) makes the city skewed (see :mod:`canbao.synth.skew`).
    """
    if not MIN_PERSONS <= persons <= MAX_PERSONS:
        raise UsageError(
            f"人数应在 {MIN_PERSONS} 到 {MAX_PERSONS} 之间",
            f"--persons must be in [{MIN_PERSONS}, {MAX_PERSONS}]",
        )
    if not 2016 <= year <= 2020:
        raise UsageError("年份应在 2016 到 2020 之间", "--year must be in 2016..2020")
    cfg = config or SynthConfig(
        persons=persons, seed=seed, year=year, rates=rates or DamageRates(), skew=skew
    )
    root = Path(out)
    root.mkdir(parents=True, exist_ok=True)
    people = build_population(cfg)
    employers = build_employers(cfg)
    spells = build_employment(cfg, people, employers)
    reality = build_reality(cfg, people, employers, spells)
    truth = TruthWriter(root)
    specs = []
    try:
        for rendered in render_all(cfg, people, reality):
            write(rendered, root)
            truth.add(rendered)
            if not rendered.part:
                specs.append(rendered.spec)
            del rendered  # do not hold the last extract while the next one is built
    finally:
        truth.close()
    gaps = write_gaps(root, cfg.year, people, reality)
    ledger = None
    if reality.book is not None:  # the contribution ledger's truth (synth.payments)
        paths = {s.source: s.path for s in specs}
        ledger = write_ledger_truth(root, reality.book, reality.employers, paths)
    task_table = write_task_table(root, cfg, reality)  # the 附件1 at the city's own size
    summary: dict[str, object] = {
        "persons": people.height,
        "employers": employers.height,
        "rows": truth.counts,
        "gaps": gaps,
        "rates": cfg.rates.to_dict(),
    }
    if ledger is not None:
        summary["ledger"] = {k: ledger[k] for k in ("as_of", "ledger_rows", "payments")}
    generator: dict[str, object] = {
        "name": "canbao synth",
        "persons": cfg.persons,
        "seed": cfg.seed,
    }
    if cfg.skew is not None:  # only then: an ordinary city's files stay as they were
        summary["skew"] = asdict(cfg.skew)
        generator["skew"] = True
    (root / "truth" / "summary.json").write_text(
        json.dumps(summary, ensure_ascii=False, indent=2) + "\n", encoding="utf-8"
    )
    path = write_manifest(root, cfg.year, generator, specs, {"task_table": task_table})
    return path
