"""Writes costsim/validation/cases/training_dgxc.yaml from NVIDIA's DGX Cloud benchmarking recipes (NeMo 24.09 on H100;
'Training step time (seconds per step)' rows, copied below): Llama 3.1 8B and 70B (NVIDIA/dgxc-benchmarking
llama3.1/README_8b.md and README_70b.md at commit 143b90dd91f9) and Nemotron-4 340B (nemotron/README_340b.md at commit
35a9aecc8d5b). Same release and stack as the 405B recipe whose 576-GPU point fits costsim's H100 sustained-load factor
(DGXC405-576); every row here is held out.

Run from the repository root: .venv/bin/python costsim/validation/cases/build_dgxc_cases.py
"""
from pathlib import Path

from costsim.validation.cases.generated import write_cases

SRC = "NVIDIA/dgxc-benchmarking@{commit} {readme} (NeMo 24.09, DGX H100)"
TABLES = {
    # (model, commit, readme, sequence, TP, PP, CP, VP, EP; micro-batch 1): {precision: [(gpus, global batch, step s)]}
    ("llama-3.1-8b", "143b90dd91f9", "llama3.1/README_8b.md", 8192, 1, 1, 2, 1, 1): {
        "bf16": [(8, 128, 12.91), (16, 256, 13.00), (32, 512, 13.05), (64, 1024, 13.08), (128, 2048, 13.10)],
        "fp8": [(8, 128, 9.67), (16, 256, 9.73), (32, 512, 9.75), (64, 1024, 9.80), (128, 2048, 9.82)],
    },
    ("llama-3.1-70b", "143b90dd91f9", "llama3.1/README_70b.md", 8192, 4, 4, 2, 5, 1): {
        "bf16": [(64, 128, 14.72), (128, 256, 14.73), (256, 512, 14.8), (512, 1024, 14.89), (1024, 2048, 14.92),
                 (2048, 4096, 14.98)],
        "fp8": [(64, 128, 11.01), (128, 256, 10.93), (256, 512, 11.16), (512, 1024, 11.18), (1024, 2048, 11.28),
                (2048, 4096, 11.39)],
    },
    ("nemotron-4-340b", "35a9aecc8d5b", "nemotron/README_340b.md", 4096, 8, 8, 1, 12, 1): {
        "bf16": [(128, 32, 4.61), (256, 64, 4.67), (512, 128, 4.70), (1024, 256, 4.73), (2048, 512, 4.84)],
        "fp8": [(128, 32, 3.16), (256, 64, 3.21), (512, 128, 3.26), (1024, 256, 3.34), (2048, 512, 3.49)],
    },
    # Grok-1 ('Dev' container rows, 64 layers: the README's smaller 'proxy' configurations cut the layer count and are left
    # out; its 'DP' column is dp / ep). The 2,048-GPU BF16 row of this table is the older case DGXC-grok1-2048.
    ("grok-1", "143b90dd91f9", "grok1/README_314b.md", 8192, 4, 8, 2, 8, 8): {
        "bf16": [(512, 1024, 20.83), (1024, 2048, 21.0)],
        "fp8": [(512, 1024, 16.69), (1024, 2048, 16.89), (2048, 4096, 17.04)],
    },
}
GAPS = {
    "DGXCN4-340B-BF16-128": (
        "+19 %: costsim's memory model puts the published layout (distributed optimizer = ZeRO-1, no recomputation) at "
        "90.2 GB per GPU against the H100's 85.5 GB at data-parallel size 2 (the optimizer state sharded over only two "
        "ranks), so it prices the ZeRO-2 layout that fits (84.4 GB), whose per-micro-batch gradient reduce-scatters cost "
        "~0.9 s. The same recipe at 256-2,048 GPUs (data parallel 4-32) is within 4 % and the FP8 row at 128 GPUs (FP8 "
        "inputs saved for backward) within 3 %. The run fits where costsim says it does not, by 4.7 GB: costsim's "
        "activation count (Korthikanti's layout) holds dropout masks these recipes do not keep (~2 GB here), not all of "
        "the excess (MB2606-405B-GB200-256-FP8, counted the same way, fits since GB200's memory is the driver's 189,471 "
        "MiB). Not tuned away."),
}
_GROK_FP8 = (
    "{err}: costsim prices Grok-1's FP8 step 1.38x faster than its BF16 step (18.2 -> 13.1 s at 512 GPUs); the README "
    "measures 1.25x (20.83 -> 16.69 s). The BF16 rows of the same table are -13..-14 % (within tolerance, the same "
    "direction as DGXC-grok1-2048), so about half the miss is MoE work costsim leaves out at any precision (token "
    "permutation, router, capacity padding) and half an FP8 gain costsim gives the expert GEMMs that this NeMo 24.09 "
    "stack does not reach (per-expert FP8 casts and transposes of the permuted tokens, not fused with a norm). "
    "Charging Transformer Engine's cast / transpose traffic on every FP8 linear input and output gradient was tried "
    "(2 + 2 x 1 B per element, as NVFP4 training already is): these rows move to -16..-18 %, but of 75 FP8 cases "
    "that move, 37 get worse (Blackwell needs no transposed copy, norm-fused casts need none), so it was not adopted. "
    "Since 2026-12-07 costsim places expert groups on Megatron-core's expert grid (an EP group on consecutive ranks, "
    "context parallelism folded in), as releases since 0.10 do; this 0.9 stack took EP over the data-parallel ranks, "
    "which priced these rows ~1.5 points closer (-20 / -21 / -21.5 %). Not tuned away.")
GAPS.update({f"DGXCGROK1-314B-FP8-{g}": _GROK_FP8.format(err=e) for g, e in ((512, "-21 %"), (1024, "-22 %"),
                                                                               (2048, "-23 %"))})
NAMES = {"llama-3.1-8b": ("DGXC31-8B", "Llama 3.1 8B"), "llama-3.1-70b": ("DGXC31-70B", "Llama 3.1 70B"),
         "nemotron-4-340b": ("DGXCN4-340B", "Nemotron-4 340B"), "grok-1": ("DGXCGROK1-314B", "Grok-1 314B")}


def rows() -> list[dict]:
    out = []
    for (model, commit, readme, seq, tp, pp, cp, vp, ep), by_prec in TABLES.items():
        prefix, title = NAMES[model]
        for prec, pts in by_prec.items():
            for gpus, gbs, step in pts:
                dp = gpus // (tp * pp * cp)
                # NeMo 24.09 (Megatron-core 0.9) splits each expert over all TP ranks: no MoE parallel folding (etp = tp)
                # ... nor the expert all-to-all overlap (Megatron-core 2025)
                layout = {"tp": tp, "pp": pp, "cp": cp, "ep": ep, **({"etp": tp, "ep_overlap": False} if ep > 1 else {}),
                          "dp": dp,
                          **({"vp": vp} if vp > 1 else {}), "micro_batch": 1}
                out.append({
                    "id": f"{prefix}-{prec.upper()}-{gpus}",
                    "kind": "training_step_time",
                    "source": (SRC.format(commit=commit, readme=readme) + f": {title} {prec.upper()} (TP={tp}, PP={pp}, CP={cp}"
                               + (f", VP={vp}" if vp > 1 else "") + (f", EP={ep}" if ep > 1 else "")
                               + f", MBS=1) on {gpus}x H100 (GBS={gbs}), {step} s per step"),
                    "inputs": {"model": model, "hardware": "h100-sxm", "gpus": gpus, "seq_len": seq, "global_batch": gbs,
                               "precision": prec, **layout, "sequence_parallel": tp > 1, "framework": "megatron-core-2024"},
                    "metric": "step_time_s", "expected": step, "comparison": "within", "tolerance_frac": 0.15,
                    "tolerance_reason": "issue target 15 %; vendor benchmark of one software release (last-step timing)",
                    "used_for_fit": False,
                    **({"known_gap": GAPS[f"{prefix}-{prec.upper()}-{gpus}"]} if f"{prefix}-{prec.upper()}-{gpus}" in GAPS else {}),
                    "notes": (f"held out; inputs written from the README's table before comparing (recompute and ZeRO stage "
                              f"not stated: searched). Regime: {'MoE' if ep > 1 else 'dense'} training, NVIDIA h100-sxm, {gpus} "
                              "devices, megatron-core-2024 (NeMo 24.09; Grok-1: the README's 'Dev' container)."),
                })
    return out


# DeepSeek-V3 671B BF16 (deepseek_v3/pretraining/README.md at 1f6d9f40e411, NeMo 25.04.01): sequence 4,096, TP 2, CP 1,
# ETP 1 (MoE parallel folding: expert parallelism across the TP ranks), VP 1, MBS 1; per row (hardware, gpus, PP, EP, DP,
# global batch, step s)
DSV3_SRC = "NVIDIA/dgxc-benchmarking@1f6d9f40e411 deepseek_v3/pretraining/README.md (NeMo 25.04.01)"
DSV3_ROWS = [("h100-sxm", 512, 8, 64, 32, 4096, 48.948), ("h100-sxm", 1024, 16, 64, 32, 8192, 52.04),
             ("gb200", 128, 4, 32, 16, 1024, 34.168), ("gb200", 256, 4, 64, 32, 2048, 34.194),
             ("gb200", 512, 4, 64, 64, 4096, 34.274)]
_DSV3_GAP = (
    "{err}: DeepSeek-V3 in this release runs at 10-18 % MFU (the README's own figures) and costsim prices the stated "
    "layout at {mfu} of its BF16 peak. The table shows the missing time is not FLOPs or bandwidth: per GPU the GB200 "
    "rows (8 sequences per GPU, 34.2 s) are only 1.43x the H100 rows (8 per GPU, 48.9 s) where the BF16 peak is 2.5x "
    "and the expert all-to-all stays inside the NVL72 domain, i.e. a per-layer time that does not shrink with the "
    "faster part (host-bound MoE layers: router, permutation and the dispatcher's device-to-host token-count sync "
    "launched per layer); the same model on GB200 with Megatron-Bridge 26.08 is within 16 % (MB2608-DSV3-GB200-256). "
    "costsim's host-launch term (moe_expert_launch host, fitted on MB2511-Q30B-B200-8, which brought "
    "MB2511-DSV3-B200-256 from -51 % to -6 %) is for FP8 / FP4 expert MLPs; these rows are BF16 and their BF16 cost "
    "is not measured, so it is not applied. Not tuned away.")
DSV3_GAPS = {("H100", 512): ("-19.5 %", "22 %"), ("H100", 1024): ("-24 %", "22 %"), ("GB200", 128): ("-75 %", "40 %"),
             ("GB200", 256): ("-73 %", "38 %"), ("GB200", 512): ("-73 %", "37 %")}


def rows_dsv3() -> list[dict]:
    out = []
    for hw, gpus, pp, ep, dp, gbs, step in DSV3_ROWS:
        name = "H100" if hw == "h100-sxm" else "GB200"
        out.append({
            "id": f"DGXCDSV3-671B-{name}-BF16-{gpus}",
            "kind": "training_step_time",
            "source": (f"{DSV3_SRC}: DeepSeek-V3 671B BF16 (TP=2, PP={pp}, CP=1, EP={ep}, ETP=1, DP={dp}, VP=1, MBS=1) on "
                       f"{gpus}x {name} (GBS={gbs}, sequence 4,096), {step} s per step"),
            "inputs": {"model": "deepseek-v3", "hardware": hw, "gpus": gpus, "seq_len": 4096, "global_batch": gbs,
                       "precision": "bf16", "tp": 2, "pp": pp, "cp": 1, "ep": ep, "etp": 1, "ep_overlap": False, "dp": dp,
                       "vp": 1,
                       "micro_batch": 1, "sequence_parallel": True, "framework": "megatron-core-2024"},
            "metric": "step_time_s", "expected": step, "comparison": "within", "tolerance_frac": 0.15,
            "tolerance_reason": "issue target 15 %; vendor benchmark of one software release (mean of iterations 11-44)",
            "used_for_fit": False,
            "known_gap": _DSV3_GAP.format(err=DSV3_GAPS[(name, gpus)][0], mfu=DSV3_GAPS[(name, gpus)][1]),
            "notes": ("held out; inputs written from the README's table before comparing (recompute and ZeRO stage not "
                      f"stated: searched). Regime: MoE training, NVIDIA {hw}, {gpus} devices, megatron-core-2024 with MoE "
                      "parallel folding (NeMo 25.04.01)."),
        })
    return out


HEADER = """# NVIDIA DGX Cloud benchmarking recipes on 8-2,048 H100s (NeMo 24.09, BF16 and FP8), the READMEs' 'Training step time'
# rows: Llama 3.1 8B and 70B (NVIDIA/dgxc-benchmarking llama3.1/README_8b.md and README_70b.md at commit 143b90dd91f9) and
# Nemotron-4 340B (nemotron/README_340b.md at 35a9aecc8d5b; the model joined the catalog with its sources). Layouts as the
# READMEs state them (8B: TP 1, PP 1, CP 2; 70B: TP 4, PP 4, CP 2, VP 5; 340B: TP 8, PP 8, VP 12; Grok-1 314B (grok1/
# README_314b.md at 143b90dd): TP 4, PP 8, CP 2, VP 8, EP 8; micro-batch 1; the global batch grows with the GPU count);
# recompute and ZeRO stage are not stated and are searched. Same release and stack as the 405B recipe
# whose 576-GPU point fits the H100 sustained-load factor (DGXC405-576). DeepSeek-V3 671B BF16 on 512 / 1,024 H100s and
# 128-512 GB200s (deepseek_v3/pretraining/README.md at 1f6d9f40, NeMo 25.04.01, TP 2 with expert tensor parallelism 1:
# MoE parallel folding). All rows here are held out, inputs written before comparing.
# Rebuild: costsim/validation/cases/build_dgxc_cases.py.
"""

if __name__ == "__main__":
    write_cases(Path(__file__).with_name("training_dgxc.yaml"), HEADER, rows() + rows_dsv3())
