"""The one-sentence answers of `train`, `serve` and `site` results (the API's dicts), shared by the CLI, which prints
them first, and the app, which shows them above the numbers."""

from __future__ import annotations

import math

from costsim.api.catalog import device_noun
from costsim.numtext import count
from costsim.numtext import grouped as _n
from costsim.numtext import si as fmt_si
from costsim.report.fmt import fmt_value, plural
from costsim.units import S_PER_DAY


def device_noun_of(r: dict) -> str:
    """'GPU', 'chip', 'accelerator' or 'device' for a serve / train result: the noun the CLI added from the request
    (api.catalog.request_labels), else the one of the result's hardware id."""
    return r.get("device_noun") or device_noun(str(r.get("hardware") or ""))


def train_answer(r: dict) -> str:
    """The one-sentence answer printed above the table."""
    verb = "Fine-tuning (LoRA)" if r.get("training_mode") == "lora" else "Training"
    what = f"{r.get('model')} on {r.get('num_gpus'):,} {r.get('hardware')}"
    tok = "" if r.get("tokens") is None else f"{r.get('model')} on {count(r['tokens'])} tokens with {r.get('num_gpus'):,} {r.get('hardware')}"
    if not r.get("feasible"):
        return f"{verb} {what} is not feasible: {r.get('reason') or 'no layout fits'}."
    step = (f"{fmt_si(r.get('step_time_s'), 's')} per step, {fmt_si(r.get('tokens_per_s'), 'tokens/s')}"
            + ("" if r.get("mfu_frac") is None else f", MFU {100 * r['mfu_frac']:.0f}%"))
    wall = r.get("wall_time_s")
    if r.get("tokens") is None or wall is None:
        return f"{verb} {what}: {step} (give --tokens for the whole run)."
    if not math.isfinite(wall):
        return f"{verb} {tok} never finishes: failures leave zero goodput ({step})."
    days = wall / S_PER_DAY
    took = f"{days:,.1f} days" if days >= 1 else f"{wall / 3600:,.3g} hours"
    money = "" if r.get("cost_usd") is None else f", {fmt_value('cost_usd', r['cost_usd'])}"
    region = (r.get("energy_rates") or {}).get("region")
    return (f"{verb} {tok} takes {took} ({step}){money}, "
            f"{fmt_value('facility_energy_j', r['facility_energy_j'])} and {fmt_value('co2e_kg', r['co2e_kg'])}"
            f"{f' on the {region} grid' if region else ''}.")



def layout_text(d: dict) -> str:
    parts = [f"TP{d.get('tp')}"]
    if (d.get("pp") or 1) > 1:
        parts.append(f"PP{d['pp']}")
    if (d.get("ep") or 1) > 1:
        parts.append(f"EP{d['ep']}")
    return " x ".join(parts)



def serve_answer(r: dict) -> str:
    """One sentence that answers the question, first."""
    if r.get("feasible") is False and r.get("throughput_tokens_per_s") is None:
        return f"No feasible deployment: {r.get('reason')}"
    dep = r.get("deployment")
    thr = fmt_si(r.get("throughput_tokens_per_s"), "tokens/s")
    cost = r.get("cost_usd_per_million_tokens")
    cost_txt = f" at ${cost:.3g} per million output tokens" if cost is not None else ""
    cap_txt = f", capped at {r['power_cap_w']:,.0f} W per GPU" if r.get("power_cap_w") is not None else ""
    if dep:
        gpu = device_noun_of(r)
        idle = f" ({plural(dep['gpus_idle'], gpu)} idle)" if dep.get("gpus_idle") else ""
        return (f"Best use of {_n(r.get('gpus'))} x {r.get('hardware')}: {plural(dep['replicas'], 'replica')} of "
                f"{plural(dep['gpus_per_replica'], gpu)} "
                f"({layout_text(dep)}, {dep['weight_precision']} weights{cap_txt}){idle} {'serves' if dep['replicas'] == 1 else 'serve'} {thr} of {r.get('model')}{cost_txt}.")
    lay = r.get("layout") or {}
    return (f"One replica of {_n(r.get('gpus'))} x {r.get('hardware')} ({layout_text(lay)}, {r.get('weight_precision')} weights"
            f"{cap_txt}) serves {thr} of {r.get('model')}{cost_txt}.")



def site_answer(r: dict) -> str:
    """The one-sentence answer: the facility's peak against the grid cap, and the GPU power cap that fits, if any."""
    fleet = " + ".join(f"{x['gpus']:,} x {x['hardware']}" for x in r.get("fleet") or [])
    s = (f"{fleet} peak at {fmt_si(r['facility_peak_power_w'], 'W')} of facility power "
         f"(mean {fmt_si(r['facility_mean_power_w'], 'W')})")
    cap, head = r.get("grid_cap_w"), r.get("headroom_w")
    if cap is None or head is None:
        return s + f", {r['energy_cost_usd_per_day']:,.0f} USD of energy a day."
    if head >= 0:
        return s + f": {fmt_si(head, 'W')} under the {fmt_si(cap, 'W')} grid cap."
    s += f": {fmt_si(-head, 'W')} over the {fmt_si(cap, 'W')} grid cap"
    fits = [(k, v) for k, v in (r.get("per_gpu_power_cap_to_fit") or {}).items() if v.get("gpu_power_cap_w")]
    if fits:
        return s + "; capping " + ", ".join(f"each {k} at {v['gpu_power_cap_w']:.0f} W ({100 * v['compute_throughput_frac']:.0f} % "
                                           "of its compute throughput)" for k, v in fits) + " fits."
    return s + "; no GPU power cap fits."

