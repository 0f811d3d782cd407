"""Scenario page: the uncertainty study of a scenario with an `uncertainty:` section (P10/P50/P90
bands and Sobol' indices, closed-form cores, batched). The study runs through
costsim.sweep.uncertainty.study; the charts and the sentence come from costsim.report.uncertainty."""

from __future__ import annotations

import json
import tempfile
from typing import Any

import streamlit as st

from costsim.errors import InputError
from costsim.report.fmt import plural
from costsim.specs.scenario import Scenario, scenario_hash
from costsim.ui.guard import guarded_run

P = "unc_"
SAMPLE_CHOICES = (32, 64, 128, 256, 512, 1024)
APP_MAX_WALL_S = 120.0  # the app is shared: a study estimated to take longer is refused (the CLI allows more)


@st.cache_data(show_spinner=False, max_entries=16)
def _study(scenario_json: str, samples: int, sampler: str, sensitivity: bool) -> dict[str, Any]:
    from costsim.sweep.uncertainty import study

    s = Scenario.model_validate_json(scenario_json)
    with tempfile.TemporaryDirectory(prefix="costsim-uq-") as tmp:
        doc = study(s, out=tmp, samples=samples, sampler=sampler, sensitivity=sensitivity, max_wall_s=APP_MAX_WALL_S, source="app")
    doc.pop("store", None)
    return json.loads(json.dumps(doc, default=str))


def render_uncertainty(s: Scenario) -> None:
    """The 'Uncertainty' section (nothing when the scenario has no uncertainty section)."""
    spec = s.uncertainty
    if spec is None:
        return
    from costsim.report.uncertainty import _top_driver, _val, conclusion, driver_text, indices_chart, metric_label

    st.subheader("Uncertainty")
    st.caption(f"{plural(len(spec.inputs), 'uncertain input')}: " + ", ".join(f"{p} ({d.dist})" for p, d in spec.inputs.items()))
    c1, c2, c3 = st.columns(3)
    default = spec.samples if spec.samples in SAMPLE_CHOICES else 128
    n = c1.selectbox("Samples", SAMPLE_CHOICES, index=SAMPLE_CHOICES.index(default), key=P + "n",
                     help="Base samples (powers of two keep the Sobol' sequence balanced). With sensitivity on, the cores "
                          "run samples x (inputs + 2) points.")
    sampler = c2.selectbox("Sampler", ("sobol", "lhs", "random"), index=("sobol", "lhs", "random").index(spec.sampler), key=P + "sampler",
                           help=type(spec).model_fields["sampler"].description)
    sens = c3.checkbox("Sobol' indices", value=spec.sensitivity, key=P + "sens", help=type(spec).model_fields["sensitivity"].description)
    if st.button("Run uncertainty study", key=P + "btn",
                 help="Draws the inputs, evaluates every point with the closed-form cores (batched), and summarizes."):
        with st.spinner(f"{n * (len(spec.inputs) + 2) if sens else n} points…"):
            try:
                st.session_state[P + "doc"] = {"hash": scenario_hash(s), "doc": guarded_run(
                    st.session_state, lambda: _study(s.model_dump_json(), int(n), sampler, bool(sens)), what="uncertainty study")}
            except InputError as exc:
                st.error(str(exc))
    got = st.session_state.get(P + "doc")
    if not got or got.get("hash") != scenario_hash(s):
        return
    doc = got["doc"]
    st.markdown(f"**{conclusion(doc)}**")
    for v, vd in (doc.get("variants") or {}).items():
        rows = []
        for m, stdy in (vd.get("metrics") or {}).items():
            b = stdy.get("band") or {}
            top = _top_driver(stdy)
            rows.append({"output": metric_label(m), "P10": _val(m, b.get("p10")), "P50": _val(m, b.get("p50")), "P90": _val(m, b.get("p90")),
                         "main driver (total index)": driver_text(top)})
        if len(doc["variants"]) > 1:
            st.markdown(f"*{v}*")
        st.dataframe(rows, width="stretch", hide_index=True)
        shown = 0
        for m, stdy in (vd.get("metrics") or {}).items():
            fig = indices_chart(m, stdy, v if len(doc["variants"]) > 1 else "")
            if fig is not None and shown < 2:
                st.plotly_chart(fig, width="stretch", key=f"{P}chart_{v}_{m}")
                shown += 1
