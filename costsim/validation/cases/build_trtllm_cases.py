"""Rebuild serving_trtllm_perf_overview.yaml: every row of TensorRT-LLM's published throughput tables for the catalog
models and parts (B200 and GB200 at FP4, H100 and H200 at FP8; 10 request shapes each) as held-out serving cases.

Usage (a developer tool, not needed at run time):

    python costsim/validation/cases/build_trtllm_cases.py --perf-overview FILE

--perf-overview: docs/source/performance/perf-overview.md of https://github.com/NVIDIA/TensorRT-LLM at commit
                 00f37686aa85 (Apache-2.0): per model a table of 'Total Output Throughput (tokens/sec)' from
                 `trtllm-bench throughput` at maximum load (all requests queued at once, fixed input/output lengths),
                 one column per part and layout ("B200<br/>TP1 (FP4)"). The RTX 6000 Pro tables and models outside
                 the catalog (Llama 4) are skipped.

The table was measured on TensorRT-LLM's PyTorch backend ("Starting with v0.19, testing was performed using the PyTorch
backend"): every case runs engine tensorrt-llm-pytorch. Rows already hand-written in serving_published.yaml (the I-trt-*
cases picked from the same file) are skipped by (model, part, layout, lengths). 20 rows fit that engine's MoE
per-assignment times (FIT_ON: Qwen3-30B-A3B on B200 for Blackwell, Qwen3-235B-A22B on H200 for Hopper) and one the GPU
default NVFP4 GEMM fraction (Llama 3.3 70B on one B200 at 128 / 128); every other row is held out. The selection is
mechanical (every row of the listed models), so misses stay in: KNOWN_GAPS records
the cause of each, written after the comparison.
"""

from __future__ import annotations

import argparse
import re
import sys
from pathlib import Path

import yaml

from costsim.validation.cases.generated import source_file, write_cases

HERE = Path(__file__).resolve().parent
OUT = HERE / "serving_trtllm_perf_overview.yaml"
COMMIT = "00f37686aa85"
SOURCE = (f"NVIDIA/TensorRT-LLM docs/source/performance/perf-overview.md at commit {COMMIT} (trtllm-bench throughput, max "
          "load, 'Total Output Throughput')")
#: table title -> (catalog model id, short id in case ids, mixture of experts, note)
MODELS = {
    "Llama 3.3 70B": ("llama-3.1-70b", "70b", False, "Llama 3.3 70B has the Llama 3.1 70B shape (catalog llama-3.1-70b)."),
    "Llama 3.1 405B": ("llama-3.1-405b", "405b", False, ""),
    "Llama 3.1 8B": ("llama-3.1-8b", "8b", False, ""),
    "Qwen3-30B-A3B": ("qwen3-30b-a3b", "qwen3-30b-a3b", True, "MoE, 128 experts, 8 active."),
    "Qwen3-235B-A22B": ("qwen3-235b-a22b", "qwen3-235b-a22b", True, "MoE, 128 experts, 8 active; attention data parallel, "
                        "experts over the 8 GPUs (costsim layout ep 8)."),
}
PARTS = {"B200": "b200", "GB200": "gb200", "H200": "h200", "H100": "h100-sxm"}
_COL = re.compile(r"^(?P<part>[A-Z0-9]+)<br/>TP(?P<tp>\d+) \((?P<prec>FP\d)\)$")
FP4_DECODE = (
    "Llama 3.1 70B NVFP4 on one B200 at 500 in / 2,000 out comes out 30 % fast (priced as the benchmark ran it: its "
    "finite job, the batch trtllm-bench's max_batch_size allows, CUDA-graph padding up to it), where the other "
    "decode-heavy NVFP4 rows of the table (70B TP1, 405B TP4 on B200 and GB200) agree within 19 %, the prefill-heavy "
    "rows within 13 % and the Hopper FP8 rows of the same table within 18 %: the FP4 tensor-core "
    "fraction is fitted on this table's compute-heavy 128 / 128 row and no Blackwell kernel measurement separates the "
    "decode attention over an FP8 KV cache from small-M FP4 GEMMs. The table's own B200 and GB200 columns (the same GPU) "
    "differ by 15-18 % on some of these rows (70B: 7,762 vs 9,028 at 500 / 2,000; 4,783 vs 5,646 at 2,048 / 2,048), "
    "so part of the miss is run-to-run spread. Not modelled; not tuned away.")
_MOE_FIT = ("Used to fit the tensorrt-llm-pytorch engine's MoE per-assignment times (costsim/data/engines.yaml: per "
             "routed token-expert pair per MoE layer, decode and prompt tokens; this model and part fix the {arch} values).")
_FP4_FIT = ("Used to fit the GPU default fp4_matmul_rel (0.628: NVFP4 GEMMs at 0.628 of the BF16 fraction; costsim/core/"
            "inference.py), the table's shortest prompt and answer on the part, with exact lengths where MLPerf's Llama 2 "
            "70B rows vary.")
#: case id -> what it fits (costsim/data/engines.yaml, tensorrt-llm-pytorch: moe_decode_pair_s / moe_prefill_pair_s;
#: costsim/core/inference.py: fp4_matmul_rel)
FIT_ON: dict[str, str] = {
    "I-trt-70b-b200-fp4-tp1-128-128": _FP4_FIT,
    **{f"I-trt-qwen3-30b-a3b-b200-fp4-tp1-{io}": _MOE_FIT.format(arch="Blackwell (34 / 11 ns)") for io in (
        "128-128", "128-2048", "128-4096", "500-2000", "1000-1000", "1000-2000", "2048-128", "2048-2048", "5000-500",
        "20000-2000")},
    **{f"I-trt-qwen3-235b-a22b-h200-fp8-ep8-{io}": _MOE_FIT.format(arch="Hopper (60 / 50 ns)") for io in (
        "128-128", "128-2048", "128-4096", "500-2000", "1000-1000", "1000-2000", "2048-128", "2048-2048", "5000-500",
        "20000-2000")},
}
#: shared with build_trtllm_per_gpu_cases.py: MoE over several GPUs with attention data parallel
MOE_EP = (
    "Mixture-of-experts over 4-8 GPUs with attention data parallel (Qwen3-235B-A22B EP4 / EP8) comes out fast on "
    "decode-heavy rows: B200 EP8 19-42 % (128-2,048 in / 2,000-4,096 out, and 21-42 % at 2,048 / 128, 5,000 / 500 and "
    "20,000 / 2,000), H100 EP8 up to 52 %, the per-GPU table's 1,024 / 8,192 rows 30-56 % and B200's 1,024 / 32,768 "
    "40 %, while that table's 1,000-1,024-token rows agree within 15 % on B200 and Hopper (H200 EP4 within 5 %; GB200 "
    "+23 / +29 %, I-trtpg-qwen3-235b-a22b-gb200-fp4-ep4-1024-1024) and B200's 128 / 128 "
    "comes out 25 % slow. Since 2026-12-06 costsim prices the exchange these runs made, TensorRT-LLM's "
    "AllGatherReduceScatter (its all-to-all ran only over multi-node NVLink or with DeepEP switched on, and never for "
    "EP at or below top-k; tokens quantized before the all-gather), where it charged a per-expert all-to-all: eight "
    "copies of each token, 2-4x the bytes at EP 4, which had held these rows 10-22 points lower. It also prices the "
    "busiest EP rank (costsim.core.inference_moe.ep_load_factor, expert-load CV 0.5 from published routing skew). What "
    "remains is not identified: candidates are attention-DP ranks waiting for each other's prompts (the Qwen3 options "
    "set no attention_dp_config balance), a stronger router skew on the benchmark's random-token prompts, and the KV "
    "dtype of NVIDIA's Qwen3 checkpoints (not found; the options set none; a BF16 cache would halve the batches, but "
    "the fitted Qwen3-30B rows then go 21-46 % slow). Not tuned away.")
_MOE_GB200 = (
    "Qwen3-30B-A3B on one GB200 comes out 37-43 % fast on the decode-heavy rows of this table, where the same rows on "
    "B200 (the fitted ones) agree within 17 %: the table has GB200 slower than B200 on the same GPU for this model "
    "(24.1k vs 39.8k tokens/s at 128 / 128, 17.5k vs 25.8k at 1,000 / 1,000; Llama 4 Scout likewise) and faster for "
    "the dense models. GB200's host is a Grace CPU, and the PyTorch backend's per-iteration host work grows with the "
    "batch (NVIDIA/TensorRT-LLM PR 10273: 45 ms per iteration at 1,536 sequences per rank, gpt-oss-120b on GB200), "
    "but the newer per-GPU table's GB200 rows of this model and of gpt-oss-20b agree within 15 % at 1,024 tokens in "
    "and out, so a host floor that "
    "fits these rows would break those. Not modelled.")
#: shared with build_trtllm_v017_cases.py: the dense rows of both TensorRT-LLM tables that miss the same way
DECODE_HEAVY = (
    "Dense Llama 3.1 70B at 128 in / 4,096 out (the longest decode) at TP4-8 comes out 28-38 % fast (A100 TP8, H100 "
    "TP4), while the prompt-heavy and 20,000-token rows of the same layouts agree within 20 % and the other "
    "decode-heavy rows within 25 % once the benchmark's finite request count is priced. The batch is not the cause: "
    "costsim sizes the KV pool as TensorRT-LLM does (kv_cache_free_gpu_mem_fraction 0.95 of the memory free after "
    "weights) and caps it at the max_batch_size trtllm-bench's build heuristic sets (tensorrt_llm/bench/build/"
    "tuning.py, costsim.estimators.trtllm_bench), above these batches. The decode step at large batch "
    "and long context (the attention over an FP8/FP16 KV cache of ~2,000 tokens per sequence, all-reduces of "
    "batch x hidden per layer) is too cheap in costsim; no kernel measurement here separates the two. Not tuned away.")
#: case id -> cause, written after the first comparison (the selection stays mechanical: these are all its misses)
KNOWN_GAPS: dict[str, str] = {
    **{cid: FP4_DECODE for cid in (
        'I-trt-70b-b200-fp4-tp1-500-2000',
    )},
    **{cid: MOE_EP for cid in (
        'I-trt-qwen3-235b-a22b-b200-fp4-ep8-128-128', 'I-trt-qwen3-235b-a22b-h100-fp8-ep8-128-2048',
        'I-trt-qwen3-235b-a22b-h100-fp8-ep8-128-4096', 'I-trt-qwen3-235b-a22b-b200-fp4-ep8-2048-2048', 'I-trt-qwen3-235b-a22b-h100-fp8-ep8-2048-2048',
        'I-trt-qwen3-235b-a22b-b200-fp4-ep8-5000-500', 'I-trt-qwen3-235b-a22b-b200-fp4-ep8-20000-2000',
        'I-trt-qwen3-235b-a22b-h200-fp8-ep8-20000-2000', 'I-trt-qwen3-235b-a22b-b200-fp4-ep8-128-4096',
        'I-trt-qwen3-235b-a22b-b200-fp4-ep8-1000-2000',
    )},
    **{cid: _MOE_GB200 for cid in (
        'I-trt-qwen3-30b-a3b-gb200-fp4-tp1-128-128', 'I-trt-qwen3-30b-a3b-gb200-fp4-tp1-500-2000',
        'I-trt-qwen3-30b-a3b-gb200-fp4-tp1-1000-1000', 'I-trt-qwen3-30b-a3b-gb200-fp4-tp1-1000-2000',
        'I-trt-qwen3-30b-a3b-gb200-fp4-tp1-2048-2048',
    )},
}


def parse(text: str) -> list[dict]:
    """Rows of the per-model tables: model title, column header, ISL, OSL, tokens/s."""
    rows, model, skip = [], None, False
    lines = text.splitlines()
    for k, line in enumerate(lines):
        if line.startswith("#### "):
            model, skip = line[5:].strip(), False
            continue
        if line.startswith("RTX 6000 Pro"):
            skip = True
            continue
        if model is None or skip or not line.startswith("| Sequence Length"):
            continue
        rows += [dict(r, tokens_per_s=r.pop("value")) for r in isl_osl_table(lines, k, model)]
        skip = True  # one table per model (the next ones are the RTX tables)
    return rows


def cell_values(line: str) -> list[str]:
    """The stripped cells of one markdown table row."""
    return [c.strip() for c in line.strip().strip("|").split("|")]


def dataset_sizes(text: str) -> dict[tuple[int, int], int]:
    """(ISL, OSL) -> number of requests of the file's 'Preparing a Dataset' table ('| Input Length | Output Length |
    ... | $num_requests |' or '... | Number of Requests |': prepare_dataset.py --num-requests, all queued at once, so
    the published throughput is the whole job's). Exit 2 when the file has no such table."""
    lines = text.splitlines()
    for k, line in enumerate(lines):
        if not line.startswith("| Input Length | Output Length"):
            continue
        sizes = {}
        for row in lines[k + 2:]:
            if not row.startswith("|"):
                break
            cells = cell_values(row)
            sizes[(int(cells[0]), int(cells[1]))] = int(cells[-1])
        return sizes
    print("error: the perf-overview file has no '| Input Length | Output Length | ...' dataset table; give the whole "
          "file (its 'Preparing a Dataset' section holds the number of requests per row)", file=sys.stderr)
    raise SystemExit(2)


def job_inputs(sizes: dict[tuple[int, int], int], isl: int, osl: int) -> dict:
    """The case input num_requests for one row, when the file's dataset table lists its lengths (else none: the
    row is priced at steady state)."""
    n = sizes.get((isl, osl))
    return {} if n is None else {"num_requests": n}


def isl_osl_table(lines: list[str], header: int, model: str) -> list[dict]:
    """The cells of a '| Sequence Length (ISL/OSL) | <column> | ...' table whose header is lines[header]: one dict
    (model, column, isl, osl, value) per non-empty cell; thousands separators dropped."""
    cols = cell_values(lines[header])[1:]
    out = []
    for row in lines[header + 2:]:
        if not row.startswith("|"):
            break
        cells = cell_values(row)
        isl, osl = (int(x) for x in cells[0].split("/"))
        out += [{"model": model, "column": col, "isl": isl, "osl": osl, "value": float(val.replace(",", ""))}
                for col, val in zip(cols, cells[1:]) if val]
    return out


def other_case_files_cases(out: Path, skip_names: tuple[str, ...] = ()):
    """(inputs, case) of every case in the case files other than `out` (and those named in `skip_names`)."""
    for f in sorted(HERE.glob("*.yaml")):
        if f == out or f.name in skip_names:
            continue
        for c in yaml.safe_load(f.read_text()) or []:
            yield (c.get("inputs") or {}), c


def _existing_keys() -> set[tuple]:
    """(model, hardware, isl, osl) of the hand-written TensorRT-LLM cases in the other case files (the generated v0.17
    file, written by build_trtllm_v017_cases.py, is not hand-written)."""
    return {(i.get("model"), i.get("hardware"), i.get("input_tokens"), i.get("output_tokens"))
            for i, c in other_case_files_cases(OUT, ("serving_trtllm_v017.yaml",))
            if str(c.get("source", "")).startswith("NVIDIA/TensorRT-LLM docs/source/performance/perf-overview.md")}


def catalog_cells(rows: list[dict], models: dict, column_re: re.Pattern, parts: dict):
    """(row, column match, models entry) of the table cells whose model and part costsim has (the others skipped)."""
    for r in rows:
        m = column_re.match(r["column"])
        if r["model"] in models and m is not None and m["part"] in parts:
            yield r, m, models[r["model"]]


def build(text: str) -> list[dict]:
    have = _existing_keys()
    sizes = dataset_sizes(text)
    cases = []
    for r, m, (mid, short, moe, note) in catalog_cells(parse(text), MODELS, _COL, PARTS):
        hw, tp, prec = PARTS[m["part"]], int(m["tp"]), m["prec"].lower()
        if (mid, hw, r["isl"], r["osl"]) in have:
            continue
        # MoE rows run with attention data parallel (the file's llm_options: enable_attention_dp) and the experts
        # sharded over the GPUs: costsim's ep layout (dense part data parallel over ep, experts split)
        layout = {"tp": 1, "ep": tp} if (moe and tp > 1) else {"tp": tp}
        cid = f"I-trt-{short}-{hw.replace('-sxm', '')}-{prec}-{'ep' if 'ep' in layout else 'tp'}{tp}-{r['isl']}-{r['osl']}"
        inputs = {"model": mid, "hardware": hw, "num_gpus": tp, **layout, "weight_precision": prec,
                  "engine": "tensorrt-llm-pytorch", "batch": "fill", "input_tokens": r["isl"], "output_tokens": r["osl"],
                  **job_inputs(sizes, r["isl"], r["osl"])}
        notes = (f"held out (generated by build_trtllm_cases.py). {r['model']}, {m['part']} {r['column'].split('<br/>')[1]}, "
                 f"{r['isl']} in / {r['osl']} out tokens. {note}").strip()
        cases.append(throughput_case(cid, SOURCE, inputs, r["tokens_per_s"], KNOWN_GAPS.get(cid), notes, FIT_ON.get(cid)))
    return unique_ids(cases)


def throughput_case(cid: str, source: str, inputs: dict, tokens_per_s: float, known_gap: str | None, notes: str,
                    fit_note: str | None = None) -> dict:
    """A case comparing a published trtllm-bench throughput (output tokens/s) within 25 %: held out, or, with
    `fit_note` (what the row fits), used for fit, its notes saying so."""
    used_for_fit = fit_note is not None
    if used_for_fit:
        notes = notes.replace("held out (generated", "fit (generated", 1) + " " + fit_note
    case = {
        "id": cid, "kind": "inference", "source": source, "inputs": inputs,
        "metric": "throughput_tokens_per_s", "expected": tokens_per_s, "comparison": "within", "tolerance_frac": 0.25,
        "tolerance_reason": ("25 %: the engine's batching settings (max batch, max tokens, KV fraction 0.90-0.95) are not "
                             "published per row; same target as the hand-written TensorRT-LLM / MLPerf cases"),
        "used_for_fit": used_for_fit,
    }
    if known_gap:
        case["known_gap"] = known_gap
    case["notes"] = notes
    return case


def unique_ids(cases: list[dict]) -> list[dict]:
    ids = [c["id"] for c in cases]
    if len(ids) != len(set(ids)):
        raise SystemExit("error: duplicate case ids")
    return cases


def run_generator(doc: str, script: str, commit: str, out: Path, build_fn,
                  doc_path: str = "docs/source/performance/perf-overview.md") -> None:
    """The command line of a perf-overview generator: --perf-overview FILE -> `out` (exit 2 naming the file it needs)."""
    ap = argparse.ArgumentParser(description=" ".join(doc.split("\n\n")[0].split()))
    ap.add_argument("--perf-overview", required=True, type=Path, help=f"{doc_path} of NVIDIA/TensorRT-LLM at {commit}")
    a = ap.parse_args()
    path = source_file(a.perf_overview, "--perf-overview", f"{doc_path} of github.com/NVIDIA/TensorRT-LLM at commit {commit}")
    write_cases(out, f"# Generated by {script} from NVIDIA/TensorRT-LLM perf-overview.md at commit {commit}; do not edit "
                     "by hand.\n", build_fn(path.read_text()))


def main() -> None:
    run_generator(__doc__, "build_trtllm_cases.py", COMMIT, OUT, build)


if __name__ == "__main__":
    main()
