"""The answer first: one plain-language sentence per variant, generated from the results, and the
variants compared with the base (same keys, relative change). Shared by the HTML report and the CLI."""

from __future__ import annotations

import math
from typing import Any, Mapping

from costsim.numtext import sig
from costsim.report.fmt import fmt_range, fmt_value, label, plural

DELTA_KEYS = {
    "training": ("wall_time_s", "projected_wall_time_s", "gpu_hours", "projected_gpu_hours", "facility_energy_j",
                 "projected_facility_energy_j", "cost_usd", "projected_cost_usd", "co2e_kg", "projected_co2e_kg",
                 "facility_peak_power_w", "power_swing_w", "goodput_frac"),
    "serving": ("throughput_tokens_per_s", "ttft_p99_s", "tpot_p99_s", "slo_attainment_frac", "energy_per_token_j",
                "cost_usd_per_million_tokens", "co2e_g_per_1k_tokens", "facility_peak_power_w", "num_gpus_peak"),
}


def _num(x: Any) -> float | None:
    if isinstance(x, bool) or not isinstance(x, (int, float)):
        return None
    f = float(x)
    return f if math.isfinite(f) else None


def _v(summary: Mapping[str, Any], key: str, ranges: Mapping[str, Any] | None = None) -> str:
    txt = fmt_value(key, summary.get(key))
    r = (ranges or {}).get(key)
    rt = fmt_range(key, r) if isinstance(r, Mapping) else ""
    return f"{txt} ({rt})" if rt else txt


def _no_cost(reason: str) -> str:
    """'no cost: tpu-v7 has no price for this pricing basis (set economics.usd_per_gpu_hour to price it)': the reason's
    first clause and the fix (the whole reason is in the results table)."""
    return f"no cost: {str(reason).split(' (')[0].split(';')[0]} (set economics.usd_per_gpu_hour to price it)"


def _training_sentence(s: Mapping[str, Any], w, ranges: Mapping[str, Any], site: Mapping[str, Any]) -> str:
    done = s.get("completed", True)
    if s.get("grid_cap_feasible") is False and not done and not _num(s.get("tokens_trained")):
        why = next((n.split(": ", 1)[-1] for n in s.get("notes") or [] if n.startswith("grid import cap infeasible")), None)
        return (f"Training {w.model} on {int(w.num_gpus):,} {w.hardware} cannot run under the grid import cap"
                + (f": {why}" if why else "") + "; raise the cap or use fewer GPUs.")
    time_key = "wall_time_s" if done or s.get("projected_wall_time_s") is None else "projected_wall_time_s"
    verb = "takes" if done else "would take (projected; the simulated window ended first)"
    what = ((f"Fine-tuning ({'QLoRA' if getattr(w, 'lora_base_precision', None) == 'nf4' else 'LoRA'} rank {w.lora_rank})")
            if getattr(w, "lora_rank", None) else "Training")
    bits = [f"{what} {w.model} on {int(w.num_gpus):,} {w.hardware} {verb} {_v(s, time_key, ranges)}"]
    # energy, cost and CO2e of the same span as the time: the whole run's projection where the window ended first (the
    # window's own figures cover only the part simulated)
    for k in ("facility_energy_j", "cost_usd", "co2e_kg"):
        key = k if time_key == "wall_time_s" or _num(s.get(f"projected_{k}")) is None else f"projected_{k}"
        if _num(s.get(key)) is not None:
            bits.append(_v(s, key))
    if _num(s.get("cost_usd")) is None and s.get("cost_unavailable_reason"):
        bits.append(_no_cost(s["cost_unavailable_reason"]))
    sent = ", ".join(bits)
    peak = _num(site.get("peak_power_w")) or _num(s.get("facility_peak_power_w"))
    if peak is not None:
        sent += f"; the site peaks at {fmt_value('peak_power_w', peak)}"
        swing = _num(s.get("power_swing_w"))
        if swing:
            sent += f" and swings {fmt_value('power_swing_w', swing)} within a minute"
    if s.get("grid_cap_feasible") is False:
        sent += "; it does not fit under the grid import cap"
    return sent + "."


def _serving_sentence(s: Mapping[str, Any], w, ranges: Mapping[str, Any], site: Mapping[str, Any]) -> str:
    gpus = _num(s.get("num_gpus_peak"))
    # replica groups may mix parts (a Splitwise decode pool on A100s beside H100 prompts): name them all
    hws = list(dict.fromkeys((g.hardware or w.hardware) for g in (getattr(w, "replica_groups", None) or []))) or [w.hardware]
    kind = hws[0] if len(hws) == 1 else f"accelerators ({' and '.join(hws)})"
    where = f"{int(gpus):,} {kind}" if gpus else kind
    thr = _num(s.get("throughput_tokens_per_s"))
    sent = (f"Serving {w.model} on {where} delivers {fmt_value('throughput_tokens_per_s', thr)} output tokens/s "
            f"with TTFT p99 {_v(s, 'ttft_p99_s')} and TPOT p99 {_v(s, 'tpot_p99_s')}")
    slo = getattr(w, "slo", None)
    limited = slo is not None and any(x is not None for x in (slo.ttft_s, slo.tpot_s, slo.ttft_p99_s, slo.tpot_p99_s))
    if limited and _num(s.get("slo_attainment_frac")) is not None:
        sent += f", {fmt_value('slo_attainment_frac', s['slo_attainment_frac'])} of requests within the SLO limits"
    # the fleet verdicts on the p99 limits
    verdicts = {n: s.get(k) for n, k in (("TTFT", "slo_ttft_p99_met"), ("TPOT", "slo_tpot_p99_met"))}
    missed = [n for n, ok in verdicts.items() if ok is False]
    met = [n for n, ok in verdicts.items() if ok is True]
    if missed:
        sent += f"; p99 {' and '.join(missed)} miss{'' if len(missed) > 1 else 'es'} {'their limits' if len(missed) > 1 else 'its limit'}"
    elif met:
        sent += f"; p99 {' and '.join(met)} meet{'' if len(met) > 1 else 's'} {'their limits' if len(met) > 1 else 'its limit'}"
    if _num(s.get("energy_per_token_j")) is not None:
        sent += f"; {fmt_value('energy_per_token_j', s['energy_per_token_j'])} per output token"
    if _num(s.get("cost_usd_per_million_tokens")) is not None:
        sent += f", ${fmt_value('cost_usd_per_million_tokens', s['cost_usd_per_million_tokens'])} per million output tokens"
    elif s.get("cost_unavailable_reason"):
        sent += f", {_no_cost(s['cost_unavailable_reason'])}"
    hours = _num(s.get("battery_hours_of_chat"))
    if hours is not None:  # a device on its own battery answers in hours of use, not site power
        drain = _num(s.get("battery_drain_frac_per_hour"))
        sent += f"; a full battery lasts {hours:,.3g} hours of this traffic" + (
            f" ({100 * drain:.3g} % of a charge per hour)" if drain is not None else "")
    peak = _num(site.get("peak_power_w")) or _num(s.get("facility_peak_power_w"))
    if peak is not None:
        sent += f"; the site peaks at {fmt_value('peak_power_w', peak)}"
    sent += _dropped_clause(s)
    ch = _num(s.get("curtailment_hours"))
    if ch:
        sent += (f". Grid curtailment for {ch:,.2g} h shed up to {s.get('curtailment_replicas_shed_max', 0)} replicas and dropped "
                 f"{s.get('requests_dropped_curtailed', 0):,} requests")
        if s.get("requests_held_for_curtailment"):
            sent += f"; {s['requests_held_for_curtailment']:,} more waited it out and were served late"
        if _num(s.get("ba_year_requests_not_served_est")) is not None:
            sent += (f" ({s['ba_region']} {s.get('ba_year')}: {s['ba_curtailment_hours']:,.0f} curtailed hours in a year, "
                     f"~{s['ba_year_requests_not_served_est']:,.3g} requests not served)")
    return sent + "."


def _dropped_clause(s: Mapping[str, Any]) -> str:
    """'; 10 of 10 requests were dropped (10 too long for a replica's KV cache)': the requests the fleet turned away,
    by cause (curtailment's are told with the curtailment)."""
    causes = [(_num(s.get(k)) or 0, why) for k, why in (
        ("requests_dropped_too_long", "too long for the context or a replica's KV cache"),
        ("requests_dropped_queue_full", "at a full queue or with no replica up"),
        ("requests_dropped_no_decode_replica", "with no decode replica up"))]
    causes = [(n, why) for n, why in causes if n > 0]
    arrived = _num(s.get("requests_arrived"))
    if not causes or not arrived:
        return ""
    total = sum(n for n, _ in causes)
    return (f"; {int(total):,} of {int(arrived):,} requests were dropped ("
            + ", ".join(f"{int(n):,} {why}" for n, why in causes) + ")")


def _plan_sentence(s: Mapping[str, Any]) -> str:
    sent = str(s.get("answer") or "").rstrip(".")
    for word, label_ in (("cost", "total cost"), ("energy", "total energy")):
        opt, m, ru = s.get(f"least_{word}_option"), _num(s.get(f"least_{word}_margin_frac")), s.get(f"least_{word}_runner_up")
        if opt and m is not None:
            sent += f"; least {label_}: {opt}, {100 * m:.0f}% below {ru}"
    return sent + "."


def variant_sentences(v) -> list[str]:
    """One sentence per part of a variant (a VariantResult)."""
    out = []
    for part, pr in v.parts.items():
        w = getattr(v.scenario, part, None)
        if w is None:
            continue
        try:
            if part == "training":
                out.append(_training_sentence(pr.summary, w, pr.ranges, v.site))
            elif part == "serving":
                out.append(_serving_sentence(pr.summary, w, pr.ranges, v.site))
            elif part == "plan":
                out.append(_plan_sentence(pr.summary))
        except (KeyError, TypeError, ValueError):  # a summary without the usual keys gets no sentence, not an error
            continue
    for part, pr in v.parts.items():
        if pr.summary.get("feasible") is False:
            out.append(f"The {part} part is not feasible: {pr.summary.get('reason') or pr.summary.get('infeasible_reason') or 'see the notes'}.")
    return out


#: what the verdict across variants compares per part: (criterion, key, lower is better)
VERDICT_KEYS = {
    "training": (("fastest", "wall_time_s"), ("cheapest", "cost_usd"), ("least energy", "facility_energy_j"),
                 ("least CO2e", "co2e_kg")),
    "serving": (("cheapest per token", "cost_usd_per_million_tokens"), ("least energy per token", "energy_per_token_j"),
                ("least CO2e per token", "co2e_g_per_1k_tokens"), ("fewest GPUs at peak", "num_gpus_peak")),
}
#: how the verdict prints a figure whose key has no display unit of its own (costsim.report.fmt.LABELS names it)
_VERDICT_TEXT = {
    "cost_usd_per_million_tokens": lambda x: f"${x:,.4g} per million tokens",
    "co2e_g_per_1k_tokens": lambda x: f"{x:,.4g} g CO2e per 1,000 tokens",
    "num_gpus_peak": lambda x: plural(round(x), "GPU"),
}


def _figure(key: str, x: float) -> str:
    f = _VERDICT_TEXT.get(key)
    return f(x) if f else fmt_value(key, x)


def _names(names: list[str]) -> str:
    """'a', 'a and b', 'a, b and c'."""
    return names[0] if len(names) == 1 else ", ".join(names[:-1]) + " and " + names[-1]
#: relative margin under which two variants tie on a criterion
TIE_FRAC = 0.005


def _whole_run(s: Mapping[str, Any], key: str) -> float | None:
    """A training run's figure for the whole run: the projection where the simulated window ended first."""
    if s.get("completed", True) is False and _num(s.get(f"projected_{key}")) is not None:
        return _num(s.get(f"projected_{key}"))
    return _num(s.get(key))


def _projected(s: Mapping[str, Any], key: str) -> bool:
    """Whether a training run's whole-run figure is the projection of a run the window cut."""
    return s.get("completed", True) is False and _num(s.get(f"projected_{key}")) is not None


def _out_of_play(part: str, s: Mapping[str, Any]) -> str | None:
    """Why a variant's part cannot win a comparison (None when it can)."""
    if s.get("feasible") is False:
        return "not feasible"
    if part == "training" and s.get("grid_cap_feasible") is False:
        return "does not fit the grid import cap"
    if part == "serving" and (s.get("slo_ttft_p99_met") is False or s.get("slo_tpot_p99_met") is False):
        return "misses its latency SLOs"
    return None


def verdict(result) -> list[str]:
    """With two or more variants, one sentence per part they all have: which variant wins on each criterion, by how much
    against the runner-up (whole-run projections for training runs the window cut; serving variants that miss their
    SLOs, and infeasible ones, left out and named)."""
    variants = list(result.variants)
    if len(variants) < 2:
        return []
    out = []
    for part, criteria in VERDICT_KEYS.items():
        if not all(part in v.parts for v in variants):
            continue
        summaries = {v.name: v.parts[part].summary for v in variants}
        out_of_play = {n: why for n, s in summaries.items() if (why := _out_of_play(part, s))}
        live = [n for n in summaries if n not in out_of_play]
        bits, wins = [], []  # wins: (criterion, winner, figure, margin_frac, runner-up) where one variant wins outright
        for word, key in criteria:
            vals = sorted(((x, n) for n in live if (x := _whole_run(summaries[n], key)) is not None), key=lambda t: t[0])
            if len(vals) < 2:
                continue
            (best, who), (second, runner) = vals[0], vals[1]
            if second > 0 and (second - best) / second < TIE_FRAC:
                tied = [(x, n) for x, n in vals if second > 0 and (x - best) / second < TIE_FRAC]
                ties, top = [n for _, n in tied], tied[-1][0]
                lo_text, hi_text = _figure(key, best), _figure(key, top)
                # 'tie at' only where the figures read the same; else the spread (52,319 and 52,372 MWh are not one figure)
                at = f"tie at {lo_text}" if lo_text == hi_text else f"tie within {100 * TIE_FRAC:g}% ({lo_text} to {hi_text})"
                bits.append(f"{word}: {_names(ties)} {at}")
                continue
            margin = f", {100 * (second - best) / second:.0f}% below {runner}" if second > 0 else f", against {runner}'s {_figure(key, second)}"
            shown = _figure(key, best) + (" projected" if _projected(summaries[who], key) else "")  # a window-cut run's estimate
            bits.append(f"{word}: {who} ({shown}{margin})")
            wins.append((word, who, shown, (second - best) / second if second > 0 else None, runner))
        left = "; ".join(f"{n} left out ({why})" for n, why in out_of_play.items())
        if not bits:
            if out_of_play and len(out_of_play) == len(summaries):
                out.append(f"No variant's {part} qualifies: {left}.")
            elif out_of_play and len(live) == 1:  # one left to compare: say that it is the only one that qualifies
                out.append(f"Across the {len(summaries)} variants' {part}, only {live[0]} qualifies; {left}.")
            continue
        head = f"Across the {len(summaries)} variants' {part}, "
        if len(wins) == len(bits) > 1 and len({w[1] for w in wins}) == 1 and all(w[3] is not None for w in wins):
            # one variant wins every count: say so once, with its figures and how far ahead it is
            lo, hi = min(100 * w[3] for w in wins), max(100 * w[3] for w in wins)
            runners = sorted({w[4] for w in wins})
            ahead = f"{lo:.0f}%" if round(lo) == round(hi) else f"{lo:.0f}-{hi:.0f}%"
            sent = (head + f"{wins[0][1]} wins every count: " + ", ".join(f"{w[0]} at {w[2]}" for w in wins)
                    + f", {ahead} below {_names(runners)}")
        else:
            sent = head + "; ".join(bits)
        out.append(sent + (f" ({left})" if left else "") + ".")
    return out


def conclusion(result) -> list[str]:
    """The verdict across variants first (costsim.report.conclusion.verdict), then '<variant>: <sentence>' lines (no
    prefix with one variant)."""
    lines = verdict(result)
    for v in result.variants:
        for sent in variant_sentences(v):
            lines.append(sent if len(result.variants) == 1 else f"{v.name}: {sent}")
    return lines


def change_text(x: float, base: float) -> str:
    """The relative change from `base` to `x`: '+8.7%', '-0.03%' (one figure below 0.05 %, where one decimal read
    '-0.0%' or '+0.0%' for 99.75 % -> 99.72 %), '0%' where they are equal."""
    pct = 100.0 * (x - base) / abs(base)
    if pct == 0:
        return "0%"
    if abs(pct) >= 0.05:
        return f"{pct:+.1f}%"
    return f"{'+' if pct > 0 else '-'}{sig(abs(pct), 1)}%"  # one figure, never an exponent ('-4e-05%')


def variant_deltas(result) -> list[dict[str, str]]:
    """Rows: metric label, base value, then each other variant's value with its change against the base."""
    if len(result.variants) < 2:
        return []
    base = result.variants[0]
    rows = []
    for part, keys in DELTA_KEYS.items():
        if part not in base.parts:
            continue
        bs = base.parts[part].summary
        for k in keys:
            b = _num(bs.get(k))
            if b is None:
                continue
            row = {"metric": f"{part}: {label(k, part)}", base.name: fmt_value(k, b)}
            for v in result.variants[1:]:
                x = _num(v.parts[part].summary.get(k)) if part in v.parts else None
                if x is None:
                    row[v.name] = "-"
                    continue
                row[v.name] = fmt_value(k, x) + (f" ({change_text(x, b)})" if b else "")
            rows.append(row)
    return rows
