"""Which training hardware, serving hardware and region: the plan for every combination, ranked by the objective.

`costsim plan` answers "which model size and token count" for one choice of hardware and site. A planner also asks
which hardware and which site; this module plans every combination of the lists it is given (each one a full
`costsim.api.plan.plan`, priced by the training and serving cores with that region's mean price and carbon) and ranks
them by the request's objective (usd, mwh, co2e or peak_mw). The cheapest combination's whole plan is the answer;
the others are rows with their figures and why any is infeasible. The work is estimated before it starts (about
a second of pricing per combination) and held to the `plan_options` limit.
"""

from __future__ import annotations

import itertools
import math
from dataclasses import asdict, dataclass
from typing import Any, Sequence

from costsim.api.plan import PlanResult, plan
from costsim.api.plan_text import usd_m
from costsim.errors import InputError
from costsim.numtext import sig
from costsim.specs.base import validate_spec
from costsim.specs.catalog import get_accelerator
from costsim.specs.limits import WorkEstimate, limit, require
from costsim.specs.plan import PlanRequest
from costsim.units import J_PER_MWH, MEGA

#: objective -> (PhaseCost field of the total, label with unit, scale from the field's unit to the label's)
OBJECTIVE_UNITS = {"usd": ("usd", "USD", 1.0), "mwh": ("facility_energy_j", "MWh", 1.0 / J_PER_MWH),
                   "co2e": ("co2e_kg", "tCO2e", 1e-3), "peak_mw": ("peak_power_w", "MW", 1.0 / MEGA)}


@dataclass(frozen=True)
class PlanOption:
    """One combination of training hardware, serving hardware and region, with its plan's headline figures."""

    train_hardware: str
    serve_hardware: str
    region: str | None
    feasible: bool
    reason: str | None
    params: float | None = None
    training_tokens: float | None = None
    loss: float | None = None
    training_days: float | None = None
    serving_gpus: float | None = None
    total_usd: float | None = None
    total_facility_energy_j: float | None = None
    total_co2e_kg: float | None = None
    peak_power_w: float | None = None
    objective_value: float | None = None
    """The objective's total in its own unit (usd, J, kg, W: the field above it names)."""
    vs_best_frac: float | None = None
    """How much more this option's objective is than the best option's (0 for the best)."""

    @property
    def label(self) -> str:
        return f"train {self.train_hardware}, serve {self.serve_hardware}" + (f", {self.region}" if self.region else "")


@dataclass(frozen=True)
class PlanComparison:
    """Every combination ranked (best first, infeasible last) and the best combination's whole plan."""

    objective: str
    options: tuple[PlanOption, ...]
    best: PlanResult | None
    answer: str
    request: PlanRequest

    @property
    def feasible(self) -> bool:
        return self.best is not None and self.best.feasible

    def to_dict(self) -> dict[str, Any]:
        """JSON: the best combination's plan keys at the top level (as `costsim plan`), with its hardware and region,
        and `options`: every combination, ranked."""
        if self.best is not None:
            top = self.best.to_dict()
        else:
            req = self.request
            top = {"mode": req.mode, "fit": req.fit, "objective": req.objective, "lifetime_tokens": req.lifetime_total_tokens(),
                   **{k: None for k in ("params", "training_tokens", "tokens_per_param", "training_flop", "inference_flop",
                                        "total_flop", "loss", "training", "serving", "total")}}
        first = self.options[0] if self.options else None
        top.update({"feasible": self.feasible, "answer": self.answer,
                    "reason": None if self.feasible else _all_infeasible_reason(self.options),
                    "train_hardware": first.train_hardware if self.feasible and first else None,
                    "serve_hardware": first.serve_hardware if self.feasible and first else None,
                    "region": first.region if self.feasible and first else None,
                    "options": [asdict(o) | {"label": o.label} for o in self.options]})
        return top


def combinations(req: PlanRequest, train_hardware: Sequence[str], serve_hardware: Sequence[str],
                 regions: Sequence[str | None]) -> list[PlanRequest]:
    """One validated request per combination (ids checked before any pricing, exit 2 naming the flag)."""
    if req.mode != "cost":
        raise InputError("comparing hardware or regions needs --mode cost: flops mode prices neither (its answer is the same for "
                         "every choice).", field="mode")
    for field, items in (("train_hardware", train_hardware), ("serve_hardware", serve_hardware), ("region", regions)):
        flag = "--" + field.replace("_", "-")
        if len(set(items)) != len(items):
            raise InputError(f"{flag}: an item is listed twice; give each once.", field=field)
        for hw in items if field != "region" else ():   # (regions are checked by the request's own validator)
            try:
                get_accelerator(hw)
            except InputError as exc:
                raise InputError(f"{flag}: {exc.message}", field=field) from None
    n = len(train_hardware) * len(serve_hardware) * len(regions)
    require([WorkEstimate("plan_options", float(n), limit("plan_options"),
                          f"{len(train_hardware)} training hardware x {len(serve_hardware)} serving hardware x {len(regions)} "
                          "region(s)", "List fewer hardware ids or regions (or compare them in a sweep).")])
    base = req.model_dump()
    return [validate_spec(PlanRequest, {**base, "train_hardware": t, "serve_hardware": s, "region": r}, what="plan request")
            for t, s, r in itertools.product(train_hardware, serve_hardware, regions)]


def _option(req: PlanRequest, res: PlanResult | None, why: str | None) -> PlanOption:
    key = OBJECTIVE_UNITS[req.objective][0]
    c = res.chosen if res is not None and res.feasible else None
    if c is None:
        return PlanOption(req.train_hardware, req.serve_hardware, req.region, False, why or (res.reason if res else None))
    tot = c.total
    val = getattr(tot, key) if tot is not None else None
    return PlanOption(req.train_hardware, req.serve_hardware, req.region, True, None, params=c.params,
                      training_tokens=c.training_tokens, loss=c.loss, training_days=c.training.days if c.training else None,
                      serving_gpus=c.serving.gpus if c.serving else None, total_usd=tot.usd if tot else None,
                      total_facility_energy_j=tot.facility_energy_j if tot else None, total_co2e_kg=tot.co2e_kg if tot else None,
                      peak_power_w=tot.peak_power_w if tot else None, objective_value=val)


def _ranked(options: list[PlanOption]) -> list[PlanOption]:
    def ok(o: PlanOption) -> bool:
        return o.feasible and o.objective_value is not None and o.objective_value == o.objective_value  # not NaN

    def key(o: PlanOption) -> tuple[float, ...]:
        # the objective, then among ties (rental pricing: every region's $ is the same) the cost, energy and CO2e, as the
        # plan itself breaks ties (plan._best_index): a tie no longer goes to whichever region was listed first
        def r9(v: float | None) -> float:
            return math.inf if v is None or v != v else float(f"{v:.9g}")
        return (r9(o.objective_value), r9(o.total_usd), r9(o.total_facility_energy_j), r9(o.total_co2e_kg))

    good = sorted((o for o in options if ok(o)), key=key)
    rest = [o if not o.feasible else PlanOption(**{**asdict(o), "feasible": False,
                                                   "reason": "no price for this objective in the hardware profile"})
            for o in options if not ok(o)]
    best = good[0].objective_value if good else None
    ranked = [PlanOption(**{**asdict(o), "vs_best_frac": (o.objective_value / best - 1.0) if best else 0.0}) for o in good]
    return ranked + rest


def infeasible_groups(options: Sequence[PlanOption]) -> list[tuple[str, list[str]]]:
    """The infeasible options grouped by their reason: (reason, labels), in order of first appearance."""
    groups: dict[str, list[str]] = {}
    for o in options:
        if not o.feasible:
            groups.setdefault((o.reason or "infeasible").rstrip(". "), []).append(o.label)
    return list(groups.items())


def _all_infeasible_reason(options: Sequence[PlanOption]) -> str:
    return "no combination is feasible: " + "; ".join(f"{why} ({'; '.join(labels)})" for why, labels in infeasible_groups(options))


def _value_text(objective: str, v: float) -> str:
    _, unit, scale = OBJECTIVE_UNITS[objective]
    x = v * scale
    return usd_m(x) if objective == "usd" else f"{sig(x)} {unit}"  # $3.87k, not $0.00387M


def _mixed_price_bases(regions: Sequence[str | None]) -> str | None:
    """A sentence when the compared regions' prices are not on one basis (wholesale energy vs all-in), else None."""
    from costsim.power.balancing import PRICE_BASIS_WHOLESALE, price_basis

    bases = {r: price_basis(r) for r in dict.fromkeys(regions) if r}
    wholesale = [r for r, b in bases.items() if b == PRICE_BASIS_WHOLESALE]
    other = [r for r, b in bases.items() if b != PRICE_BASIS_WHOLESALE]
    if not wholesale or not other:
        return None
    return (f"Electricity is not priced on one basis: {', '.join(wholesale)} at wholesale day-ahead energy prices (no "
            f"delivery, capacity charges or taxes), {', '.join(other)} at all-in industrial rates: compare costs within one kind "
            "(costsim grid regions lists them), or compare on CO2e or energy. ")


def compare_plans(req: PlanRequest, *, train_hardware: Sequence[str], serve_hardware: Sequence[str],
                  regions: Sequence[str | None]) -> PlanComparison:
    """Plan every combination and rank them by `req.objective` (see module doc)."""
    reqs = combinations(req, train_hardware, serve_hardware, regions)
    results: list[tuple[PlanRequest, PlanResult | None, str | None]] = []
    for r in reqs:
        try:
            results.append((r, plan(r), None))
        except InputError as exc:
            if exc.field != "train_precision":  # a precision one listed part lacks makes that option infeasible only
                raise
            results.append((r, None, exc.message))
    options = _ranked([_option(r, res, why) for r, res, why in results])
    by_key = {(r.train_hardware, r.serve_hardware, r.region): res for r, res, _ in results}
    first = options[0]
    if not first.feasible:
        return PlanComparison(req.objective, tuple(options), None, _all_infeasible_reason(options) + ".", req)
    best = by_key[(first.train_hardware, first.serve_hardware, first.region)]
    word = {"usd": "cost", "mwh": "facility energy", "co2e": "CO2e", "peak_mw": "peak power"}[req.objective]
    s = (f"Of {len(options)} combinations of training hardware, serving hardware and region, the least lifetime {word} is "
         f"{first.label} ({_value_text(req.objective, first.objective_value)})")
    feasible = [o for o in options if o.feasible]
    if len(feasible) > 1:
        nxt = feasible[1]
        s += (f"; the next, {nxt.label}, comes to {_value_text(req.objective, nxt.objective_value)} "
              f"({100 * nxt.vs_best_frac:+.0f} %)")
    n_bad = len(options) - len(feasible)
    if n_bad:
        s += f"; {n_bad} {'is' if n_bad == 1 else 'are'} infeasible"
    s += ". "
    if len(set(regions)) > 1 and req.objective == "usd" and req.economics.pricing == "rental":
        s += ("Under rental pricing the GPU-hour price includes the power, so the regions differ in CO2e, not in $; "
              "--pricing purchase prices each region's electricity. ")
    elif req.objective == "usd" and (mixed := _mixed_price_bases(regions)):
        s += mixed
    return PlanComparison(req.objective, tuple(options), best, s + best.answer, req)
