"""Plan to a quality target: which model size N and training tokens D reach loss L (or spend a compute
budget) and serve a lifetime demand at the least $, MWh, tCO2e or peak MW, training and serving counted
together; priced by our own training and inference cores (cost mode) or in FLOPs (the papers' check).

    plan(PlanRequest(target_loss=2.0, lifetime_tokens=1e13)) -> PlanResult

The loss laws are costsim.core.quality (constants in costsim/data/quality_laws.yaml). Sizes are priced on a
coarse log grid with Llama-shaped models (costsim.api.plan_grid over costsim.estimators.plan_pricing) and interpolated in log-log; the
optimum is searched on a fine grid of N with D(N) on the iso-loss curve.
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np
import yaml

from costsim.api.plan_grid import (PriceGrid, check_serve_engine, phase_costs, plan_economics, price_grid, serve_kw,
                                   size_lattice)
from costsim.api.plan_text import (NO_LAYOUT_NOTE, answer_sentence, budget_infeasible, edge_note, nearest_reason, range_text,
                                   saturated_note, slo_text, unpriced_size)
from costsim.api.trust import band_for
from costsim.core.quality import (LossFit, compute_optimal, compute_optimal_constrained, fit_from_dict, loss,
                                  outside_fitted_range, sample_fits, smallest_budget_within, tokens_for_loss)
from costsim.core.scores import ScoreMap, fit_score_map, loss_for_score, predict_score
from costsim.core.trust import ErrorBand
from costsim.errors import InputError
from costsim.numtext import count, si
from costsim.estimators.plan_pricing import price_serving, price_training
from costsim.power.balancing import price_basis
from costsim.specs.catalog import get_accelerator, get_model
from costsim.specs.plan import FIT_IDS, PlanRequest
from costsim.specs.site import EconomicsSpec

LAWS_PATH = Path(__file__).resolve().parents[1] / "data" / "quality_laws.yaml"
BENCHMARKS_PATH = Path(__file__).resolve().parents[1] / "data" / "benchmarks.yaml"
FINE_POINTS_PER_DECADE = 400  # the optimum is searched on this lattice of sizes between the priced ones (plan_grid.size_lattice)
BOOTSTRAP_DRAWS = 200
#: repeats beyond this many times R_D* (Muennighoff et al.'s decay constant of repeated data) are flagged in a budget plan
SATURATED_EPOCHS_PER_RD_STAR = 4.0
#: loss difference counted as "the same loss" when naming a smaller budget (the precision the plan prints)
SAME_LOSS_MARGIN = 1e-3
#: the most training tokens a target-loss plan searches (~7,000x Llama 3's 15T; the data-constrained law's bisection
#: stops there too, costsim.core.quality.tokens_for_loss)
MAX_TRAINING_TOKENS = 1e17


@functools.lru_cache(maxsize=1)
def load_fits() -> dict[str, LossFit]:
    doc = yaml.safe_load(LAWS_PATH.read_text(encoding="utf-8"))
    return {k: fit_from_dict(k, v) for k, v in doc["fits"].items()}


@functools.lru_cache(maxsize=1)
def load_benchmarks() -> dict[str, Any]:
    return yaml.safe_load(BENCHMARKS_PATH.read_text(encoding="utf-8"))


@functools.lru_cache(maxsize=16)
def score_map(fit_id: str, benchmark: str = "mmlu") -> ScoreMap:
    """The loss -> score map of `benchmark` under a fit, from the published base scores of catalog models."""
    doc = load_benchmarks()
    if benchmark not in doc["benchmarks"]:
        raise InputError(f"unknown benchmark '{benchmark}'; scores are shipped for {', '.join(doc['benchmarks'])}.", field="target_score")
    fit = load_fits()[fit_id]
    rows = [r for r in doc["scores"] if r["benchmark"] == benchmark and r["variant"] == "base"]
    losses, scores, fams = [], [], []
    for r in rows:
        m = get_model(r["model"])
        losses.append(float(loss(fit, float(m.params_total), float(m.training_tokens))))
        scores.append(float(r["score"]))
        fams.append(r["family"])
    return fit_score_map(benchmark, float(doc["benchmarks"][benchmark]["chance_pct"]), losses, scores, fams, reference="llama-2")


def published_scores(model_id: str, benchmark: str = "mmlu") -> dict[str, Any]:
    rows = [r for r in load_benchmarks()["scores"] if r["model"] == model_id and r["benchmark"] == benchmark]
    return {r["variant"]: r["score"] for r in rows} | ({"family": rows[0]["family"]} if rows else {})


def parse_score_target(text: str) -> tuple[str, float]:
    bench, sep, val = text.partition("=")
    try:
        v = float(val)
    except ValueError:
        v = math.nan
    if not sep or not bench.strip() or not math.isfinite(v):
        raise InputError(f"--target-score expects BENCH=VALUE (e.g. mmlu=70), got {text!r}.", field="target_score")
    if not (0.0 <= v <= 100.0):
        raise InputError(f"--target-score {text}: a score is a percentage between 0 and 100.", field="target_score")
    return bench.strip().lower(), v


def _score_of(fit_id: str, lv: float, family: str | None, model_id: str | None = None) -> dict[str, Any]:
    m = score_map(fit_id)
    p50, p10, p90 = (float(x) for x in predict_score(m, lv, family))
    out = {"benchmark": m.benchmark, "p50": p50, "p10": p10, "p90": p90, "family": family, "family_delta_loss": m.delta(family)}
    if model_id is not None:
        out["published"] = published_scores(model_id)
    return out


@dataclass(frozen=True)
class PhaseCost:
    """One phase (training or serving) or the total, in planner units."""

    usd: float | None
    facility_energy_j: float
    co2e_kg: float | None
    peak_power_w: float
    gpu_hours: float | None = None
    days: float | None = None
    """Training: wall days on the planned job; serving: lifetime."""
    gpus: float | None = None
    """Serving: accelerators of the fleet (peak-to-mean x the busy ones, at least one replica of the deployment);
    training: the job size."""
    busy_gpus: float | None = None
    """Serving: accelerators the mean demand keeps busy (the fleet's idle rest is paid for and idles)."""


@dataclass(frozen=True)
class PlanChoice:
    """A model size and token count with its loss and lifetime costs."""

    label: str
    params: float
    training_tokens: float
    tokens_per_param: float
    training_flop: float
    inference_flop: float
    total_flop: float
    loss: float
    training: PhaseCost | None = None
    serving: PhaseCost | None = None
    total: PhaseCost | None = None
    per_output_token: dict[str, float | None] = field(default_factory=dict)
    """Lifetime figures per output token served, with the amortized training share."""
    note: str | None = None
    outside_fitted_range: list[str] = field(default_factory=list)
    """Where (params, training tokens) lie outside the runs the loss law was fitted on (the law extrapolates there)."""
    same_loss_budget_flop: float | None = None
    """Where a compute budget is spent on saturated repeats: the smallest budget whose compute-optimal plan comes within
    SAME_LOSS_MARGIN of this loss (None otherwise)."""
    score: dict[str, Any] | None = None
    """Predicted benchmark score (p10/p50/p90, with the family's data-quality term) and, for catalog models,
    the published base and instruct scores."""


@dataclass(frozen=True)
class PlanResult:
    feasible: bool
    reason: str | None
    mode: str
    fit: str
    objective: str
    lifetime_tokens: float
    chosen: PlanChoice | None
    compute_optimal: PlanChoice | None
    by_fit: dict[str, PlanChoice | None]
    spread: dict[str, dict[str, float]]
    compare: list[PlanChoice]
    frontier: list[dict[str, float]]
    answer: str
    assumptions: list[dict[str, Any]]
    score_target: dict[str, Any] | None = None
    same_loss_best: PlanChoice | None = None
    """Compute-budget mode: the plan with the least objective (usd, MWh, ...) that reaches the compute-optimal
    model's loss under the same lifetime demand (the inference-aware optimum of Sardana et al. 2024)."""
    by_fit_reasons: dict[str, str] = field(default_factory=dict)
    """Why a fit of by_fit has no answer (a target at or below its irreducible loss, no priced size reaching it)."""
    error_bands: dict[str, ErrorBand | None] = field(default_factory=dict)
    """Cost mode: trust ranges of the cores the plan is priced with (held-out validation error of the regime):
    training (throughput, so days and GPU-hours), serving (throughput, so fleet size) and power (energy)."""

    def to_dict(self) -> dict[str, Any]:
        """JSON: the chosen plan's keys at the top level, plus by_fit, compute_optimal, compare, frontier."""
        def choice(c: PlanChoice | None) -> dict[str, Any] | None:
            return None if c is None else asdict(c)

        top = choice(self.chosen) or {k: None for k in ("params", "training_tokens", "tokens_per_param", "training_flop",
                                                        "inference_flop", "total_flop", "loss", "training", "serving", "total")}
        return {"feasible": self.feasible, "reason": self.reason, "answer": self.answer, "mode": self.mode, "fit": self.fit,
                "objective": self.objective, "lifetime_tokens": self.lifetime_tokens, **top,
                "compute_optimal": choice(self.compute_optimal), "by_fit": {k: choice(v) for k, v in self.by_fit.items()},
                "by_fit_reasons": self.by_fit_reasons,
                "spread": self.spread, "compare": [choice(c) for c in self.compare], "frontier": self.frontier,
                "score_target": self.score_target, "same_loss_best": choice(self.same_loss_best), "assumptions": self.assumptions,
                "error_bands": {k: (b.as_dict() if b is not None else None) for k, b in self.error_bands.items()}}


# --- checks ---------------------------------------------------------------------------------------------------

def _check_inputs(req: PlanRequest) -> None:
    """Ids the request names must exist (exit 2 naming the flag), before any pricing."""
    families = sorted({r["family"] for r in load_benchmarks()["scores"]})
    if req.family not in families:
        raise InputError(f"--family: unknown family '{req.family[:80]}'; the families with published scores are "
                         f"{', '.join(families)} (costsim/data/benchmarks.yaml).", field="family")
    if req.mode != "cost":
        if req.objective != "usd":
            raise InputError(f"--objective {req.objective}: flops mode minimizes total FLOP and prices nothing; drop --objective "
                             "or use --mode cost.", field="objective")
        return
    for flag, hw in (("--train-hardware", req.train_hardware), ("--serve-hardware", req.serve_hardware)):
        try:
            get_accelerator(hw)
        except InputError as exc:
            raise InputError(f"{flag}: {exc.message}", field=flag.lstrip("-").replace("-", "_")) from None
    ta = get_accelerator(req.train_hardware)
    if req.train_precision in ("fp8", "fp4") and not ta.supports(req.train_precision):
        raise InputError(f"--train-precision {req.train_precision}: {ta.id} has no {req.train_precision.upper()} tensor-core rate; "
                         "use --train-precision bf16 or other --train-hardware.", field="train_precision")


def _no_price_reason(req: PlanRequest, unpriced: list[str]) -> str:
    """Why no plan can be ranked by $: the hardware has no price on the request's pricing basis. Purchase pricing needs a
    purchase price (a rental quote does not stand in for it); rental pricing falls back to the amortized purchase price."""
    names = " and ".join(unpriced) or "the hardware"
    if req.economics.pricing == "purchase":
        rented = [h for h in unpriced if get_accelerator(h).rental_usd_per_hour]
        alt = f"--pricing rental ({' and '.join(rented)} {'has' if len(rented) == 1 else 'have'} a rental quote), " if rented else ""
        return (f"{names} has no purchase price in its profile, so no plan can be ranked by $ under --pricing purchase; use "
                f"{alt}--objective mwh, co2e or peak_mw, or a hardware YAML with prices.purchase_usd.")
    return (f"{names} has no rental or purchase price in its profile, so no plan can be ranked by $; use --objective mwh, "
            "co2e or peak_mw, or a hardware YAML with prices.")


def _objective(req: PlanRequest, c: dict[str, np.ndarray], n, d, inf_tokens: float) -> np.ndarray:
    n, d = np.asarray(n, float), np.asarray(d, float)
    if req.mode == "flops":
        return 6.0 * n * d + 2.0 * n * inf_tokens
    key = {"usd": ("train_usd", "serve_usd"), "mwh": ("train_j", "serve_j"), "co2e": ("train_kg", "serve_kg")}.get(req.objective)
    if key:
        return c[key[0]] + c[key[1]]
    return np.maximum(c["train_peak_w"], c["serve_peak_w"])


def _best_index(req: PlanRequest, c: dict[str, np.ndarray], obj: np.ndarray, good: np.ndarray) -> int:
    """The least objective among the good sizes; among sizes it ties (the peak MW of a fixed training fleet is the same
    for every size), the cheapest, then the least energy: never the first size of a flat objective."""
    o = np.where(good, obj, np.nan)
    best = np.nanmin(o)
    tied = good & (obj <= best + 1e-9 * abs(best))
    if int(tied.sum()) > 1 and c:
        for key in (("train_usd", "serve_usd"), ("train_j", "serve_j")):
            second = np.where(tied, c[key[0]] + c[key[1]], np.nan)
            if np.isfinite(second).any():
                return int(np.nanargmin(second))
    return int(np.nanargmin(o))


def _choice(req: PlanRequest, fit: LossFit, prices: PriceGrid | None, label: str, n: float, d: float, *, note: str | None = None) -> PlanChoice:
    inf_tokens = req.lifetime_total_tokens()
    out = req.lifetime_output_tokens()
    lv = float(loss(fit, n, d, req.unique_tokens))
    tf, inf = 6.0 * n * d, 2.0 * n * inf_tokens
    base = dict(label=label, params=float(n), training_tokens=float(d), tokens_per_param=float(d / n), training_flop=tf,
                inference_flop=inf, total_flop=tf + inf, loss=lv, note=note, outside_fitted_range=outside_fitted_range(fit, n, d))
    if prices is None:
        return PlanChoice(**base)
    c = {k: float(v) for k, v in phase_costs(req, prices, n, d, out).items()}
    tr = PhaseCost(usd=c["train_usd"], facility_energy_j=c["train_j"], co2e_kg=c["train_kg"], peak_power_w=c["train_peak_w"],
                   gpu_hours=c["train_gpu_h"], days=c["train_days"], gpus=float(req.train_gpus))
    sv = PhaseCost(usd=c["serve_usd"], facility_energy_j=c["serve_j"], co2e_kg=c["serve_kg"], peak_power_w=c["serve_peak_w"],
                   days=req.years * 365.25, gpus=c["serve_gpus"], busy_gpus=c["serve_busy_gpus"])
    tot = PhaseCost(usd=tr.usd + sv.usd, facility_energy_j=tr.facility_energy_j + sv.facility_energy_j,
                    co2e_kg=tr.co2e_kg + sv.co2e_kg, peak_power_w=max(tr.peak_power_w, sv.peak_power_w))
    per = {}
    if out > 0:
        per = {"usd": tot.usd / out, "usd_training_share": tr.usd / out, "facility_energy_j": tot.facility_energy_j / out,
               "facility_energy_j_training_share": tr.facility_energy_j / out, "co2e_g": tot.co2e_kg * 1000.0 / out,
               "co2e_g_training_share": tr.co2e_kg * 1000.0 / out}
    return PlanChoice(**base, training=tr, serving=sv, total=tot, per_output_token=per)


def _within_unique(req: PlanRequest, fit: LossFit, d) -> np.ndarray:
    """Where training `d` tokens is allowed: everywhere, except that a law without a repeated-data term assumes every
    token unique, so under it no plan trains more than --unique-tokens."""
    d = np.asarray(d, float)
    if req.unique_tokens is None or fit.data_constrained:
        return np.ones(d.shape, bool)
    return d <= req.unique_tokens


def _optimize(req: PlanRequest, fit: LossFit, prices: PriceGrid | None, target: float | None) -> tuple[PlanChoice | None, str | None]:
    """The best (N, D) under `fit` for the request (target loss or compute budget)."""
    inf_tokens, out = req.lifetime_total_tokens(), req.lifetime_output_tokens()
    if target is None:  # compute budget: the compute-optimal allocation
        C = float(req.compute_budget_flop)
        note, same_flop = None, None
        if req.unique_tokens is not None and fit.data_constrained:
            n, d = compute_optimal_constrained(fit, C, req.unique_tokens)
            epochs = d / req.unique_tokens
            if epochs > SATURATED_EPOCHS_PER_RD_STAR * fit.rd_star:
                # past a few R_D* the effective data has saturated (1 - exp(-4) = 98 % of its limit at 4 R_D*): the
                # budget is spent on repeats the law says are worth almost nothing; say which smaller budget does as well
                same = smallest_budget_within(fit, C, req.unique_tokens, SAME_LOSS_MARGIN)
                note = saturated_note(req, fit, epochs, C, *same, SAME_LOSS_MARGIN)
                same_flop = same[0]
        else:
            n, d = (float(x) for x in compute_optimal(fit, C))
            if req.unique_tokens is not None and d > req.unique_tokens:
                # a law without a repeated-data term is only valid on unique tokens: train on all of them, once
                # (L falls monotonically towards the unconstrained optimum along 6 N D = C, so the edge is the best)
                n, d = C / (6.0 * req.unique_tokens), float(req.unique_tokens)
                note = (f"{fit.id} has no repeated-data term, so the plan trains once on the {req.unique_tokens:.3g} unique tokens "
                        "(the unconstrained optimum needs more); --fit muennighoff2023 prices repeated epochs")
        choice = _choice(req, fit, prices, f"compute-optimal for {si(C, 'FLOP')} ({fit.id})", n, d, note=note)
        if same_flop is not None:
            choice = replace(choice, same_loss_budget_flop=same_flop)
        why = budget_infeasible(req, prices, choice)
        return (None, why) if why else (choice, None)
    if target <= fit.E:
        fix = ("lower --target-score (the score maps to this loss)" if req.target_score is not None else "raise --target-loss")
        return None, (f"target loss {target:g} is at or below the irreducible loss E = {fit.E:.4g} of {fit.id}: no model "
                      f"reaches it; {fix}.")
    n = size_lattice(req.min_params, req.max_params, FINE_POINTS_PER_DECADE)
    d = tokens_for_loss(fit, n, target, req.unique_tokens)
    ok = np.isfinite(d) & (d < MAX_TRAINING_TOKENS)
    if not ok.any():
        if req.unique_tokens is not None and fit.data_constrained:
            return None, (f"no model up to {req.max_params:.3g} parameters reaches loss {target:g} under {fit.id} with "
                          f"{req.unique_tokens:.3g} unique tokens (repeated epochs of them saturate); raise --unique-tokens, "
                          "--max-params or the target.")
        return None, f"no model up to {req.max_params:.3g} parameters reaches loss {target:g} under {fit.id}; raise --max-params or the target."
    if req.unique_tokens is not None and not fit.data_constrained:
        ok &= _within_unique(req, fit, d)
        if not ok.any():
            return None, (f"under {fit.id} (no repeated-data term) every model up to {req.max_params:.3g} parameters needs more than the "
                          f"{req.unique_tokens:.3g} unique tokens to reach loss {target:g}; use --fit muennighoff2023 (prices repeated "
                          "epochs), raise --unique-tokens or --max-params, or raise the target.")
    c = phase_costs(req, prices, n, d, out)
    obj = _objective(req, c, n, d, inf_tokens)
    good = ok & np.isfinite(obj)
    if req.mode == "cost" and req.objective == "usd" and not good.any() and (ok & np.isfinite(c["train_j"] + c["serve_j"])).any():
        unpriced = [h for h, k in ((req.train_hardware, "train_usd"), (req.serve_hardware, "serve_usd")) if not np.isfinite(c[k][ok]).any()]
        return None, _no_price_reason(req, sorted(set(unpriced)))
    if req.grid_cap_mw is not None and prices is not None:
        cap_w = req.grid_cap_mw * 1e6
        fits_cap = (c["train_peak_w"] <= cap_w) & (c["serve_peak_w"] <= cap_w)
        if good.any() and not (good & fits_cap).any():  # (none priced at all: the reasons below say why)
            return None, (f"no plan reaching loss {target:g} stays under the {req.grid_cap_mw:g} MW grid cap (smallest peak "
                          f"{np.nanmin(np.maximum(c['train_peak_w'], c['serve_peak_w'])[good]) / 1e6:.3g} MW); raise the cap, "
                          "lower --train-gpus or the demand.")
        good &= fits_cap
    if not good.any():
        if prices is not None and req.lifetime_total_tokens() > 0 and not any(sp.feasible for sp in prices.serve):
            why = next((sp.reason for sp in prices.serve if sp.reason), "no deployment fits").rstrip(". ")
            return None, (f"no model size can be served on {req.serve_hardware}{slo_text(req)}: {why}; "
                          "relax the latency limits or pick other serving hardware.")
        if prices is not None and c and not np.isfinite(c["train_j"][ok]).any():
            n_small = float(n[ok].min())  # the smallest size that reaches the target, and why it does not train
            row = next((tp for tp in prices.train if tp.params >= n_small * 0.999 and not tp.feasible), None)
            why = ((row.reason if row and row.reason else "no layout fits")).rstrip(". ")
            return None, (f"no model size that reaches loss {target:g} ({n_small:.3g} parameters or more) trains on "
                          f"{req.train_gpus:,} x {req.train_hardware} ({why}); raise --train-gpus or pick --train-hardware "
                          "with more memory.")
        return None, "no priced model size reaches the target (the cores found no feasible layout); widen --min-params/--max-params."
    i = _best_index(req, c, obj, good)
    edge = edge_note(req, prices, float(n[i]))
    if edge is None and i > 0 and np.isfinite(d[i - 1]) and d[i - 1] >= MAX_TRAINING_TOKENS:
        # the smaller sizes need more tokens than are searched: the optimum is pinned to that limit, not found
        edge = (f"at the most training tokens searched ({count(MAX_TRAINING_TOKENS)}); a smaller model trained longer may be "
                "cheaper, though no law was fitted anywhere near this many tokens")
    return _choice(req, fit, prices, f"least {req.objective if req.mode == 'cost' else 'FLOP'} ({fit.id})", float(n[i]), float(d[i]),
                   note=edge), None


def plan(req: PlanRequest) -> PlanResult:
    """The plan for a request (see module doc). Infeasible-but-valid requests return feasible=False with a reason."""
    _check_inputs(req)
    fits = load_fits()
    fit = fits[req.fit]
    targets: dict[str, float | None] = {fid: req.target_loss for fid in FIT_IDS}
    score_target = None
    if req.target_score is not None:  # the score, per fit, as the loss its map needs for the family
        bench, value = parse_score_target(req.target_score)
        m = score_map(req.fit, bench)
        if not (m.chance_pct < value < 100.0):
            raise InputError(f"--target-score {req.target_score}: {bench} scores lie between chance ({m.chance_pct:g}) and 100.",
                             field="target_score")
        targets = {fid: loss_for_score(score_map(fid, bench), value, req.family) for fid in FIT_IDS}
        score_target = {"benchmark": bench, "target_pct": value, "family": req.family, "family_delta_loss": m.delta(req.family),
                        "target_loss": targets[req.fit], "map": {"L0": m.L0, "w": m.w, "deltas": m.deltas, "cases": m.cases,
                                                                  "residual_sd_logit": m.residual_sd_logit,
                                                                  "reference_family": m.reference_family}}
    if req.mode == "cost":
        check_serve_engine(req)
    econ = plan_economics(req) if req.mode == "cost" else req.economics
    prices = price_grid(req, econ) if req.mode == "cost" else None
    target = targets[req.fit]
    chosen, why = _optimize(req, fit, prices, target)
    by_fit: dict[str, PlanChoice | None] = {}
    by_fit_reasons: dict[str, str] = {}  # why a fit has no answer (its row reads '-')
    for fid in FIT_IDS:
        c_fit, why_fit = (chosen, why) if fid == req.fit else _optimize(req, fits[fid], prices, targets[fid])
        by_fit[fid] = c_fit
        if c_fit is None and why_fit:
            by_fit_reasons[fid] = why_fit
    # each fit's answer with its predicted score under that fit's own loss -> score map (the table's MMLU column was empty)
    by_fit = {fid: None if c is None else replace(c, score=_score_of(fid, c.loss, req.family)) for fid, c in by_fit.items()}
    co = None
    if chosen is not None and target is not None:  # the Chinchilla choice for the same loss: least training FLOP
        flop_req = req.model_copy(update={"mode": "flops", "lifetime_tokens": 0.0, "requests_per_day": None})
        co0, _ = _optimize(flop_req, fit, None, target)
        if co0 is not None:
            co = _choice(req, fit, prices, f"compute-optimal for the same loss ({fit.id})", co0.params, co0.training_tokens)
            outside = unpriced_size(prices, co.params, req.min_params) if prices is not None else None
            if outside:
                co = replace(co, note=f"not priced: {outside}")
            elif prices is not None and co.training is not None and not math.isfinite(co.training.facility_energy_j):
                co = replace(co, note=f"{NO_LAYOUT_NOTE} {req.train_gpus:,} {req.train_hardware}: "
                                      f"{nearest_reason(prices, 'train', co.params)}")
    spread = _spread(req, fit, prices, target, by_fit)
    compare = [_model_choice(req, fit, m, econ) for m in req.compare]
    same_loss_best = None
    if chosen is not None and target is None and req.lifetime_total_tokens() > 0:
        same_loss_best, _ = _optimize(req, fit, prices, chosen.loss)
        if same_loss_best is not None:
            word = req.objective if req.mode == "cost" else "FLOP"
            same_loss_best = replace(same_loss_best, label=f"least {word} for the same loss ({fit.id})")
    chosen, co, compare = _with_scores(req, chosen, co, compare)
    if same_loss_best is not None:
        same_loss_best = _with_scores(req, same_loss_best, None, [])[0]
    # quality vs cost around the answer: the target loss, or in compute-budget mode the compute-optimal model's loss
    frontier = _frontier(req, fit, prices, target if target is not None else chosen.loss) if chosen is not None else []
    assumptions = [
        {"name": "loss_law", "value": fit.name, "unit": "", "source": fit.source},
        {"name": "loss_law_fitted_range", "value": range_text(fit), "unit": "", "source": fit.fitted_range_source},
        {"name": "model_shape", "value": "Llama-shaped dense", "unit": "", "source": "costsim.estimators.plan_pricing.SHAPE_SOURCE"},
        {"name": "inference_flop_per_token", "value": "2 N", "unit": "FLOP", "source": "Sardana et al. 2024 (arXiv:2401.00448) eq. 2; Kaplan et al. 2020"},
        {"name": "serving_peak_to_mean", "value": float(req.peak_to_mean), "unit": "x",
         "source": "request --peak-to-mean: the fleet is sized for the peak; its capacity beyond the mean is paid for "
                   "(rental or capex, embodied carbon) and idles off-peak" if req.peak_to_mean > 1.0
         else "default 1: the fleet is sized at the mean demand (every accelerator always busy)"},
    ]
    if req.region:
        assumptions.append({"name": "electricity", "value": f"{econ.electricity_usd_per_kwh:.4g} USD/kWh, {econ.grid_gco2e_per_kwh:.4g} gCO2e/kWh",
                            "unit": "annual mean", "source": f"region {req.region} (costsim/data/regions or grid)"
                            + (f": {basis}" if (basis := price_basis(req.region)) else "")})
    bands: dict[str, ErrorBand | None] = {}
    if req.mode == "cost":  # the serving fleet is priced on 8-128-GPU budgets: the 1-node regime of the serving cases
        bands = {"training": band_for("training", req.train_hardware, req.train_gpus, sparse=False),  # planned models are dense
                 # the plan's serving engine reads on its own cases first, as `costsim serve --engine` does
                 "serving": band_for("serving", req.serve_hardware, 8, sparse=False, engine=req.serve_engine),
                 "power": band_for("power", req.serve_hardware, 8, sparse=False, engine=req.serve_engine)}
    return PlanResult(feasible=chosen is not None, reason=why, mode=req.mode, fit=req.fit, objective=req.objective,
                      lifetime_tokens=req.lifetime_total_tokens(), chosen=chosen, compute_optimal=co, by_fit=by_fit, spread=spread,
                      compare=compare, frontier=frontier, answer=answer_sentence(req, chosen, co) if chosen else (why or ""),
                      assumptions=assumptions, score_target=score_target, same_loss_best=same_loss_best, error_bands=bands,
                      by_fit_reasons=by_fit_reasons)


def _with_scores(req: PlanRequest, chosen: PlanChoice | None, co: PlanChoice | None,
                               compare: list[PlanChoice]) -> tuple[PlanChoice | None, PlanChoice | None, list[PlanChoice]]:
    """Predicted MMLU for the plan (the request's family) and for catalog models (their own family, with the
    published base and instruct scores beside it)."""
    import dataclasses

    def add(c: PlanChoice | None, family: str | None, model_id: str | None = None) -> PlanChoice | None:
        if c is None:
            return None
        return dataclasses.replace(c, score=_score_of(req.fit, c.loss, family, model_id))

    out = []
    for c in compare:
        fam = published_scores(c.label).get("family")
        out.append(add(c, fam, c.label))
    return add(chosen, req.family), add(co, req.family), out


def _spread(req: PlanRequest, fit: LossFit, prices: PriceGrid | None, target: float | None,
            by_fit: dict[str, PlanChoice | None]) -> dict[str, dict[str, float]]:
    """Across fits (min / max of the chosen N, D, total) and, for a fit with standard errors, p10 / p50 / p90 of
    the optimum over draws from them."""
    out: dict[str, dict[str, float]] = {}
    got = [c for c in by_fit.values() if c is not None]
    if got:
        out["across_fits"] = {"params_min": min(c.params for c in got), "params_max": max(c.params for c in got),
                              "training_tokens_min": min(c.training_tokens for c in got),
                              "training_tokens_max": max(c.training_tokens for c in got)}
        usd = [c.total.usd for c in got if c.total is not None and c.total.usd is not None]
        if usd:
            out["across_fits"].update({"total_usd_min": min(usd), "total_usd_max": max(usd)})
    draws = sample_fits(fit, BOOTSTRAP_DRAWS, seed=13)
    if draws:
        ns, ds = [], []
        for f in draws:
            c, _ = _optimize(req, f, prices, target)
            if c is not None:
                ns.append(c.params)
                ds.append(c.training_tokens)
        if ns:
            p = np.percentile(ns, [10, 50, 90])
            q = np.percentile(ds, [10, 50, 90])
            out["bootstrap"] = {"draws": float(len(ns)), "params_p10": p[0], "params_p50": p[1], "params_p90": p[2],
                                "training_tokens_p10": q[0], "training_tokens_p50": q[1], "training_tokens_p90": q[2]}
    return out


def _frontier(req: PlanRequest, fit: LossFit, prices: PriceGrid | None, target: float, points: int = 15) -> list[dict[str, float]]:
    """Quality vs cost: the best plan at losses around the target (same demand), from twice to half the target's
    reducible loss (L - E), geometrically spaced with the target in the middle; plans pinned to the edge of the
    searched sizes are left out."""
    reducible = target - fit.E
    if reducible <= 0:
        return []
    rows = []
    for lt in fit.E + reducible * np.exp2(np.linspace(1.0, -1.0, points)):
        c, _ = _optimize(req, fit, prices, float(lt))
        if c is None or c.note:  # unreachable, or pinned to the edge of the searched sizes (not an optimum)
            continue
        row = {"loss": c.loss, "params": c.params, "training_tokens": c.training_tokens, "total_flop": c.total_flop}
        if c.total is not None:
            row.update({"total_usd": c.total.usd, "total_facility_energy_j": c.total.facility_energy_j,
                        "total_co2e_kg": c.total.co2e_kg, "peak_power_w": c.total.peak_power_w})
        rows.append(row)
    return rows


def _model_choice(req: PlanRequest, fit: LossFit, ref: str, econ: EconomicsSpec) -> PlanChoice:
    m = get_model(ref)
    if m.n_experts and m.n_experts > 1:
        raise InputError(f"--compare {ref}: a mixture-of-experts model has no agreed parameter count for a dense loss law "
                         "(total vs active parameters); compare dense models.", field="compare")
    if not m.training_tokens:
        raise InputError(f"--compare {ref}: the model profile has no training_tokens; compare catalog models with a known token count.",
                         field="compare")
    n, d = float(m.params_total), float(m.training_tokens)
    if req.mode != "cost":
        return _choice(req, fit, None, m.id or ref, n, d)
    ta, sa = get_accelerator(req.train_hardware), get_accelerator(req.serve_hardware)
    tp = price_training(m, ta, req.train_gpus, precision=req.train_precision, facility=req.facility, economics=econ)
    sp = price_serving(m, sa, input_tokens=req.input_tokens, output_tokens=req.output_tokens, weight_precision=req.serve_precision,
                       facility=req.facility, economics=econ, **serve_kw(req))
    prices = PriceGrid(np.array([n * 0.999, n * 1.001]), [tp, tp], [sp, sp])
    return _choice(req, fit, prices, m.id or ref, n, d)


def demand_frontier(req: PlanRequest, prices: PriceGrid | None, target: float, demands_tokens, *, points: int = 200,
                    fits: dict[str, LossFit] | None = None) -> dict[str, dict[str, np.ndarray]]:
    """For every fit and every lifetime demand (total tokens), the best N and D for `target` and the
    objective there: one vectorized pass (N grid x demand levels) per fit."""
    fits = fits or load_fits()
    dem = np.asarray(demands_tokens, float)
    out_share = req.output_tokens / (req.input_tokens + req.output_tokens)
    n = np.logspace(math.log10(req.min_params), math.log10(req.max_params), points)
    res: dict[str, dict[str, np.ndarray]] = {}
    for fid, fit in fits.items():
        d = tokens_for_loss(fit, n, target, req.unique_tokens)
        ok = np.isfinite(d) & _within_unique(req, fit, d)
        if req.mode == "flops" or prices is None:
            obj = 6.0 * n[:, None] * d[:, None] + 2.0 * n[:, None] * dem[None, :]
        else:
            key = {"usd": "usd_per_token", "mwh": "facility_j_per_token", "co2e": "co2e_kg_per_token"}.get(req.objective, "usd_per_token")
            tr = d * prices.at(key, "train", n)
            sv = prices.at(key, "serve", n)
            obj = tr[:, None] + sv[:, None] * (dem[None, :] * out_share)
        obj = np.where(ok[:, None] & np.isfinite(obj), obj, np.inf)
        i = np.argmin(obj, axis=0)
        res[fid] = {"params": n[i], "training_tokens": d[i], "objective": obj[i, np.arange(dem.size)]}
    return res
