"""Writes costsim/validation/cases/training_torchtitan.yaml from TorchTitan's published performance table
(pytorch/torchtitan docs/performance.md at commit eaea6f6a2fa9, BSD-3-Clause; the numbers below are copied from it).

Run from the repository root: .venv/bin/python costsim/validation/cases/build_torchtitan_cases.py
"""
from pathlib import Path

import yaml
SRC = "pytorch/torchtitan@eaea6f6a2fa9 docs/performance.md"
HW = {
    "id": "h100-sxm-96gb-grand-teton", "name": "NVIDIA H100 SXM 96GB HBM2e (Meta Grand Teton)", "vendor": "NVIDIA",
    "category": "datacenter_gpu", "year": 2022, "memory_gb": 96, "memory_type": "HBM2e",
    "memory_bandwidth_gb_per_s": 2400,
    "peak_tflop_per_s": {"fp64": 66.9, "fp32": 66.9, "tf32": 494.7, "bf16": 989.4, "fp16": 989.4, "fp8": 1978.9, "int8": 1978.9},
    "tdp_w": 700, "idle_w": 70,
    "scaleup": {"fabric": "NVLink 4.0 via NVSwitch", "bandwidth_gb_per_s_per_direction": 450, "domain_size": 8},
    "scaleout_gb_per_s": 50, "default_node": "dgx-h100",
    "efficiency": {"num_compute_units": 132, "note": "H100 SXM5 die (132 SMs), as the catalog's h100-sxm"},
    "sources": [SRC + " ('Each H100 GPU is equipped with 96GB HBM2e with 2.4 TB/sec peak memory bandwidth', "
                "'400 Gb/s per GPU', 'default 500W power limit, although tuning it up to 700W TDP'); peak rates: "
                "the H100 SXM5 datasheet (the doc says the part's peak lies between SXM and NVL and is not known)"],
}
T1 = "Table 1 (1D FSDP, Llama 3.1 8B, 8 GPUs, local batch 2, global batch 16, selective activation checkpointing)"
T2 = "Table 2 (FSDP + CP + torch.compile + Float8, Llama 3.1 8B, 8 GPUs, local batch 1, full activation checkpointing)"
T3 = "Table 3 (1D FSDP, Llama 3.1 8B, 128 GPUs, local batch 2, global batch 256, selective activation checkpointing)"
T4 = "Table 4 (FSDP 32 x TP 8 + torch.compile + Float8, Llama 3.1 70B, 256 GPUs, local batch 16, global batch 512, full activation checkpointing)"
T5 = "Table 5 (FSDP 8 x TP 8 x PP 8 + torch.compile + Float8 + AsyncTP, Llama 3.1 405B, 512 GPUs, local batch 32, global batch 256, full activation checkpointing)"
T6 = "Table 6 (FSDP x CP, TP 8, PP 8 + torch.compile + Float8 + AsyncTP + 1F1B, Llama 3.1 405B, 512 GPUs, local batch 8, full activation checkpointing)"
rows = []
FIT_NOTE = ("fit: tp_comm_exposed_frac of the torchtitan-2024 stack (how much of the tensor-parallel collectives AsyncTP "
            "leaves exposed, costsim.core.frameworks); every other row is held out. ")
_CP = ("Context parallelism at long sequences (PyTorch's 2024 ring attention in SDPA) comes out fast: on 8 GPUs the "
       "Llama 3.1 8B rows at 32K / 64K tokens (CP 1 / 2) are within 14 %, at 128K / 256K (CP 4 / 8) 30-33 % fast; on 512 "
       "GPUs the 405B rows at CP 1 are within 5 %, at CP 2 / 4 / 8 15-30 % fast. The published throughput falls 2.4x from "
       "CP 2 at 64K to CP 4 at 128K where the attention work per GPU grows 1.8x (costsim: 1.8x), then 1.95x to CP 8 at "
       "256K (costsim 1.9x): something appears from CP 4 on that costsim does not price. Not the K/V exchange (ring "
       "steps inside one NVLink node, 1 GB per layer and pass at 256K, hidden or exposed it is < 1 s of the 20 s "
       "missing), not the fp32 merge of the partial outputs (~1 s); an attention-only factor that fits CP 8 (1.6x) "
       "puts CP 2 21 % slow. Not identified; not tuned away.")
GAPS: dict[str, str] = {"TT-8B-8-CP4-128K": _CP, "TT-8B-8-CP8-256K": _CP, "TT-405B-512-4D-CP2-64K": _CP,
                        "TT-405B-512-4D-CP4-128K": _CP, "TT-405B-512-4D-CP8-256K": _CP}


def row(cid, table, label, tps, model, gpus, seq, gbs, precision, lay, extra_note="", fit=False):
    step = gbs * seq / (tps * gpus)
    inputs = {"model": model, "hardware": "*HW*", "gpus": gpus, "seq_len": seq, "global_batch": gbs,
              "precision": precision, **lay, "sequence_parallel": lay.get("tp", 1) > 1,
              "framework": "torchtitan-2024", "power_cap_w": 500}
    rows.append({"id": cid, "kind": "training_step_time",
                 "source": f"{SRC}: {table}, row '{label}', {tps:,} tokens/s per GPU (torch 1963fc8, torchao eab345c, torchtitan 9dec370, 2024-12)",
                 "inputs": inputs, "metric": "step_time_s", "expected": round(step, 4), "comparison": "within",
                 "tolerance_frac": 0.15,
                 "tolerance_reason": "issue target 15 %; one framework release's benchmark at an unknown peak clock (the doc's own caveat)",
                 **({"known_gap": GAPS[cid]} if cid in GAPS else {}),
                 "used_for_fit": fit,
                 "notes": ((FIT_NOTE if fit else "held out; ") + f"inputs written from the table before comparing. step time = {gbs} x {seq} / ({tps} x {gpus}) = {step:.3f} s "
                           f"(TorchTitan's TPS/GPU is global tokens/s over all GPUs). 500 W power limit of the H100s (power_cap_w); 96 GB HBM2e at "
                           f"2.4 TB/s (inline hardware). {extra_note}Regime: dense training, NVIDIA, {gpus} devices, torchtitan-2024.").strip()})
fsdp = lambda dp, mb, rc, cp=1: {"tp": 1, "pp": 1, "cp": cp, "dp": dp, "micro_batch": mb, "recompute": rc, "zero": 3}
row("TT-8B-8-COMPILE", T1, "FSDP + torch.compile", 6667, "llama-3.1-8b", 8, 8192, 16, "bf16", fsdp(8, 2, "selective"))
row("TT-8B-8-COMPILE-FP8", T1, "FSDP + torch.compile + Float8", 8532, "llama-3.1-8b", 8, 8192, 16, "fp8", fsdp(8, 2, "selective"))
row("TT-8B-128-COMPILE", T3, "FSDP + torch.compile", 6514, "llama-3.1-8b", 128, 8192, 256, "bf16", fsdp(128, 2, "selective"))
row("TT-8B-128-COMPILE-FP8", T3, "FSDP + torch.compile + Float8", 8380, "llama-3.1-8b", 128, 8192, 256, "fp8", fsdp(128, 2, "selective"))
for dp, cp, seq, tps in ((8, 1, 32768, 3890), (4, 2, 65536, 2540), (2, 4, 131072, 1071), (1, 8, 262144, 548)):
    row(f"TT-8B-8-CP{cp}-{seq // 1024}K", T2, f"FSDP {dp}, CP {cp}, {seq}", tps, "llama-3.1-8b", 8, seq, dp, "fp8", fsdp(dp, 1, "full", cp))
row("TT-70B-256-2D-ASYNCTP", T4, "2D + AsyncTP", 876, "llama-3.1-70b", 256, 8192, 512, "fp8",
    {"tp": 8, "pp": 1, "cp": 1, "dp": 32, "micro_batch": 16, "recompute": "full", "zero": 3},
    "The row without AsyncTP (829 tokens/s per GPU) is not a case (the torchtitan-2024 stack runs AsyncTP); costsim with "
    "every TP collective exposed gives it within 1 %. ", fit=True)
row("TT-405B-512-3D-1F1B", T5, "1F1B", 100, "llama-3.1-405b", 512, 8192, 256, "fp8",
    {"tp": 8, "pp": 8, "cp": 1, "dp": 8, "vp": 1, "micro_batch": 4, "recompute": "full"},
    "Micro-batches: TorchTitan's default, one per pipeline stage (8 of 4 sequences each). ZeRO stage searched (FSDP2 under pipeline parallelism keeps the gathered weights between micro-batches). ")
row("TT-405B-512-3D-INTERLEAVED", T5, "Interleaved 1F1B", 128, "llama-3.1-405b", 512, 8192, 256, "fp8",
    {"tp": 8, "pp": 8, "cp": 1, "dp": 8, "vp": 2, "micro_batch": 2, "recompute": "full"},
    "Stages per rank and micro-batch size are not in the doc: TorchTitan's defaults of that release, two stages per rank "
    "for a looped schedule and one micro-batch per stage (16 of 2 sequences). ZeRO stage searched. ")
for dp, cp, seq, tps in ((8, 1, 32768, 76), (4, 2, 65536, 47), (2, 4, 131072, 31), (1, 8, 262144, 16)):
    row(f"TT-405B-512-4D-CP{cp}-{seq // 1024}K", T6, f"FSDP {dp}, CP {cp}, {seq}", tps, "llama-3.1-405b", 512, seq, dp * 8, "fp8",
        {"tp": 8, "pp": 8, "cp": cp, "dp": dp, "vp": 1, "micro_batch": 1, "recompute": "full"},
        "Micro-batches: one per pipeline stage (8 of 1 sequence). ZeRO stage searched. ")
header = """# TorchTitan (PyTorch's native LLM training stack) performance table, pytorch/torchtitan docs/performance.md at commit
# eaea6f6a2fa9 (BSD-3-Clause): Llama 3.1 8B / 70B / 405B on 8 to 512 H100s of Meta's Grand Teton platform (96 GB HBM2e at
# 2.4 TB/s, 400 Gb/s RDMA per GPU, run at the default 500 W power limit of a 700 W TDP part), from 1D FSDP to 4D
# (FSDP x TP x PP x CP), with torch.compile, Float8 linears, AsyncTP and 1F1B / interleaved pipelines; torch 1963fc8,
# torchao eab345c, torchtitan 9dec370 (2024-12). Priced with the torchtitan-2024 training stack (costsim.core.frameworks:
# FSDP2 as ZeRO-3, fp32 gradient reduce-scatter, FP8 all-gathers with Float8, AsyncTP, torch.compile's fused elementwise
# ops, per-op selective checkpointing that recomputes every other matmul) and a power_cap_w of 500 W (the GPUs' clock
# under the limit, costsim.core.power). Only rows run on that stack: the eager FSDP rows (Tables 1 and 3, no
# torch.compile) and the 70B 2D row without AsyncTP are left out. The part's peak is not known (the doc: between H100
# SXM and NVL); the H100 SXM5 rates are used.
# One row is used for fit (TT-70B-256-2D-ASYNCTP: how much AsyncTP leaves exposed); every other row is held out. Nothing
# else is fitted on them; inputs written before comparing. Rebuild: costsim/validation/cases/build_torchtitan_cases.py.
"""
text = yaml.safe_dump(rows, sort_keys=False, width=120, allow_unicode=True)
hw_yaml = yaml.safe_dump(HW, sort_keys=False, width=120, default_flow_style=False)
# first row carries the inline hardware with an anchor; the others alias it
first = True
out_lines = []
for line in text.splitlines():
    if line.strip() == "hardware: '*HW*'":
        ind = line[: len(line) - len(line.lstrip())]
        if first:
            out_lines.append(f"{ind}hardware: &grandteton")
            for hl in hw_yaml.splitlines():
                out_lines.append(f"{ind}  {hl}")
            first = False
        else:
            out_lines.append(f"{ind}hardware: *grandteton")
    else:
        out_lines.append(line)
Path(__file__).with_name("training_torchtitan.yaml").write_text(header + "\n".join(out_lines) + "\n")
