"""Plan: which model size and token count reach a quality target and serve a lifetime demand at the least
$, MWh, tCO2e or peak MW (costsim.api.plan), under every published loss-law fit."""

from __future__ import annotations

from typing import Any

import plotly.graph_objects as go
import streamlit as st

from costsim.api.trust import band_sentence
from costsim.errors import InputError
from costsim.report.charts import PALETTE, SYMBOLS
from costsim.specs.plan import FIT_IDS, PlanRequest
from costsim.ui.guard import guarded_run

P = "plan_"

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
    return "-" if x is None else f"${x / 1e6:,.3g}M"


def _mwh(x: float | None) -> str:
    return "-" if x is None else f"{x / 3.6e9:,.4g} MWh"


c1, c2, c3, c4 = st.columns(4)
target = c1.number_input("Target loss (nats/token)", min_value=1.0, max_value=5.0, value=2.0, step=0.01, key=P + "loss",
                         help="Cross-entropy loss under the chosen fit's data; lower is better. Llama-3-8B-scale models sit near 2.0.")
lifetime = c2.select_slider("Lifetime tokens served", options=[1e10, 1e11, 1e12, 1e13, 1e14, 1e15], value=1e13, key=P + "life",
                            format_func=lambda x: f"{x:.0e}", help="Input + output tokens over the model's serving life.")
fit = c3.selectbox("Loss-law fit", FIT_IDS, index=FIT_IDS.index("besiroglu2024"), key=P + "fit",
                   help="The published fits disagree by ~3x on the answer; every fit is shown below.")
objective = c4.selectbox("Minimize", ["usd", "mwh", "co2e", "peak_mw"], key=P + "obj",
                         format_func={"usd": "dollars", "mwh": "energy (MWh)", "co2e": "CO2e", "peak_mw": "peak MW"}.get)
c5, c6, c7, c8 = st.columns(4)
train_hw = c5.selectbox("Training hardware", ["h100-sxm", "h200", "b200", "gb200", "b300", "a100-80gb-sxm", "mi300x", "tpu-v5p"], key=P + "thw")
serve_hw = c6.selectbox("Serving hardware", ["h100-sxm", "h200", "b200", "gb200", "a100-80gb-sxm", "mi300x", "l40s", "tpu-v6e"], key=P + "shw")
gpus = c7.number_input("Training GPUs", min_value=8, max_value=100_000, value=4096, step=512, key=P + "gpus")
mode = c8.selectbox("Accounting", ["cost", "flops"], key=P + "mode", format_func={"cost": "priced by the cores", "flops": "FLOPs (papers)"}.get)
tpot = st.selectbox("Serving latency limit (time per output token)", [None, 0.1, 0.05, 0.03], key=P + "tpot",
                    format_func=lambda x: "none (fleet at its highest-throughput batch)" if x is None else f"{x * 1000:.0f} ms",
                    help="The deployment search prices the serving fleet at the largest batch that meets it: a tight limit "
                         "costs batch, so GPUs, and favours smaller models.")

try:
    req = PlanRequest(target_loss=float(target), lifetime_tokens=float(lifetime), fit=fit, objective=objective, mode=mode,
                      train_hardware=train_hw, serve_hardware=serve_hw, train_gpus=int(gpus), compare=["llama-3-8b", "llama-2-70b"],
                      tpot_slo_s=tpot)
    r = _plan(req.model_dump_json())
except InputError as exc:
    st.error(str(exc))
    st.stop()

if not r["feasible"]:
    st.warning(f"Not feasible: {r['reason']}")
    st.stop()
st.markdown(f"**{r['answer']}**")
tot = r.get("total") or {}
m = st.columns(5)
m[0].metric("Parameters", f"{r['params'] / 1e9:.3g}B")
m[1].metric("Training tokens", f"{r['training_tokens'] / 1e12:.3g}T", help=f"{r['tokens_per_param']:.0f} tokens per parameter")
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
    rows.append({"option": label, "parameters (B)": round(c["params"] / 1e9, 2), "tokens (T)": round(c["training_tokens"] / 1e12, 3),
                 "loss": round(c["loss"], 4), "training": _money((c.get("training") or {}).get("usd")),
                 "serving": _money((c.get("serving") or {}).get("usd")), "total": _money(t.get("usd")), "energy": _mwh(t.get("facility_energy_j"))})
st.dataframe(rows, hide_index=True, width="stretch")
st.subheader("The same question under every fit")
st.dataframe([{"fit": fid, "parameters (B)": round(c["params"] / 1e9, 2), "tokens (T)": round(c["training_tokens"] / 1e12, 3),
               "total": _money((c.get("total") or {}).get("usd"))} for fid, c in r["by_fit"].items() if c], hide_index=True, width="stretch")
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
