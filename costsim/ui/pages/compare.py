"""Compare: small vs large vs MoE models, edge vs data center, for one training budget or one serving demand."""

from __future__ import annotations

import math
from typing import Any

import streamlit as st

from costsim import numtext
from costsim.errors import InputError
from costsim.specs.base import validate_spec
from costsim.specs.requests import ServeRequest, TrainRequest
from costsim.specs.site import EconomicsSpec
from costsim.ui.numbers import blank_error, number_box
from costsim.ui import charts, compute, fmt, widgets as w
from costsim.ui.share import read_choice, read_field_number, read_ids, read_number

P = "cmp_"
#: what the page compares for: {query value (and the radio's): its label}
MODES = {"training": "the same training budget", "serving": "the same serving demand"}
MIN_DEMAND_RPS = 0.001
TRAIN_MODELS = ["phi-3-mini", "llama-3-8b", "llama-3-70b", "mixtral-8x7b"]
SERVE_MODELS = ["phi-3-mini", "llama-3-8b", "llama-3-70b", "mixtral-8x7b"]
SERVE_HARDWARE = ["h100-sxm", "apple-m3-max"]


def _known(ids: list[str], pool: list[str]) -> list[str]:
    return [i for i in ids if i in pool]


def train_link() -> w.LinkInputs:
    """The training comparison's inputs in a share link: {query name: (widget key, reader)}."""
    return {"models": (P + "t_models", read_ids([m["id"] for m in w.model_catalog()], "model", many=True)),
            "hardware": (P + "t_hw", read_ids(w.hardware_ids(), "hardware")),
            "gpus": (P + "t_gpus", read_field_number(TrainRequest, "gpus", integer=True)),
            "tokens": (P + "t_tokens", read_field_number(TrainRequest, "tokens", scale=1e12)),
            "precision": (P + "t_prec", read_choice(w.literal_options(TrainRequest, "precision")))}


def serve_link() -> w.LinkInputs:
    """The serving comparison's inputs in a share link: {query name: (widget key, reader)}."""
    return {"models": (P + "s_models", read_ids([m["id"] for m in w.model_catalog()], "model", many=True)),
            "hardware": (P + "s_hw", read_ids(w.hardware_ids(), "hardware", many=True)),
            "precision": (P + "s_prec", read_choice(w.literal_options(ServeRequest, "weight_precision"))),
            "prompt": (P + "s_in", read_field_number(ServeRequest, "input_tokens", integer=True)),
            "output": (P + "s_out", read_field_number(ServeRequest, "output_tokens", integer=True)),
            "tpot": (P + "s_tpot", read_field_number(ServeRequest, "tpot_slo_s", scale=1e-3)),
            "demand": (P + "s_demand", read_number(MIN_DEMAND_RPS, w.MAX_DEMAND_RPS)),
            "gco2": (P + "s_gco2", read_field_number(EconomicsSpec, "grid_gco2e_per_kwh"))}


MODE_LINK: w.LinkInputs = {"for": (P + "mode", read_choice(list(MODES)))}


def train_inputs() -> dict[str, Any]:
    d: dict[str, Any] = {}
    model_ids = [m["id"] for m in w.model_catalog()]
    st.session_state.setdefault(P + "t_models", _known(TRAIN_MODELS, model_ids))
    d["models"] = st.multiselect(w.labelled(P + "t_models", "Models"), model_ids, key=P + "t_models", format_func=w.model_label,
                                 help=TrainRequest.model_fields["model"].description)
    d["hardware"] = w.hardware_select(TrainRequest, key=P + "t_hw", default="h100-sxm")
    d["gpus"] = w.number(TrainRequest, "gpus", key=P + "t_gpus", default=1024, label="GPUs", integer=True, step=64)
    d["tokens"] = w.number(TrainRequest, "tokens", key=P + "t_tokens", default=15.0, label="Training tokens, trillions",
                           scale=1e12, step=1.0, placeholder="each model's own training tokens")
    d["precision"] = w.select(TrainRequest, "precision", key=P + "t_prec", default="bf16", label="Precision")
    return d


def serve_inputs() -> dict[str, Any]:
    d: dict[str, Any] = {}
    model_ids = [m["id"] for m in w.model_catalog()]
    hw_ids = w.hardware_ids()
    st.session_state.setdefault(P + "s_models", _known(SERVE_MODELS, model_ids))
    st.session_state.setdefault(P + "s_hw", _known(SERVE_HARDWARE, hw_ids))
    d["models"] = st.multiselect(w.labelled(P + "s_models", "Models"), model_ids, key=P + "s_models", format_func=w.model_label,
                                 help=ServeRequest.model_fields["model"].description)
    d["hardware"] = st.multiselect(w.labelled(P + "s_hw", "Hardware (data center and edge)"), hw_ids,
                                   key=P + "s_hw", format_func=w.hardware_label,
                                   help=ServeRequest.model_fields["hardware"].description)
    d["weight_precision"] = w.select(ServeRequest, "weight_precision", key=P + "s_prec", default="bf16", label="Weight precision")
    d["input_tokens"] = w.number(ServeRequest, "input_tokens", key=P + "s_in", default=512, label="Prompt tokens", integer=True, step=128)
    d["output_tokens"] = w.number(ServeRequest, "output_tokens", key=P + "s_out", default=256, label="Output tokens", integer=True, step=64)
    d["tpot_slo_s"] = w.number(ServeRequest, "tpot_slo_s", key=P + "s_tpot", default=None, scale=1e-3, label="TPOT limit, ms",
                               step=5.0, placeholder="none")
    d["demand_rps"] = number_box(w.labelled(P + "s_demand", "Demand, requests/s"), key=P + "s_demand", default=100.0,
                                 min_value=MIN_DEMAND_RPS, max_value=w.MAX_DEMAND_RPS, step=10.0,
                                 help="The same demand every option must serve (requests per second).")
    d["gco2"] = w.number(EconomicsSpec, "grid_gco2e_per_kwh", key=P + "s_gco2", default=400.0, label="Grid carbon, gCO2e/kWh", step=10.0)
    return d


def model_sizes(mid: str) -> dict[str, Any]:
    for m in w.model_catalog():
        if m["id"] == mid:
            return {"params_b": (m.get("params_total") or 0) / 1e9, "active_params_b": (m.get("params_active") or 0) / 1e9,
                    "moe": (m.get("n_experts") or 1) > 1}
    return {}


#: the table's column headings: what a reader sees, with units (the row keys stay for the charts)
COLUMN_LABELS = {
    "model": "Model", "hardware": "Hardware", "params_b": "Parameters, B", "active_params_b": "Active parameters, B",
    "moe": "Mixture of experts", "feasible": "Feasible", "reason": "Why not", "wall_days": "Wall time, days",
    "gpu_hours": "GPU-hours", "facility_mwh": "Facility energy, MWh", "cost_usd": "Cost, $", "co2e_t": "CO2e, t",
    "mfu_pct": "MFU, %", "tokens_per_s_per_replica": "Output tokens/s per replica", "replicas": "Replicas for the demand",
    "devices": "Devices", "facility_mw": "Facility power, MW", "usd_per_million_tokens": "$ per million output tokens",
    "facility_j_per_token": "Facility energy per output token, J",
    "co2e_kg_per_million_tokens": "CO2e per million output tokens, kg",
}


#: columns in mega units and the smaller units they read in when every row is below one of them
MEGA_COLUMNS = {"facility_mw": ("MW", "kW", "W"), "facility_mwh": ("MWh", "kWh", "Wh")}


def column_scales(rows: list[dict[str, Any]]) -> dict[str, tuple[float, str]]:
    """(factor, unit) for each MEGA_COLUMNS column: the largest unit its largest value is at least 1 in (phones and a
    workstation read 1.37 kW, not 0.00137 MW)."""
    out = {}
    for key, units in MEGA_COLUMNS.items():
        vals = [abs(r[key]) for r in rows if isinstance(r.get(key), (int, float))]
        top = max(vals, default=0.0)
        k = 0 if top >= 1 or top == 0 else 1 if top >= 1e-3 else 2
        out[key] = (1000.0 ** k, units[k])
    return out


def table_cells(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Rows with readable headings and numbers (3 significant digits) and no 'None' cells. A number column with a
    missing value (no price on an edge device) reads as text, blank where missing: a blank string among numbers made
    Arrow refuse the column (Streamlit logged a traceback and guessed), and a real null reads 'None' in the grid."""
    scales = column_scales(rows)
    numeric = {k for r in rows for k, v in r.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    gaps = {k for r in rows for k, v in r.items() if v is None and k in numeric}

    def cell(k: str, v: Any) -> Any:
        if isinstance(v, (int, float)) and not isinstance(v, bool) and k in scales:
            v = v * scales[k][0]
        if k in gaps:
            return "" if v is None else fmt.num(v)
        if isinstance(v, float):
            return float(f"{v:.3g}")
        return "" if v is None else v

    def heading(k: str) -> str:
        text = COLUMN_LABELS.get(k, k)
        return text.replace(MEGA_COLUMNS[k][0], scales[k][1]) if k in scales else text
    return [{heading(k): cell(k, v) for k, v in r.items()} for r in rows]


def table(rows: list[dict[str, Any]]) -> None:
    shown = table_cells(rows)
    st.dataframe(shown, width="stretch", hide_index=True, column_config=w.grouped_number_columns(shown))


def train_rows(d: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    for m in d["models"]:
        row: dict[str, Any] = {"model": m, **model_sizes(m)}
        # an input every row shares (GPUs, tokens) refused here is said once for the page (render), not per row
        req = validate_spec(TrainRequest, {"model": m, "hardware": d["hardware"], "gpus": d["gpus"], "tokens": d["tokens"],
                                           "precision": d["precision"], "top_k": 1}, what="training request")
        try:
            r = compute.train(req.model_dump_json())
        except InputError as exc:
            rows.append({**row, "feasible": False, "reason": w.in_page_words(exc.message)})
            continue
        rows.append({**row, "feasible": r.get("feasible", True), "reason": r.get("reason"),
                     "wall_days": None if r.get("wall_time_s") is None else r["wall_time_s"] / 86400,
                     "gpu_hours": r.get("gpu_hours"),
                     "facility_mwh": None if r.get("facility_energy_j") is None else r["facility_energy_j"] / 3.6e9,
                     "cost_usd": r.get("cost_usd"),
                     "co2e_t": None if r.get("co2e_kg") is None else r["co2e_kg"] / 1e3,
                     "mfu_pct": None if r.get("mfu_frac") is None else 100 * r["mfu_frac"]})
    return rows


def serve_rows(d: dict[str, Any]) -> list[dict[str, Any]]:
    rows = []
    need_tok_s = d["demand_rps"] * d["output_tokens"]
    for m in d["models"]:
        for h in d["hardware"]:
            row: dict[str, Any] = {"model": m, "hardware": h, **model_sizes(m)}
            req = validate_spec(ServeRequest, {"model": m, "hardware": h, "weight_precision": d["weight_precision"],
                                               "input_tokens": d["input_tokens"], "output_tokens": d["output_tokens"],
                                               "tpot_slo_s": d["tpot_slo_s"]}, what="serving request")  # shared: said once
            try:
                r = compute.serve(req.model_dump_json())
            except InputError as exc:
                rows.append({**row, "feasible": False, "reason": w.in_page_words(exc.message)})
                continue
            thr = r.get("throughput_tokens_per_s")
            ok = r.get("feasible", True) and bool(thr)
            replicas = math.ceil(need_tok_s / thr) if ok else None
            gpus_per = r.get("gpus") or r.get("num_gpus")
            e_tok = r.get("facility_energy_per_token_j")
            rows.append({**row, "feasible": ok, "reason": r.get("reason") or (None if ok else "no throughput at these inputs"),
                         "tokens_per_s_per_replica": thr, "replicas": replicas,
                         "devices": replicas * gpus_per if replicas and gpus_per else None,
                         "facility_mw": need_tok_s * e_tok / 1e6 if ok and e_tok is not None else None,
                         "usd_per_million_tokens": r.get("cost_usd_per_million_tokens") if ok else None,
                         "facility_j_per_token": e_tok if ok else None,
                         "co2e_kg_per_million_tokens": e_tok * 1e6 / 3.6e6 * d["gco2"] / 1e3 if ok and e_tok is not None else None})
    return rows


def answer(rows: list[dict[str, Any]], d: dict[str, Any], training: bool) -> str:
    """The comparison in one sentence, as the other pages answer first: the best and the worst feasible option on the
    page's first measure (wall time for training; $ per million output tokens for serving, or facility power where no
    option has a price), and how many cannot run."""
    runs = [r for r in rows if r.get("feasible")]
    priced = any(r.get("usd_per_million_tokens") is not None for r in runs)
    key = "wall_days" if training else "usd_per_million_tokens" if priced else "facility_mw"  # edge devices: no price
    ok = sorted((r for r in runs if r.get(key) is not None), key=lambda r: r[key])
    if training:
        each = "their own training tokens" if d["tokens"] is None else f"{numtext.count(d['tokens'])} tokens each"
        where = f"On {d['gpus']:,} {d['hardware']} with {each}"
        verbs = (" trains fastest:", " takes longest:")

        def said(r: dict[str, Any], verb: str) -> str:
            mwh, t = r.get("facility_mwh"), r.get("co2e_t")
            return (f"{r['model']}{verb} {fmt.duration(r['wall_days'] * 86400)}, {fmt.usd(r.get('cost_usd'))}, "
                    f"{fmt.energy_mwh(None if mwh is None else mwh * 3.6e9)}, {fmt.mass_kg(None if t is None else t * 1e3)} CO2e")
    else:
        where = (f"For {fmt.num(d['demand_rps'])} requests/s × {d['output_tokens']:,} output tokens "
                 f"({fmt.num(d['demand_rps'] * d['output_tokens'])} output tokens/s)")
        verbs = (" is cheapest:", " is dearest:") if priced else (" draws the least power:", " draws the most:")

        def said(r: dict[str, Any], verb: str) -> str:
            mw, usd = r.get("facility_mw"), r.get("usd_per_million_tokens")
            price = "" if usd is None else f" {fmt.usd(usd)} per million output tokens,"
            return (f"{r['model']} on {r['hardware']}{verb}{price} {fmt.count(r.get('devices'))} devices, "
                    f"{fmt.power_w(None if mw is None else mw * 1e6)}")
    if not ok:
        return f"{where}, none of the {len(rows):,} options can run: see 'Why not' in the table."
    if len(ok) == 1:  # nothing to rank: the option's own figures
        text = f"{where}, {said(ok[0], ':')}"
    else:
        text = f"{where}, {said(ok[0], verbs[0])}; {said(ok[-1], verbs[1])}"
    out = len(rows) - len(runs)
    unranked = len(runs) - len(ok)  # they run, but the measure is unknown (a device with no rental price)
    text += f"; {out:,} of {len(rows):,} options cannot run (see 'Why not' in the table)" if out else ""
    text += f"; {unranked:,} {'has' if unranked == 1 else 'have'} no {'wall time' if training else 'price'}" if unranked else ""
    return text + "."


def _charts(rows: list[dict[str, Any]], label_of, metrics: list[tuple[str, str, str]], key: str) -> None:
    labels = [label_of(r) for r in rows]
    scales = column_scales(rows)
    for i in range(0, len(metrics), 2):
        cols = st.columns(2)
        for col, (k, title, unit) in zip(cols, metrics[i:i + 2]):
            factor, unit = scales.get(k, (1.0, unit))
            vals = [None if r.get(k) is None else r[k] * factor for r in rows]
            col.plotly_chart(charts.bars(labels, vals, title=title, y_title=unit, log=True), width="stretch", key=f"{key}_{k}")


def render() -> None:
    st.title("Compare")
    st.caption("Small vs large vs mixture-of-experts, edge vs data center: the same training budget or the same serving demand.")
    w.seed_inputs_from_link(MODE_LINK)
    mode = st.radio(w.labelled(P + "mode", "Compare for"), list(MODES), format_func=MODES.get, horizontal=True, key=P + "mode",
                    help="Training: every model trains on the same cluster for the same tokens. Serving: every model x "
                         "hardware option serves the same requests per second.")
    training = mode == "training"
    module, fn = ("costsim.api.train", "train") if training else ("costsim.api.serve", "serve")
    link = train_link() if training else serve_link()
    link_mode = st.query_params.get("for", "training")
    if link_mode not in MODES:  # refused above (said, with the mode left at training): the rest of the link is training's
        link_mode = "training"
    if link_mode == mode:  # the address bar's inputs are its own mode's ('hardware' is in both)
        w.seed_inputs_from_link(link)
    with st.sidebar:
        st.header("Training budget" if training else "Serving demand")
        d = train_inputs() if training else serve_inputs()
    # the address bar is a share link for this mode's inputs (the other mode's leave it)
    w.share_inputs({**MODE_LINK, **link}, page_names=tuple({*train_link(), *serve_link()}))
    why = compute.available(module, fn)
    if why:
        st.info(f"{'Training' if training else 'Serving'} estimates are not available yet: {why}.")
        return
    if blank := blank_error():  # an emptied box: said by its label, nothing compared (it read 0)
        st.error(blank)
        return
    if not d["models"] or not (training or d["hardware"]):
        st.info("Choose at least one model" + ("" if training else " and one hardware") + " in the sidebar to compare.")
        return
    try:
        rows = train_rows(d) if training else serve_rows(d)
    except InputError as exc:  # an input every option shares: said once, in the page's words
        w.show_error(exc)
        return
    st.session_state["compare_rows"] = rows
    st.markdown(f"**{answer(rows, d, training)}**")  # the answer first, as on the other pages
    if training:
        table(rows)
        _charts([r for r in rows if r.get("feasible")], lambda r: r["model"],
                [("wall_days", "Wall time", "days"), ("facility_mwh", "Facility energy", "MWh"),
                 ("cost_usd", "Cost", "USD"), ("co2e_t", "CO2e", "t")], "cmp_train")
    else:
        st.caption(f"Demand: {fmt.num(d['demand_rps'])} requests/s × {d['output_tokens']} output tokens = "
                   f"{fmt.num(d['demand_rps'] * d['output_tokens'])} output tokens/s. CO2e uses the grid intensity above.")
        table(rows)
        _charts([r for r in rows if r.get("feasible")], lambda r: f"{r['model']} @ {r['hardware']}",
                [("devices", "Devices for the demand", "devices"), ("facility_mw", "Facility power", "MW"),
                 ("usd_per_million_tokens", "$ per million tokens", "USD"), ("co2e_kg_per_million_tokens", "CO2e per million tokens", "kg")],
                "cmp_serve")


if __name__ == "__main__":
    render()
