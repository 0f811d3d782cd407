"""Display formatting for reports: SI values inside, planner units outside (days, MWh, $M, tCO2e, MW).

The unit comes from the key's suffix (`_s`, `_j`, `_w`, `_usd`, `_kg`, `_frac`, `_bytes`, ...).
"""

from __future__ import annotations

import math
from typing import Any

from costsim.numtext import count, plural, si, sig  # noqa: F401 - plural re-exported for the report modules

# Headline metrics, most important first: exact keys the simulations use, then substrings.
HEADLINE_KEYS = (
    "feasible", "completed", "time_to_train_s", "wall_time_s", "projected_wall_time_s", "tokens_trained", "goodput_frac", "gpu_hours",
    "cost_usd", "projected_cost_usd", "total_cost_usd", "facility_energy_j", "energy_j", "co2e_kg", "facility_peak_power_w", "power_swing_w",
    "grid_cap_feasible",
    # serving
    "slo_attainment_frac", "throughput_tokens_per_s", "goodput_tokens_per_s", "ttft_p50_s", "ttft_p99_s", "tpot_p50_s",
    "tpot_p99_s", "e2e_p99_s",
    # a device on its own battery (serving.device_battery_wh: a phone, a laptop)
    "battery_hours_of_chat", "battery_drain_frac_per_hour",
    "energy_per_token_j", "cost_usd_per_million_tokens", "co2e_g_per_1k_tokens", "num_gpus_peak",
)
HEADLINE_PATTERNS = (
    "tokens_per_s", "throughput", "ttft", "tpot", "e2e", "latency", "slo", "usd_per", "cost_usd", "energy_j",
    "co2e", "peak_power", "replicas", "num_gpus", "goodput",
)
MAX_HEADLINE_PER_PART = 18
MIN_FROM_KEYS = 8  # below this many exact keys, substrings fill the headline


def _sig(v: float, digits: int = 4) -> str:
    if v == 0:
        return "0"
    if abs(v) >= 1e12 or abs(v) < 1e-9:  # past a trillion or below a billionth: digits would no longer read
        return f"{v:.{digits - 1}e}"
    if abs(v) >= 1e6:  # 3,242,337 MWh, as 52,869 MWh reads (it wrote 3.242e+06 MWh)
        return f"{v:,.0f}"
    if abs(v) < 1e-3:
        return sig(v, digits)  # 0.0000383, never 3.830e-05
    s = f"{v:,.{max(0, digits - 1 - int(math.floor(math.log10(abs(v)))))}f}"
    return s.rstrip("0").rstrip(".") if "." in s else s


#: keys whose last word is not a unit (Little's law's lambda x W is a count of requests)
NOT_A_UNIT = frozenset({"littles_law_lambda_w"})


#: the unit suffixes of keys (unit_of tries them in this order) and the SI unit a raw value is in (fmt_raw);
#: a fraction and a count have none
SI_UNITS = {"_bytes_per_s": "B/s", "_flop_per_s": "FLOP/s", "_w_per_s": "W/s", "_per_s": "/s", "_frac_per_hour": "per hour",
            "_usd": "USD", "_frac": "", "_bytes": "B", "_kg": "kg", "_j": "J", "_w": "W", "_s": "s", "_mwh": "MWh", "_mw": "MW",
            "_days": "days", "_l": "L", "_flop": "FLOP"}


def unit_of(key: str) -> str:
    """The unit suffix a key ends with (the first key of SI_UNITS it ends with), '' for none."""
    if key in NOT_A_UNIT:
        return ""
    for suf in SI_UNITS:
        if key.endswith(suf):
            return suf
    return ""


def scale(key: str, v: float) -> tuple[float, str]:
    """(value in a display unit, unit label)."""
    u = unit_of(key)
    a = abs(v)
    if u == "_s":
        if a >= 2 * 86400:
            return v / 86400, "days"
        if a >= 2 * 3600:
            return v / 3600, "h"
        if a >= 120:
            return v / 60, "min"
        if a < 1:
            return v * 1e3, "ms"
        return v, "s"
    if u == "_j":
        if a >= 3.6e9:
            return v / 3.6e9, "MWh"
        if a >= 3.6e5:
            return v / 3.6e6, "kWh"
        if a >= 1e3:
            return v / 1e3, "kJ"
        return v, "J"
    if u == "_w":
        if a >= 1e6:
            return v / 1e6, "MW"
        if a >= 1e3:
            return v / 1e3, "kW"
        return v, "W"
    if u == "_usd":
        if a >= 1e6:
            return v / 1e6, "$M"
        if a >= 1e3:
            return v / 1e3, "$k"
        return v, "$"
    if u == "_kg":
        if a >= 1e3:
            return v / 1e3, "tCO2e" if "co2" in key else "t"
        if 0 < a < 1.0:  # a phone's hour of chat: 1.157 gCO2e, not 0.001157 kgCO2e
            return v * 1e3, "gCO2e" if "co2" in key else "g"
        return v, "kgCO2e" if "co2" in key else "kg"
    if u == "_frac":
        return v * 100, "%"
    if u == "_frac_per_hour":  # a share used up per hour (a device's battery)
        return v * 100, "% per hour"
    if u == "_mwh":
        return v, "MWh"
    if u == "_mw":
        return v, "MW"
    if u == "_days":
        return v, "days"
    if u == "_l":
        return v, "L"
    if u == "_bytes":
        return v / 1e9, "GB"
    if u == "_bytes_per_s":
        return v / 1e9, "GB/s"
    if u == "_flop_per_s":
        return v / 1e12, "TFLOP/s"
    if u == "_w_per_s":  # a power ramp: the power's unit per second
        x, unit = scale("ramp_w", v)
        return x, f"{unit}/s"
    if u == "_per_s":
        return v, ("" if key in LABELS else "/s")  # a label that names the rate carries its unit
    return v, ""


#: the units `scale` gives an energy, smallest first
ENERGY_UNITS = ("J", "kJ", "kWh", "MWh")


#: the units `scale` gives a power, smallest first
POWER_UNITS = ("W", "kW", "MW")
#: words of a key naming a whole site's or fleet's power (a zero reads in MW there), not one device's (W)
SITE_POWER_WORDS = ("facility", "site", "grid", "headroom", "fleet", "it_", "swing", "battery", "import", "shortfall",
                    "curtail", "peak_power", "ba_")  # ba_: a balancing authority's figure for the site (read '0 W' beside '2,111 MW')


def zero_unit(key: str, unit: str) -> str:
    """The unit a zero reads in. A zero has no size to choose a unit by, so a total energy reads '0 MWh', the unit of
    the totals beside it (a run with no power-floor kernel read 'mitigation energy 0 J' beside '33.37 MWh'); an energy
    per token or per request keeps J. A site's or fleet's power reads '0 MW' (a headroom read '0 W' beside '50 MW'); a
    device's (gpu_*, tdp, idle, per GPU) keeps W; every other unit is left as it is."""
    if unit in ENERGY_UNITS and "_per_" not in key:
        return "MWh"
    if (unit in POWER_UNITS and "_per_" not in key and not key.startswith(("gpu_", "tdp", "idle"))
            and any(word in key for word in SITE_POWER_WORDS)):
        return "MW"
    return unit


def fmt_value(key: str, v: Any) -> str:
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, float)):
        f = float(v)
        if not math.isfinite(f):
            return "-"
        if unit_of(key) == "" and isinstance(v, int):
            return f"{v:,}"
        if unit_of(key) == "_flop":  # 720 ZFLOP, as train prints it (not 7.2e+11T)
            return si(f, "FLOP", 4)
        if unit_of(key) == "" and abs(f) >= 1e6:  # a large count (tokens, GPU-hours): 15.6T, 60.77M, not 1.560e+13
            return count(f, 4)
        x, unit = scale(key, f)
        if unit and abs(x) < 5e-4:  # float noise of a difference (a headroom of 1e-4 W) reads as the zero it is
            x, unit = 0.0, zero_unit(key, unit)
        if unit.startswith("$"):  # $74.2M, $3.5k, $120
            return f"{'-' if x < 0 else ''}${_sig(abs(x))}{unit[1:]}"
        return f"{_sig(x)} {unit}".strip()
    return str(v)


def fmt_raw(key: str, v: Any) -> str:
    """A value unscaled and unrounded, in the SI unit its key names ('1863.88018 s', '20000000000.0', '3600.0 USD'): '-'
    for a missing one (None, NaN), yes / no for a switch, text as it is (the report's 'raw' column printed None / True)."""
    if type(v).__module__ == "numpy" and hasattr(v, "item"):  # a numpy scalar reads as its Python value
        v = v.item()
    if v is None:
        return "-"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, (int, float)):
        if isinstance(v, float) and math.isnan(v):
            return "-"
        unit = SI_UNITS.get(unit_of(key), "")
        return f"{v!r} {unit}".strip()
    return str(v)


def field_unit_key(record: str, field: str) -> str:
    """The key a record's field reads its unit from: the field's own suffix, named with the record
    (co2e_breakdown_kg.embodied_kg: tCO2e), else the record's (time_in_state_s.train: s)."""
    if unit_of(field):
        return f"{record}.{field}"
    return record if unit_of(record) else field


def span_text(lo: str, hi: str, unit: str = "") -> str:
    """'lo – hi unit', or one value where both ends print the same: 15T, not '15T – 15T' (float noise of
    14999999999999.998 against 15e12)."""
    return (lo if lo == hi else f"{lo} – {hi}") + (f" {unit}" if unit else "")


def _range_ends(key: str, lo: float, hi: float) -> tuple[str, str, str]:
    """(lo, hi, unit) as fmt_range prints them: both ends in the unit of the larger."""
    ref = max(abs(lo), abs(hi))
    if unit_of(key) == "" and ref >= 1e6:  # a large count reads as the value does: 10.05T – 10.18T, not 1.005e+13
        return count(lo, 4), count(hi, 4), ""
    shown, unit = scale(key, ref)
    k = shown / ref if ref else 1.0
    lo_t, hi_t = _sig(lo * k), _sig(hi * k)
    if unit.startswith("$"):  # $113.5M – $115M, as the value reads
        return f"${lo_t}{unit[1:]}", f"${hi_t}{unit[1:]}", ""
    return lo_t, hi_t, unit


def fmt_range(key: str, r: dict[str, float]) -> str:
    """'lo – hi unit, p5–p95 of n replicates'; min–max below 20 replicates; '' when all replicates agree, to the
    digits shown (min and max print the same); one value where only the shown ends print the same."""
    n = int(r.get("n", 0))
    which = ("p5", "p95", "p5–p95") if n >= 20 else ("min", "max", "min–max")
    lo, hi = r.get(which[0]), r.get(which[1])
    if lo is None or hi is None or r.get("min") == r.get("max"):
        return ""
    mn, mx = r.get("min"), r.get("max")
    if mn is not None and mx is not None and len(set(_range_ends(key, float(mn), float(mx))[:2])) == 1:
        return ""  # float noise: every replicate prints the value the cell shows
    lo_t, hi_t, unit = _range_ends(key, float(lo), float(hi))
    return f"{span_text(lo_t, hi_t, unit)}, {which[2]} of {n} replicates"


# Keys whose "token" is an OUTPUT (generated) token: the serving simulation's per-token metrics
# (`token_basis: "output"` in its summary). Shown in labels so nobody reads them per input+output token.
PER_OUTPUT_TOKEN_KEYS = frozenset({
    "energy_per_token_j", "gpu_energy_per_token_j", "cost_usd_per_million_tokens", "co2e_g_per_1k_tokens",
    "throughput_tokens_per_s", "goodput_tokens_per_s",
})


def key_note(key: str) -> str:
    """Basis of a metric when its name alone does not say it ('' when it does)."""
    return "per output (generated) token" if key in PER_OUTPUT_TOKEN_KEYS else ""


# words spelled as a reader expects them (the keys are lower-case snake_case)
WORDS = {"co2e": "CO2e", "gpu": "GPU", "gpus": "GPUs", "ttft": "TTFT", "tpot": "TPOT", "e2e": "end-to-end", "mfu": "MFU",
         "hfu": "HFU", "slo": "SLO", "kv": "KV", "usd": "$", "it": "IT", "pue": "PUE", "ba": "grid (BA)", "soc": "state of charge",
         "num": "number of", "max": "max", "min": "min", "1k": "1,000", "tco2e": "tCO2e", "nic": "NIC", "ssd": "SSD",
         "cpu": "CPU", "io": "I/O", "nccl": "NCCL", "sram": "SRAM", "hbm3": "HBM3", "hbm": "HBM", "lora": "LoRA", "moe": "MoE",
         "kwh": "kWh", "mwh": "MWh", "tp": "TP", "pp": "PP", "cp": "CP", "ep": "EP", "dp": "DP", "etp": "ETP", "gco2e": "gCO2e", "seq": "sequence", "len": "length"}
# the unit suffixes a label drops (the value shown beside it carries the display unit)
UNIT_SUFFIXES = ("_bytes_per_s", "_flop_per_s", "_w_per_s", "_frac_per_hour", "_usd", "_frac", "_bytes", "_kg", "_j", "_w", "_s", "_flop",
                 "_mwh", "_mw", "_days", "_l")


# keys whose value carries no display unit of its own (not an SI suffix): the label says it
LABELS = {
    "battery_hours_of_chat": "Hours of this traffic on a full battery", "battery_drain_frac_per_hour": "Battery used",
    "throughput_tokens_per_s": "Throughput, tokens/s", "goodput_tokens_per_s": "Goodput after the warm-up (requests within the SLOs), tokens/s",
    "throughput_output_tokens_per_s": "Throughput, output tokens/s", "tokens_per_s": "Training throughput, tokens/s",
    "cost_usd_per_million_tokens": "Cost per million tokens, $", "cost_usd_per_million_output_tokens": "Cost per million output tokens, $",
    "co2e_g_per_1k_tokens": "CO2e per 1,000 tokens, g", "co2e_g_per_1k_output_tokens": "CO2e per 1,000 output tokens, g",
    "num_gpus_peak": "GPUs at peak", "gpu_hours": "GPU-hours", "tokens_trained": "Tokens trained",
    "goodput_requests_per_s": "Goodput after the warm-up (requests within the SLOs), requests/s", "throughput_requests_per_s": "Throughput, requests/s",
    "ba_curtailment_hours": "Curtailment hours in the grid region", "ba_events": "Curtailment events in the grid region",
    "ba_extra_days": "Extra days from curtailment", "ba_region": "Grid region (balancing authority)",
    "ba_power_cap_to_avoid_w": "Largest site load never curtailed over the horizon",
    "ba_battery_energy_to_avoid_j": "Battery energy for the horizon's worst curtailment (nameplate)",
    "ba_horizon_curtailment_hours": "Curtailed hours over the horizon", "ba_horizon_h": "Horizon of the grid events, h",
    "curtailment_hours": "Hours under grid curtailment (simulated)", "curtailment_replicas_shed_max": "Replicas shed for the grid (most at once)",
    "requests_dropped_curtailed": "Requests dropped under curtailment", "requests_held_for_curtailment": "Requests held through a curtailment, then served", "ba_requests_not_served": "Requests not served because of curtailment",
    "ba_slo_attainment_difference_frac": "SLO attainment change from curtailment",
    "ba_year_requests_not_served_est": "Requests not served in a year (estimate)",
    "time_to_train_s": "Time to train", "interruptions": "Interruptions",
    "training_usd": "Training cost", "serving_usd": "Serving cost (lifetime)", "total_usd": "Total cost",
    "total_facility_energy_j": "Total facility energy", "total_co2e_kg": "Total CO2e",
    "total_peak_power_w": "Peak power (training or serving)", "params": "Parameters", "training_tokens": "Training tokens", "tokens_per_param": "Tokens per parameter",
    "training_days": "Training days", "serving_gpus": "Serving accelerators for the demand",
    "littles_law_lambda_w": "Little's law: arrival rate x mean time in system (requests)",
    "littles_law_l_mean": "Little's law: mean requests in the system (measured)",
    "littles_law_window_l_mean": "Little's law: mean requests in the system over the window (measured)",
    "decode_tokens_per_s_per_request": "Decode speed per request, tokens/s",
    "least_cost_option": "Least total cost", "least_cost_margin_frac": "Margin over the runner-up (cost)",
    "least_energy_option": "Least total energy", "least_energy_margin_frac": "Margin over the runner-up (energy)",
}


def human(key: str) -> str:
    """'facility_energy_j' -> 'Facility energy'; 'ttft_p99_s' -> 'TTFT p99'; '..._per_s' -> '... per second'."""
    if key in LABELS:
        return LABELS[key]
    k = key
    if k.endswith("_per_s") and not k.endswith(("_bytes_per_s", "_flop_per_s", "_w_per_s")):
        k = k[: -len("_per_s")] + "_per_second"
    else:
        for suf in UNIT_SUFFIXES:
            if k.endswith(suf) and len(k) > len(suf):
                k = k[: -len(suf)]
                break
    words = [WORDS.get(w, w) for w in k.split("_") if w]
    text = " ".join(words)
    return text[:1].upper() + text[1:] if text else key


def label(key: str, part: str | None = None) -> str:
    """Display label without the unit suffix (the value carries the display unit); serving-part
    per-token keys say they are per output token."""
    note = key_note(key) if part == "serving" else ""
    return human(key) + (f" ({note})" if note else "")


def path_value(path: str, value: Any) -> str:
    """A scenario field's value in the field's unit, by its path's last name (training.tokens 5.233e12 -> '5.233T',
    training.num_gpus 4096 -> '4,096'); text as it is."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return fmt_value(str(path).replace("]", "").rsplit(".", 1)[-1].rsplit("[", 1)[-1], value)
    return str(value)


def path_label(path: str) -> str:
    """A scenario field's path in words: 'training.num_gpus' -> 'Training: number of GPUs',
    'economics.electricity_usd_per_kwh' -> 'Economics: electricity $ per kWh'."""
    parts = [p for p in path.replace("[", ".").replace("]", "").split(".") if p]
    if not parts:
        return path
    leaf = human(parts[-1])
    leaf = leaf if leaf[:2].isupper() else leaf[:1].lower() + leaf[1:]  # 'PUE', 'GPUs' keep their capitals
    head = " ".join(w.replace("_", " ") for w in parts[:-1])
    return f"{head[:1].upper() + head[1:]}: {leaf}" if head else leaf[:1].upper() + leaf[1:]


def headline_keys(summary: dict[str, Any]) -> list[str]:
    keys = [k for k, v in summary.items() if isinstance(v, (int, float, bool)) or v is None]
    out: list[str] = [k for k in HEADLINE_KEYS if k in keys]
    if len(out) >= MIN_FROM_KEYS:
        return out[:MAX_HEADLINE_PER_PART]
    for pat in HEADLINE_PATTERNS:
        for k in keys:
            if pat in k and k not in out:
                out.append(k)
        if len(out) >= MAX_HEADLINE_PER_PART:
            break
    return out[:MAX_HEADLINE_PER_PART]


# a site placed in a balancing authority (grid.balancing_authority): what its curtailment events did
GRID_HEADLINE_KEYS = ("ba_region", "ba_curtailment_hours", "ba_events", "ba_extra_days", "ba_energy_not_drawn_j",
                      "ba_cost_difference_usd", "ba_horizon_h", "ba_horizon_curtailment_hours", "ba_battery_energy_to_avoid_j",
                      "ba_power_cap_to_avoid_w",
                      # serving fleets: what the simulated window's events did, and a year's estimate
                      "curtailment_hours", "curtailment_replicas_shed_max", "requests_dropped_curtailed", "requests_held_for_curtailment",
                      "ba_requests_not_served",
                      "ba_slo_attainment_difference_frac", "ba_year_requests_not_served_est")
SITE_HEADLINE_KEYS = ("peak_power_w", "energy_j", "power_swing_w", "max_bucket_change_w", "headroom_w", "time_over_cap_frac")


# a plan part (scenario `plan:` section): the chosen size and its lifetime totals, and which option wins
PLAN_HEADLINE_KEYS = ("params", "training_tokens", "tokens_per_param", "loss", "training_days", "training_usd", "serving_usd",
                      "total_usd", "total_facility_energy_j", "total_co2e_kg", "total_peak_power_w", "serving_gpus",
                      "least_cost_option", "least_cost_margin_frac", "least_energy_option", "least_energy_margin_frac")


def headline_rows(result) -> list[tuple[str, str]]:
    """(part, key) rows of a run's headline table, in display order: each part's headline keys,
    then the site keys present in any variant. Shared by the HTML report and the CLI table."""
    rows: list[tuple[str, str]] = []
    for v in result.variants:
        for part, pr in v.parts.items():
            keys = [k for k in PLAN_HEADLINE_KEYS if k in pr.summary] if part == "plan" else headline_keys(pr.summary)
            for k in keys + [k for k in GRID_HEADLINE_KEYS if k in pr.summary]:
                if (part, k) not in rows:
                    rows.append((part, k))
    for v in result.variants:
        for k in SITE_HEADLINE_KEYS:
            if k in v.site and ("site", k) not in rows:
                rows.append(("site", k))
    return rows


#: a price saving below this (USD a day, half of the last digit shown) reads as "does not trade"
NO_TRADE_USD_PER_DAY = 0.5


def battery_text(b: dict) -> str:
    """The battery in one or two sentences: what share of the load it carries, for how long, and against the cap."""
    s = f"Battery {b['energy_mwh']:,.3g} MWh / {b['power_mw']:,.3g} MW ({b['policy']}): "
    share = b.get("full_load_share_frac")
    if share is not None and share >= 1.0:
        s += f"carries the full facility load for {fmt_value('ride_through_full_load_s', b['ride_through_full_load_s'])} if the grid drops"
    elif share is not None:
        s += (f"its power rating carries only {100 * share:.0f} % of the facility peak if the grid drops, for "
              f"{fmt_value('ride_through_at_rated_power_s', b['ride_through_at_rated_power_s'])} at its rating")
    if "covers_excess_power" in b:
        s += ("; it can hold import at the cap for " + fmt_value("covers_excess_for_s", b["covers_excess_for_s"])
              if b["covers_excess_power"] else "; its rating is below the load above the cap, so it cannot hold import at the cap")
    swing, drop = b.get("training_power_swing_w") or 0.0, b.get("training_restart_drop_w") or 0.0
    if drop > 0:
        if b.get("covers_restart_drop"):
            s += f"; its rating covers the training fleet's {fmt_value('power_w', drop)} drop when a failure stops the job"
        elif b.get("covers_training_swing") and swing > 0:
            s += (f"; its rating covers the {fmt_value('power_w', swing)} step-to-step swing but not the {fmt_value('power_w', drop)} "
                  "drop when a failure stops the job")
        else:
            s += (f"; its rating covers neither the {fmt_value('power_w', swing)} step-to-step swing nor the "
                  f"{fmt_value('power_w', drop)} drop when a failure stops the job")
    saving = b.get("arbitrage_saving_usd_per_day")
    if saving is not None:
        if b["policy"] not in ("arbitrage", "optimal"):
            # (round(x) or 0: float dust below zero reads 0, not '-0')
            s += (f"; {b['policy']} does not trade on the hourly price (saves {round(saving) or 0:,.0f} USD a day): the arbitrage or "
                  "optimal battery policy does")
        elif saving < NO_TRADE_USD_PER_DAY:
            rte = b.get("round_trip_efficiency_frac")
            s += ("; it does not trade: no day's price spread pays for its "
                  + (f"{100 * (1 - rte):.0f} % " if rte is not None else "") + "round-trip loss")
        else:
            s += f"; buying in the cheapest hours and serving the load in the dearest saves {saving:,.0f} USD a day"
    return s + "."


def _stretch_parts(result: dict, stretch_key: str, *, keep_zero: bool) -> list[str]:
    """'decode steps +25 %', 'prompt passes under +1 %': how much a breakdown part `stretch_key` (power_limit_s,
    power_cap_s) adds to a serving estimate's decode steps and prompt passes; `keep_zero` lists a phase it leaves
    unchanged as '+0 %' (else it is left out)."""
    br = result.get("breakdown") or {}
    parts = []
    for key, total_key, what in (("decode_step_s", "step_time_s", "decode steps"), ("prefill_s", "prefill_time_s", "prompt passes")):
        d = br.get(key) or {}
        added, total = d.get(stretch_key) or 0.0, d.get(total_key) or 0.0
        if total > added and (added > 0 or keep_zero):
            pct = 100.0 * added / (total - added)
            parts.append(f"{what} +{pct:,.0f} %" if pct >= 1.0 or pct == 0.0 else f"{what} under +1 %")
    return parts


def power_limit_text(result: dict) -> str | None:
    """One sentence on how much the part's power limit stretches a serving estimate's decode steps and prompt passes
    (costsim.core.power.power_limit_stretch_s, in its breakdown's power_limit_s), or None where it does not bind."""
    parts = _stretch_parts(result, "power_limit_s", keep_zero=False)
    return f"The GEMMs need more power than the TDP leaves, so clocks drop: {', '.join(parts)}." if parts else None


def power_cap_text(result: dict) -> str | None:
    """One sentence on how much a per-GPU power cap (costsim serve --power-cap-w) stretches a serving estimate's decode
    steps and prompt passes (their breakdown's power_cap_s), or None without a cap."""
    cap = result.get("power_cap_w")
    if cap is None:
        return None
    parts = _stretch_parts(result, "power_cap_s", keep_zero=True)
    return f"At the {cap:,.0f} W cap per GPU the clocks drop: {', '.join(parts)}." if parts else None


def moe_load_text(result: dict) -> str | None:
    """One sentence on how long a training step's MoE layers wait for their busiest expert-parallel rank
    (costsim.core.training moe_load_wait_time_s in the step breakdown), or None below 1 % of the step."""
    t = ((result.get("breakdowns") or {}).get("step_time_s") or {}).get("moe_load_wait_time_s") or 0.0
    step = result.get("step_time_s") or 0.0
    if step <= 0.0 or t < 0.01 * step:
        return None
    ep = (result.get("parallelism") or {}).get("ep")
    cv = {a.get("name"): a for a in result.get("assumptions") or []}.get("moe_router_load_cv") or {}
    how = f" (per-expert router load CV {cv['value']:g})" if cv.get("value") is not None else ""
    return (f"Of the {fmt_value('step_time_s', step)} step, {fmt_value('moe_load_wait_time_s', t)} ({100.0 * t / step:.0f} %) "
            f"is the {ep} expert-parallel ranks of each MoE layer waiting for the busiest one{how}.")


def host_launch_text(result: dict) -> str | None:
    """One sentence on how long a training step waits for host-launched fp8 / fp4 expert MLPs
    (costsim.core.training moe_host_launch_time_s in the step breakdown), or None where the run has none."""
    t = ((result.get("breakdowns") or {}).get("step_time_s") or {}).get("moe_host_launch_time_s") or 0.0
    step = result.get("step_time_s") or 0.0
    if t <= 0.0 or step <= 0.0:
        return None
    return (f"Of the {fmt_value('step_time_s', step)} step, {fmt_value('moe_host_launch_time_s', t)} ({100.0 * t / step:.0f} %) "
            "is the GPU waiting for the host to launch each local expert's fp8 / fp4 kernels (expert MLP launch: host).")


def lora_text(result: dict) -> str | None:
    """What a LoRA fine-tuning run trains, in words (the result's `lora`); None for full-parameter training."""
    from costsim.estimators.training_shapes import lora_targets_text
    from costsim.numtext import count

    lo = result.get("lora")
    if not lo:
        return None
    where = lora_targets_text(lo["targets"])
    frozen = ("base weights frozen in 4-bit NF4 (QLoRA)" if lo.get("base_precision") == "nf4" else "base weights frozen")
    return (f"LoRA rank {lo['rank']} on {where}: {count(lo['trainable_params'])} trainable parameters "
            f"({100 * lo['trainable_frac']:.2g} % of the model), {frozen}")


def energy_rates_text(rates: dict | None) -> str | None:
    """A result's `energy_rates` in words: '56 gCO2e/kWh and 0.151 USD/kWh (fr-france, annual mean of every hour; ...)'."""
    if not rates:
        return None
    return (f"{rates['grid_gco2e_per_kwh']:,.0f} gCO2e/kWh and {rates['electricity_usd_per_kwh']:.3g} USD/kWh "
            f"({rates['basis']})")
