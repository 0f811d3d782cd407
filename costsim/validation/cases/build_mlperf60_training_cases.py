"""Writes training_mlperf60.yaml: MLPerf Training v6.0 step times read by hand from the round's logs (the values
and offsets are in each row below and in each case's source), with each run's layout from its config.

    python costsim/validation/cases/build_mlperf60_training_cases.py costsim/validation/cases/training_mlperf60.yaml
"""
import sys
from pathlib import Path

from costsim.validation.cases.generated import mlperf_step_case, write_cases
HEADER = """# MLPerf Training v6.0 (May 2026 round, NeMo 26.04): DeepSeek-V3 671B pretraining on 256-8,192 GB200 / GB300 GPUs, Llama 3.1
# 405B / 8B and gpt-oss-20b pretraining on NVIDIA's GB200 / GB300 NVL72 systems, and other submitters' Llama 3.1 8B /
# gpt-oss-20b runs on H100, H200 NVL, B300 and AMD MI325X / MI350X / MI355X, closed division. Read from the public
# mirror Richardyu114/training_results_v6.0 at commit eabf23a07b2a (mlcommons/training_results_v6.0 itself could not be
# fetched here; the mirror holds its results, systems and benchmarks trees; Apache-2.0). Step time = the median of the
# logged per-step train_step_time (NeMo 26.04 logs one per step, MLLOG tracked_stats with reduced_train_loss) over
# consecutive steps in the middle of result_0.txt or the result file the case names (evaluation excluded; AMD's Primus
# logs time blocks of 384 steps instead); the log's block averages are quoted in the notes where they differ. Layout, batch and precision from the submitter's config_*.sh, checked against the logged global
# batch and gradient-accumulation steps; where the config file is not in the mirror's index the layout comes from its
# file name and the case says so. MXFP8 prices as fp8, NVFP4 as fp4. All held out; inputs from the configs and logs,
# not changed after comparing except where a case's notes say so (the Cisco H100 gpt-oss rows' expert launch; the
# HPE rows' optimizer sharding and recomputation, misread at first from printed defaults).
# Data-parallel buckets are the run's own where its config or log states them, else Megatron-core's default.
# Rebuild: python costsim/validation/cases/build_mlperf60_training_cases.py costsim/validation/cases/training_mlperf60.yaml
"""
REPO = "mlcommons/training_results_v6.0 (read through the public mirror Richardyu114/training_results_v6.0@eabf23a07b2a)"
rows = []
def add(id_, path, cfg, med, how, inputs, notes):
    rows.append(dict(id=id_, path=path, cfg=cfg, med=med, how=how, inputs=inputs, notes=notes))

DSV3 = dict(model="deepseek-v3", seq_len=4096, precision="fp8", attention_precision="fp8", pp=4, vp=4, cp=1, ep=32,
            micro_batch=1, zero=1, recompute="none", framework="megatron-core-2024", moe_expert_launch="device",
            ep_dispatcher="deduplicated", ep_overlap=True, moe_router_balance="aux-loss")
def dsv3(id_, sub, d, hw, gpus, gbs, tp, cfg, vals, med, off, extra=""):
    inp = dict(DSV3, hardware=hw, gpus=gpus, global_batch=gbs, tp=tp, dp=gpus // (tp * 4),
               sequence_parallel=tp > 1)
    inp = {k: inp[k] for k in ["model", "hardware", "gpus", "seq_len", "global_batch", "precision", "attention_precision", "tp", "pp", "vp", "cp", "ep",
                               "ep_overlap", "ep_dispatcher", "moe_expert_launch", "moe_router_balance", "dp", "micro_batch", "zero", "recompute",
                               "sequence_parallel", "framework"]}
    ga = gbs // inp["dp"]
    add(id_, f"{sub}/results/{d}/deepseekv3_671b/result_0.txt", cfg,
        med, f"logged train_step_time of consecutive steps {vals} (offset {off})", inp,
        f"GBS {gbs} x 4,096 tokens, {ga} micro-batches of 1 per data-parallel rank (logged gradient_accumulation_steps {ga}); "
        f"MXFP8 linear layers priced as fp8 (config_common_mxfp8.sh: FP8=True, FP8_PARAM_GATHER=True, FP8_DPA=True, so fp8 attention); "
        f"TP {tp} PP 4 with 4 virtual stages (INTERLEAVED_PIPELINE=4, PIPELINE_LAYOUT Et*4|(t*4|)*14tmL: 61 layers + the MTP layer), EP 32, "
        f"flex dispatcher with the HybridEP backend (node-deduplicated: ep_dispatcher deduplicated), OVERLAP_MOE_EXPERT_PARALLEL_COMM=True "
        f"(ep_overlap), full-iteration CUDA graphs with the cuteDSL fused grouped MLP (moe_expert_launch device), real data with "
        f"MOE_ROUTER_FORCE_LOAD_BALANCING=False and moe_aux_loss_coeff 0.01 in the log (moe_router_balance aux-loss). {extra}")

dsv3("MLPERF60-NVIDIA-GB300-DSV3-256", "NVIDIA", "theia_ngpu256_ngc26.04_nemo", "gb300", 256, 15360, 1,
     "NVIDIA/benchmarks/deepseekv3_671b/implementations/theia_ngpu512_ngc26.04_nemo/config_GB300_64x4x240xtp1pp4ep32cp1_mxfp8_full_cg.sh",
     [39.0801, 39.0876, 39.0881, 39.0847, 39.0905, 39.1241, 39.0756, 39.2279], 39.0878, 60000,
     "System Theia (4x GB300 NVL72, 4x ConnectX-8 800 Gb/s per node; the log's submission_platform string says GB200, the system file and config GB300). RECOMPUTE_MODULES empty.")
dsv3("MLPERF60-NVIDIA-GB300-DSV3-512", "NVIDIA", "theia_ngpu512_ngc26.04_nemo", "gb300", 512, 15360, 1,
     "NVIDIA/benchmarks/deepseekv3_671b/implementations/theia_ngpu512_ngc26.04_nemo/config_GB300_128x4x120xtp1pp4ep32cp1_mxfp8_full_cg.sh",
     [20.3436, 20.1289, 20.0853, 20.0753, 20.0629, 19.9848, 19.9810, 20.0020], 20.0691, 60000,
     "System Theia (8x GB300 NVL72). RECOMPUTE_MODULES empty.")
for g, gbs, cfg, vals, med, off in [
        (512, 15360, "config_GB200_128x4x240xtp2pp4ep32cp1_mxfp8_full_cg.sh", [30.9394, 30.8827, 30.8296, 30.7935, 30.8155, 30.9871, 30.9783, 30.9704], 30.9111, 60000),
        (2048, 15360, "config_GB200_512x4x60xtp2pp4ep32cp1_mxfp8_full_cg.sh", [9.1107, 9.0820, 9.0541, 9.0487, 9.0548, 9.0607, 9.0405, 9.1153], 9.0578, 130000),
        (4096, 16384, "config_GB200_1024x4x32xtp2pp4ep32cp1_mxfp8_full_cg.sh", [5.4440, 5.4460, 5.3518, 5.4713, 5.5667, 5.3259, 5.5893, 5.3370], 5.4450, 215000),
        (8192, 16384, "config_GB200_2048x4x16xtp2pp4ep32cp1_mxfp8_full_cg.sh", [3.6910, 3.4601, 3.4362, 3.5061, 3.4185, 3.5191, 3.4445, 3.4228, 3.5668], 3.4601, 385000)]:
    d = f"tyche-hsg_ngpu{g}_ngc26.04_nemo"
    dsv3(f"MLPERF60-NVIDIA-GB200-DSV3-{g}", "NVIDIA", d, "gb200", g, gbs, 2,
         f"NVIDIA/benchmarks/deepseekv3_671b/implementations/{d}/{cfg}", vals, med, off,
         f"System Tyche-hsg ({g // 72 if g >= 72 else 1}+ GB200 NVL72 racks, 4x ConnectX-7 400 Gb/s per node). RECOMPUTE_MODULES=mlp recomputes only the dense MLPs "
         "(Megatron-core applies 'mlp' to non-MoE layers: the first 3 of 61), priced as recompute none. Sequence parallel with TP 2.")
for g, cfg, vals, med, off in [
        (2048, "CoreWeave_GB300_512x4/config_GB300_512x4x32xtp1pp4ep32cp1_mxfp8_full_cg.sh", [6.2789, 6.4071, 6.1526, 6.2874, 6.3058, 6.0765, 6.2320, 6.4122], 6.2832, 130000),
        (4096, "CoreWeave_GB300_1024x4/config_GB300_1024x4x16xtp1pp4ep32cp1_mxfp8_full_cg.sh", [2.9998, 3.0397, 3.0016, 3.1672, 3.0594, 3.0326, 3.1785, 3.0238], 3.0362, 215000),
        (8192, "CoreWeave_GB300_2048x4/config_GB300_2048x4x8xtp1pp4ep32cp1_mxfp8_full_cg.sh", [1.6654, 1.7362, 1.9118, 1.7406, 1.6524, 1.7823, 1.7309, 1.7591], 1.7384, 385000)]:
    d = cfg.split("/")[0]
    dsv3(f"MLPERF60-COREWEAVE-GB300-DSV3-{g}", "CoreWeave", d, "gb300", g, 16384, 1,
         f"CoreWeave/benchmarks/deepseekv3_671b/implementations/{cfg}", vals, med, off,
         "System CoreWeave GB300 NVL72 (16x 200 Gb/s ConnectX-8 RoCE ports per node, Spectrum-X); the node's network is priced as the catalog's gb300 node. RECOMPUTE_MODULES empty.")
dsv3("MLPERF60-GOOGLE-GB200-DSV3-256", "Google", "gb200_nvl72_n64_ngc26.04_nemo", "gb200", 256, 15360, 2,
     "Google/benchmarks/deepseekv3_671b/implementations/gb200_megatron_bridge/config_GB200_64x4x480xtp2pp4ep32cp1_mxfp8_full_cg.sh",
     [59.7500, 59.5654, 59.6899, 59.7955, 59.6917, 59.4760, 59.3954], 59.6899, 770000,
     "System NVIDIA GB200 NVL72 on Google Cloud (64 nodes, 4x ConnectX-7 RoCE 400 Gb/s). RECOMPUTE_MODULES=mlp (dense MLPs only, priced as recompute none). Sequence parallel with TP 2.")

def llm(id_, d, bench, hw, gpus, gbs, tp, pp, cp, vp, mbs, prec, attn, cfg, cfg_indexed, vals, med, off, extra, model, ep=1, moe=False, bucket=None,
        sub="NVIDIA", how=None, result="result_0.txt", zero=1, recompute="none"):
    inp = dict(model=model, hardware=hw, gpus=gpus, seq_len=8192, global_batch=gbs, precision=prec)
    if attn != "bf16":
        inp["attention_precision"] = attn
    inp.update(tp=tp, pp=pp, cp=cp, ep=ep)
    if moe and ep > 1:
        inp.update(ep_dispatcher="deduplicated", ep_overlap=False)
    if moe:
        inp.update(moe_expert_launch="device", moe_router_balance="aux-loss")
    inp["dp"] = gpus // (tp * pp * cp)
    if bucket:
        inp["dp_bucket_params"] = bucket
    if vp:
        inp["vp"] = vp
    inp.update(micro_batch=mbs, zero=zero, recompute=recompute, sequence_parallel=tp > 1, framework="megatron-core-2024")
    add(id_, f"{sub}/results/{d}/{bench}/{result}", cfg, med,
        how or f"logged train_step_time of consecutive steps {vals} (offset {off})", inp,
        ("config in the index" if cfg_indexed else "config not in the index: layout from its file name (nodes x GPUs x micro-batches per rank x tp/pp/cp), "
         "checked against the logged global batch and gradient-accumulation steps; other settings as the same-named v5.1 config") + ". " + extra)

llm("MLPERF60-NVIDIA-GB300-405B-512", "theia-cmh_ngpu512_ngc26.04_nemo", "llama31_405b", "gb300", 512, 896, 2, 8, 2, 8, 1, "fp4", "bf16",
    "NVIDIA/benchmarks/llama31_405b/implementations/theia-cmh_ngpu512_ngc26.04_nemo/config_GB300_128x4x56xtp2pp8cp2_cg_fp4.sh", False,
    [9.5831, 9.5902, 9.5997, 9.5989, 9.6009, 9.5802, 9.5822], 9.590, 92000,
    "GBS 896 = 56 micro-batches x dp 16 (logged GAS 56); NVFP4 GEMMs priced as fp4, BF16 attention (the 2,048-GPU config of the round sets NVTE_DPA_FP8_RECIPE=F16); VP 8 as that config. System Theia-cmh (8x GB300 NVL72).",
    "llama-3.1-405b")
llm("MLPERF60-NVIDIA-GB300-405B-2048", "theia-cmh_ngpu2048_ngc26.04_nemo", "llama31_405b", "gb300", 2048, 1024, 2, 8, 2, 8, 1, "fp4", "bf16",
    "NVIDIA/benchmarks/llama31_405b/implementations/theia-cmh_ngpu2048_ngc26.04_nemo/config_GB300_512x4x16xtp2pp8cp2_cg_fp4.sh", True,
    [3.0749, 3.0868, 3.1488, 3.0947, 3.0867, 3.0929, 3.1216], 3.093, 140000,
    "GBS 1024 = 16 micro-batches x dp 64 (logged GAS 16); sources config_common_fp4.sh (NVFP4 GEMMs, priced as fp4), NVTE_DPA_FP8_RECIPE=F16 (BF16 attention), ASYM_PP_EMBED / ASYM_PP_LOSS, CUDA graphs (config_common_cg.sh). System Theia-cmh (32x GB300 NVL72).",
    "llama-3.1-405b")
llm("MLPERF60-NVIDIA-GB300-8B-8", "theia_ngpu8_ngc26.04_nemo", "llama31_8b", "gb300", 8, 16, 1, 1, 1, None, 2, "fp4", "fp8",
    "NVIDIA/benchmarks/llama31_8b/implementations/nemo/config_GB300_2x4x2xtp1pp1cp1_8b_fp4.sh", False,
    [0.3460, 0.3434, 0.3444, 0.3442, 0.3445, 0.3444, 0.3451], 0.3444, 56000,
    "GBS 16, micro-batch 2, NVFP4 GEMMs with FP8 dot-product attention as the v5.1 file of this name; the block average 768 steps / 263.77 s = 0.3435 s agrees. 2 GB300 nodes x 4.",
    "llama-3.1-8b", bucket=8.9e8)
llm("MLPERF60-NVIDIA-GB300-8B-72", "theia_ngpu72_ngc26.04_nemo", "llama31_8b", "gb300", 72, 72, 1, 1, 1, None, 1, "fp4", "fp8",
    "NVIDIA/benchmarks/llama31_8b/implementations/nemo/config_GB300_18x4x1xtp1pp1cp1_8b_fp4.sh", False,
    [0.19857, 0.19884, 0.19953, 0.19972, 0.19934, 0.19944, 0.19992], 0.1994, 36000,
    "GBS 72, dp 72, micro-batch 1, NVFP4 GEMMs with FP8 attention (the 8-GPU fp4 file's settings). The log's own block averages (0.1936 s) sit 3 % below the per-step times and one block's timestamps give 0.2045 s: a 3 % measurement spread. One NVL72 rack. "
    "Two other submitters ran the same config file on one GB300 NVL72 (HPE/results/HPE-GB300-ngpu72_ngc26.04 result_1 0.19871 s, "
    "Lambda/results/gb300_n18_ngc25.09_nemo result_1 0.20037 s): the median of the three is this run's 0.1994 s.",
    "llama-3.1-8b", bucket=8.9e8)
llm("MLPERF60-NVIDIA-GB300-8B-512", "theia_ngpu512_ngc26.04_nemo", "llama31_8b", "gb300", 512, 64, 2, 1, 4, None, 1, "fp8", "bf16",
    "NVIDIA/benchmarks/llama31_8b/implementations/nemo/config_GB300_128x4x1xtp2pp1cp4_8b.sh", False,
    [0.07576, 0.07601, 0.07572, 0.07564, 0.07610], 0.07576, 48000,
    "GBS 64, TP 2, CP 4, dp 64, FP8 GEMMs and BF16 attention as the v5.1 file of this name (BUCKET_SIZE 768M: dp_bucket_params 8.9e8); block averages 0.0756-0.0766 s. The v5.1 run of the same config took 0.0865 s (MLPERF51-NVIDIA-GB300-8B-512).",
    "llama-3.1-8b", bucket=8.9e8)
llm("MLPERF60-NVIDIA-GB200-8B-1024", "tyche-hsg_ngpu1024_ngc26.04_nemo", "llama31_8b", "gb200", 1024, 64, 4, 1, 4, None, 1, "fp8", "bf16",
    "NVIDIA/benchmarks/llama31_8b/implementations/nemo/config_GB200_256x4x1xtp4pp1cp4_8b.sh", True,
    [0.07211, 0.07212, 0.07242, 0.07225, 0.07224], 0.07224, 72000,
    "GBS 64, TP 4 (SEQ_PARALLEL=True, TP_COMM_OVERLAP=True), CP 4, dp 64, BUCKET_SIZE 768M (dp_bucket_params 8.9e8), CUDA graphs; precision from config_common_8b.sh (not in the index), FP8 as the v5.1 8B configs without an fp4 suffix. System Tyche-hsg (16x GB200 NVL72).",
    "llama-3.1-8b", bucket=8.9e8)
for hw, sysn, g, gbs, tp, cp, ep, mbs, cfg, idx, vals, med, off, ex in [
        ("gb300", "theia", 8, 24, 1, 1, 1, 3, "config_GB300_2x4x3xtp1pp1cp1ep1_mxfp8.sh", False, [0.4896, 0.4924, 0.4922, 0.4921, 0.4932, 0.4934, 0.4923], 0.4923, 56000, "GBS 24 = dp 8 x micro-batch 3 (logged gradient accumulation 1); block average 0.4939 s."),
        ("gb300", "theia", 72, 36, 1, 2, 4, 1, "config_GB300_18x4x1xtp1pp1cp2ep4_mxfp8.sh", False, [0.16037, 0.16018, 0.16006, 0.16008, 0.15959, 0.16037, 0.16029], 0.15993, 52000, "GBS 36 = dp 36 x 1, CP 2, EP 4; block average 0.16018 s. Lambda ran the same config file (Lambda/results/gb300_n18_ngc25.09_nemo result_1: 0.15968 s, Lambda/benchmarks/gpt_oss_20b/implementations/gb300_0513/config_GB300_18x4x1xtp1pp1cp2ep4_mxfp8.sh): expected is the median of the two runs (0.16018, 0.15968)."),
        ("gb300", "theia", 512, 64, 2, 4, 8, 1, "config_GB300_128x4x1xtp2pp1cp4ep8.sh", True, [0.0894, 0.0897, 0.0939], 0.0897, 60000, "GBS 64 = dp 64 x 1, TP 2 (sequence parallel), CP 4, EP 8, HybridEP with USE_MNNVL, cuteDSL fused grouped MLP, CUDA graphs (config_common_cg.sh), MXFP8 (config_common_mxfp8.sh); 12 consecutive steps 0.0894-0.0939 s, block averages 0.0897 / 0.0921 s."),
        ("gb200", "tyche-hsg", 8, 16, 1, 1, 1, 2, "config_GB200_2x4x2xtp1pp1cp1ep1_mxfp8.sh", False, [0.4338, 0.4341, 0.4358, 0.4346, 0.4329, 0.4383, 0.4384], 0.4346, 70000, "GBS 16 = dp 8 x micro-batch 2 (logged gradient accumulation 1); block average 0.4380 s."),
        ("gb200", "tyche-hsg", 72, 36, 1, 2, 4, 1, "config_GB200_18x4x1xtp1pp1cp2ep4_mxfp8.sh", False, [0.16487, 0.16599, 0.16594, 0.16520, 0.16541, 0.16479, 0.16547], 0.16541, 48000, "GBS 36 = dp 36 x 1, CP 2, EP 4; block average 0.16568 s.")]:
    llm(f"MLPERF60-NVIDIA-{hw.upper()}-GPTOSS20B-{g}", f"{sysn}_ngpu{g}_ngc26.04_nemo", "gpt_oss_20b", hw, g, gbs, tp, 1, cp, None, mbs, "fp8", "bf16",
        f"NVIDIA/benchmarks/gpt_oss_20b/implementations/nemo/{cfg}", idx, vals, med, off,
        ex + " MXFP8 priced as fp8; full-iteration CUDA graphs with the fused grouped MLP (moe_expert_launch device); real data, router balanced by an auxiliary loss (moe_router_balance aux-loss).",
        "gpt-oss-20b", ep=ep, moe=True)

for r in rows:  # only the range and median of this row's steps were recorded from its log
    if r["id"] == "MLPERF60-NVIDIA-GB300-GPTOSS20B-512":
        r["how"] = "12 consecutive logged train_step_time values between 0.0894 and 0.0939 s (offset 60000)"

# --- other submitters (NVIDIA GPUs): rows whose configuration no earlier case holds
llm("MLPERF60-DELL-H200NVL-8B-8", "1xXE7740x8H200-NVL-141GB", "llama31_8b", "h200-nvl", 8, 16, 1, 1, 1, None, 2, "fp8", "bf16",
    "Dell/benchmarks/llama31_8b/implementations/<XE7740 dir>/config_XE7740_H200NVL_1x8x2xtp1pp1cp1_8b.sh", False,
    [1.4532, 1.4417, 1.4395, 1.4455, 1.4416, 1.4439, 1.4490], 1.4439, 80000,
    "GBS 16, dp 8, micro-batch 2 (logged gradient accumulation 1); FP8 hybrid tensorwise GEMMs with FP8 parameters (log), "
    "BUCKET_SIZE 768M (dp_bucket_params 8.9e8). Dell PowerEdge XE7740 with 8 H200 NVL (PCIe cards, 600 W TDP per the system's hw_notes; "
    "NVLink bridges between 4-GPU groups). The XE7745 submission of the same config file logs 2 accumulation steps and 1.639 s; "
    "left out as its layout does not follow from the name.", "llama-3.1-8b", bucket=8.9e8, sub="Dell")
llm("MLPERF60-CISCO-H100-8B-64", "Zeus_8xH100_SXM_80GB", "llama31_8b", "h100-sxm", 64, 32, 2, 1, 1, None, 1, "fp8", "bf16",
    "Cisco/benchmarks/llama31_8b/implementations/nemo/config_DGXH100_8x8x36xtp8pp8cp2.sh", True,
    [0.3502, 0.3513, 0.3505, 0.3498, 0.3481, 0.3503, 0.3484], 0.3502, 230000,
    "The file's name says tp8pp8cp2 / 36 but its contents set TP 2, PP 1, CP 1, MINIBS 1, which the logged GBS 32 and one "
    "accumulation step confirm (dp 32). FP8 hybrid delayed scaling with FP8 parameters, BF16 attention (FP8_DPA False); "
    "BUCKET_CAP_MB 125 (about 62M bf16 parameters per call: dp_bucket_params 6.25e7). result_1.txt (no result_0).",
    "llama-3.1-8b", bucket=6.25e7, sub="Cisco", result="result_1.txt")
llm("MLPERF60-CISCO-H100-8B-128", "Zeus_16xH100_SXM_80GB", "llama31_8b", "h100-sxm", 128, 64, 2, 1, 1, None, 1, "fp8", "bf16",
    "Cisco/benchmarks/llama31_8b/implementations/nemo/config_DGXH100_16x8x36xtp8pp8cp2.sh (sources the 8x8 file)", True,
    [0.3495, 0.3502, 0.3504, 0.3473, 0.3499, 0.3510, 0.3494], 0.3499, 130000,
    "As MLPERF60-CISCO-H100-8B-64 on 16 nodes: GBS 64, TP 2, dp 64, one micro-batch; the block summary's 181.92 samples/s "
    "gives 0.3518 s. result_1.txt.", "llama-3.1-8b", bucket=6.25e7, sub="Cisco", result="result_1.txt")
for g, gbs, vals, med, off in [(64, 32, [0.4252, 0.4252, 0.4259, 0.4275, 0.4267, 0.4261, 0.4246], 0.4259, 53000),
                               (128, 64, [0.4150, 0.4154, 0.4163, 0.4136, 0.4157], 0.4154, 44000)]:
    llm(f"MLPERF60-CISCO-H100-GPTOSS20B-{g}", f"Zeus_{g // 8}xH100_SXM_80GB", "gpt_oss_20b", "h100-sxm", g, gbs, 2, 1, 1, None, 1,
        "fp8", "bf16", f"Cisco/benchmarks/gpt_oss_20b/implementations/nemo/config_DGXH100_{g // 8}x8x1xtp2pp1cp1ep4.sh", True,
        vals, med, off,
        f"GBS {gbs} = dp {g // 2} x 1, TP 2 (sequence parallel), EP 4 with expert TP 1, FP8 hybrid delayed scaling, BUCKET_SIZE 768M "
        "(dp_bucket_params 7.68e8), "
        "no recomputation; Megatron-core's all-to-all dispatcher (no HybridEP / DeepEP flags on Hopper), expert MLPs in CUDA graphs "
        "as NVIDIA's recipe (moe_expert_launch device). result_1.txt.", "gpt-oss-20b", ep=4, moe=True, sub="Cisco",
        result="result_1.txt", bucket=7.68e8)
for r in rows[-2:]:
    r["inputs"].pop("ep_dispatcher")
    r["inputs"]["moe_expert_launch"] = "host"
    r["notes"] = r["notes"].replace(
        "expert MLPs in CUDA graphs as NVIDIA's recipe (moe_expert_launch device)",
        "expert MLPs launched from the host (moe_expert_launch host, as MB2606-Q30B-H100-16: the Hopper config sets neither the "
        "fused grouped MLP of NVIDIA's Blackwell configs, NVTE_CUTEDSL_FUSED_GROUPED_MLP, a Blackwell kernel, nor graphs over the "
        "MoE layers). Changed after the first comparison, which had copied the Blackwell configs' device launch: the rows were "
        "then -34 / -29 %")
llm("MLPERF60-B300-GPTOSS20B-8", "1xC880A_M8-8xB300-SXM-288GB", "gpt_oss_20b", "b300", 8, 24, 1, 1, 1, None, 3, "fp8", "bf16",
    "Inventec/benchmarks/gpt_oss_20b/implementations/P9000IG7_ngc26.04_nemo/config_P9000IG7_1x8x3xtp1pp1cp1ep1_mxfp8.sh (Cisco's "
    "and HPE's copies of the 1x8x3 mxfp8 config are not in the index)", True,
    [0.5622, 0.5705, 0.5627], 0.5627, 80000,
    "Three submissions of one configuration on 8 B300 SXM: GBS 24 = dp 8 x micro-batch 3 (logged gradient accumulation 1), "
    "MXFP8 (log: fp8 e4m3, recipe mxfp8) priced as fp8, the cuteDSL fused grouped MLP; the same layout as NVIDIA's GB300 "
    "8-GPU row (MLPERF60-NVIDIA-GB300-GPTOSS20B-8, 0.4923 s) on 1,100 W B300 SXM parts.", "gpt-oss-20b", moe=True, sub="Cisco",
    how="median of three submissions' per-step medians: Cisco/results/1xC880A_M8-8xB300-SXM-288GB result_0 0.5622 s, "
        "HPE/results/HPE-Compute-XD690-B300-SXM6-288GB_n1_ngc26.04 result_1 0.5705 s, Inventec/results/P9000IG7_ngc26.04_nemo "
        "result_0 0.5627 s (logged train_step_time, 7-15 consecutive steps each)")
rows[-1]["path"] = "three submissions (see the times listed)"
for g, gbs, vals, med, off, cfg in [(16, 32, [0.35149], 0.35149, 80000, "config_GB300_4x4x2xtp1pp1cp1ep1_mxfp8.sh"),
                                    (32, 64, [0.34930], 0.34930, 75000, "config_GB300_8x4x2xtp1pp1cp1ep1_mxfp8.sh")]:
    llm(f"MLPERF60-HPE-GB300-GPTOSS20B-{g}", f"HPE-GB300-ngpu{g}_ngc26.04", "gpt_oss_20b", "gb300", g, gbs, 1, 1, 1, None, 2,
        "fp8", "bf16", f"HPE/benchmarks/gpt_oss_20b/implementations/nemo_arm_ngc26.04/{cfg}", True, vals, med, off,
        f"GBS {gbs} = dp {g} x micro-batch 2, one accumulation step; EP 1; MXFP8 priced as fp8; HybridEP, the cuteDSL fused "
        "grouped MLP and full-iteration CUDA graphs (moe_expert_launch device); Megatron's distributed optimizer (zero 1: "
        "the log's DDP config has use_megatron_fsdp=False, and data_parallel_sharding_strategy 'optim_grads_params' is a "
        "printed default), no recomputation (recompute_granularity=None with recompute_modules ['core_attn'] listed), "
        "fp8_param_gather=False, BUCKET_SIZE 768M (dp_bucket_params 7.68e8). An earlier reading had taken the printed "
        "sharding strategy and recompute modules for active settings (zero 3, selective); corrected from the log. "
        "Median of 15 logged steps (block average "
        f"{'0.35304' if g == 16 else '0.35169'} s). result_1.txt.", "gpt-oss-20b", moe=True, sub="HPE", result="result_1.txt",
        bucket=7.68e8,
        how=f"median of 15 consecutive logged train_step_time values (offset {off})")
llm("MLPERF60-NEBIUS-B300-GPTOSS20B-64", "nebius_b300_n8", "gpt_oss_20b", "b300", 64, 32, 1, 1, 2, None, 1, "fp8", "bf16",
    "Nebius/benchmarks/gpt_oss_20b/configs/nebius_b300_n8/config_DGXB300_8x8x1xtp1pp1cp2ep4_mxfp8.sh", True,
    [0.17944], 0.17944, 56000,
    "Eight HGX B300 nodes (8 x ConnectX-8 800 Gb/s each): GBS 32 = dp 32 x 1, CP 2, EP 4 inside a node, MXFP8 priced as fp8, "
    "the cuteDSL fused grouped MLP (moe_expert_launch device); block average 0.18078 s. result_01.txt.", "gpt-oss-20b",
    ep=4, moe=True, sub="Nebius", result="result_01.txt", how="median of 11 consecutive logged train_step_time values (offset 56000)")
for g, gbs, med, off, cfg, blk in [(16, 32, 0.33579, 72000, "config_GB300_4x4x2xtp1pp1cp1_8b_fp4.sh", "0.33380"),
                                   (32, 64, 0.33658, 68000, "config_GB300_8x4x2xtp1pp1cp1_8b_fp4.sh", "0.32982 / 0.33020")]:
    llm(f"MLPERF60-HPE-GB300-8B-{g}-FP4", f"HPE-GB300-ngpu{g}_ngc26.04", "llama31_8b", "gb300", g, gbs, 1, 1, 1, None, 2, "fp4", "fp8",
        f"HPE/benchmarks/llama31_8b/implementations/nemo_arm_ngc26.04/{cfg}", True, [med], med, off,
        f"GBS {gbs} = dp {g} x micro-batch 2, one accumulation step; NVFP4 GEMMs (fp4 e2m1) with FP8 dot-product attention (log), "
        "Megatron's distributed optimizer (zero 1; use_megatron_fsdp=False in the log), no recomputation "
        "(recompute_granularity=None), BUCKET_SIZE 768M, full-iteration "
        f"CUDA graphs. Block averages {blk} s sit ~1 % below the per-step median (each block starts with a short step). "
        "result_1.txt.", "llama-3.1-8b", sub="HPE", result="result_1.txt", bucket=8.9e8,
        how=f"median of 10-11 consecutive logged train_step_time values (offset {off})")

# --- AMD Instinct (Primus / Megatron-LM with Transformer Engine on ROCm): Llama 3.1 8B, MXFP4 GEMMs. The logs time blocks of
# 12,288 samples (384 steps of GBS 32): step = block wall time / 384. Where several submitters ran one config file, one case
# holds the median of their medians (as training_mlperf51.yaml).
def amd(id_, hw, gpus, mbs, prec, runs, cfg, extra):
    meds = sorted(r[1] for r in runs)
    med = round(meds[len(meds) // 2] if len(meds) % 2 else (meds[len(meds) // 2 - 1] + meds[len(meds) // 2]) / 2, 4)
    how = "block wall time / 384 steps, median over each log's blocks: " + ", ".join(f"{d} {v} s" for d, v in runs)
    llm(id_, runs[0][0], "llama31_8b", hw, gpus, 32, 1, 1, 1, None, mbs, prec, "bf16", cfg, True, [v for _, v in runs], med, 16000,
        extra, "llama-3.1-8b", sub=runs[0][0].split("/")[0], how=how, result="result_0.txt")
    rows[-1]["path"] = f"{runs[0][0]}/llama31_8b/result_0.txt" if len(runs) == 1 else f"{len(runs)} submissions (see the times listed)"
    rows[-1]["inputs"]["sequence_parallel"] = False

amd("MLPERF60-MI355X-8B-8-FP4", "mi355x", 8, 2, "fp4",
    [("AMD/results/MI355X_EPYC_9575F_primus", 0.874), ("MiTAC/results/8xMI355X_2xEPYC_9755", 0.900),
     ("Dell/results/1xXE9785L_8xMI355X", 0.901), ("HPE/results/HPE-Compute-XD685-MI355X-288GBx8", 0.905),
     ("GigaComputing/results/G893-ZX1-AAX4_pytorch", 0.898), ("Supermicro/results/AS-4126GS-NMR-LCC_8xMI355X_OAM", 0.906),
     ("Oracle/results/8xMI355X_2xEPYC_9575F", 0.903)],
    "AMD/benchmarks/llama31_8b/implementations/MI355X_EPYC_9575F_primus/config_MI355X_1x8x1.sh (and each submitter's copy)",
    "GBS 32 = dp 8 x micro-batch 2 x 2 accumulation steps (logged); FP4=true with FP4_RECIPE=mxfp4 (MXFP4 GEMMs, Hadamard "
    "transform on, an FP8-hybrid warm-up recipe), priced as fp4; BF16 attention through CK fused attention v3. Seven submissions "
    "of the same config, 0.874-0.906 s.")
amd("MLPERF60-MI350X-8B-8-FP4", "mi350x", 8, 2, "fp4",
    [("AMD/results/MI350X_EPYC_9575F_primus", 1.088), ("MiTAC/results/8xMI350X_2xEPYC_9575F_SUTB", 1.089),
     ("MiTAC/results/MI350X_akash_1node_primus", 1.091)],
    "AMD/benchmarks/llama31_8b/implementations/MI350X_EPYC_9575F_primus/config_MI350X_1x8x1.sh with conf/llama3.1_8B-pretrain-fp4.yaml",
    "As MLPERF60-MI355X-8B-8-FP4 on the 1,000 W MI350X (logged TP 1, micro-batch 2, MXFP4). Three submissions, 1.088-1.091 s.")
amd("MLPERF60-CISCO-MI350X-8B-16-FP4", "mi350x", 16, 2, "fp4", [("Cisco/results/Zeus_2xMI350X", 0.595)],
    "Cisco/benchmarks/llama31_8b/implementations/primus/config_MI350X_2x8x1.sh",
    "Two nodes: GBS 32 = dp 16 x micro-batch 2, one accumulation step (logged); MXFP4 as the AMD config; 8 Pensando Pollara "
    "400 Gb/s NICs per node. result_1.txt (no result_0).")
rows[-1]["path"] = "Cisco/results/Zeus_2xMI350X/llama31_8b/result_1.txt"
amd("MLPERF60-MITAC-MI325X-8B-8-FP8", "mi325x", 8, 2, "fp8", [("MiTAC/results/MI325X_1node", 2.508)],
    "MiTAC/benchmarks/llama31_8b/implementations/MI325X_1node/config_MI325X_1node.sh with conf/llama3.1_8B-pretrain-fp8.yaml",
    "GBS 32 on 8 MI325X, FP8 hybrid (fp4 false); the config's micro-batch 2 implies 2 accumulation steps where the log "
    "says 1 (micro-batch 2 kept). A 25 k-character log: 5 blocks, 0.956-0.972 x 1,000 s / 384.")

GB200_DSV3 = ("{err}: the GB200 rows of this benchmark run {lo}-{hi} % slower than costsim prices them, the miss growing with scale "
    "(-29 % at 512 GPUs, -37 / -42 / -50 % at 2,048 / 4,096 / 8,192), while the GB300 rows of the same configuration family "
    "(NVIDIA's and CoreWeave's, TP 1) agree within 12 % at 256-8,192 GPUs. Two parts. (1) Per micro-batch: at 512 GPUs (240 "
    "micro-batches per step, so per-step costs are negligible) the GB200 run takes 129 ms per 4,096-token micro-batch at TP 2 "
    "where the GB300 run at TP 1 takes 167 ms for twice the work per GPU: GB200 is 1.54x slower per FLOP where costsim, which "
    "gives both parts the same MXFP8 rate (5 PFLOP/s dense, NVIDIA's NVL72 figures), prices 1.10x; the Megatron-Bridge rows put "
    "the gap at 1.28x (MB2608-DSV3-GB200-256, -16 %, a recorded gap). Candidates: GB200's 1,200 W limit against GB300's 1,400 W "
    "(MXFP8 GEMMs at full load run clock-limited; costsim has no above-TDP power term), TP 2's halved GEMMs and sequence-parallel "
    "exchanges, and the expert all-to-all overlap gaining less than costsim's paired micro-batch hides (as MB2608). (2) Per "
    "step: beyond 16 micro-batches at the 512-GPU pace the 8,192-GPU step has ~1.4 s more, against ~0.4 s on GB300 at 8,192 "
    "(NIC 400 vs 800 Gb/s per GPU): the expert weights' gradient reduce-scatter and FP8 parameter all-gather over 64-rank "
    "expert-data-parallel groups, one rank per rack, at 16 micro-batches per step; costsim prices that data-parallel time at "
    "0.26 s, 0.21 s of it exposed. Not tuned away.")
GAPS = {
 "MLPERF60-NVIDIA-GB200-DSV3-512": GB200_DSV3.format(err="-29 %", lo=27, hi=50),
 "MLPERF60-NVIDIA-GB200-DSV3-2048": GB200_DSV3.format(err="-37 %", lo=27, hi=50),
 "MLPERF60-NVIDIA-GB200-DSV3-4096": GB200_DSV3.format(err="-41 %", lo=27, hi=50),
 "MLPERF60-NVIDIA-GB200-DSV3-8192": GB200_DSV3.format(err="-50 %", lo=27, hi=50),
 "MLPERF60-GOOGLE-GB200-DSV3-256": GB200_DSV3.format(err="-27 % (Google's GB200 run, 480 micro-batches per step)", lo=27, hi=50),
 "MLPERF60-NVIDIA-GB300-8B-512": ("-33 %: the context-parallel NVL72 rows of Llama 3.1 8B at 512-1,024 GPUs, as in v5.1 "
    "(MLPERF51-NVIDIA-GB300-8B-512 -41 %, MLPERF51-NVIDIA-GB200-8B-512 -39 %, where the cause is written out): costsim's step is "
    "the compute plus ~0.02 s of exposed data-parallel time, the measured one ~0.025-0.04 s longer; a per-step cost of context "
    "parallel 4 with full-iteration CUDA graphs (the configs cap the cp communicator at one CTA) that costsim does not price. The "
    "8- and 72-GPU rows of the round (no CP) agree within 13 %. Not tuned away."),
}
GAPS["MLPERF60-NVIDIA-GB200-8B-1024"] = GAPS["MLPERF60-NVIDIA-GB300-8B-512"].replace("-33 %:", "-55 % (TP 4, CP 4 on GB200):")
GAPS["MLPERF60-MITAC-MI325X-8B-8-FP8"] = ("-19 %: MiTAC's MI325X run reaches 13,066 tokens/s/GPU where AMD's own Primus table gives "
    "16,224 for the same model, micro-batch 2 and FP8 on MI325X (PRIMUS-MI325X-8B-8, within 1 %); the submission's config drops "
    "most of the performance environment variables of AMD's MI350X / MI355X configs (fused attention, AITER kernels, tuned GEMM "
    "table) and its log's accumulation count disagrees with the config. The run, not the part, is slow. Not tuned away.")
GAPS["MLPERF60-NVIDIA-GB300-GPTOSS20B-512"] = ("-35 %: 64 sequences on 512 GB300 is one micro-batch of one sequence per "
    "data-parallel rank, and like the context-parallel Llama 3.1 8B rows on the same NVL72 systems (MLPERF60-NVIDIA-GB300-8B-512 "
    "-33 %, MLPERF60-NVIDIA-GB200-8B-1024 -55 %, MLPERF51-NVIDIA-GB300-8B-512) the measured step is ~0.03 s longer than costsim's "
    "(0.058 s). Until the expert groups were placed on Megatron-core's expert grid (2026-12-07: an EP group on consecutive "
    "ranks, context parallelism folded into the expert-data-parallel group, as its expert RankGenerator lays them) this row was "
    "-9 %, its expert gradients then crossing racks: that traffic stood in for the missing per-step time. Candidates as for the "
    "8B rows (the configs cap the context-parallel communicator at one CTA). Not tuned away.")
GAPS["MLPERF60-NEBIUS-B300-GPTOSS20B-64"] = ("+37 % (costsim slow): eight HGX B300 nodes, where costsim's step is ~0.07 s of compute "
    "plus ~0.17 s of data-parallel traffic over the nodes' InfiniBand (the 4.8 G expert parameters per GPU reduce-scattered "
    "and gathered over 16-rank expert-data-parallel groups, two ranks per node) at Megatron-core's default bucket (dp x cp x 1M "
    "= 64M parameters: ~100 calls a step, each paying a ring latency over 8 nodes). The run's bucket size is not in its indexed "
    "config; the reference code's 768M buckets (the bucket_size HPE's log of it prints, MLPERF60-HPE-GB300-GPTOSS20B-16) give "
    "-13 %, but the input stays as written before comparing. The same layout on one GB300 NVL72 rack, where that traffic stays "
    "on NVLink, agrees within 2 % (MLPERF60-NVIDIA-GB300-GPTOSS20B-72). Not tuned away.")
GAPS["MLPERF60-NVIDIA-GB200-GPTOSS20B-8"] = ("-20 %: gpt-oss-20b on one GB200 node (2 x 4 GPUs, micro-batch 2) takes 27.2 ms per "
    "sequence where the GB300 node of the same round takes 20.5 ms (1.32x; costsim 1.11x, the GB300 row -6 %); at 72 GPUs the two "
    "parts are 1.03x apart and both rows agree within 5 %. The GB200 / GB300 difference costsim does not price (equal MXFP8 rates; "
    "GB200's 1,200 W against 1,400 W) as in the GB200 DeepSeek-V3 rows (MLPERF60-NVIDIA-GB200-DSV3-512). Not tuned away.")

out = [mlperf_step_case(r["id"], f"{REPO} {r['path']} ({r['how']}, median {r['med']} s) with {r['cfg']}", r["inputs"],
                        r["med"], r["notes"], GAPS.get(r["id"])) for r in rows]
write_cases(Path(sys.argv[1]) if len(sys.argv) > 1 else Path(__file__).with_name("training_mlperf60.yaml"), HEADER, out)
