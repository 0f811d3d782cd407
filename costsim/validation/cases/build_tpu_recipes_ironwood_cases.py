"""Writes costsim/validation/cases/training_maxtext_tpu7x.yaml from the Ironwood (TPU7x) training table of Google's
tpu-recipes (AI-Hypercomputer/tpu-recipes@c8cfe2f689081d36701a101cd73a70965d80926b training/ironwood/README.md,
Apache-2.0; the numbers below are copied from it) and the MaxText arguments of each row's run_recipe.sh at the same
commit.

Run from the repository root: .venv/bin/python costsim/validation/cases/build_tpu_recipes_ironwood_cases.py
"""
from pathlib import Path

import yaml

SRC = "AI-Hypercomputer/tpu-recipes@c8cfe2f689081d36701a101cd73a70965d80926b"
TABLE = f"{SRC} training/ironwood/README.md"

# What the recipes share, and how each maps onto costsim's layout (written from the run scripts before comparing):
# - per_device_batch_size counts JAX devices, and a TPU7x chip is two of them (two TensorCores; maxtext
#   accelerator_to_spec_map 'tpu7x: two cores per chip'), so sequences per chip = 2 x per_device_batch_size, which
#   reproduces every row's GBS (70B: 2 x 2 x 64 = 256);
# - ici_fsdp_parallelism=-1 shards parameters, gradients and optimizer state over the whole slice (ZeRO-3 over all
#   chips, xla-tpu); the slice is one ICI domain (num-slices=1), so the domain is the slice;
# - remat_policy=custom keeps a few tensors (the layer input on device or offloaded to host, the attention
#   projections on the 8k Llama rows) and rematerializes the rest, above all the FFN (the MoE rows keep only the
#   offloaded layer input): priced as full recomputation, the nearest of costsim's three policies (on the 8k Llama
#   rows it re-runs the attention projections the recipe keeps, ~10 % of a layer's forward FLOPs);
# - quantization=fp8_full (qwix) runs the matmuls in FP8: precision fp8; bf16 rows keep bf16;
# - the MoE rows shard the experts' weights over the FSDP axis (fsdp_shard_on_exp / 2D FSDP) and run every token's
#   experts locally with grouped matmuls (megablox / sparse_matmul): no expert parallelism (ep 1);
# - gpt-oss-120b: ici_fsdp_parallelism=64 with ici_data_parallelism=2 (64 chips) or 8 (256 chips): FSDP over 32 chips
#   and data parallelism across those groups; costsim's ZeRO spans the slice (its shard group is the domain), which
#   moves the per-chip all-gather traffic by (1 - 1/64) / (1 - 1/32), ~1 %;
# - llama3.1-70b at 131,072 tokens: per_device_batch_size 0.125 with ici_context_parallelism=8: context parallel 8,
#   32 data-parallel groups of 2 sequences each.
ROWS = [
    # id suffix, model, chips, GBS, seq, precision, step s, TFLOP/s/chip, tokens/s/chip, recipe dir, layout extras
    ("DSV3-128-BF16", "deepseek-v3", 128, 2048, 4096, "bf16", 27.02, 607.53, 2425.75, "deepseek3-671b/4k-bf16-tpu7x-4x4x8", {}),
    ("DSV3-128-FP8", "deepseek-v3", 128, 2048, 4096, "fp8", 22.47, 730.60, 2917.15, "deepseek3-671b/4k-fp8-tpu7x-4x4x8", {}),
    ("DSV3-256-BF16", "deepseek-v3", 256, 4096, 4096, "bf16", 26.79, 612.66, 2446.25, "deepseek3-671b/4k-bf16-tpu7x-4x8x8", {}),
    ("DSV3-256-FP8", "deepseek-v3", 256, 4096, 4096, "fp8", 22.08, 743.46, 2968.49, "deepseek3-671b/4k-fp8-tpu7x-4x8x8", {}),
    ("GPTOSS120B-64-BF16", "gpt-oss-120b", 64, 1280, 8192, "bf16", 17.10, 330.25, 9581.66, "gpt-oss-120b/8k-bf16-tpu7x-4x4x4", {}),
    ("GPTOSS120B-256-BF16", "gpt-oss-120b", 256, 5120, 8192, "bf16", 17.12, 329.90, 9571.36, "gpt-oss-120b/8k-bf16-tpu7x-4x8x8", {}),
    ("L405B-256-BF16", "llama-3.1-405b", 256, 1536, 8192, "bf16", 98.34, 1261.40, 499.77, "llama3.1-405b/8k-bf16-tpu7x-4x8x8", {}),
    ("L405B-256-FP8", "llama-3.1-405b", 256, 1536, 8192, "fp8", 64.37, 1927.15, 763.54, "llama3.1-405b/8k-fp8-tpu7x-4x8x8", {}),
    ("L70B-64-BF16", "llama-3.1-70b", 64, 256, 8192, "bf16", 12.20, 1207.05, 2686.98, "llama3.1-70b/8k-bf16-tpu7x-4x4x4", {}),
    ("L70B-64-FP8", "llama-3.1-70b", 64, 256, 8192, "fp8", 7.93, 1854.19, 4127.56, "llama3.1-70b/8k-fp8-tpu7x-4x4x4", {}),
    ("L70B-256-BF16", "llama-3.1-70b", 256, 1024, 8192, "bf16", 12.27, 1199.67, 2670.55, "llama3.1-70b/8k-bf16-tpu7x-4x8x8", {}),
    ("L70B-256-FP8", "llama-3.1-70b", 256, 1024, 8192, "fp8", 7.95, 1851.25, 4121.02, "llama3.1-70b/8k-fp8-tpu7x-4x8x8", {}),
    ("L70B-256-BF16-128K", "llama-3.1-70b", 256, 64, 131072, "bf16", 34.02, 897.94, 963.03, "llama3.1-70b/128k-bf16-tpu7x-4x8x8", {"cp": 8}),
    ("L70B-256-FP8-128K", "llama-3.1-70b", 256, 64, 131072, "fp8", 30.11, 1014.45, 1087.99, "llama3.1-70b/128k-fp8-tpu7x-4x8x8", {"cp": 8}),
    ("Q235B-256-BF16", "qwen3-235b-a22b", 256, 8192, 4096, "bf16", 30.87, 629.79, 4245.89, "qwen3-235b-a22b/4k-bf16-tpu7x-4x8x8", {}),
    ("Q235B-256-FP8", "qwen3-235b-a22b", 256, 8192, 4096, "fp8", 27.67, 702.60, 4736.72, "qwen3-235b-a22b/4k-fp8-tpu7x-4x8x8", {}),
]

_MOE = ("MaxText's mixture-of-experts recipes on TPU7x (DeepSeek-V3 at 128 / 256 chips, Qwen3-235B-A22B, gpt-oss-120b) "
        "run 1.5-2.9x slower than costsim prices them (the table's own count: 26 / 27 / 14 % of the BF16 peak) while the "
        "dense Llama 3.1 70B and 405B rows of the same table agree within 9 % (405B within 1 %). costsim prices these "
        "layouts as FSDP over the slice, every token's experts computed where the token is (grouped matmuls at the "
        "dense GEMM efficiency) and every expert's weights all-gathered per layer and pass (DeepSeek-V3 on 128 chips: "
        "11.3 s of all-gathers and reduce-scatters per step, 5.4 s of it exposed, at 2-byte weights over 600 GB/s of ICI "
        "per direction). Candidates this table cannot separate: the recipes store the weights in float32 "
        "(weight_dtype=float32 in the gpt-oss and Qwen3 scripts, MaxText's default in the others), which doubles those "
        "gathers unless XLA casts before gathering (tried, not adopted: 4-byte gathers move DeepSeek-V3 to -21..-23 %, GPT-3 on "
        "v6e from -16 to -10 % and gpt-oss / Qwen3 by only 3 points, and where XLA places the cast is not verified); the "
        "recipes' own microbenchmark measures all-gathers at ~179 GB/s "
        "per chip (microbenchmarks/ironwood/collectives/all_gather.md, 0.4 GB on 2x2x1 and 2x2x2 slices), not the links' "
        "600; and the grouped-matmul kernels (tokamax gmm over ragged token groups, with the token sort of "
        "use_custom_sort_vjp) are unmeasured on TPU. gpt-oss-120b, whose 117 G parameters per 5.1 G active make the "
        "gathers largest against the compute, misses most; the earlier v5p / v6e MoE recipes (MAXTEXT-MOE-*) show the "
        "miss growing with total over active parameters (Llama 4 Scout, 6.4x, within 1 %). Not tuned away.")
_CP = ("+15 / +17 % (costsim 39.2 / 35.3 s against 34.0 / 30.1 s): Llama 3.1 70B at 131,072 tokens with context "
       "parallelism 8 over the FSDP slice (MaxText's ici_context_parallelism), just outside the 15 % target where the "
       "same model's 8,192-token rows are within 9 %. costsim's step here is 98 % compute, most of it causal attention "
       "at 128k tokens priced at the FlashAttention efficiency fitted for GPUs (ATTENTION_REL_EFF) where the recipe runs "
       "TPU splash-attention kernels (tokamax splash, fused backward, 2,048-token blocks). Not tuned away.")
_MOE_EARLIER = ("The earlier MaxText MoE recipes of the same repository show the same miss on v5p and v6e, growing with a "
                "model's total over active parameters, i.e. with the expert weights FSDP gathers per layer against the "
                "expert FLOPs: Llama 4 Scout (16 experts, 109 G / 17 G = 6.4x) agrees within 1 % on 512 v5p chips, "
                "Qwen3-235B (10.7x) is -37 % on TPU7x, DeepSeek-V3 (18x) -27 % on 512 v5p chips and -33..-39 % on TPU7x, "
                "Llama 4 Maverick (128 experts, 23.5x) -31 % on 128 v5p chips, gpt-oss-120b (23x) -65 % on TPU7x; "
                "Mixtral 8x7B's 'dropped' recipe on v6e (-35 %) also runs capacity-padded dense dispatch (capacity "
                "factor 1.25, megablox off), which costsim does not price. So the missing time sits with the gathers of "
                "every expert's weights (and their gradients' reduce-scatters) rather than the expert GEMMs: their "
                "bandwidth on the torus, how much XLA overlaps them inside the scanned layer loop, and their bytes "
                "(float32 weights: 4-byte gathers, tried, close only a quarter of the DeepSeek miss). Not tuned away.")
KNOWN_GAPS = {**{f"MAXTEXT-MOE-{s}": _MOE_EARLIER for s in ("V5P-DSV3-512", "V5P-LLAMA4-MAVERICK-128",
                                                           "V6E-MIXTRAL-8X7B-256")},
              **{f"MAXTEXT-TPU7X-{s}": _MOE for s in ("DSV3-128-BF16", "DSV3-128-FP8", "DSV3-256-BF16", "DSV3-256-FP8",
                                                       "GPTOSS120B-64-BF16", "GPTOSS120B-256-BF16", "Q235B-256-BF16",
                                                       "Q235B-256-FP8")},
              "MAXTEXT-TPU7X-L70B-256-BF16-128K": _CP, "MAXTEXT-TPU7X-L70B-256-FP8-128K": _CP}

rows = []
for suffix, model, chips, gbs, seq, precision, step_s, tflops, tps, recipe, extra in ROWS:
    cp = extra.get("cp", 1)
    dp = chips // cp
    micro = gbs // dp
    label = "fp8_full" if precision == "fp8" else "bf16"
    rows.append({
        "id": f"MAXTEXT-TPU7X-{suffix}",
        "kind": "training_step_time",
        "source": (f"{TABLE}: {model} row, {chips} chips, GBS {gbs}, sequence {seq:,}, {label}: step {step_s} s, {tflops:,} "
                   f"TFLOP/s/chip, {tps:,} tokens/s/chip; run script training/ironwood/{recipe}/.../run_recipe.sh "
                   "(MaxText, synthetic data, one slice)"),
        "inputs": {"model": model, "hardware": "tpu-v7", "gpus": chips, "scaleup_domain_size": chips, "seq_len": seq,
                   "global_batch": gbs, "precision": precision, "tp": 1, "pp": 1, "cp": cp, "ep": 1, "dp": dp,
                   "micro_batch": micro, "recompute": "full", "zero": 3, "framework": "xla-tpu"},
        "metric": "step_time_s",
        "expected": step_s,
        "comparison": "within",
        "tolerance_frac": 0.15,
        "tolerance_reason": "issue target 15 %; one vendor recipe table (the README: numbers subject to change)",
        "used_for_fit": False,
        **({"known_gap": KNOWN_GAPS[f"MAXTEXT-TPU7X-{suffix}"]} if f"MAXTEXT-TPU7X-{suffix}" in KNOWN_GAPS else {}),
        "notes": (f"held out (nothing is fitted on TPU7x; the TPU MXU efficiency MATMUL_FRAC['tpu'] comes from a TPU v4 run). "
                  f"Inputs written from the run script before comparing: {gbs / chips:g} sequence(s) "
                  f"per chip (2 TensorCores x per_device_batch_size), FSDP over the slice"
                  + (f", context parallel {cp}" if cp > 1 else "")
                  + f". Check: GBS x seq / step / chips = {gbs * seq / step_s / chips:,.0f} tokens/s/chip (table {tps:,}). "
                  f"Regime: TPU v7 (Google, {chips} chips, xla-tpu)."),
    })

# Earlier MaxText mixture-of-experts recipes of the same repository, one log line each ("completed step: N, seconds: S"),
# with the tuning parameters of their model configs in AI-Hypercomputer/maxtext@e591f30cbbf2 benchmarks/
# maxtext_{v5p,trillium}_model_configs.py: whether costsim's TPU MoE miss is Ironwood's or the MoE path's.
# (id suffix, model, hardware, chips, GBS, seq, step s, TFLOP/s/device, README, layout extras, note)
MOE_ROWS = [
    ("V5P-DSV3-512", "deepseek-v3", "tpu-v5p", 512, 3072, 8192, 90.668, 152.415, "training/v5p/DeepSeek3-671B-MaxText/README.md",
     {}, "deepseek3_671b_v5p_1024: v5p-1024 = 512 chips, per_device_batch_size 6, FSDP over the slice, weight_dtype float32, "
         "megablox + sparse_matmul, remat custom with the layer input and out_proj offloaded"),
    ("V5P-LLAMA4-SCOUT-512", "llama-4-scout", "tpu-v5p", 512, 4096, 8192, 31.652, 225.491,
     "training/v5p/Llama4-Scout-17B-16E-Maxtext/README.md", {},
     "llama4_scout_dropless_v5p_256 run on v5p-1024 (the log's total_weights 33,554,432 = 4,096 x 8,192: 512 chips x "
     "per_device_batch_size 8), FSDP over the slice, weight_dtype float32, megablox + sparse_matmul, the layer input offloaded"),
    ("V5P-LLAMA4-MAVERICK-128", "llama-4-maverick", "tpu-v5p", 128, 512, 8192, 24.792, 160.005,
     "training/v5p/Llama4-Maverick-17B-128E-Maxtext/README.md", {"tp": 4},
     "llama4_maverick_dropless_v5p_256: 128 chips, per_device_batch_size 4, ici_tensor_parallelism 4 x ici_fsdp_parallelism "
     "32 (tp 4, 16 sequences per tensor-parallel group), weight_dtype float32, megablox + sparse_matmul, the layer input and "
     "attention projections offloaded"),
    ("V6E-MIXTRAL-8X7B-256", "mixtral-8x7b", "tpu-v6e", 256, 3072, 4096, 13.484, 302.311,
     "training/trillium/Mixtral-8x7B-MaxText/README.md", {},
     "mixtral_8x7b_dropped: 256 chips, per_device_batch_size 12, FSDP over the slice, capacity factor 1.25 with dense "
     "dispatch (megablox and sparse_matmul off: each expert computes a 1.25 x k / E share of the tokens, padded, which "
     "costsim does not price), the layer input and attention projections offloaded"),
]
for suffix, model, hw, chips, gbs, seq, step_s, tflops, readme, extra, how in MOE_ROWS:
    tp = extra.get("tp", 1)
    dp = chips // tp
    rows.append({
        "id": f"MAXTEXT-MOE-{suffix}",
        "kind": "training_step_time",
        "source": (f"{SRC} {readme}: 'completed step ..., seconds: {step_s}, TFLOP/s/device: {tflops}' ({chips} chips, "
                   f"{gbs} x {seq:,} tokens per step)"),
        "inputs": {"model": model, "hardware": hw, "gpus": chips, "scaleup_domain_size": chips, "seq_len": seq,
                   "global_batch": gbs, "precision": "bf16", "tp": tp, "pp": 1, "cp": 1, "ep": 1, "dp": dp,
                   "micro_batch": gbs // dp, "recompute": "full", "zero": 3, "framework": "xla-tpu"},
        "metric": "step_time_s",
        "expected": step_s,
        "comparison": "within",
        "tolerance_frac": 0.15,
        "tolerance_reason": "issue target 15 %; one example log line of a vendor recipe",
        "used_for_fit": False,
        **({"known_gap": KNOWN_GAPS[f"MAXTEXT-MOE-{suffix}"]} if f"MAXTEXT-MOE-{suffix}" in KNOWN_GAPS else {}),
        "notes": (f"held out. {how}. Priced as FSDP (ZeRO-3) over the slice with full recomputation (the custom policy "
                  f"offloads what it keeps; costsim's activation offload is searched). Regime: {hw}, {chips} chips, MoE, xla-tpu."),
    })

HEADER = f"""# MaxText on Google TPU7x (Ironwood): the training table of {TABLE} (Apache-2.0) and the MaxText arguments of each
# row's run_recipe.sh at the same commit: step time of Llama 3.1 70B / 405B, DeepSeek-V3, Qwen3-235B-A22B and
# gpt-oss-120b on one slice of 64, 128 or 256 chips, BF16 and FP8 (qwix fp8_full). The table's Gemma 4 and Wan 2.1 rows
# are left out (models not in the catalog); four earlier MaxText MoE recipes of the same repository on v5p / v6e follow
# (MAXTEXT-MOE-*). Every row is held out: nothing is fitted on TPU7x; known gaps were written
# after the first comparison (the selection is every row of the table whose model is in the catalog). Layout mapping in
# costsim/validation/cases/build_tpu_recipes_ironwood_cases.py, which rebuilds this file.
"""
out = Path(__file__).with_name("training_maxtext_tpu7x.yaml")
out.write_text(HEADER + yaml.safe_dump(rows, sort_keys=False, width=120, allow_unicode=True))
print(f"wrote {out} ({len(rows)} cases)")
