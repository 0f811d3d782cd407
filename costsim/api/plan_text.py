"""The plan's one-sentence answer and its phrases (costsim.api.plan builds the numbers; this module words them)."""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from costsim.specs.plan import PlanRequest
from costsim.units import J_PER_MWH

if TYPE_CHECKING:
    from costsim.api.plan import PlanChoice

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


def days_text(days: float | None) -> str:
    """A duration in days, or hours below a day."""
    if days is None or not math.isfinite(days):
        return "an unknown time"
    if days < 1:
        return f"{days * 24:.3g} hours"
    return f"{days:,.1f} days" if days < 10 else f"{days:,.0f} days"


def usd_m(x: float | None) -> str:
    """$ in millions, or 'no price' where the hardware has none."""
    return f"${x / 1e6:,.3g}M" if x is not None and math.isfinite(x) else "no price"


def answer_sentence(req: PlanRequest, r: PlanChoice | None, co: PlanChoice | None) -> str:
    if r is None:
        return ""
    s = f"{r.params / 1e9:.3g}B parameters on {r.training_tokens / 1e12:.3g}T tokens ({tokens_per_param_text(r.tokens_per_param)} tokens/parameter, loss {r.loss:.3f})"
    if r.total is not None and r.training is not None and r.serving is not None:
        s += (f": training {days_text(r.training.days)} on {req.train_gpus:,} {req.train_hardware}, {usd_m(r.training.usd)}, "
              f"{r.training.facility_energy_j / J_PER_MWH:,.3g} MWh; serving {req.lifetime_total_tokens():.3g} tokens over {req.years:g} years "
              f"needs {gpus_text(r.serving.gpus)} {req.serve_hardware}, {usd_m(r.serving.usd)}, {r.serving.facility_energy_j / J_PER_MWH:,.3g} MWh; "
              f"total {usd_m(r.total.usd)}, {r.total.facility_energy_j / J_PER_MWH:,.3g} MWh, {r.total.co2e_kg / 1000:,.3g} tCO2e, "
              f"peak {r.total.peak_power_w / 1e6:,.3g} MW")
    else:
        s += f": {r.total_flop:.3g} FLOP in total ({r.training_flop:.3g} training + {r.inference_flop:.3g} inference)"
    if co is not None and co.params > 0 and abs(co.params - r.params) / co.params > 0.05:
        if r.total is not None and co.total is not None and co.total.usd and math.isfinite(co.total.usd) and math.isfinite(r.total.usd):
            s += (f". The compute-optimal (Chinchilla) model for the same loss, {co.params / 1e9:.3g}B on {co.training_tokens / 1e12:.3g}T "
                  f"tokens, would total ${co.total.usd / 1e6:,.3g}M ({100 * (co.total.usd - r.total.usd) / r.total.usd:+.0f}% vs this plan)")
        else:
            saved_flop = co.total_flop - r.total_flop
            s += (f". The compute-optimal model for the same loss is {co.params / 1e9:.3g}B on {co.training_tokens / 1e12:.3g}T tokens "
                  f"({co.total_flop:.3g} FLOP; this plan {'saves' if saved_flop >= 0 else 'spends'} {abs(saved_flop):.3g} FLOP, "
                  f"{100 * abs(saved_flop) / co.total_flop:.0f}% {'less' if saved_flop >= 0 else 'more'})")
            if co.note and co.note.startswith(NO_LAYOUT_NOTE):
                s += f"; the compute-optimal model has {co.note}"
    s += "."
    if r.note:
        s += f" Note: {r.note}."
    below = [w for w in r.outside_fitted_range if "below" in w]
    if below:  # beyond the largest runs is what a scaling law is for; below the smallest the power law is not measured
        s += f" The loss law is extrapolated here ({'; '.join(below)}): its prediction is not measured at this scale."
    return s
