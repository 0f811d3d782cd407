"""Catalog queries for the CLI and UI: plain dicts with SI units in the key names."""

from __future__ import annotations

from typing import Any

from costsim.estimators.inference import FP8_KV_BY_DEFAULT
from costsim.specs import catalog
from costsim.specs.engine import engines, get_engine
from costsim.specs.hardware import DTYPES, Accelerator
from costsim.specs.model import ModelSpec


def hardware_entry(acc: Accelerator, *, full: bool = False) -> dict[str, Any]:
    d: dict[str, Any] = {
        "id": acc.id,
        "name": acc.name,
        "aliases": list(acc.aliases),
        "vendor": acc.vendor,
        "category": acc.category,
        "year": acc.year,
        "memory_bytes": acc.memory_bytes,
        "memory_bandwidth_bytes_per_s": acc.memory_bandwidth_bytes_per_s,
        "dma_bandwidth_bytes_per_s": acc.dma_bandwidth_bytes_per_s,
        "peak_flop_per_s": {dt: (getattr(acc.peak_tflop_per_s, dt) or 0) * 1e12 or None for dt in DTYPES},
        "tdp_w": acc.tdp_w,
        "idle_w": acc.idle_w,
        "scaleup_bytes_per_s_per_direction": acc.scaleup_bytes_per_s,
        "scaleup_domain_size": acc.scaleup.domain_size,
        "scaleout_bytes_per_s": acc.scaleout_bytes_per_s,
        "rental_usd_per_hour": acc.rental_usd_per_hour,
        "purchase_usd": acc.prices.purchase_usd,
        "sources": list(acc.sources),
    }
    if full:
        from costsim.estimators.power_limit import tensor_power_parameters
        from costsim.estimators.training import training_gemm_ceiling

        frac, basis = training_gemm_ceiling(acc)
        d["training_gemm_ceiling_frac"] = frac
        d["training_gemm_ceiling_basis"] = basis
        mamf = acc.efficiency.mamf_bf16_tflop_per_s
        d["measured_bf16_matmul_flop_per_s"] = mamf * 1e12 if mamf else None
        fp4 = tensor_power_parameters(acc, "fp4")  # serving's FP4 power bound
        d["fp4_power_bound_flop_per_s"] = (fp4["power_budget_w"] / fp4["tensor_j_per_flop"]
                                           if fp4["tensor_j_per_flop"] > 0 else None)
        d["profile"] = acc.model_dump(mode="json")
        node = catalog.node_for(acc)
        d["node"] = node.model_dump(mode="json") if node else None
    return d


def model_entry(m: ModelSpec, *, full: bool = False) -> dict[str, Any]:
    d: dict[str, Any] = {
        "id": m.id,
        "name": m.name,
        "aliases": list(m.aliases),
        "params_total": m.params_total,
        "params_active": m.params_active,
        "params_embedding": m.embedding_params,
        "params_total_reported": m.params_total_reported,
        "n_layers": m.n_layers,
        "d_model": m.d_model,
        "attention": m.attention_type,
        "linear_attention_layers": m.linear_attention_layers,
        "linear_attention_kind": m.linear_attention_kind if m.linear_attention_layers else None,
        "ffn_free_layers": m.n_ffn_free_layers,
        "sparse_attention_topk": m.sparse_attention_topk,
        "n_experts": m.n_experts,
        "experts_per_token": m.experts_per_token,
        "max_context": m.max_context,
        "training_tokens": m.training_tokens,
    }
    if full:
        d["spec"] = m.model_dump(mode="json")
        d["kv_cache_elements_per_token_per_layer"] = m.kv_elements_per_token_per_layer()
        d["kv_cache_layers"] = m.n_softmax_layers
        d["linear_state_bytes_per_sequence"] = m.linear_state_bytes_per_sequence
        d["indexer_key_bytes_per_token_per_layer"] = m.indexer_layer_frac * m.indexer_key_bytes_per_token_layer  # layer average
        d["sources"] = list(m.sources)
    return d


def request_labels(model: str, hardware: str) -> dict[str, str]:
    """What a CLI result adds for its reader: `device_noun` (what one device of `hardware` is called in prose, a
    YAML file's part too) and `model_asked_as` / `hardware_asked_as` where the request named an alias. Kept out of
    the estimators' results, whose keys the sweeps tabulate."""
    return {"device_noun": device_noun(hardware), **catalog.asked_as(model, hardware)}


def device_noun(ref: str) -> str:
    """What to call one device of `ref` in prose: 'GPU', 'chip' (TPUs), 'accelerator' (Gaudi, Trainium, Inferentia)
    or 'device' (SoCs, edge modules); 'GPU' when the reference does not resolve (the caller already reported that)."""
    try:
        acc = catalog.get_accelerator(ref)
    except Exception:  # noqa: BLE001 - a label only; the request itself reports a bad reference
        return "GPU"
    if "gpu" in acc.category:
        return "GPU"
    if acc.category == "ai_accelerator":
        return "chip" if acc.vendor == "Google" else "accelerator"
    return "device"


def list_hardware() -> list[dict[str, Any]]:
    return [hardware_entry(a) for a in catalog.accelerators().values()]


def list_nodes(accelerator: str | None = None) -> list[dict[str, Any]]:
    """Node / system profiles (id, name, accelerator, devices per node, NICs), those holding `accelerator` if given."""
    acc_id = catalog.get_accelerator(accelerator).id if accelerator else None
    return [{"id": n.id, "name": n.name, "accelerator": n.accelerator, "devices_per_node": n.devices_per_node,
             "nic_gbit_per_s": n.nics.count * n.nics.gbit_per_s_each if n.nics else 0.0}
            for n in catalog.nodes().values() if acc_id is None or n.accelerator == acc_id]


def show_hardware(ref: str) -> dict[str, Any]:
    return hardware_entry(catalog.get_accelerator(ref), full=True)


def list_models() -> list[dict[str, Any]]:
    return [model_entry(m) for m in catalog.models().values()]


def show_model(ref: str) -> dict[str, Any]:
    return model_entry(catalog.get_model(ref), full=True)


def list_engines() -> list[dict[str, Any]]:
    """Serving-engine profiles (costsim/data/engines.yaml): id, name, description, kind, vendors."""
    return [{"id": e.id, "name": e.name, "description": e.description, "kind": e.kind, "vendors": e.vendors,
             "fitted_on": list(e.fitted_on)} for e in engines().values()]


def kv_cache_default_text(kv_cache_auto: str) -> str:
    """The KV cache an engine runs when a request names none, for a reader (costsim.estimators.inference
    default_kv_precision)."""
    if kv_cache_auto == "16bit":
        return "16 bit, the model's dtype, whatever the weights"
    return f"fp8 with {' / '.join(FP8_KV_BY_DEFAULT)} weights, else 16 bit"


def show_engine(ref: str) -> dict[str, Any]:
    """One engine profile in full: its parameters (replacements, or `*_scale` multipliers, of the inference
    core's device defaults), per vendor and per hardware id, the cases they were fitted on, sources and notes."""
    return get_engine(ref).model_dump()
