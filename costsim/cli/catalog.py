"""`costsim hardware ...`, `costsim models ...` and `costsim engines ...`."""

from __future__ import annotations

import typer
from rich import box
from rich.console import Console
from rich.table import Table

from costsim.api import catalog as api
from costsim.cli.common import command_group, fmt_si, print_json
from costsim.numtext import count
from costsim.report.fmt import fmt_value


def _table(title: str, columns: tuple[str, ...], rows) -> Table:
    """A rich table of `rows` (tuples of strings) under `columns`. An `id` column is never cut or wrapped (it is
    what the reader types next); the other columns wrap between words to make room on a narrow terminal, never
    narrower than the longest word of their header or cells, so nothing ends in '…' or breaks inside a word."""
    rows = [tuple(r) for r in rows]
    # no vertical rules and one space between columns: the columns keep the width for their text
    t = Table(title=title, box=box.SIMPLE_HEAD, padding=0, show_edge=False)
    for i, c in enumerate(columns):
        if c == "id":
            t.add_column(c, no_wrap=True, min_width=max([len(c)] + [len(str(r[i])) for r in rows]))
        else:
            # header words stack (so a header asks for no more width than its longest word); never narrower than the
            # longest word of the header or a cell
            t.add_column(c.replace(" ", "\n"), overflow="fold",
                         min_width=max(len(w) for text in (c, *(str(r[i]) for r in rows)) for w in text.split()))
    for r in rows:
        t.add_row(*r)
    return t


def _money(value: float | None, unit: str = "") -> str:
    return f"${value:,.2f}{unit}" if value is not None and value < 100 else (f"${value:,.0f}{unit}" if value is not None else "not published")


def _print_aliases(con: Console, d: dict) -> None:
    if d.get("aliases"):
        con.print(f"Also answers to {', '.join(d['aliases'])} (results carry the id {d['id']}).")


def _dma_text(d: dict) -> str:
    dma, hbm = d.get("dma_bandwidth_bytes_per_s"), d["memory_bandwidth_bytes_per_s"]
    if not dma:
        return "none in the profile (the memory bandwidth is the limit)"
    if dma >= hbm:
        return f"{fmt_si(dma, 'B/s')}, above the memory bandwidth: not a limit"
    return f"{fmt_si(dma, 'B/s')}: weights and KV stream at most {dma / hbm:.0%} of the {fmt_si(hbm, 'B/s')} peak"


def _print_profile_details(con: Console, d: dict) -> None:
    """Interconnect, node, prices, carbon and sources of one accelerator, labelled with units."""
    p, node = d["profile"], d.get("node")
    up = p["scaleup"]
    rows = [("scale-up fabric", up.get("fabric") or "none published"),
            ("scale-up bandwidth per direction", fmt_si(d["scaleup_bytes_per_s_per_direction"], "B/s")
             if d["scaleup_bytes_per_s_per_direction"] else "none"),
            ("scale-up domain", f"{up['domain_size']} device{'s' if up['domain_size'] != 1 else ''}"),
            ("scale-up latency per hop", fmt_si(up.get("latency_s"), "s")),
            ("scale-out per device", fmt_si(d["scaleout_bytes_per_s"], "B/s") if d["scaleout_bytes_per_s"] else "none"),
            ("idle power", fmt_si(d["idle_w"], "W")),
            ("DMA engines (HBM streaming limit)", _dma_text(d)),
            ("measured BF16 matmul", fmt_si(d.get("measured_bf16_matmul_flop_per_s"), "FLOP/s")
             if d.get("measured_bf16_matmul_flop_per_s") else "none in the profile (training uses the GEMM fraction above)"),
            ("FP4 GEMMs at the power limit (serving)",
             f"at most {fmt_si(d['fp4_power_bound_flop_per_s'], 'FLOP/s')} over a step: (TDP - idle) / "
             f"{d['profile']['efficiency']['fp4_tensor_pj_per_flop']:g} pJ per FLOP" if d.get("fp4_power_bound_flop_per_s")
             else "not modelled (the GEMM efficiency alone)")]
    if up.get("ring_ranks_per_device"):
        rows.insert(3, ("ring instead of a switch", f"small collectives walk the ring, {up['ring_ranks_per_device']} ranks per device"))
    if up.get("torus_dims"):
        rows.insert(3, ("torus instead of a switch", f"{up['torus_dims']}-D"))
    if node:
        nics = node.get("nics") or {}
        n = node["devices_per_node"]
        rows += [("default node", f"{node['name']} ({node['id']}), {n} device{'s' if n != 1 else ''}"),
                 ("node host power (busy / idle)", f"{fmt_si(node['host_power_w'], 'W')} / {fmt_si(node.get('host_idle_power_w'), 'W')}"),
                 ("node NICs", f"{nics.get('count', 0)} x {nics.get('gbit_per_s_each', 0):g} Gbit/s {nics.get('kind') or ''}".strip())]
    prices = p["prices"]
    rental = _money(d["rental_usd_per_hour"])
    if d["rental_usd_per_hour"] is not None and prices.get("rental_usd_per_hour_low") is not None:
        rental += (f" (range {_money(prices['rental_usd_per_hour_low'])} - {_money(prices.get('rental_usd_per_hour_high'))}, "
                   f"{prices.get('price_date') or 'undated'})")
    rows += [("rental per device-hour", rental),
             ("purchase per device", _money(d["purchase_usd"])),
             ("embodied carbon per device", f"{p['embodied_kgco2e']:g} kgCO2e over {p['lifetime_years']:g} years"
              if p.get("embodied_kgco2e") is not None else "not published")]
    con.print(_table(f"{d['id']}: interconnect, node, prices and carbon", ("quantity", "value"), rows))
    for s in d["sources"]:
        con.print(f"source: {s}")
    if prices.get("basis"):
        con.print(f"prices: {prices['basis']}")
    if p.get("notes"):
        con.print(f"notes: {p['notes']}")
    con.print("Every field (and the node profile): costsim hardware show ID --json")


def _print_model(con: Console, d: dict) -> None:
    """One model: a sentence, its shape and its parameter counts, labelled with units, then sources."""
    sp = d["spec"]
    moe = d["n_experts"] > 1
    reported = f" ({count(d['params_total_reported'])} reported)" if d.get("params_total_reported") else ""
    kind = (f"mixture-of-experts ({d['n_experts']} experts, {d['experts_per_token']} per token, "
            f"{count(d['params_active'])} active)" if moe else "dense")
    con.print(f"{d['name']}: {count(d['params_total'])} parameters{reported}, {kind}, {d['n_layers']} layers, "
              f"{_attention_text(d)} attention, {d['max_context']:,}-token context.")
    _print_aliases(con, d)
    rows = [("layers", str(sp["n_layers"])), ("hidden size (d_model)", str(sp["d_model"])),
            ("attention heads (query / key-value)", f"{sp['n_heads']} / {sp['n_kv_heads'] or sp['n_heads']}"),
            ("head dimension", str(sp["head_dim"] or sp["d_model"] // sp["n_heads"])),
            ("FFN width" + (" per expert" if moe else ""), f"{sp['d_ff']} ({sp['ffn_type']})"),
            ("vocabulary", f"{sp['vocab_size']:,}" + (" (tied embeddings)" if sp["tied_embeddings"] else ""))]
    if moe:
        rows += [("routed experts / active per token", f"{sp['n_experts']} / {sp['experts_per_token']}"),
                 ("shared experts", str(sp["n_shared_experts"])),
                 ("dense layers", f"{sp['n_dense_layers']}" + (f" (FFN {sp['d_ff_dense']})" if sp.get("d_ff_dense") else ""))]
        if sp.get("moe_latent_dim"):
            rows.append(("routed experts' latent width (LatentMoE)", f"{sp['moe_latent_dim']} of {sp['d_model']}"))
        if sp.get("expert_groups"):
            rows.append(("expert groups / groups per token", f"{sp['expert_groups']} / {sp['expert_groups_per_token']}"))
    if sp.get("sliding_window"):
        rows.append(("sliding window", f"{sp['sliding_window']:,} tokens on {sp['sliding_window_layer_frac'] * 100:.0f} % of layers"))
    if d["attention"] == "mla":
        rows.append(("MLA latent KV rank / RoPE dims", f"{sp['kv_lora_rank']} / {sp['qk_rope_head_dim']}"))
    linear = sp.get("linear_attention_layers") or 0
    if linear and sp["linear_attention_kind"] == "mamba2":
        rows.append(("state-space layers (Mamba-2)",
                     f"{linear} of {sp['n_layers']}; {sp['linear_num_value_heads']} heads of {sp['linear_value_head_dim']} dims, "
                     f"state {sp['linear_key_head_dim']} per head, {sp['linear_num_key_heads']} B/C groups"))
    elif linear:
        rows.append(("linear-attention layers (Gated DeltaNet)",
                     f"{linear} of {sp['n_layers']}; {sp['linear_num_key_heads']} key / {sp['linear_num_value_heads']} value heads of "
                     f"{sp['linear_key_head_dim']} / {sp['linear_value_head_dim']} dims"))
    if sp.get("n_ffn_free_layers"):
        rows.append(("layers without an FFN block", f"{sp['n_ffn_free_layers']} of {sp['n_layers']}"))
    topk = sp.get("sparse_attention_topk")
    if topk:
        rows.append(("sparse attention (DSA): keys per query / indexer heads x dims",
                     f"top {topk:,} / {sp['indexer_num_heads']} x {sp['indexer_head_dim']} (FP8 keys)"
                     + (f"; own indexer in {sp['indexer_layers']} of {sp['n_layers']} layers" if sp.get("indexer_layers") else "")))
    kv_label = (f"KV cache per token ({d['kv_cache_layers']} softmax-attention layers, 16-bit)" if linear
                else "KV cache per token (all layers, 16-bit latent + FP8 indexer keys)" if topk
                else "KV cache per token (all layers, 16-bit)")
    indexer_b = d.get("indexer_key_bytes_per_token_per_layer") or 0.0
    rows += [("parameters, total", count(d["params_total"])), ("parameters, active per token", count(d["params_active"])),
             ("parameters, embeddings", count(d["params_embedding"])),
             (kv_label, fmt_si((2 * d["kv_cache_elements_per_token_per_layer"] + indexer_b) * d["kv_cache_layers"], "B")),
             ("pre-training tokens", fmt_si(d["training_tokens"]) if d.get("training_tokens") else "not published")]
    if linear:
        rows.insert(-1, (f"recurrent state per sequence (any context; stored {sp['linear_state_dtype']})",
                         fmt_si(d["linear_state_bytes_per_sequence"], "B")))
    con.print(_table(f"{d['id'] or 'model'}: shape and size", ("quantity", "value"), rows))
    for s in d["sources"]:
        con.print(f"source: {s}")
    if sp.get("notes"):
        con.print(f"notes: {sp['notes']}")


def _attention_text(d: dict, short: bool = False) -> str:
    """'GQA', or for a hybrid model 'hybrid: 36 Gated DeltaNet + 12 GQA' ('GQA+GDN' short)."""
    linear = d.get("linear_attention_layers") or 0
    kind = d["attention"].upper()
    if d.get("sparse_attention_topk"):
        return f"{kind}+DSA" if short else f"{kind} + DeepSeek Sparse (top {d['sparse_attention_topk']:,} keys per query)"
    if not linear:
        return kind
    if d.get("linear_attention_kind") == "mamba2":
        return f"{kind}+Mamba2" if short else f"hybrid: {linear} Mamba-2 + {d['n_layers'] - linear} {kind}"
    return f"{kind}+GDN" if short else f"hybrid: {linear} Gated DeltaNet + {d['n_layers'] - linear} {kind}"


def register(app: typer.Typer) -> None:
    hw = command_group("Accelerator catalog.")
    md = command_group("Model catalog.")

    @hw.command("list")
    def hardware_list(json_: bool = typer.Option(False, "--json", help="Print one JSON document.")) -> None:
        """List every accelerator profile."""
        rows = api.list_hardware()
        if json_:
            print_json(rows)
            return
        peak = [r["peak_flop_per_s"] for r in rows]
        def num(v: float | None, scale: float) -> str:  # the unit is in the column's header; 3 digits, no exponent
            return "-" if not v else f"{v / scale:.0f}" if v / scale >= 100 else f"{v / scale:.3g}"
        Console().print(_table("accelerators (dense peaks; - = not supported)", (
            "id", "name", "memory GB", "bandwidth TB/s", "bf16 TFLOP/s", "fp8 TFLOP/s", "fp4 TFLOP/s", "TDP W"), (
            (r["id"], r["name"], num(r["memory_bytes"], 1e9), num(r["memory_bandwidth_bytes_per_s"], 1e12),
             num(p.get("bf16") or p.get("fp16"), 1e12), num(p.get("fp8"), 1e12), num(p.get("fp4"), 1e12),
             num(r["tdp_w"], 1.0)) for r, p in zip(rows, peak))))

    @hw.command("show")
    def hardware_show(ref: str = typer.Argument(..., help="Accelerator id or YAML file."),
                      json_: bool = typer.Option(False, "--json", help="Print one JSON document.")) -> None:
        """Show one accelerator profile with its node and sources."""
        d = api.show_hardware(ref)
        if json_:
            print_json(d)
            return
        con = Console()
        peaks = {k: v for k, v in d["peak_flop_per_s"].items() if v}
        con.print(f"{d['name']} ({d['vendor']}): {fmt_si(d['memory_bytes'], 'B')} at {fmt_si(d['memory_bandwidth_bytes_per_s'], 'B/s')}, "
                  f"{fmt_si(d['tdp_w'], 'W')}; dense peak "
                  + ", ".join(f"{k.upper()} {fmt_si(v, 'FLOP/s' if not k.startswith('int') else 'OP/s')}" for k, v in peaks.items()) + ".")
        _print_aliases(con, d)
        if d.get("training_gemm_ceiling_frac"):
            con.print(f"Training prices large GEMMs at up to {d['training_gemm_ceiling_frac'] * 100:.0f} % of the BF16 peak "
                      f"before tile and wave quantization at each shape: {d['training_gemm_ceiling_basis']}.")
        con.print(_table(f"{d['id']}: dense peak by datatype", ("datatype", "dense peak"), (
            (k.upper(), fmt_si(v, "OP/s" if k.startswith("int") else "FLOP/s") if v else "not supported / not published")
            for k, v in d["peak_flop_per_s"].items())))
        _print_profile_details(con, d)

    @md.command("list")
    def models_list(json_: bool = typer.Option(False, "--json", help="Print one JSON document.")) -> None:
        """List every model in the catalog with computed parameter counts."""
        rows = api.list_models()
        if json_:
            print_json(rows)
            return
        Console().print(_table("models", ("id", "name", "total params", "active params", "layers", "attention", "context"), (
            (r["id"], r["name"], count(r["params_total"]), count(r["params_active"]), str(r["n_layers"]), _attention_text(r, short=True),
             str(r["max_context"])) for r in rows)))
        if any(r.get("sparse_attention_topk") for r in rows):
            Console().print("DSA: DeepSeek Sparse Attention; a lightning indexer picks the keys each query attends to "
                            "(the KV cache holds every token).")
        if any(r.get("linear_attention_layers") and r.get("linear_attention_kind") != "mamba2" for r in rows):
            Console().print("GDN: hybrid models whose other layers are Gated DeltaNet linear attention (a fixed state per "
                            "sequence, no KV cache); `costsim models show ID` gives the split.")
        if any(r.get("linear_attention_kind") == "mamba2" for r in rows):
            Console().print("Mamba2: hybrid models whose other layers are Mamba-2 state-space mixers (a fixed state per "
                            "sequence, no KV cache); `costsim models show ID` gives the split.")

    @md.command("show")
    def models_show(ref: str = typer.Argument(..., help="Model id or YAML file."),
                    json_: bool = typer.Option(False, "--json", help="Print one JSON document.")) -> None:
        """Show one model: shape and parameter counts."""
        d = api.show_model(ref)
        if json_:
            print_json(d)
            return
        _print_model(Console(), d)

    en = command_group("Serving-engine profiles (--engine of serve, scenarios and the app).")

    @en.command("list")
    def engines_list(json_: bool = typer.Option(False, "--json", help="Print one JSON document.")) -> None:
        """List every serving-engine profile."""
        rows = api.list_engines()
        if json_:
            print_json(rows)
            return
        fitted = [len(r["fitted_on"]) for r in rows]
        con = Console()
        con.print(_table("serving engines (--engine)", ("id", "name", "kind", "runs on", "fitted on"), (
            (r["id"], r["name"], r["kind"], ", ".join(r["vendors"]) if r["vendors"] else "any",
             f"{n} case{'s' if n != 1 else ''}" if n else "priors") for r, n in zip(rows, fitted))))
        con.print("Details, parameters and sources: costsim engines show ID")

    @en.command("show")
    def engines_show(ref: str = typer.Argument(..., help="Engine id (costsim engines list)."),
                     json_: bool = typer.Option(False, "--json", help="Print one JSON document.")) -> None:
        """Show one engine profile: what it stands for, its parameters (per vendor and per part) and sources."""
        d = api.show_engine(ref)
        if json_:
            print_json(d)
            return
        con = Console()
        con.print(f"{d['name']} ({d['id']}, {d['kind']}): {d['description']}")
        con.print("KV cache when a request names none: " + api.kv_cache_default_text(d["kv_cache_auto"]))
        dims = {"tp": "tensor", "pp": "pipeline", "ep": "expert"}
        con.print("splits a replica over: " + ", ".join(f"{dims[x]} parallel (--{x})" for x in d["parallelism"])
                  + ("" if d["parameters"].get("pipeline_overlap", 1) else "; pipeline stages run one after another"))
        if d.get("weight_precisions"):
            con.print("weight formats: " + ", ".join(d["weight_precisions"]))
        rows = [("all hardware", k, fmt_value(k, v)) for k, v in d["parameters"].items()]
        rows += [(f"{scope} {who}", k, fmt_value(k, v)) for scope, key in (("vendor", "vendor_parameters"), ("hardware", "device_parameters"))
                 for who, table in d[key].items() for k, v in table.items()]
        con.print(_table(f"{d['id']}: parameters over the inference core's device defaults (*_scale multiplies)",
                         ("applies to", "parameter", "value"), rows or [("all hardware", "(none: the device defaults)", "")]))
        con.print("fitted on: " + (", ".join(d["fitted_on"]) or "nothing (priors)"))
        for s in d["sources"]:
            con.print(f"source: {s}")
        if d.get("notes"):
            con.print(f"notes: {d['notes']}")

    app.add_typer(hw, name="hardware")
    app.add_typer(md, name="models")
    app.add_typer(en, name="engines")
