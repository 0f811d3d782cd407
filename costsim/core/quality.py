"""Quality laws: parametric loss L(N, D) and the allocations it implies (pure numpy, vectorized).

    L(N, D) = E + A / N^alpha + B / D^beta                                  (Hoffmann et al. 2022)
    with repeated data (Muennighoff et al. 2023):
    R_D = max(D / U - 1, 0), U_N = min(N, N_opt(U)), R_N = max(N / U_N - 1, 0)
    L = E + A / (U_N + U_N R_N* (1 - exp(-R_N / R_N*)))^alpha + B / (U + U R_D* (1 - exp(-R_D / R_D*)))^beta

Compute-optimal allocation under C = 6 N D: N* = G (C / 6)^(beta / (alpha + beta)), D* = C / (6 N*),
G = (alpha A / (beta B))^(1 / (alpha + beta)). Iso-loss: D(N, L) = (B / (L - E - A / N^alpha))^(1 / beta).

Constants live in costsim/data/quality_laws.yaml with their sources; `LossFit` holds one fit.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np


@dataclass(frozen=True)
class LossFit:
    """One published fit of the parametric loss law (loss in nats per token)."""

    id: str
    name: str
    E: float
    A: float
    B: float
    alpha: float
    beta: float
    rd_star: float | None = None
    """Muennighoff et al.: decay constant of repeated tokens (None: unique data assumed)."""
    rn_star: float | None = None
    """Muennighoff et al.: decay constant of excess parameters."""
    standard_errors: dict[str, float] = field(default_factory=dict)
    source: str = ""
    fitted_params: tuple[float | None, float | None] = (None, None)
    """Smallest and largest model size of the runs the fit came from (None: not published); outside it the law extrapolates."""
    fitted_tokens: tuple[float | None, float | None] = (None, None)
    """Fewest and most training tokens of those runs (None: not published)."""
    fitted_range_source: str = ""

    @property
    def G(self) -> float:
        return (self.alpha * self.A / (self.beta * self.B)) ** (1.0 / (self.alpha + self.beta))

    @property
    def data_constrained(self) -> bool:
        return self.rd_star is not None and self.rn_star is not None


def fit_from_dict(fit_id: str, d: dict) -> LossFit:
    """A fit from its YAML entry; log_params (a, b, e = ln A, ln B, ln E) take precedence at source precision."""
    lp = d.get("log_params") or {}
    A = math.exp(lp["a"]) if "a" in lp else float(d["A"])
    B = math.exp(lp["b"]) if "b" in lp else float(d["B"])
    E = math.exp(lp["e"]) if "e" in lp else float(d["E"])
    rng = d.get("fitted_range") or {}
    return LossFit(id=fit_id, name=str(d.get("name", fit_id)), E=E, A=A, B=B, alpha=float(d["alpha"]), beta=float(d["beta"]),
                   rd_star=d.get("rd_star"), rn_star=d.get("rn_star"),
                   standard_errors={k: float(v) for k, v in (d.get("standard_errors") or {}).items()}, source=str(d.get("source", "")),
                   fitted_params=_range(rng.get("params")), fitted_tokens=_range(rng.get("tokens")),
                   fitted_range_source=str(rng.get("source", "")))


def _range(pair) -> tuple[float | None, float | None]:
    """(low, high) from a YAML [low, high] pair whose ends may be null."""
    if not pair:
        return (None, None)
    lo, hi = pair
    return (None if lo is None else float(lo), None if hi is None else float(hi))


def outside_fitted_range(fit: LossFit, params: float, tokens: float) -> list[str]:
    """What of (params, tokens) lies outside the runs the fit came from, as phrases ('0.05B parameters, below the
    fit's smallest run of 0.07B'); empty when inside or when the fit publishes no range."""
    out = []
    for value, (lo, hi), what in ((params, fit.fitted_params, "parameters"), (tokens, fit.fitted_tokens, "tokens")):
        if lo is not None and value < lo:
            out.append(f"{value / 1e9:.3g}B {what}, below the fit's smallest run ({lo / 1e9:.3g}B)")
        elif hi is not None and value > FAR_ABOVE_FIT * hi:
            out.append(f"{value / 1e9:.3g}B {what}, {value / hi:,.0f}x the fit's largest run ({hi / 1e9:.3g}B)")
        elif hi is not None and value > hi:
            out.append(f"{value / 1e9:.3g}B {what}, above the fit's largest run ({hi / 1e9:.3g}B)")
    return out


#: how far above a fit's largest run a plan's answer says the law is stretched (extrapolating upward is what a scaling
#: law is for, within a couple of decades: Hoffmann et al. 2022 predicted a 4x-larger Chinchilla from runs up to 16B)
FAR_ABOVE_FIT = 100.0


def n_opt_for_tokens(fit: LossFit, tokens) -> np.ndarray:
    """Compute-optimal parameter count for a token count (the D -> N map of the fit)."""
    return (np.asarray(tokens, float) * fit.G) ** (fit.beta / fit.alpha) * fit.G


def loss(fit: LossFit, params, tokens, unique_tokens=None) -> np.ndarray:
    """L(N, D[, U]) broadcast over arrays. With `unique_tokens` and a data-constrained fit, repeated
    epochs and excess parameters decay as in Muennighoff et al. 2023; otherwise all tokens are unique."""
    N = np.asarray(params, float)
    D = np.asarray(tokens, float)
    if unique_tokens is None or not fit.data_constrained:
        return fit.E + fit.A / N ** fit.alpha + fit.B / D ** fit.beta
    U = np.minimum(np.asarray(unique_tokens, float), D)
    rd = np.maximum(D / U - 1.0, 0.0)
    un = np.minimum(N, n_opt_for_tokens(fit, U))
    rn = np.maximum(N / un - 1.0, 0.0)
    n_eff = un + un * fit.rn_star * (1.0 - np.exp(-rn / fit.rn_star))
    d_eff = U + U * fit.rd_star * (1.0 - np.exp(-rd / fit.rd_star))
    return fit.E + fit.A / n_eff ** fit.alpha + fit.B / d_eff ** fit.beta


def compute_optimal(fit: LossFit, compute_flop) -> tuple[np.ndarray, np.ndarray]:
    """(N*, D*) minimizing L under 6 N D = C (unique data)."""
    C = np.asarray(compute_flop, float)
    n = fit.G * (C / 6.0) ** (fit.beta / (fit.alpha + fit.beta))
    return n, C / (6.0 * n)


def compute_optimal_constrained(fit: LossFit, compute_flop: float, unique_tokens: float, *, points: int = 4001) -> tuple[float, float]:
    """(N, D) minimizing the data-constrained loss under 6 N D = C, by a dense log grid over N (then refined)."""
    lo, hi = 1e6, compute_flop / 6.0 / 1e6
    for _ in range(3):
        n = np.logspace(math.log10(lo), math.log10(hi), points)
        d = compute_flop / (6.0 * n)
        i = int(np.argmin(loss(fit, n, d, unique_tokens)))
        lo, hi = n[max(i - 2, 0)], n[min(i + 2, points - 1)]
    return float(n[i]), float(compute_flop / (6.0 * n[i]))


def smallest_budget_within(fit: LossFit, compute_flop: float, unique_tokens: float, loss_margin: float,
                           *, steps: int = 48) -> tuple[float, float, float]:
    """(C', N', D'): the smallest compute budget whose data-constrained compute-optimal plan comes within
    `loss_margin` of the compute-optimal loss at `compute_flop` (bisection in log C; that loss falls
    monotonically with C). Where repeats have saturated, C' is far below C."""
    target = float(loss(fit, *compute_optimal_constrained(fit, compute_flop, unique_tokens), unique_tokens)) + loss_margin
    # lower end: 1e-12 of the budget, but not below 6 N D at the smallest size compute_optimal_constrained searches (1e6)
    lo, hi = max(compute_flop * 1e-12, 6.0 * 1e6 * 1e6), float(compute_flop)
    if loss(fit, *compute_optimal_constrained(fit, lo, unique_tokens), unique_tokens) <= target:
        hi = lo
    else:
        for _ in range(steps):
            mid = math.sqrt(lo * hi)
            if loss(fit, *compute_optimal_constrained(fit, mid, unique_tokens, points=801), unique_tokens) <= target:
                hi = mid
            else:
                lo = mid
    n, d = compute_optimal_constrained(fit, hi, unique_tokens)
    return hi, n, d


def tokens_for_loss(fit: LossFit, params, target_loss: float, unique_tokens=None) -> np.ndarray:
    """D with L(N, D) = target at each N (inf where N alone cannot reach it). Closed form for unique
    data; bisection in log D for the data-constrained law (loss falls monotonically with D)."""
    N = np.asarray(params, float)
    if unique_tokens is None or not fit.data_constrained:
        rem = target_loss - fit.E - fit.A / N ** fit.alpha
        with np.errstate(divide="ignore", invalid="ignore"):
            return np.where(rem > 0, (fit.B / np.where(rem > 0, rem, 1.0)) ** (1.0 / fit.beta), np.inf)
    lo = np.full(N.shape, 1e6)
    hi = np.full(N.shape, 1e17)
    reach = loss(fit, N, hi, unique_tokens) <= target_loss
    for _ in range(80):
        mid = np.sqrt(lo * hi)
        ok = loss(fit, N, mid, unique_tokens) <= target_loss
        hi = np.where(ok, mid, hi)
        lo = np.where(ok, lo, mid)
    return np.where(reach, hi, np.inf)


def sample_fits(fit: LossFit, n: int, seed: int = 0) -> list[LossFit]:
    """Parameter draws from the published standard errors (independent normals, truncated to positive
    values): a bootstrap-style spread for a fit that reports them. Empty when it reports none."""
    if not fit.standard_errors:
        return []
    rng = np.random.default_rng(seed)
    out = []
    for _ in range(n):
        vals = {}
        for k in ("E", "A", "B", "alpha", "beta"):
            mu, se = getattr(fit, k), fit.standard_errors.get(k, 0.0)
            v = rng.normal(mu, se)
            vals[k] = v if v > 0 else mu
        out.append(LossFit(id=fit.id, name=fit.name, rd_star=fit.rd_star, rn_star=fit.rn_star, **vals))
    return out
