from __future__ import annotations

from pipelines.config import GateParams
from pipelines.gate import decide

GATE = GateParams(min_accuracy=0.9, min_roc_auc=0.95, min_improvement=0.01)


def test_first_model_passing_thresholds_becomes_champion() -> None:
    d = decide(0.93, 0.97, GATE)
    assert d.alias == "champion" and d.promoted
    assert "no current champion" in d.reasons


def test_below_threshold_is_challenger_with_reason() -> None:
    d = decide(0.85, 0.97, GATE)
    assert d.alias == "challenger"
    assert any("accuracy 0.8500 < gate.min_accuracy 0.9" in r for r in d.reasons)
    d = decide(0.95, 0.90, GATE)
    assert d.alias == "challenger"
    assert any("roc_auc 0.9000 < gate.min_roc_auc" in r for r in d.reasons)


def test_must_beat_champion_by_min_improvement() -> None:
    assert decide(0.95, 0.99, GATE, champion_accuracy=0.945, champion_version="3").alias == "challenger"
    better = decide(0.96, 0.99, GATE, champion_accuracy=0.945, champion_version="3")
    assert better.alias == "champion"
    assert any("champion v3" in r and "+0.0150" in r for r in better.reasons)


def test_champion_that_cannot_be_scored_blocks_promotion() -> None:
    d = decide(0.99, 0.99, GATE, champion_version="2", champion_error="could not score champion v2 (gone)")
    assert d.alias == "challenger"
    assert "could not score champion v2 (gone)" in d.reasons
    assert "no current champion" not in d.reasons
