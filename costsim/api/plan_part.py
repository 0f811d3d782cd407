"""A scenario's `plan:` section as a run part: the plan's figures as a flat summary (so reports, sweeps and
JSON treat it like training and serving), its options (the plan, the compute-optimal model, the compared
catalog models) and its frontier as tables, and which option is cheapest over the lifetime."""

from __future__ import annotations

import re
from typing import Any

import numpy as np

from costsim.api.plan import PlanChoice, PlanResult, plan
from costsim.api.run import PartResult
from costsim.errors import InputError
from costsim.specs.scenario import Scenario

OPTION_COLUMNS = ("params", "training_tokens", "tokens_per_param", "loss", "training_flop", "total_flop")
COST_COLUMNS = (("usd", "usd"), ("facility_energy_j", "facility_energy_j"), ("co2e_kg", "co2e_kg"), ("peak_power_w", "peak_power_w"))


def _options(r: PlanResult) -> list[PlanChoice]:
    opts = [c for c in (r.chosen, r.compute_optimal, r.same_loss_best) if c is not None]
    return opts + list(r.compare)


def _flat(c: PlanChoice, prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {f"{prefix}{k}": getattr(c, k) for k in OPTION_COLUMNS}
    for phase in ("training", "serving", "total"):
        pc = getattr(c, phase)
        if pc is None:
            continue
        for k, _ in COST_COLUMNS:
            out[f"{prefix}{phase}_{k}"] = getattr(pc, k)
        if phase == "training":
            out[f"{prefix}training_days"] = pc.days
            out[f"{prefix}training_gpu_hours"] = pc.gpu_hours
        if phase == "serving":
            out[f"{prefix}serving_gpus"] = pc.gpus
    return out


def _winner(opts: list[PlanChoice], key: str) -> tuple[str, float, str, float] | None:
    """(label of the least total `key`, its value, label of the runner-up, its value)."""
    vals = [(getattr(c.total, key), c.label) for c in opts if c.total is not None and getattr(c.total, key) is not None]
    vals = [(v, lab) for v, lab in vals if np.isfinite(v)]
    if len(vals) < 2:
        return None
    vals.sort()
    return vals[0][1], vals[0][0], vals[1][1], vals[1][0]


def run_plan_part(s: Scenario) -> PartResult:
    req = s.plan.model_copy(update={"facility": s.facility, "economics": s.economics})
    try:
        r = plan(req)
    except InputError as exc:  # name the scenario's field (plan.train_hardware), not the CLI flag (--train-hardware)
        msg = re.sub(r"--([a-z][a-z-]*)", lambda m: "plan." + m.group(1).replace("-", "_"), exc.message)
        raise InputError(msg, field=f"plan.{exc.field.lstrip('-').replace('-', '_')}" if exc.field else "plan",
                         source=exc.source) from None
    summary: dict[str, Any] = {"feasible": r.feasible, "reason": r.reason, "answer": r.answer, "fit": r.fit, "mode": r.mode,
                               "objective": r.objective, "lifetime_tokens": r.lifetime_tokens}
    if r.chosen is not None:
        summary.update(_flat(r.chosen))
    opts = _options(r)
    for key, word in (("usd", "cost"), ("facility_energy_j", "energy")):
        w = _winner(opts, key)
        if w is not None:
            summary[f"least_{word}_option"] = w[0]
            summary[f"least_{word}_margin_frac"] = (w[3] - w[1]) / w[3] if w[3] else None
            summary[f"least_{word}_runner_up"] = w[2]
    for c in r.compare:
        summary.update(_flat(c, prefix=f"{c.label}_"))
    tables: dict[str, dict[str, np.ndarray]] = {}
    if opts:
        rows = [_flat(c) for c in opts]
        cols = list(dict.fromkeys(k for row in rows for k in row))
        tables["options"] = {"option": np.array([c.label for c in opts])}
        tables["options"].update({k: np.array([row.get(k, np.nan) if row.get(k) is not None else np.nan for row in rows], float) for k in cols})
    if r.frontier:
        cols = list(dict.fromkeys(k for row in r.frontier for k in row))
        tables["frontier"] = {k: np.array([row.get(k, np.nan) for row in r.frontier], float) for k in cols}
    by_fit = {fid: c for fid, c in r.by_fit.items() if c is not None}
    if by_fit:
        tables["by_fit"] = {"fit": np.array(list(by_fit))}
        tables["by_fit"].update({k: np.array([getattr(c, k) for c in by_fit.values()], float) for k in ("params", "training_tokens", "loss")})
        tables["by_fit"]["total_usd"] = np.array([c.total.usd if c.total is not None and c.total.usd is not None else np.nan
                                                  for c in by_fit.values()], float)
    return PartResult(summary, {}, tables, [summary], {})
