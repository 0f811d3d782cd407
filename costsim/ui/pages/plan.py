"""Plan: which model size and token count reach a quality target and serve a lifetime demand at the least
$, MWh, tCO2e or peak MW (costsim.api.plan), under every published loss-law fit."""

from __future__ import annotations

import math
from typing import Any

import plotly.graph_objects as go
import streamlit as st

from costsim.api.plan_text import usd_m
from costsim.api.trust import band_sentence
from costsim.errors import InputError
from costsim.numtext import count
from costsim.power.signals import available_regions
from costsim.report.charts import PALETTE, SYMBOLS
from costsim.specs.plan import FIT_IDS, PlanRequest
from costsim.ui.guard import guarded_run
from costsim.ui import widgets as w
from costsim.ui.numbers import blank_error, number_box

P = "plan_"
TRAIN_HW = ["h100-sxm", "h200", "b200", "gb200", "b300", "a100-80gb-sxm", "mi300x", "tpu-v5p"]
SERVE_HW = ["h100-sxm", "h200", "b200", "gb200", "a100-80gb-sxm", "mi300x", "l40s", "tpu-v6e"]

st.title("Plan to a quality target")
st.caption("Which model size N and training tokens D reach the loss you need and serve your lifetime demand at the least "
           "cost, training and serving counted together. Loss laws: Hoffmann et al. 2022, Besiroglu et al. 2024, "
           "Muennighoff et al. 2023; sizes priced by costsim's training and inference cores.")


@st.cache_data(show_spinner="pricing model sizes with the cores ...", max_entries=64)
def _plan(req_json: str) -> dict[str, Any]:
    from costsim.api.plan import plan

    # the server-wide cap on concurrent runs applies; cached answers (most reruns) do not count against a session
    return guarded_run({}, lambda: plan(PlanRequest.model_validate_json(req_json)).to_dict(), what="plan")


def _money(x: float | None) -> str:
    """Dollars in the answer's units ($92k, $1.31M; it wrote $0.092M beside an answer of $92k)."""
    return "-" if x is None else usd_m(x)


def _mwh(x: float | None) -> str:
    """Facility energy in MWh; '-' where there is none (an option the cores could not price read 'nan MWh')."""
    return "-" if x is None or not math.isfinite(x) else f"{x / 3.6e9:,.4g} MWh"


def _size(x: float | None) -> str:
    """A parameter or token count as the answer writes it (293M, 1.86T; a 83.5M-token plan read 0.0 in 'tokens (T)')."""
    return "-" if x is None else count(x)


LIFETIMES = [1e10, 1e11, 1e12, 1e13, 1e14, 1e15]
TPOT_CHOICES = [0.0, 0.1, 0.05, 0.03]  # 0: no limit (a None option reads as 'Choose an option' once a link sets it)


def _tpot_text(x: float) -> str:
    return "none (fleet at its highest-throughput batch)" if not x else f"{x * 1000:.0f} ms"


def to_state(r: PlanRequest) -> dict[str, Any]:
    """A share link's request as this page's widget values; a value the page has no choice for is refused by name."""
    for what, value, choices, said in (("Lifetime tokens served", r.lifetime_tokens, LIFETIMES, count),
                                       ("Training hardware", r.train_hardware, TRAIN_HW, str),
                                       ("Serving hardware", r.serve_hardware, SERVE_HW, str),
                                       ("Serving latency limit (time per output token)", r.tpot_slo_s or 0.0, TPOT_CHOICES,
                                        _tpot_text)):
        if value not in choices:  # 20T, not 2e+13 beside (10000000000.0, ...)
            given = "none" if value is None else said(value)  # a link without it crashed the page (count(None))
            raise InputError(f"{what} {given} is not one of this page's choices ({', '.join(said(c) for c in choices)}).")
    for what, value, lo, hi in (("Target loss (nats/token)", r.target_loss, 1.0, 5.0), ("Training GPUs", r.train_gpus, 8, 100_000),
                                ("Demand peak / mean", r.peak_to_mean, 1.0, 100.0)):
        if value is None or not lo <= value <= hi:
            raise InputError(f"{what} {value} is outside this page's range ({lo:g} to {hi:g}); `costsim plan` takes it.")
    return {P + "loss": r.target_loss, P + "life": r.lifetime_tokens, P + "fit": r.fit, P + "obj": r.objective,
            P + "thw": r.train_hardware, P + "shw": r.serve_hardware, P + "gpus": r.train_gpus, P + "mode": r.mode,
            P + "peak": r.peak_to_mean, P + "tpot": r.tpot_slo_s or 0.0}


w.seed_from_link("plan", PlanRequest, to_state)  # the widgets below take their defaults only where the link set nothing
c1, c2, c3, c4 = st.columns(4)
target = number_box("Target loss (nats/token)", key=P + "loss", default=2.0, where=c1, min_value=1.0, max_value=5.0, step=0.01,
                    help="Cross-entropy loss under the chosen fit's data; lower is better. Llama-3-8B-scale models sit near 2.0.")
lifetime = c2.select_slider("Lifetime tokens served", options=LIFETIMES, key=P + "life", **w.first_value(P + "life", 1e13),
                            format_func=lambda x: f"{count(x)} tokens", help="Input + output tokens over the model's serving life.")
fit = c3.selectbox("Loss-law fit", FIT_IDS, key=P + "fit", **w.first_value(P + "fit", FIT_IDS.index("besiroglu2024"), "index"),
                   help="The published fits disagree by ~3x on the answer; every fit is shown below.")
objective = c4.selectbox("Minimize", ["usd", "mwh", "co2e", "peak_mw"], key=P + "obj",
                         format_func={"usd": "dollars", "mwh": "energy (MWh)", "co2e": "CO2e", "peak_mw": "peak MW"}.get)
c5, c6, c7, c8 = st.columns(4)
train_hw = c5.selectbox("Training hardware", TRAIN_HW, key=P + "thw")
serve_hw = c6.selectbox("Serving hardware", SERVE_HW, key=P + "shw")
gpus = number_box("Training GPUs", key=P + "gpus", default=4096, where=c7, integer=True, min_value=8, max_value=100_000, step=512)
mode = c8.selectbox("Accounting", ["cost", "flops"], key=P + "mode", format_func={"cost": "priced by the cores", "flops": "FLOPs (papers)"}.get)
c9, c10 = st.columns([3, 1])
peak = number_box("Demand peak / mean", key=P + "peak", default=1.0, where=c10, min_value=1.0, max_value=100.0, step=0.5,
                  help="The serving fleet is sized for the peak; the extra capacity is paid for and idles off-peak "
                       "(chat traffic's daily peak is typically 2-3x its mean).")
tpot = c9.selectbox("Serving latency limit (time per output token)", TPOT_CHOICES, key=P + "tpot",
                    format_func=_tpot_text,
                    help="The deployment search prices the serving fleet at the largest batch that meets it: a tight limit "
                         "costs batch, so GPUs, and favours smaller models.")

st.session_state[w.LABELS_KEY] = {"target_loss": "Target loss (nats/token)", "train_gpus": "Training GPUs",
                                  "lifetime_tokens": "Lifetime tokens served", "peak_to_mean": "Demand peak / mean",
                                  "tpot_slo_s": "Serving latency limit (time per output token)",
                                  "train_hardware": "Training hardware", "serve_hardware": "Serving hardware"}
w.show_link_notes()
if blank := blank_error():  # an emptied box: said by its label, nothing planned (it read the box's minimum)
    st.error(blank)
    st.stop()
try:
    req = PlanRequest(target_loss=float(target), lifetime_tokens=float(lifetime), fit=fit, objective=objective, mode=mode,
                      train_hardware=train_hw, serve_hardware=serve_hw, train_gpus=int(gpus), compare=["llama-3-8b", "llama-2-70b"],
                      tpot_slo_s=tpot or None, peak_to_mean=float(peak))
except InputError as exc:
    w.show_error(exc)
    st.stop()
w.share_box("plan", req)
try:
    r = _plan(req.model_dump_json())
except InputError as exc:
    w.show_error(exc)
    st.stop()

if not r["feasible"]:
    st.warning(w.in_page_words(f"Not feasible: {r['reason']}"))
    st.stop()
st.markdown(f"**{r['answer']}**")
tot = r.get("total") or {}
m = st.columns(5)
m[0].metric("Parameters", count(r["params"]))
m[1].metric("Training tokens", count(r["training_tokens"]), help=f"{r['tokens_per_param']:.0f} tokens per parameter")
m[2].metric("Total cost", _money(tot.get("usd")))
m[3].metric("Total energy", _mwh(tot.get("facility_energy_j")))
m[4].metric("Total CO2e", "-" if tot.get("co2e_kg") is None else f"{tot['co2e_kg'] / 1000:,.4g} t")
for name, band in (r.get("error_bands") or {}).items():
    if text := band_sentence(band, name):
        st.caption(text)

options = [("this plan", r)] + ([("compute-optimal, same loss", r["compute_optimal"])] if r.get("compute_optimal") else []) + \
    ([(r["same_loss_best"]["label"], r["same_loss_best"])] if r.get("same_loss_best") else []) + \
    [(c["label"], c) for c in r.get("compare") or []]
rows = []
for label, c in options:
    t = c.get("total") or {}
    rows.append({"option": label, "parameters": _size(c["params"]), "training tokens": _size(c["training_tokens"]),
                 "loss": round(c["loss"], 4), "training": _money((c.get("training") or {}).get("usd")),
                 "serving": _money((c.get("serving") or {}).get("usd")), "total": _money(t.get("usd")), "energy": _mwh(t.get("facility_energy_j"))})
st.dataframe(rows, hide_index=True, width="stretch", column_config=w.grouped_number_columns(rows))
st.subheader("The same question under every fit")
st.dataframe([{"fit": fid, "parameters": _size(c["params"]), "training tokens": _size(c["training_tokens"]),
               "total": _money((c.get("total") or {}).get("usd"))} for fid, c in r["by_fit"].items() if c], hide_index=True, width="stretch")
for fid, why in (r.get("by_fit_reasons") or {}).items():  # a fit without an answer says why (its row is left out)
    if fid != r.get("fit"):
        st.caption(f"{fid}: {why}")
fr = r.get("frontier") or []
if fr and mode == "cost":
    fig = go.Figure(go.Scatter(x=[row["loss"] for row in fr], y=[row["total_usd"] / 1e6 for row in fr], mode="lines+markers",
                               line=dict(color="#0072B2"), name="least total cost at each loss"))
    for j, (lab, c) in enumerate(options):
        usd = (c.get("total") or {}).get("usd")
        if usd is not None:
            fig.add_trace(go.Scatter(x=[c["loss"]], y=[usd / 1e6], mode="markers", name=lab,
                                     marker=dict(size=11, symbol=SYMBOLS[j % len(SYMBOLS)], color=PALETTE[1 + j % (len(PALETTE) - 1)])))
    fig.update_layout(title="Quality vs lifetime cost (the frontier)", xaxis_title="loss, nats/token (lower is better)",
                      yaxis_title="total cost, $M", template="plotly_white", height=380)
    st.plotly_chart(fig, width="stretch", key=P + "frontier")


@st.cache_data(show_spinner="planning every combination ...", max_entries=16)
def _compare(req_json: str, trains: tuple[str, ...], serves: tuple[str, ...], regions: tuple[str, ...]) -> dict[str, Any]:
    from costsim.api.plan_compare import compare_plans

    req = PlanRequest.model_validate_json(req_json)
    return guarded_run({}, lambda: compare_plans(req, train_hardware=list(trains), serve_hardware=list(serves),
                                                 regions=list(regions) or [None]).to_dict(), what="plan comparison")


st.subheader("Which hardware and site?")
st.caption("Plans the same target and demand for every combination of the training hardware, serving hardware and "
           "regions chosen here (about a second each) and ranks them by the objective above.")
k1, k2, k3, k4 = st.columns(4)
cmp_train = k1.multiselect("Training hardware to compare", TRAIN_HW, default=[train_hw], key=P + "cmp_thw",
                           help="Each is planned with every serving hardware and region chosen beside it.")
cmp_serve = k2.multiselect("Serving hardware to compare", SERVE_HW, default=[serve_hw], key=P + "cmp_shw",
                           help="Each is planned with every training hardware and region chosen beside it.")
cmp_regions = k3.multiselect("Regions to compare", available_regions(), default=["us-pjm-virginia", "fr-france"], key=P + "cmp_reg",
                             help="A region's mean hourly price and carbon price the electricity of both phases.")
pricing = k4.radio("Pricing", ["rental", "purchase"], key=P + "cmp_pricing",
                   help="rental: the GPU-hour price, power included (regions then differ in CO2e only); purchase: capex "
                        "amortized over the hardware's life plus the region's electricity.")
if st.button("Compare", key=P + "cmp_go", disabled=mode != "cost" or not (cmp_train and cmp_serve)):
    try:
        creq = req.model_copy(update={"economics": req.economics.model_copy(update={"pricing": pricing})})
        cr = _compare(creq.model_dump_json(), tuple(cmp_train), tuple(cmp_serve), tuple(cmp_regions))
    except InputError as exc:
        w.show_error(exc)
        st.stop()
    (st.markdown if cr["feasible"] else st.warning)(cr["answer"] if cr["feasible"] else f"Not feasible: {cr['reason']}")
    st.dataframe([{"training hardware": o["train_hardware"], "serving hardware": o["serve_hardware"],
                   "region": o["region"] or "default prices", "parameters": _size(o["params"]) if o["feasible"] else "-",
                   "total": _money(o["total_usd"]) if o["feasible"] else "-", "energy": _mwh(o["total_facility_energy_j"]) if o["feasible"] else "-",
                   "CO2e (t)": round(o["total_co2e_kg"] / 1000, 2) if o["feasible"] and o["total_co2e_kg"] is not None else None,
                   "vs best": f"{100 * o['vs_best_frac']:+.0f} %" if o.get("vs_best_frac") is not None else "-",
                   "why not": o["reason"] or ""} for o in cr["options"]], hide_index=True, width="stretch")
elif mode != "cost":
    st.caption("FLOP accounting prices no hardware or region: choose 'priced by the cores' to compare them.")
