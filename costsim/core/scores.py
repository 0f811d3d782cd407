"""A map from loss to a benchmark score, with a per-family data-quality term (pure numpy).

    score = chance + (100 - chance) * sigmoid(-(L - delta_family - L0) / w)

L is the loss the law predicts for (N, D); delta_family (in nats) says how much lower a family's effective
loss is than the law predicts from its size and token count alone: better data (Llama 3's 15T curated
tokens, Phi-3's filtered and synthetic data) is invisible to a law fitted on one dataset, so it shows up here
instead, named, rather than hidden in the fit. The reference family has delta = 0; a family with a single
published base score keeps delta = 0 and contributes a residual (how well the generic curve predicts it).
Fitted by least squares on the logit scale; the residual spread gives the p10-p90 band of a prediction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

Z90 = 1.2815515655446004  # standard normal p90


@dataclass(frozen=True)
class ScoreMap:
    benchmark: str
    chance_pct: float
    L0: float
    w: float
    deltas: dict[str, float] = field(default_factory=dict)
    """nats; families with one base score or none are 0."""
    residual_sd_logit: float = 0.0
    cases: int = 0
    reference_family: str = ""

    def delta(self, family: str | None) -> float:
        return self.deltas.get(family or "", 0.0)


def _logit(score_pct, chance: float) -> np.ndarray:
    p = (np.asarray(score_pct, float) - chance) / (100.0 - chance)
    p = np.clip(p, 1e-6, 1 - 1e-6)
    return np.log(p / (1 - p))


def fit_score_map(benchmark: str, chance_pct: float, losses, scores, families, *, reference: str) -> ScoreMap:
    """Least squares of logit(score) = -(L - delta_f - L0) / w = a + b L + sum_f c_f [family = f], families with
    >= 2 points get their own c_f (delta_f = c_f / -b... solved in closed form below)."""
    L = np.asarray(losses, float)
    y = _logit(scores, chance_pct)
    fams = list(families)
    multi = sorted({f for f in fams if fams.count(f) >= 2 and f != reference})
    cols = [np.ones_like(L), L] + [np.array([1.0 if f == m else 0.0 for f in fams]) for m in multi]
    X = np.column_stack(cols)
    coef, *_ = np.linalg.lstsq(X, y, rcond=None)
    a, b = float(coef[0]), float(coef[1])
    if b >= 0:
        raise ValueError("the scores do not fall with loss in this data; no map can be fitted")
    w = -1.0 / b
    L0 = a * w
    deltas = {m: float(coef[2 + i]) * w for i, m in enumerate(multi)}  # logit + c = -(L - L0 - c w)/w
    resid = y - X @ coef
    dof = max(len(y) - X.shape[1], 1)
    return ScoreMap(benchmark, chance_pct, L0, w, deltas, float(math.sqrt(float(resid @ resid) / dof)), len(y), reference)


def predict_score(m: ScoreMap, loss, family: str | None = None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(p50, p10, p90) in percent."""
    z = -(np.asarray(loss, float) - m.delta(family) - m.L0) / m.w
    span = 100.0 - m.chance_pct

    def to_score(t):
        return m.chance_pct + span / (1.0 + np.exp(-t))

    return to_score(z), to_score(z - Z90 * m.residual_sd_logit), to_score(z + Z90 * m.residual_sd_logit)


def loss_for_score(m: ScoreMap, score_pct: float, family: str | None = None) -> float:
    """The law's loss at which the map predicts `score_pct` for `family` (inverse of predict_score's p50)."""
    if not (m.chance_pct < score_pct < 100.0):
        raise ValueError(f"a {m.benchmark} score must lie between chance ({m.chance_pct:g}) and 100, got {score_pct:g}")
    t = float(_logit(score_pct, m.chance_pct))
    return m.L0 - m.w * t + m.delta(family)
