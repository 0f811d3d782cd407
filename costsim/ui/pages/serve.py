"""Serve: model x hardware x precision x load x SLOs -> capacity, throughput-latency, $/M tokens, J/token."""

from __future__ import annotations

import math
from typing import Any

import streamlit as st

from costsim.api.catalog import device_noun
from costsim.report.answers import layout_text, serve_answer
from costsim.report.fmt import plural, power_cap_text, power_limit_text
from costsim.specs.base import validate_spec
from costsim.specs.requests import ServeRequest
from costsim.specs.site import EconomicsSpec, FacilitySpec
from costsim.ui.numbers import number_box
from costsim.ui import charts, compute, fmt, widgets as w

P = "serve_"
BATCH_OPTIONS: list[Any] = ["max", "fill", 1, 2, 4, 8, 16, 32, 64, 128, 256, 512]
BATCH_WORDS = {"max": "max (best throughput that fits)", "fill": "fill (every sequence the engine admits; one replica)"}
#: GPU budgets (or GPUs per replica) the page offers: powers of two and the counts between them a planner holds (a node
#: part-used, 12 / 24 / 48, an NVL72 rack); a share link or a budget of 7 had fallen back to 'auto'
GPU_OPTIONS: list[Any] = [1, 2, 3, 4, 5, 6, 7, 8, 12, 16, 24, 32, 48, 64, 72, 96, 128, 256, 512]
LAYOUT_OPTIONS: list[Any] = [1, 2, 4, 8, 16, 32, 64]  # tp / pp / ep of one replica
TOP_K_OPTIONS: list[Any] = [0, 1, 20, 40, 50, 64, 100]


def to_state(r: ServeRequest) -> dict[str, Any]:
    return {P + "model": r.model, P + "hardware": r.hardware, P + "gpus": w.AUTO if r.gpus is None else r.gpus,
            P + "deployment_search": r.deployment_search, P + "engine": r.engine,
            P + "top_k": w.AUTO if r.top_k is None else r.top_k,
            P + "weight_precision": w.AUTO if r.weight_precision is None else r.weight_precision,
            P + "kv_precision": w.AUTO if r.kv_precision is None else r.kv_precision,
            P + "batch": r.batch, P + "input_tokens": r.input_tokens, P + "output_tokens": r.output_tokens,
            P + "output_tokens_cv": r.output_tokens_cv,
            P + "ttft_ms": None if r.ttft_slo_s is None else r.ttft_slo_s * 1e3,
            P + "tpot_ms": None if r.tpot_slo_s is None else r.tpot_slo_s * 1e3, P + "requests": r.requests,
            P + "max_num_seqs": r.max_num_seqs, P + "power_cap": r.power_cap_w,
            **{P + k: w.AUTO if getattr(r, k) is None else getattr(r, k) for k in ("tp", "pp", "ep")},
            P + "speculative_tokens": r.speculative_tokens, P + "acceptance_frac": r.acceptance_frac,
            P + "state_precision": w.AUTO if r.state_precision is None else r.state_precision,
            P + "pue": r.facility.pue, P + "usd_per_gpu_hour": r.economics.usd_per_gpu_hour,
            P + "gco2": r.economics.grid_gco2e_per_kwh, P + "elec": r.economics.electricity_usd_per_kwh,
            P + "region": r.region or w.NO_REGION}


def inputs() -> dict[str, Any]:
    d: dict[str, Any] = {}
    with st.sidebar:
        st.header("Serving replica")
        d["model"] = w.model_select(ServeRequest, key=P + "model", default="llama-3-70b")
        d["hardware"] = w.hardware_select(ServeRequest, key=P + "hardware", default="h100-sxm")
        d["deployment_search"] = w.checkbox(ServeRequest, "gpus", key=P + "deployment_search", default=False,
                                            label="Search the best deployment of a GPU budget")
        d["gpus"] = w.select(ServeRequest, "gpus", key=P + "gpus", default=None,
                             label="GPU budget" if d["deployment_search"] else "GPUs per replica", options=GPU_OPTIONS, auto=True)
        if d["deployment_search"] and d["gpus"] is None:
            st.caption("Choose a GPU budget above to search its best deployment; with 'auto' one replica is priced.")
        d["engine"] = w.select(ServeRequest, "engine", key=P + "engine", default="default", label="Serving engine",
                               options=[e["id"] for e in w.engine_catalog()], format_func=w.engine_label)
        d["top_k"] = w.select(ServeRequest, "top_k", key=P + "top_k", default=None, options=TOP_K_OPTIONS, auto=True,
                              label="Sampling top-k (auto = the model's published default)",
                              format_func=lambda k: "none (greedy or top-p)" if k == 0 else f"top-k {k}")
        # auto (as the CLI): the deployment search picks the precision, one replica gets the model's native format (a
        # default that followed the checkbox stayed on its first value: widgets are seeded once)
        d["weight_precision"] = w.select(ServeRequest, "weight_precision", key=P + "weight_precision", default=None,
                                         label="Weight precision", auto=True)
        d["kv_precision"] = w.select(ServeRequest, "kv_precision", key=P + "kv_precision", default=None,
                                     label="KV-cache precision", auto=True)
        d["state_precision"] = w.select(ServeRequest, "state_precision", key=P + "state_precision", default=None,
                                        label="Recurrent-state precision (hybrid Mamba-2 / DeltaNet models)", auto=True)
        d["batch"] = w.select(ServeRequest, "batch", key=P + "batch", default="max", label="Batch (concurrent sequences)",
                              options=BATCH_OPTIONS, format_func=lambda b: BATCH_WORDS.get(b, str(b)))
        with st.expander("Replica layout (auto = searched)"):
            c1, c2, c3 = st.columns(3)
            for col, k, label in ((c1, "tp", "tensor (tp)"), (c2, "pp", "pipeline (pp)"), (c3, "ep", "expert (ep)")):
                with col:
                    d[k] = w.select(ServeRequest, k, key=P + k, default=None, label=label, options=LAYOUT_OPTIONS, auto=True)
        st.header("Load and SLOs")
        d["input_tokens"] = w.number(ServeRequest, "input_tokens", key=P + "input_tokens", default=512,
                                     label="Prompt tokens per request", integer=True, step=128)
        d["output_tokens"] = w.number(ServeRequest, "output_tokens", key=P + "output_tokens", default=256,
                                      label="Output tokens per request", integer=True, step=64)
        d["output_tokens_cv"] = w.number(ServeRequest, "output_tokens_cv", key=P + "output_tokens_cv", default=0.0,
                                         label="Output length spread (std / mean; 0 = all alike)", step=0.25, fmt="%.2f")
        d["ttft_slo_s"] = w.number(ServeRequest, "ttft_slo_s", key=P + "ttft_ms", default=None, scale=1e-3,
                                   label="TTFT limit, ms", step=100.0, placeholder="none")
        d["tpot_slo_s"] = w.number(ServeRequest, "tpot_slo_s", key=P + "tpot_ms", default=None, scale=1e-3,
                                   label="TPOT limit, ms", step=5.0, placeholder="none")
        d["requests"] = w.number(ServeRequest, "requests", key=P + "requests", default=None, label="Offline job, requests",
                                 integer=True, step=1000, placeholder="none")
        d["max_num_seqs"] = w.number(ServeRequest, "max_num_seqs", key=P + "max_num_seqs", default=None,
                                     label="Engine max sequences (max_num_seqs)", integer=True, step=64, placeholder="what memory holds")
        d["power_cap_w"] = w.number(ServeRequest, "power_cap_w", key=P + "power_cap", default=None,
                                    label="GPU power limit, W", step=50.0, placeholder="the TDP")
        with st.expander("Speculative decoding (MTP / EAGLE)"):
            d["speculative_tokens"] = w.number(ServeRequest, "speculative_tokens", key=P + "speculative_tokens", default=None,
                                               label="Draft tokens per step", integer=True, step=1, placeholder="none")
            d["acceptance_frac"] = w.number(ServeRequest, "acceptance_frac", key=P + "acceptance_frac", default=None,
                                            label="Acceptance rate per draft token (0-1)", step=0.05, fmt="%.2f",
                                            placeholder="e.g. 0.85")
        d["demand_rps"] = number_box(w.labelled(P + "demand", "Demand, requests/s"), key=P + "demand", default=100.0,
                                     min_value=0.0, max_value=w.MAX_DEMAND_RPS, step=5.0,
                                     help="Requests per second the fleet must serve; with the output tokens per "
                                          "request this sets how many replicas are needed.")
        with st.expander("Facility and prices"):
            d["pue"] = w.number(FacilitySpec, "pue", key=P + "pue", default=1.2, label="PUE", step=0.05)
            d["usd_per_gpu_hour"] = w.number(EconomicsSpec, "usd_per_gpu_hour", key=P + "usd_per_gpu_hour", default=None,
                                             label="Rental, $/GPU-hour", step=0.25, placeholder="hardware profile midpoint")
            d.update(w.energy_rate_inputs(P, ServeRequest, elec_default=0.08, gco2_default=400.0))
    return d


def build_request(d: dict[str, Any]) -> ServeRequest:
    facility = validate_spec(FacilitySpec, {"pue": d["pue"]}, what="facility")
    economics = validate_spec(EconomicsSpec, w.economics_data(d), what="economics")
    data = {k: d[k] for k in ("region", "model", "hardware", "gpus", "weight_precision", "kv_precision", "batch", "input_tokens",
                              "output_tokens", "output_tokens_cv", "ttft_slo_s", "tpot_slo_s", "engine", "top_k", "requests",
                              "max_num_seqs", "speculative_tokens", "acceptance_frac", "state_precision", "tp", "pp", "ep",
                              "power_cap_w")
            if k in d}
    search = bool(d.get("deployment_search")) and d.get("gpus") is not None
    data.update(facility=facility, economics=economics, single_replica=not search)
    return validate_spec(ServeRequest, data, what="serving request")


def capacity(res: dict[str, Any], d: dict[str, Any]) -> dict[str, Any] | None:
    """Replicas for the demand: ceil(demand output tokens/s / replica throughput)."""
    dep = res.get("deployment") or {}
    thr = (res.get("per_replica") or {}).get("throughput_tokens_per_s") if dep else res.get("throughput_tokens_per_s")
    if not thr or not d["demand_rps"]:
        return None
    need = d["demand_rps"] * d["output_tokens"]
    replicas = math.ceil(need / thr)
    gpus_per = dep.get("gpus_per_replica") or res.get("gpus") or res.get("num_gpus") or d["gpus"] or (res.get("parallelism") or {}).get("gpus")
    out = {"demand_tokens_per_s": need, "replicas": replicas, "gpus": replicas * gpus_per if gpus_per else None}
    if res.get("facility_energy_per_token_j") is not None:
        out["facility_power_w"] = need * res["facility_energy_per_token_j"]
    return out


def show(res: dict[str, Any], d: dict[str, Any]) -> None:
    if not res.get("feasible", True):
        w.show_error(f"Not feasible: {res.get('reason') or 'no reason given'}")
    for warn in res.get("warnings") or []:
        st.warning(warn)
    dep = res.get("deployment")
    if dep:
        show_deployment(res)
    else:
        if res.get("feasible", True):
            st.markdown(f"**{serve_answer(res)}**")  # the answer first, as the CLI's
        w.rates_caption(res)
        w.trust_caption(res)
    c = st.columns(4)
    shown = lambda v: "—" if v is None else f"{v:,}" if isinstance(v, int) else str(v)  # noqa: E731
    c[0].metric("Batch used / max", f"{shown(res.get('batch'))} / {shown(res.get('max_batch'))}")
    rep_thr = (res.get("per_replica") or {}).get("throughput_tokens_per_s") if dep else res.get("throughput_tokens_per_s")
    c[1].metric("Throughput per replica", fmt.with_unit(rep_thr, "tok/s"),
                help="Output tokens per second of one replica over whole requests, prefill included.")
    c[2].metric("TTFT", fmt.duration(res.get("ttft_s")))
    c[3].metric("TPOT", fmt.duration(res.get("tpot_s")))
    c = st.columns(4)
    gpu = device_noun(str(res.get("hardware") or ""))
    idle = res.get("idle_gpus") or {}
    idle_help = (f" Includes the {plural(idle['gpus'], gpu)} of the budget no replica uses, at idle power "
                 f"({fmt.usd(idle.get('cost_usd_per_million_tokens'))} of it)." if idle.get("gpus") else "")
    c[0].metric("$ per million tokens", fmt.usd(res.get("cost_usd_per_million_tokens")),
                help=("Output tokens." + idle_help))
    gpu_title = gpu[0].upper() + gpu[1:]
    c[1].metric(f"{gpu_title} energy per token", fmt.with_unit(res.get('gpu_energy_per_token_j'), "J"), help="Accelerators only.")
    c[2].metric("Facility energy per token", fmt.with_unit(res.get('facility_energy_per_token_j'), "J"),
                help="Accelerators + host share + PUE.")
    c[3].metric(f"Memory per {gpu}", fmt.bytes_(res.get("memory_per_gpu_bytes")),
                help=(f"Weights, KV cache and workspace (GB = 10^9 bytes) of the {fmt.bytes_(res.get('memory_usable_per_gpu_bytes'))} "
                      "the engine may fill. Device memory is what the driver reports: vendors round it, an H100 '80GB' "
                      "holds 85.5 GB."))
    cap = capacity(res, d)
    if cap:
        c = st.columns(4)
        c[0].metric("Replicas for the demand", fmt.count(cap["replicas"]))
        c[1].metric(f"{gpu_title}s for the demand", fmt.count(cap["gpus"]))
        c[2].metric("Facility power for the demand", fmt.power_w(cap.get("facility_power_w")),
                    help="Demand tokens/s x facility energy per token (at this replica's batch).")
        c[3].metric("Demand", fmt.with_unit(cap['demand_tokens_per_s'], "tok/s"))
    job = res.get("job")
    if job:
        how = (f"{plural(job['waves'], 'wave')} of the batch" if job.get("scheduler", "waves") == "waves" else
               f"paged KV cache, up to {fmt.count(job['max_num_seqs'])} sequences, {fmt.count(job['preemptions'])} preempted and recomputed")
        st.markdown(f"**Offline job of {fmt.count(job['requests'])} requests queued at once** "
                    f"({how} on the busiest of {plural(job['replicas'], 'replica')})")
        c = st.columns(4)
        c[0].metric("Job wall time", fmt.duration(job["wall_time_s"]), help="First prompt to last token of the busiest replica.")
        c[1].metric("Job facility energy", fmt.energy_mwh(job["facility_energy_j"]), help="Accelerators + host + fabric, times PUE.")
        c[2].metric("Job cost", fmt.usd(job["cost_usd"]), help=f"Rental or capex share plus electricity, every {gpu} of the budget.")
        c[3].metric("Job emissions", fmt.mass_kg(job["co2e_kg"]), help="Operational plus embodied CO2e.")
    lay = res.get("layout") or {}
    if lay:
        st.markdown("**Replica:** " + " · ".join(f"{k}={v}" for k, v in lay.items() if k != "searched" and v is not None) +
                    (" (searched)" if lay.get("searched") else "") +
                    f" · weights {res.get('weight_precision', '—')}, KV cache {res.get('kv_precision', '—')}, "
                    f"compute {res.get('compute_dtype', '—')}")
    if res.get("speculative_tokens"):
        st.caption(f"Speculative decoding: {res['speculative_tokens']} draft token(s) per step at "
                   f"{res['acceptance_frac']:.0%} acceptance, {res['tokens_per_step']:.2f} tokens per sequence per verify "
                   "step; TPOT and throughput are per generated token.")
    if res.get("state_precision"):
        st.caption(f"Recurrent state: {fmt.bytes_(res['linear_state_bytes_per_sequence'])} per sequence at "
                   f"{res['state_precision']}, held whatever the context and read and rewritten every decode step.")
    if text := power_cap_text(res):
        st.caption(text + " GPU power is capped.")
    if text := power_limit_text(res):
        st.caption("Power limit: " + text)
    if res.get("curve"):
        st.plotly_chart(charts.throughput_latency(res["curve"], tpot_slo_s=d["tpot_slo_s"], chosen_batch=res.get("batch")),
                        width="stretch", key="serve_curve")
    w.assumptions_box(res.get("assumptions"))
    with st.expander("Full result (JSON)"):
        st.json({k: v for k, v in res.items() if k != "curve"}, expanded=False)


def show_deployment(res: dict[str, Any]) -> None:
    """The chosen deployment of the GPU budget, its one-sentence answer and the runners-up."""
    dep = res["deployment"]
    gpu = device_noun(str(res.get("hardware") or ""))
    # the answer first, as the CLI's and the single replica's (a heading named the layout without throughput or $)
    st.markdown(f"**{serve_answer(res)}**")
    c = st.columns(4)
    c[0].metric("Throughput, whole deployment", fmt.with_unit(res.get('throughput_tokens_per_s'), "tok/s"),
                help="Output tokens per second of all replicas together.")
    c[1].metric(f"Replicas x {gpu}s", f"{dep['replicas']} x {dep['gpus_per_replica']}")
    c[2].metric("Batch per replica", fmt.count(dep.get("batch_per_replica")))
    c[3].metric("Engine", str(res.get("engine")))
    if (dep.get("scaleup_domains_per_replica") or 1) > 1:
        st.caption(f"Each replica spans {dep['scaleup_domains_per_replica']} scale-up domains (NVLink domains or servers): "
                   "what passes between them, the expert token exchange or the pipeline hand-offs, crosses the network.")
    w.rates_caption(res)
    w.trust_caption(res)
    ups = res.get("runners_up") or []
    if ups:
        st.markdown("**Runners-up**")
        rows = [{f"Replicas x {gpu}s": f"{u['replicas']} x {u['gpus_per_replica']}", "Layout": layout_text(u),
                 "Weights": u["weight_precision"], "Batch per replica": u["batch_per_replica"],
                 "Throughput, tok/s": round(u["throughput_tokens_per_s"]), "TPOT, ms": round(1e3 * u["tpot_s"], 1),
                 "$ per M tokens": None if u.get("usd_per_million_tokens") is None else round(u["usd_per_million_tokens"], 3),
                 **({"Offline job time": fmt.duration(u["job_wall_time_s"])} if "job_wall_time_s" in u else {})}
                for u in ups]
        st.dataframe(rows, hide_index=True, column_config=w.grouped_number_columns(rows))  # 147,000 tok/s, not 147000


def render() -> None:
    st.title("Serve a model")
    st.caption("Capacity, latency, dollars and joules per token of one serving replica, and the fleet a demand needs.")
    d, _, res = w.request_and_result("serve", ServeRequest, to_state, inputs, build_request, compute.serve,
                                     extras={"demand": (P + "demand", 0.0, w.MAX_DEMAND_RPS)})
    if res is not None:
        show(res, d)


if __name__ == "__main__":
    render()
