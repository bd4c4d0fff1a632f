"""The risk ranking against the synthetic city's truth (truth/under_reporters.csv) on a small
city: the model finds the true under-reporters and their money far better than random choice
and than ranking by size, and its money at stake is the truth's (not a timing test: the
figures at city scale are in bench/bench_audit.py)."""

from __future__ import annotations

import polars as pl
import pytest

from canbao.audit import evaluate, targets
from canbao.collection.ledger import region_policy
from canbao.registry import api as registry
from canbao.registry import snapshot
from tests.registry.city import ingest, make_city
from tests.scopes import SYSTEM


@pytest.fixture(scope="module")
def judged(tmp_path_factory: pytest.TempPathFactory) -> dict[str, object]:
    city = make_city(tmp_path_factory.mktemp("audit-city"), persons=12000, seed=11)
    data = tmp_path_factory.mktemp("audit-city-data")
    ingest(city, data)
    registry.build(data)
    found = targets.model(data, SYSTEM)
    assert found.as_of is not None
    snap = snapshot.require_current(data)
    truth = evaluate.true_money(
        city, snap.scan("employer_links").collect(), found.employers,
        region_policy(data, found.as_of),
    )  # fmt: skip
    rows = evaluate.ranking_quality(found.employers, truth, (0.05, 0.10), draws=200)
    return {"found": found, "truth": truth, "rows": rows}


def _row(judged: dict[str, object], ranking: str, share: float) -> dict[str, float]:
    rows = judged["rows"]
    assert isinstance(rows, list)
    return next(r for r in rows if r["ranking"] == ranking and r["share"] == share)


def test_the_city_has_enough_under_reporters_to_judge(judged: dict[str, object]) -> None:
    truth = judged["truth"]
    found = judged["found"]
    assert isinstance(truth, pl.DataFrame) and isinstance(found, targets.risk.RiskModel)
    assert truth.height >= 10 and found.employers.height >= 100


@pytest.mark.parametrize("share", [0.05, 0.10])
def test_the_model_beats_random_and_size(judged: dict[str, object], share: float) -> None:
    model, rand, size = (_row(judged, r, share) for r in ("model", "random", "size"))
    assert model["precision"] >= 0.8
    assert model["precision"] >= rand["precision"] + 0.3
    assert model["precision"] > size["precision"]
    assert model["money_share"] > max(rand["money_share"], size["money_share"])


def test_half_the_money_is_in_the_top_ten_percent(judged: dict[str, object]) -> None:
    assert _row(judged, "model", 0.10)["money_share"] >= 0.5


def test_the_money_at_stake_is_the_truths(judged: dict[str, object]) -> None:
    """Per true under-reporter, the estimate from the tax data equals the true money up to the
    monthly rounding (a fen per scheme and month)."""
    truth, found = judged["truth"], judged["found"]
    assert isinstance(truth, pl.DataFrame) and isinstance(found, targets.risk.RiskModel)
    both = truth.join(found.employers.select("employer_key", "money_under"), on="employer_key")
    assert both.height == truth.height
    off = both.select((pl.col("true_money") - pl.col("money_under")).abs().max()).item()
    assert off <= 5 * 12  # at most a fen per scheme and month
