"""The plan's one-sentence answer and its phrases, and the notes on why a plan sits at an edge of the searched sizes or
cannot be priced (costsim.api.plan builds the numbers; this module words them)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from costsim.specs.plan import PlanRequest
from costsim.numtext import count, power, si, sig
from costsim.units import J_PER_MWH

if TYPE_CHECKING:
    from costsim.api.plan import PhaseCost, PlanChoice
    from costsim.api.plan_grid import PriceGrid as Prices
    from costsim.core.quality import LossFit

#: how a compute-optimal comparison that cannot be trained on the job begins its note (the answer repeats it)
NO_LAYOUT_NOTE = "no training layout on"


def slo_text(req: PlanRequest) -> str:
    """' within TTFT x s, TPOT y s' for the latency limits given, else ''."""
    limits = ", ".join(f"{k} {v:g} s" for k, v in (("TTFT", req.ttft_slo_s), ("TPOT", req.tpot_slo_s)) if v is not None)
    return f" within {limits}" if limits else ""


def tokens_per_param_text(x: float) -> str:
    """Tokens per parameter: whole numbers from 10 up, two significant digits below (0.06, 1.5)."""
    return f"{x:,.0f}" if x >= 10 else f"{x:.2g}"


def gpus_text(g: float | None) -> str:
    if g is None or not math.isfinite(g):
        return "an unknown number of"
    return "less than one" if g < 1 else f"~{g:,.0f}"


def fleet_text(req: PlanRequest, serving: PhaseCost) -> str:
    """Why the fleet is larger than the demand keeps busy: ' (one replica; the mean demand keeps 0.0176 of them busy)'
    where one replica of the deployment is more than the demand needs, else peak_text's ' (sized for a peak 3x the mean)'."""
    g, busy = serving.gpus, serving.busy_gpus
    if g is not None and busy is not None and 0 < busy and g > req.peak_to_mean * busy * (1 + 1e-9):
        return f" (one replica; the mean demand keeps {sig(busy)} of them busy)"
    return peak_text(req)


def days_text(days: float | None) -> str:
    """A duration in days, or hours below a day, minutes below an hour, seconds below a minute."""
    if days is None or not math.isfinite(days):
        return "an unknown time"
    if days < 1:
        h = days * 24
        if h >= 1:
            return f"{h:.3g} hours"
        return f"{h * 60:.3g} minutes" if h * 60 >= 1 else f"{h * 3600:.3g} seconds"
    return f"{days:,.1f} days" if days < 10 else f"{days:,.0f} days"


def mwh_text(joules: float) -> str:
    """Energy in MWh, in kWh or Wh where a tiny plan uses less than one (0.0123 MWh reads 12.3 kWh)."""
    mwh = joules / J_PER_MWH
    if not math.isfinite(mwh) or abs(mwh) >= 1:
        return f"{sig(mwh)} MWh"
    return f"{sig(mwh * 1e3)} kWh" if abs(mwh) >= 1e-3 else f"{sig(mwh * 1e6)} Wh"


def peak_text(req: PlanRequest) -> str:
    """' (sized for a peak 3x the mean)' when the fleet is sized above the mean demand."""
    return f" (sized for a peak {req.peak_to_mean:g}x the mean)" if req.peak_to_mean > 1.0 else ""


def usd_m(x: float | None) -> str:
    """$ in millions ($1.31M), thousands ($3.5k) or dollars ($0.49) by size, or 'no price' where the hardware has none."""
    if x is None or not math.isfinite(x):
        return "no price"
    if abs(x) >= 1e6:
        return f"${sig(x / 1e6)}M"
    return f"${sig(x / 1e3)}k" if abs(x) >= 1e3 else f"${sig(x)}"


def answer_sentence(req: PlanRequest, r: PlanChoice | None, co: PlanChoice | None) -> str:
    if r is None:
        return ""
    s = f"{count(r.params)} parameters on {count(r.training_tokens)} tokens ({tokens_per_param_text(r.tokens_per_param)} tokens/parameter, loss {r.loss:.3f})"
    if r.total is not None and r.training is not None and r.serving is not None:
        co2 = f"{sig(r.total.co2e_kg / 1000)} tCO2e" if r.total.co2e_kg >= 1000 else f"{sig(r.total.co2e_kg)} kgCO2e"
        serving = (f"serving {count(req.lifetime_total_tokens())} tokens over {req.years:g} years needs {gpus_text(r.serving.gpus)} "
                   f"{req.serve_hardware}{fleet_text(req, r.serving)}, {usd_m(r.serving.usd)}, {mwh_text(r.serving.facility_energy_j)}"
                   if req.lifetime_total_tokens() > 0 else "no serving (no lifetime demand given: --lifetime-tokens or --requests-per-day)")
        s += (f": training {days_text(r.training.days)} on {req.train_gpus:,} {req.train_hardware}, {usd_m(r.training.usd)}, "
              f"{mwh_text(r.training.facility_energy_j)}; {serving}; "
              f"total {usd_m(r.total.usd)}, {mwh_text(r.total.facility_energy_j)}, {co2}, peak {power(r.total.peak_power_w)}")
    else:
        s += f": {si(r.total_flop, 'FLOP')} in total ({si(r.training_flop, 'FLOP')} training + {si(r.inference_flop, 'FLOP')} inference)"
    if co is not None and co.params > 0 and abs(co.params - r.params) / co.params > 0.05:
        if r.total is not None and co.total is not None and co.total.usd and math.isfinite(co.total.usd) and math.isfinite(r.total.usd):
            s += (f". The compute-optimal (Chinchilla) model for the same loss, {count(co.params)} on {count(co.training_tokens)} "
                  f"tokens, would total {usd_m(co.total.usd)} ({100 * (co.total.usd - r.total.usd) / r.total.usd:+.0f}% vs this plan)")
        else:
            saved_flop = co.total_flop - r.total_flop
            s += (f". The compute-optimal model for the same loss is {count(co.params)} on {count(co.training_tokens)} tokens "
                  f"({si(co.total_flop, 'FLOP')}; this plan {'saves' if saved_flop >= 0 else 'spends'} {si(abs(saved_flop), 'FLOP')}, "
                  f"{100 * abs(saved_flop) / co.total_flop:.0f}% {'less' if saved_flop >= 0 else 'more'})")
            if co.note and co.note.startswith(NO_LAYOUT_NOTE):
                s += f"; the compute-optimal model has {co.note}"
    s += "."
    if r.training is not None and r.training.days > max(365.0, 0.5 * req.years * 365.0):
        # a plan is a plan, but one whose training outlasts a year (or half the serving life) should say so
        s += (f" Training takes {r.training.days / 365.0:.3g} years on {req.train_gpus:,} {req.train_hardware}"
              f"{', longer than the ' + format(req.years, 'g') + '-year serving life' if r.training.days > req.years * 365.0 else ''}: "
              "give more --train-gpus to shorten it (the cost changes little; the wait does).")
    if r.note:
        s += f" Note: {r.note}."
    below = [w for w in r.outside_fitted_range if "below" in w]
    if below:  # beyond the largest runs is what a scaling law is for; below the smallest the power law is not measured
        s += f" The loss law is extrapolated here ({'; '.join(below)}): its prediction is not measured at this scale."
    far = [w for w in r.outside_fitted_range if "x the fit's largest run" in w]
    if far:  # ... but not by orders of magnitude (core.quality.FAR_ABOVE_FIT)
        s += f" The loss law is stretched far past its data ({'; '.join(far)}): treat the loss as a rough extrapolation."
    return s


# --- why a plan sits at an edge or cannot be priced ---------------------------------------------------------------

def range_text(fit: LossFit) -> str:
    """'0.07B-16B parameters, 5B-500B tokens' (ends the source does not give read 'unstated')."""
    def part(pair: tuple[float | None, float | None], what: str) -> str:
        lo, hi = (("unstated" if v is None else f"{sig(v / 1e9)}B") for v in pair)
        return f"{lo}-{hi} {what}"
    return f"runs of {part(fit.fitted_params, 'parameters')}, {part(fit.fitted_tokens, 'tokens')}"


#: why the priced sizes stop above a small --min-params (costsim.estimators.plan_pricing.synthetic_model)
SMALLEST_SHAPE = "two layers of width 1,024 beside a 128k-token vocabulary, the smallest Llama-shaped model"
#: what to do instead of lowering --min-params there
SMALLER_FIX = "--mode flops plans smaller sizes"


def _below_the_shapes(req_min_params: float | None, lo: float) -> bool:
    """The smallest priced size lies above --min-params: no Llama-shaped model is smaller, so lowering it changes nothing."""
    return req_min_params is not None and lo > req_min_params * 1.05


def edge_note(req: PlanRequest, prices: Prices | None, n: float) -> str | None:
    """A note when the optimum sits at the smallest or largest size searched (within 5 % of --min-params /
    --max-params or of the priced sizes): the true optimum may lie beyond it."""
    lo, hi = req.min_params, req.max_params
    if prices is not None:
        lo, hi = max(lo, float(prices.n[0])), min(hi, float(prices.n[-1]))
    if n <= lo * 1.05:
        if _below_the_shapes(req.min_params, lo):
            return f"at the smallest size priced ({count(lo)}: {SMALLEST_SHAPE}); a smaller model may be cheaper: {SMALLER_FIX}"
        return f"at the smallest size searched ({count(lo)}); a smaller model may be cheaper: lower --min-params"
    if n >= hi / 1.05:
        return f"at the largest size searched ({count(hi)}); a larger model may be cheaper: raise --max-params"
    return None


def unpriced_size(prices: Prices, n: float, min_params: float | None = None) -> str | None:
    """Why size n has no price when it lies outside the priced sizes (None when inside); with the request's --min-params,
    a size below the smallest Llama-shaped model says that lowering --min-params does not help."""
    lo, hi = float(prices.n[0]), float(prices.n[-1])
    if lo * (1 - 1e-9) <= n <= hi * (1 + 1e-9):
        return None
    if n < lo and _below_the_shapes(min_params, lo):
        fix = f"{count(lo)} ({SMALLEST_SHAPE}) is the smallest priced; {SMALLER_FIX}"
    else:
        fix = "lower --min-params" if n < lo else "raise --max-params"
    return f"{count(n)} parameters lies outside the priced sizes ({count(lo)}-{count(hi)}); {fix}"


def nearest_reason(prices: Prices, phase: str, n: float) -> str:
    """Why the priced size nearest to n (in log) has no layout or deployment."""
    rows = prices.train if phase == "train" else prices.serve
    order = np.argsort(np.abs(np.log(prices.n) - math.log(n)))
    return next((rows[i].reason for i in order if not rows[i].feasible and rows[i].reason), "no feasible layout").rstrip(". ")


def budget_infeasible(req: PlanRequest, prices: Prices | None, c: PlanChoice) -> str | None:
    """Why the compute-optimal model of a budget cannot be trained, served or powered as asked (None: it can).
    A target-loss plan picks among the priced sizes; a budget fixes the size, so its phases must each be priced."""
    if prices is None or c.training is None or c.serving is None:
        return None
    size = f"the compute-optimal model for {si(req.compute_budget_flop, 'FLOP')} ({count(c.params)} parameters on {count(c.training_tokens)} tokens)"
    outside = unpriced_size(prices, c.params, req.min_params)
    if outside:
        data = (f" (the budget spread over only {count(req.unique_tokens)} unique tokens: --fit muennighoff2023 prices repeated "
                "epochs instead)") if c.note and "no repeated-data term" in c.note else ""
        return f"{size} cannot be priced: {outside}{data}."
    if not math.isfinite(c.training.facility_energy_j):
        return (f"{size} has no training layout on {req.train_gpus:,} {req.train_hardware}: {nearest_reason(prices, 'train', c.params)} "
                "(--train-gpus, --train-hardware), or lower --compute-budget-flop.")
    if req.lifetime_output_tokens() > 0 and not math.isfinite(c.serving.facility_energy_j):
        return (f"{size} cannot be served on {req.serve_hardware}{slo_text(req)}: "
                f"{nearest_reason(prices, 'serve', c.params)} (--serve-hardware, --ttft-slo-s, --tpot-slo-s).")
    if req.grid_cap_mw is not None and c.total is not None and c.total.peak_power_w > req.grid_cap_mw * 1e6:
        return (f"{size} peaks at {sig(c.total.peak_power_w / 1e6)} MW, above the {req.grid_cap_mw:g} MW grid cap; raise the cap, "
                "lower --train-gpus or the demand.")
    return None


def saturated_note(req: PlanRequest, fit: LossFit, epochs: float, budget_flop: float, same_flop: float, same_n: float,
                   same_d: float, margin: float) -> str:
    """The note on a compute budget spent on repeats past a few R_D*: how many, and the smaller budget that reaches the
    same loss (within `margin`) with the model and tokens it trains."""
    return (f"it repeats the {count(req.unique_tokens)} unique tokens {epochs:,.0f} times; under {fit.id} repeated tokens are worth "
            f"almost nothing past a few times R_D* = {fit.rd_star:.3g} epochs, so most of this budget buys no loss: "
            f"{si(same_flop, 'FLOP')} ({100 * same_flop / budget_flop:.2g} % of it: {sig(same_n / 1e9)}B parameters on "
            f"{count(same_d)} tokens, {same_d / req.unique_tokens:,.0f} epochs) reaches a loss within {margin:g} of it; more unique "
            "data lowers it")
