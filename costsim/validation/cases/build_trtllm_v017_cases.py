"""Rebuild serving_trtllm_v017.yaml: every cell of TensorRT-LLM v0.17's published throughput table (the C++ runtime:
engines built with `trtllm-bench build`, in-flight batching) for the catalog models and parts, as held-out serving cases.

Usage (a developer tool, not needed at run time):

    python costsim/validation/cases/build_trtllm_v017_cases.py --perf-overview FILE

--perf-overview: docs/source/performance/perf-overview.md of https://github.com/NVIDIA/TensorRT-LLM at commit
                 258c7540c035 (Apache-2.0; "All data in the table below was generated using version 0.17"): one table,
                 rows (model, tensor-parallel size, "ISL, OSL"), columns H200 / H100 / GH200 / L40S at FP8 and
                 A100-SXM4-80GB at FP16, cells in output tokens per second of `trtllm-bench throughput` at maximum load
                 (the file's own example: 3,000 requests of 128/128 tokens, 182.86 req/s x 128 = 23,406 = its 'Token
                 Throughput'). The file says FP8 engines keep the KV cache in FP8. Its GH200 column (the 96 GB HBM3
                 superchip: 'GH200 480GB' is the name nvidia-smi gives it, after its LPDDR5X) was measured with the
                 legacy gptManagerBenchmark flow the file recommends for GH200 in v0.17 (in-flight batching,
                 guaranteed_no_evict, KV fraction 0.95, chunked context: the same engine and scheduler).

Why this file next to the v1.0 one (build_trtllm_cases.py): it measured the same request shapes on the C++ runtime a year
earlier, and it has Mixtral 8x7B / 8x22B, MoE models with few large experts, on Hopper; L40S (PCIe, no NVLink) up to TP8;
and A100 at FP16. Rows whose (model, part, tensor-parallel size, lengths) is a case used to fit a parameter elsewhere
are skipped. 60 rows fit four parameters (FIT_ON: of the tensorrt-llm engine the runtime's own memory reserve, which
only the rows whose weights nearly fill the GPU constrain; the context-attention efficiency, from the dense 20,000-token
rows; the MoE kernels' grouped-GEMM efficiency, from Mixtral 8x7B on H200; and the GPU default FP8 GEMM fraction, from
the 128 / 128 row of Llama 3.1 70B on one H200); the rest are held out. The selection is mechanical (every cell), so
misses stay in, with KNOWN_GAPS written after the comparison.
"""

from __future__ import annotations

import re
import sys
from pathlib import Path

from costsim.validation.cases.build_trtllm_cases import (DECODE_HEAVY, cell_values, dataset_sizes, job_inputs,
                                                         other_case_files_cases, run_generator, throughput_case,
                                                         unique_ids)

HERE = Path(__file__).resolve().parent
OUT = HERE / "serving_trtllm_v017.yaml"
COMMIT = "258c7540c035"
SOURCE = (f"NVIDIA/TensorRT-LLM docs/source/performance/perf-overview.md at commit {COMMIT} (TensorRT-LLM 0.17, C++ "
          "runtime, trtllm-bench throughput at max load, output tokens/s)")
#: table model name -> (catalog model id, short id in case ids, note)
MODELS = {
    "LLaMA v3.1 8B": ("llama-3.1-8b", "8b", ""),
    "LLaMA v3.1 70B": ("llama-3.1-70b", "70b", ""),
    "LLaMA v3.1 405B": ("llama-3.1-405b", "405b", ""),
    "Mistral 7B": ("mistral-7b", "mistral-7b", "Sliding window of 4,096 tokens on every layer, which the C++ runtime "
                   "does not use unless max_attention_window_size is set (engine tensorrt-llm: sliding_window_kv and "
                   "sliding_window_attention 0)."),
    "Mixtral 8x7B": ("mixtral-8x7b", "mixtral-8x7b", "MoE, 8 experts, 2 active; experts split by tensor parallelism "
                     "(the C++ runtime's default MoE TP)."),
    "Mixtral 8x22B": ("mixtral-8x22b", "mixtral-8x22b", "MoE, 8 experts, 2 active; experts split by tensor parallelism."),
}
#: column header -> (catalog part id, weight precision, KV precision); None = skipped
PARTS = {"H200 141GB HBM3": ("h200", "fp8", "fp8"), "H100 80GB HBM3": ("h100-sxm", "fp8", "fp8"), "GH200 480GB": ("gh200-96gb", "fp8", "fp8"),
         "L40S": ("l40s", "fp8", "fp8"), "A100-SXM4-80GB": ("a100-80gb-sxm", "fp16", "fp16")}
_RESERVE_NOTE = ("Used to fit the tensorrt-llm engine's runtime_reserve_bytes (1.5 GB: CUDA context, GEMM and decoder "
                 "workspaces outside the KV pool), the only parameter these memory-squeezed rows constrain.")
_FMHA_NOTE = ("Used to fit the tensorrt-llm engine's attention_frac (0.5: context attention of 20,000-token prompts), with "
              "the other dense 20,000 / 2,000 rows of this table.")
_MOE_NOTE = ("Used to fit the tensorrt-llm engine's moe_compute_rel (0.65: the MoE kernels' grouped GEMMs at 0.65 of the "
             "dense GEMMs' compute efficiency), with the other Mixtral 8x7B rows on H200.")
_FP8_NOTE = ("Used to fit the GPU default lowp_matmul_rel (0.845: FP8 GEMMs at 0.845 of the BF16 fraction; costsim/core/"
             "inference.py), the shortest prompt and answer of the table on the part MLPerf's Llama 2 70B H200 row "
             "(I-mlperf-h200-off) ran on, with exact lengths where MLPerf's vary.")
#: case id -> the parameter it fits (costsim/data/engines.yaml, tensorrt-llm). The 70B rows whose weights nearly fill
#: one H100 (70.6 GB of 85.5 GB) are the only rows whose throughput depends on the runtime's own memory (the same regime
#: on two A100s at FP16 stays held out); the dense 20,000 / 2,000 rows are the ones prompt attention dominates (the
#: other prompt-heavy rows of the three TensorRT-LLM tables stay held out).
FIT_ON: dict[str, str] = {
    **{cid: _RESERVE_NOTE for cid in (
        'I-trt017-70b-h100-fp8-tp1-1000-1000', 'I-trt017-70b-h100-fp8-tp1-128-128', 'I-trt017-70b-h100-fp8-tp1-128-2048',
        'I-trt017-70b-h100-fp8-tp1-128-4096', 'I-trt017-70b-h100-fp8-tp1-2048-128', 'I-trt017-70b-h100-fp8-tp1-500-2000',
        'I-trt017-70b-h100-fp8-tp1-5000-500',
    )},
    **{cid: _FMHA_NOTE for cid in (
        'I-trt017-405b-h200-fp8-tp8-20000-2000', 'I-trt017-70b-a100-fp16-tp4-20000-2000',
        'I-trt017-70b-a100-fp16-tp8-20000-2000', 'I-trt017-70b-h100-fp8-tp2-20000-2000',
        'I-trt017-70b-h100-fp8-tp4-20000-2000', 'I-trt017-70b-h100-fp8-tp8-20000-2000',
        'I-trt017-70b-h200-fp8-tp1-20000-2000', 'I-trt017-70b-h200-fp8-tp2-20000-2000',
        'I-trt017-70b-h200-fp8-tp4-20000-2000', 'I-trt017-70b-h200-fp8-tp8-20000-2000',
        'I-trt017-70b-l40s-fp8-tp4-20000-2000', 'I-trt017-70b-l40s-fp8-tp8-20000-2000',
        'I-trt017-8b-a100-fp16-tp1-20000-2000', 'I-trt017-8b-h100-fp8-tp1-20000-2000',
        'I-trt017-8b-h200-fp8-tp1-20000-2000', 'I-trt017-8b-l40s-fp8-tp1-20000-2000',
    )},
    'I-trt017-70b-h200-fp8-tp1-128-128': _FP8_NOTE,
    **{cid: _MOE_NOTE for cid in (
        'I-trt017-mixtral-8x7b-h200-fp8-tp1-1000-1000', 'I-trt017-mixtral-8x7b-h200-fp8-tp1-128-128',
        'I-trt017-mixtral-8x7b-h200-fp8-tp1-128-2048', 'I-trt017-mixtral-8x7b-h200-fp8-tp1-128-4096',
        'I-trt017-mixtral-8x7b-h200-fp8-tp1-20000-2000', 'I-trt017-mixtral-8x7b-h200-fp8-tp1-2048-128',
        'I-trt017-mixtral-8x7b-h200-fp8-tp1-2048-2048', 'I-trt017-mixtral-8x7b-h200-fp8-tp1-500-2000',
        'I-trt017-mixtral-8x7b-h200-fp8-tp1-5000-500', 'I-trt017-mixtral-8x7b-h200-fp8-tp2-1000-1000',
        'I-trt017-mixtral-8x7b-h200-fp8-tp2-128-128', 'I-trt017-mixtral-8x7b-h200-fp8-tp2-128-2048',
        'I-trt017-mixtral-8x7b-h200-fp8-tp2-128-4096', 'I-trt017-mixtral-8x7b-h200-fp8-tp2-20000-2000',
        'I-trt017-mixtral-8x7b-h200-fp8-tp2-2048-128', 'I-trt017-mixtral-8x7b-h200-fp8-tp2-2048-2048',
        'I-trt017-mixtral-8x7b-h200-fp8-tp2-500-2000', 'I-trt017-mixtral-8x7b-h200-fp8-tp2-5000-500',
        'I-trt017-mixtral-8x7b-h200-fp8-tp4-1000-1000', 'I-trt017-mixtral-8x7b-h200-fp8-tp4-128-128',
        'I-trt017-mixtral-8x7b-h200-fp8-tp4-128-2048', 'I-trt017-mixtral-8x7b-h200-fp8-tp4-128-4096',
        'I-trt017-mixtral-8x7b-h200-fp8-tp4-20000-2000', 'I-trt017-mixtral-8x7b-h200-fp8-tp4-2048-128',
        'I-trt017-mixtral-8x7b-h200-fp8-tp4-2048-2048', 'I-trt017-mixtral-8x7b-h200-fp8-tp4-500-2000',
        'I-trt017-mixtral-8x7b-h200-fp8-tp4-5000-500', 'I-trt017-mixtral-8x7b-h200-fp8-tp8-1000-1000',
        'I-trt017-mixtral-8x7b-h200-fp8-tp8-128-128', 'I-trt017-mixtral-8x7b-h200-fp8-tp8-128-2048',
        'I-trt017-mixtral-8x7b-h200-fp8-tp8-128-4096', 'I-trt017-mixtral-8x7b-h200-fp8-tp8-20000-2000',
        'I-trt017-mixtral-8x7b-h200-fp8-tp8-2048-128', 'I-trt017-mixtral-8x7b-h200-fp8-tp8-2048-2048',
        'I-trt017-mixtral-8x7b-h200-fp8-tp8-500-2000', 'I-trt017-mixtral-8x7b-h200-fp8-tp8-5000-500',
    )},
}
_MOE_TP = (
    "Mixtral 8x22B at TP8 on A100 with 128 in / 4,096 out comes out 33 % fast (four more TP8 decode-heavy rows on "
    "H100 / H200 came within 25 % once the benchmark's finite request count was priced), after the "
    "MoE kernels' grouped-GEMM efficiency (moe_compute_rel 0.6, fitted on Mixtral 8x7B on H200) brought the other "
    "143 Mixtral rows to a median of +0.5 %: the longest decode at the widest split, where the expert GEMMs are split "
    "eight ways (14,336 / 8 columns per GPU) and the all-reduce of every MoE layer carries the whole batch. Not "
    "separated by any data here; not tuned away.")
_DENSE_TP_DECODE = DECODE_HEAVY
#: case id -> cause, written after the first comparison (the selection stays mechanical: these are all its misses)
KNOWN_GAPS: dict[str, str] = {
    **{cid: _MOE_TP for cid in ('I-trt017-mixtral-8x22b-a100-fp16-tp8-128-4096',)},
    **{cid: _DENSE_TP_DECODE for cid in ('I-trt017-70b-a100-fp16-tp8-128-4096', 'I-trt017-70b-h100-fp8-tp4-128-4096')},
}


def parse(text: str) -> list[dict]:
    """Cells of the throughput table: model, TP, ISL, OSL, column header, tokens/s."""
    lines = text.splitlines()
    head = next((k for k, ln in enumerate(lines) if ln.startswith("| Throughput (tokens / sec)")), None)
    if head is None:
        print("error: no '| Throughput (tokens / sec)' table in the --perf-overview file; give perf-overview.md at "
              + COMMIT + ".", file=sys.stderr)
        raise SystemExit(2)
    cols = cell_values(lines[head])[3:]
    rows, model, tp = [], None, None
    for line in lines[head + 1:]:
        if not line.startswith("|"):
            break
        cells = cell_values(line)
        if len(cells) < 4 or not re.fullmatch(r"\d+, \d+", cells[2]):
            continue
        model = cells[0] or model
        tp = int(cells[1]) if cells[1] else tp
        isl, osl = (int(x) for x in cells[2].split(","))
        for col, val in zip(cols, cells[3:]):
            if val:
                rows.append({"model": model, "tp": tp, "isl": isl, "osl": osl, "column": col, "tokens_per_s": float(val)})
    return rows


def _fit_keys() -> set[tuple]:
    """(model, hardware, tp, isl, osl) of the cases used to fit a parameter, in every other case file (catalog parts
    only: a case may describe its part inline, as a mapping)."""
    return {(i.get("model"), i.get("hardware"), int(i.get("tp", i.get("num_gpus", 1)) or 1), i.get("input_tokens"),
             i.get("output_tokens"))
            for i, c in other_case_files_cases(OUT)
            if c.get("used_for_fit") and isinstance(i.get("model"), str) and isinstance(i.get("hardware"), str)}


def build(text: str) -> list[dict]:
    sizes = dataset_sizes(text)
    fit = _fit_keys()
    cases = []
    for r in parse(text):
        if r["model"] not in MODELS or PARTS.get(r["column"]) is None:
            continue
        mid, short, note = MODELS[r["model"]]
        hw, wp, kv = PARTS[r["column"]]
        tp = r["tp"]
        if (mid, hw, tp, r["isl"], r["osl"]) in fit:
            continue
        cid = f"I-trt017-{short}-{hw.replace('-sxm', '').replace('-80gb', '')}-{wp}-tp{tp}-{r['isl']}-{r['osl']}"
        inputs = {"model": mid, "hardware": hw, "num_gpus": tp, "tp": tp, "weight_precision": wp, "kv_precision": kv,
                  "engine": "tensorrt-llm", "batch": "fill", "input_tokens": r["isl"], "output_tokens": r["osl"],
                  **job_inputs(sizes, r["isl"], r["osl"])}
        notes = (f"held out (generated by build_trtllm_v017_cases.py). {r['model']}, {r['column']} TP{tp} ({wp.upper()}), "
                 f"{r['isl']} in / {r['osl']} out tokens. {note}").strip()
        cases.append(throughput_case(cid, SOURCE, inputs, r["tokens_per_s"], KNOWN_GAPS.get(cid), notes, FIT_ON.get(cid)))
    return unique_ids(cases)


def main() -> None:
    run_generator(__doc__, "build_trtllm_v017_cases.py", COMMIT, OUT, build)


if __name__ == "__main__":
    main()
