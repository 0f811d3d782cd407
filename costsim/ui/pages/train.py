"""Train: model x hardware x GPUs x tokens -> time, GPU-hours, MWh, $, CO2e, memory, MFU, best layouts."""

from __future__ import annotations

from typing import Any

import streamlit as st

from costsim.api.train import shown_layout
from costsim.numtext import si
from costsim.report.fmt import host_launch_text, lora_text, moe_load_text
from costsim.specs.base import validate_spec
from costsim.specs.requests import TrainRequest
from costsim.specs.site import EconomicsSpec, FacilitySpec
from costsim.report.answers import train_answer
from costsim.ui import charts, compute, fmt, widgets as w

P = "train_"
DEFAULTS: dict[str, Any] = {
    "model": "llama-3-70b", "hardware": "h100-sxm", "gpus": 1024, "tokens_t": 15.0, "seq_len": 4096,
    "precision": "bf16", "attention_precision": "bf16", "pue": 1.2, "gco2": 400.0, "elec": 0.08,
}
LAYOUT_OPTIONS = {
    "tp": [1, 2, 4, 8, 16], "pp": [1, 2, 4, 8, 16, 32, 64], "cp": [1, 2, 4, 8, 16],
    "ep": [1, 2, 4, 8, 16, 32, 64], "etp": [1, 2, 4, 8, 16], "micro_batch": [1, 2, 4, 8, 16],
    "dp": [1, 2, 4, 8, 16, 32, 64, 128, 256, 512, 1024, 2048], "vp": [1, 2, 3, 4, 5, 6, 8, 10, 12, 16],
}

#: where a LoRA run's adapters sit (TrainRequest.lora_targets values) and how the page names them
LORA_TARGET_CHOICES = {
    "attention": "attention projections (fused QKV + output: MLPerf, NeMo)",
    "all-linear": "every linear layer (fused GEMMs)",
    "q,v": "q and v projections (the LoRA paper; torchtune's 8B recipe)",
    "q,k,v": "q, k and v projections",
    "q,k,v,o": "q, k, v and output projections, one adapter each",
    "q,v,o,gate,up,down": "q, v, output and the MLP (torchtune's 3B recipes)",
    "q,k,v,o,gate,up,down": "every projection, one adapter each (QLoRA's recipe)",
}


#: request fields without a control on this page: a share link's values are kept (and said), never dropped
LINK_ONLY_FIELDS = ("global_batch_tokens", "scaleup_domain_size")


def to_state(r: TrainRequest) -> dict[str, Any]:
    """A request (e.g. from a share link) -> the page's widget values."""
    s = {P + "model": r.model, P + "hardware": r.hardware, P + "gpus": r.gpus,
         P + "tokens_t": None if r.tokens is None else r.tokens / 1e12, P + "seq_len": r.seq_len,
         P + "precision": r.precision, P + "attention_precision": r.attention_precision,
         P + "sequence_parallel": r.sequence_parallel, P + "top_k": r.top_k,
         P + "pue": r.facility.pue, P + "usd_per_gpu_hour": r.economics.usd_per_gpu_hour,
         P + "gco2": r.economics.grid_gco2e_per_kwh, P + "elec": r.economics.electricity_usd_per_kwh,
         P + "region": r.region or w.NO_REGION,
         P + "failure_rate": r.failure_rate_per_gpu_hour, P + "framework": w.AUTO if r.framework is None else r.framework,
         P + "node": w.AUTO if r.node is None else r.node, P + "checkpoint_time_s": r.checkpoint_time_s,
         P + "restart_time_s": r.restart_time_s, P + "recompute_layers": r.recompute_layers,
         P + "power_cap": r.power_cap_w,
         P + "dp_bucket_params": None if r.dp_bucket_params is None else r.dp_bucket_params / 1e6,
         P + "global_batch": r.global_batch, P + "fp4_bf16_layers": r.fp4_bf16_layers, P + "lora_rank": r.lora_rank,
         P + "lora_targets": w.AUTO if r.lora_targets is None else r.lora_targets,
         P + "lora_base_precision": w.AUTO if r.lora_base_precision is None else r.lora_base_precision,
         P + "lora_dropout": r.lora_dropout,
         P + "dropout": w.AUTO if r.dropout is None else r.dropout,
         # fields this page has no control for: kept from a share link, shown, passed on
         **{P + k: getattr(r, k) for k in LINK_ONLY_FIELDS}}
    for k in ("tp", "pp", "cp", "ep", "etp", "dp", "vp", "cp_comm_type", "fp8_activation_store", "ep_overlap", "activation_offload", "ep_dispatcher", "moe_expert_launch", "moe_router_balance", "micro_batch", "recompute", "zero"):
        v = getattr(r, k)
        s[P + k] = w.AUTO if v is None else v
    return s


def inputs() -> dict[str, Any]:
    d: dict[str, Any] = {k: st.session_state.get(P + k) for k in LINK_ONLY_FIELDS}
    with st.sidebar:
        kept = [f"{k.replace('_', ' ')} {d[k]:,}" for k in LINK_ONLY_FIELDS if d[k] is not None]
        if kept:
            st.caption("From the share link (no control on this page; open the page without the link to drop them): "
                       + "; ".join(kept) + ".")
        st.header("Training job")
        d["model"] = w.model_select(TrainRequest, key=P + "model", default=DEFAULTS["model"])
        d["hardware"] = w.hardware_select(TrainRequest, key=P + "hardware", default=DEFAULTS["hardware"])
        d["gpus"] = w.number(TrainRequest, "gpus", key=P + "gpus", default=DEFAULTS["gpus"], label="GPUs", integer=True, step=64)
        nodes = {n["id"]: n for n in w.node_catalog(d["hardware"])}
        d["node"] = w.select(TrainRequest, "node", key=P + "node", default=None, label="Node / system", options=list(nodes),
                             auto=True, format_func=lambda nid: w.node_label(nodes[nid]) if nid in nodes else str(nid))
        d["tokens"] = w.number(TrainRequest, "tokens", key=P + "tokens_t", default=DEFAULTS["tokens_t"],
                               label="Training tokens, trillions", scale=1e12, step=1.0, fmt="%.6g",
                               placeholder="the model's training tokens")
        d["seq_len"] = w.number(TrainRequest, "seq_len", key=P + "seq_len", default=DEFAULTS["seq_len"],
                                label="Sequence length, tokens", integer=True, step=1024)
        d["precision"] = w.select(TrainRequest, "precision", key=P + "precision", default=DEFAULTS["precision"], label="Precision")
        d["attention_precision"] = w.select(TrainRequest, "attention_precision", key=P + "attention_precision",
                                            default=DEFAULTS["attention_precision"], label="Attention precision")
        d["fp4_bf16_layers"] = None
        if d["precision"] == "fp4":  # an NVFP4 recipe may keep some layers in BF16 (the NVFP4 paper: 10 of 62)
            d["fp4_bf16_layers"] = w.number(TrainRequest, "fp4_bf16_layers", key=P + "fp4_bf16_layers", default=None,
                                            label="Layers kept in BF16", integer=True, step=1,
                                            placeholder="none (Megatron-core's default)")
        d["lora_rank"] = w.number(TrainRequest, "lora_rank", key=P + "lora_rank", default=None,
                                  label="LoRA fine-tuning: adapter rank", integer=True, step=8,
                                  placeholder="none (full training)")
        d["lora_targets"] = d["lora_base_precision"] = d["lora_dropout"] = None
        if d["lora_rank"]:  # where the adapters sit: the attention projections (MLPerf, NeMo), every linear layer, or
            # named projections with one adapter each (PEFT, torchtune); the frozen base in NF4 (QLoRA); adapter dropout
            d["lora_targets"] = w.select(TrainRequest, "lora_targets", key=P + "lora_targets", default=None,
                                         label="LoRA adapters on", auto=True, options=list(LORA_TARGET_CHOICES),
                                         format_func=lambda o: LORA_TARGET_CHOICES.get(o, o))
            d["lora_base_precision"] = w.select(TrainRequest, "lora_base_precision", key=P + "lora_base_precision",
                                                default=None, label="Frozen base weights", auto=True,
                                                format_func=lambda o: {"nf4": "NF4, 4-bit (QLoRA)"}.get(o, o))
            d["lora_dropout"] = w.number(TrainRequest, "lora_dropout", key=P + "lora_dropout", default=None,
                                         label="Adapter dropout, probability", step=0.05, fmt="%.2f",
                                         placeholder="the training stack's")
        d["framework"] = w.select(TrainRequest, "framework", key=P + "framework", default=None, label="Training stack",
                                  auto=True)
        with st.expander("Parallel layout (auto = searched)"):
            d["global_batch"] = w.number(TrainRequest, "global_batch", key=P + "global_batch", default=None,
                                         label="Global batch, sequences", integer=True, step=64,
                                         placeholder="about 4M tokens")
            c1, c2 = st.columns(2)
            for i, k in enumerate(("tp", "pp", "cp", "ep", "etp", "micro_batch", "dp", "vp")):
                with (c1 if i % 2 == 0 else c2):
                    d[k] = w.select(TrainRequest, k, key=P + k, default=None,
                                    label={"etp": "expert tp", "vp": "virtual stages (vp)"}.get(k, k.replace("_", " ")),
                                    options=LAYOUT_OPTIONS[k], auto=True)
            with c2:
                d["zero"] = w.select(TrainRequest, "zero", key=P + "zero", default=None, label="ZeRO stage", auto=True)
            d["ep_overlap"] = w.select(TrainRequest, "ep_overlap", key=P + "ep_overlap", default=None,
                                       label="Expert all-to-all overlap", options=[True, False], auto=True,
                                       format_func=lambda on: "on" if on else "off")
            d["activation_offload"] = w.select(TrainRequest, "activation_offload", key=P + "activation_offload",
                                               default=None, label="Activation offload to host memory",
                                               options=[True, False], auto=True,
                                               format_func=lambda on: "on" if on else "off")
            d["ep_dispatcher"] = w.select(TrainRequest, "ep_dispatcher", key=P + "ep_dispatcher", default=None,
                                          label="Expert dispatch", auto=True)
            d["moe_expert_launch"] = w.select(TrainRequest, "moe_expert_launch", key=P + "moe_expert_launch", default=None,
                                              label="Expert MLP launch", auto=True)
            d["moe_router_balance"] = w.select(TrainRequest, "moe_router_balance", key=P + "moe_router_balance", default=None,
                                               label="Router load balancing", auto=True)
            d["cp_comm_type"] = w.select(TrainRequest, "cp_comm_type", key=P + "cp_comm_type", default=None,
                                         label="Context-parallel exchange", auto=True)
            d["fp8_activation_store"] = w.select(TrainRequest, "fp8_activation_store", key=P + "fp8_activation_store",
                                                 default=None, label="Activation-function input in FP8",
                                                 options=[True, False], auto=True,
                                                 format_func=lambda on: "on" if on else "off")
            d["dp_bucket_params"] = w.number(TrainRequest, "dp_bucket_params", key=P + "dp_bucket_params", default=None,
                                             label="Data-parallel bucket, million parameters", scale=1e6, step=64.0,
                                             placeholder="Megatron's default")
            d["recompute"] = w.select(TrainRequest, "recompute", key=P + "recompute", default=None,
                                      label="Activation recompute", auto=True)
            d["recompute_layers"] = None
            if d["recompute"] == "full":  # Megatron's block method: only the first N layers of each stage recompute
                d["recompute_layers"] = w.number(TrainRequest, "recompute_layers", key=P + "recompute_layers", default=None,
                                                 label="Layers recomputed per stage", integer=True, step=1,
                                                 placeholder="all of them")
            d["dropout"] = w.select(TrainRequest, "dropout", key=P + "dropout", default=None, label="Dropout masks",
                                    options=[True, False], auto=True, format_func=lambda on: "kept (dropout)" if on else "none (dropout 0)")
            d["sequence_parallel"] = w.checkbox(TrainRequest, "sequence_parallel", key=P + "sequence_parallel",
                                                default=True, label="Sequence parallel")
            d["top_k"] = w.number(TrainRequest, "top_k", key=P + "top_k", default=5, label="Layouts to list", integer=True)
        d["power_cap_w"] = w.number(TrainRequest, "power_cap_w", key=P + "power_cap", default=None,
                                    label="GPU power limit, W", step=50.0, placeholder="the TDP")
        with st.expander("Facility, prices, reliability"):
            d["pue"] = w.number(FacilitySpec, "pue", key=P + "pue", default=DEFAULTS["pue"], label="PUE", step=0.05)
            d["usd_per_gpu_hour"] = w.number(EconomicsSpec, "usd_per_gpu_hour", key=P + "usd_per_gpu_hour", default=None,
                                             label="Rental, $/GPU-hour", step=0.25, placeholder="hardware profile midpoint")
            d.update(w.energy_rate_inputs(P, TrainRequest, elec_default=DEFAULTS["elec"], gco2_default=DEFAULTS["gco2"]))
            d["failure_rate"] = w.number(TrainRequest, "failure_rate_per_gpu_hour", key=P + "failure_rate", default=None,
                                         label="Failures per GPU-hour", step=1e-5, fmt="%.6f", placeholder="Llama 3 405B rate")
            d["checkpoint_time_s"] = w.number(TrainRequest, "checkpoint_time_s", key=P + "checkpoint_time_s", default=None,
                                              label="Checkpoint write time, s", step=10.0,
                                              placeholder="checkpoint bytes / storage bandwidth")
            d["restart_time_s"] = w.number(TrainRequest, "restart_time_s", key=P + "restart_time_s", default=None,
                                           label="Restart time after a failure, s", step=60.0, placeholder="default")
    return d


def build_request(d: dict[str, Any]) -> TrainRequest:
    facility = validate_spec(FacilitySpec, {"pue": d["pue"]}, what="facility")
    economics = validate_spec(EconomicsSpec, w.economics_data(d), what="economics")
    data = {k: d[k] for k in ("region", "model", "hardware", "gpus", "tokens", "seq_len", "global_batch", "precision", "attention_precision", "tp", "pp", "cp", "ep",
                              "etp", "ep_overlap", "activation_offload", "ep_dispatcher", "moe_expert_launch", "moe_router_balance", "dp_bucket_params", "dropout", "micro_batch", "recompute", "zero", "sequence_parallel", "top_k",
                              "framework", "power_cap_w", "fp4_bf16_layers", "dp", "vp", "lora_rank", "lora_targets",
                              "lora_base_precision", "lora_dropout",
                              "cp_comm_type", "fp8_activation_store", "recompute_layers", *LINK_ONLY_FIELDS) if k in d}
    data.update(failure_rate_per_gpu_hour=d["failure_rate"], checkpoint_time_s=d["checkpoint_time_s"],
                restart_time_s=d["restart_time_s"], node=d["node"], facility=facility, economics=economics)
    return validate_spec(TrainRequest, data, what="training request")


def layout_text(par: dict[str, Any] | None) -> str:
    if not par:
        return "—"
    return " · ".join(f"{k}={v}" for k, v in shown_layout(par).items() if v is not None)


def show(res: dict[str, Any]) -> None:
    if not res.get("feasible", True):
        w.show_error(f"Not feasible: {res.get('reason') or 'no reason given'}")
    for warn in res.get("warnings") or []:
        st.warning(warn)
    if res.get("feasible", True):
        st.markdown(f"**{w.in_page_words(train_answer(res))}**")  # the answer first, as the CLI's
    c = st.columns(5)
    c[0].metric("Wall time", fmt.duration(res.get("wall_time_s")), help="Whole run: compute time / goodput.")
    c[1].metric("GPU-hours", fmt.big(res.get("gpu_hours")))
    c[2].metric("Facility energy", fmt.energy_mwh(res.get("facility_energy_j")), help="IT energy x PUE.")
    c[3].metric("Cost", fmt.usd(res.get("cost_usd")))
    c[4].metric("CO2e", fmt.mass_kg(res.get("co2e_kg")))
    w.rates_caption(res)
    w.trust_caption(res)
    c = st.columns(5)
    c[0].metric("Step time", fmt.duration(res.get("step_time_s")))
    c[1].metric("Tokens/s", fmt.big(res.get("tokens_per_s")))
    c[2].metric("MFU", fmt.frac_pct(res.get("mfu_frac")), help="Model FLOPs utilization: model FLOP/s / peak FLOP/s.")
    c[3].metric("Memory per GPU", fmt.bytes_(res.get("memory_per_gpu_bytes")))
    c[4].metric("Goodput", fmt.frac_pct(res.get("goodput_frac")))
    st.markdown(f"**Layout:** {layout_text(res.get('parallelism'))}"
                + (f" · training stack `{res['framework']}`" if res.get("framework") else ""))
    if res.get("layout_note"):
        st.caption(res["layout_note"])
    if len(res.get("layout_requires") or []) > 3:  # the note names the newest three; every one, as costsim train lists them
        st.caption("Every feature this layout relies on: " + "; ".join(
            f"{q['feature']} ({q['since_year']})" for q in res["layout_requires"]) + ".")
    if lo := lora_text(res):
        st.caption(f"Fine-tuning: {lo}.")
    if res.get("whole_run_note"):
        st.info(f"Whole run not computed: {res['whole_run_note']}")
    if wait := host_launch_text(res):
        st.caption(wait)
    if wait := moe_load_text(res):
        st.caption(wait)
    cap = next((a for a in res.get("assumptions") or [] if a.get("name") == "power_cap_compute_frac"), None)
    if cap is not None:
        st.caption(f"GPU power limit: the GEMMs and attention run at {fmt.frac_pct(cap['value'])} of their speed at the TDP "
                   "(the clock the limit leaves); GPU power is capped, memory-bound kernels and communication are not slowed.")
    if res.get("facility_peak_power_w") is not None:
        st.caption(f"Facility peak power {fmt.power_w(res['facility_peak_power_w'])} · "
                   f"{fmt.big(res.get('num_steps'))} steps · {si(res.get('train_flop'), 'FLOP')}")  # 449 ZFLOP, as train prints it
    top = res.get("top_layouts") or []
    if top:
        st.subheader("Fastest layouts")
        moe = any((r.get("ep") or 1) > 1 for r in top)  # one set of columns for every row
        rows = [fmt.display_row(shown_layout(r, moe)) for r in top]
        st.dataframe(rows, width="stretch", hide_index=True, column_config=w.grouped_number_columns(rows))
    search = res.get("search")
    if search:
        st.caption(f"Search: {fmt.big(search.get('configs_evaluated'))} layouts evaluated, "
                   f"{fmt.big(search.get('feasible_configs'))} feasible, in {fmt.duration(search.get('search_time_s'))}.")
    mem = res.get("memory_breakdown_bytes")
    if isinstance(mem, dict) and mem:
        st.plotly_chart(charts.memory_breakdown(mem, capacity_bytes=res.get("memory_capacity_bytes")), width="stretch",
                        key="train_memory")
    w.assumptions_box(res.get("assumptions"))
    with st.expander("Full result (JSON)"):
        st.json(res, expanded=False)


def render() -> None:
    st.title("Train a model")
    st.caption("How long, how many GPU-hours, MWh, dollars and tonnes of CO2e to pre-train (or LoRA fine-tune) a model on a "
               "cluster.")
    _, req, res = w.request_and_result("train", TrainRequest, to_state, inputs, build_request, compute.train)
    if res is not None:
        show(res)
        if req is not None and (few := _fewer_gpus(req.model_dump_json())):
            st.info(f"{few['text']} Set GPUs to {few['gpus']:,} to price it.")  # a shorter run on a node-aligned count below the GPUs asked for, as `costsim train` says


@st.cache_data(show_spinner="pricing nearby GPU counts ...", max_entries=256)
def _fewer_gpus(req_json: str) -> dict | None:
    """costsim.api.train.fewer_gpus for the page's request (up to three more layout searches, cached)."""
    from costsim.api.train import fewer_gpus

    req = TrainRequest.model_validate_json(req_json)
    return fewer_gpus(req, compute.train(req_json))


if __name__ == "__main__":
    render()
