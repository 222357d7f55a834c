"""The promotion gate: absolute thresholds plus a head-to-head with the current champion."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from pipelines.config import GateParams


@dataclass(frozen=True)
class GateDecision:
    alias: Literal["champion", "challenger"]
    reasons: list[str] = field(default_factory=list)

    @property
    def promoted(self) -> bool:
        return self.alias == "champion"

    def summary(self) -> str:
        return f"{self.alias}: " + "; ".join(self.reasons)


def decide(
    accuracy: float,
    roc_auc: float,
    params: GateParams,
    champion_accuracy: float | None = None,
    champion_version: str | None = None,
    champion_error: str | None = None,
) -> GateDecision:
    """`champion_accuracy` is the champion's accuracy on the *same* test split (None: no champion yet).

    `champion_error` says why an existing champion could not be scored: then nothing is promoted blindly.
    """
    reasons: list[str] = []
    ok = True
    if accuracy >= params.min_accuracy:
        reasons.append(f"accuracy {accuracy:.4f} >= gate.min_accuracy {params.min_accuracy}")
    else:
        ok = False
        reasons.append(f"accuracy {accuracy:.4f} < gate.min_accuracy {params.min_accuracy}")
    if roc_auc >= params.min_roc_auc:
        reasons.append(f"roc_auc {roc_auc:.4f} >= gate.min_roc_auc {params.min_roc_auc}")
    else:
        ok = False
        reasons.append(f"roc_auc {roc_auc:.4f} < gate.min_roc_auc {params.min_roc_auc}")
    if champion_error is not None:
        ok = False
        reasons.append(champion_error)
    elif champion_accuracy is None:
        reasons.append("no current champion")
    else:
        margin = accuracy - champion_accuracy
        who = f"champion v{champion_version}" if champion_version else "champion"
        verdict = ">=" if margin >= params.min_improvement else "<"
        reasons.append(
            f"beats {who} by {margin:+.4f} on the same test split ({accuracy:.4f} vs {champion_accuracy:.4f}); "
            f"{verdict} gate.min_improvement {params.min_improvement}"
        )
        if margin < params.min_improvement:
            ok = False
    return GateDecision(alias="champion" if ok else "challenger", reasons=reasons)
