"""Rebuild serving_gpustack.yaml: the fixed-length benchmark jobs of GPUStack's performance lab (vLLM, SGLang and
TensorRT-LLM serving through their OpenAI-compatible servers, `vllm bench serve` with every request sent at once) on
A100, H100 and H200, as serving-throughput cases. The first SGLang cases, and the first jobs whose prompts dominate
(2,000-32,000 prompt tokens, 100-200 output tokens).

Usage (a developer tool, not needed at run time):

    python costsim/validation/cases/build_gpustack_cases.py --repo DIR

--repo: a copy of https://github.com/gpustack/gpustack (Apache-2.0; commit 47277d79, files
        docs/performance-lab/<model>/<gpu>.md). Each file lists the serving command and the `vllm bench serve`
        summary (successful requests, duration, total input and generated tokens) of each run.

Selection (mechanical, before any comparison):
- the "random" datasets only (fixed prompt and output lengths: 32,000/100, 4,000/200, 2,000/100 and 128/4 tokens,
  100-1,000 requests); the ShareGPT runs have variable lengths, which a mean-length job does not represent;
- vLLM, SGLang and TensorRT-LLM runs (trtllm-serve 1.x: the PyTorch backend, engine tensorrt-llm-pytorch; it
  reserves each request's whole KV before admitting it, so a job runs in batches of the requests that fit, at most
  the LLM API's max_batch_size 2,048: costsim's batch 'max' capped there, costsim/estimators/trtllm_bench.py);
- models in the catalog (DeepSeek-V3.2 from the lab's file of 2025-12-26, vLLM v0.13 / SGLang v0.5.6; GLM-4.6 runs as glm-4.6: GLM-4.5's
  architecture, 92 layers, hidden 5,120, 160 routed + 1 shared experts, top-8, with a longer context); no speculative decoding;
- not the GLM-4.5-Air H100 file's "Other Benchmark Cases": its numbers are the A100 file's, digit for digit
  (a copy in the source), so they are left out of both.
Engine defaults not in the command: no command sets a KV-cache dtype, so every engine keeps its 'auto': vLLM's and
SGLang's is the model's 16-bit dtype, TensorRT-LLM's follows the checkpoint's KV quantization, which the one FP8
checkpoint it serves here (Qwen3-32B-FP8, block-scaled weights) does not set: kv_precision bf16 on every row
(costsim's default would put FP8 and MXFP4 weights on an FP8 cache). vLLM's API server max_num_seqs 1,024 on
>= 70 GiB GPUs other than A100 and 256 on A100 (vllm/engine/arg_utils.py get_batch_defaults, v0.10-v0.11); SGLang
max_running_requests 4,096 (its KV pool binds first). Two rows fit engine vllm's prompt-pass MoE factor, two more its
Ampere kernels for gpt-oss (Marlin MXFP4 experts, Triton sink attention) (FIT_ROWS); every other row is held out.
KNOWN_GAPS gives the cause of each group of misses, written after the first comparison.
"""

from __future__ import annotations

import re
import subprocess
from pathlib import Path

from costsim.estimators.trtllm_bench import DEFAULT_MAX_BATCH_SIZE
from costsim.validation.cases.generated import gpustack_builder_main

HERE = Path(__file__).resolve().parent
OUT = HERE / "serving_gpustack.yaml"
COMMIT = "47277d79"
LAB = "docs/performance-lab"
#: file stem -> costsim model id
MODELS = {"deepseek-r1": "deepseek-v3", "deepseek-v3.2": "deepseek-v3.2", "glm-4.5-air": "glm-4.5-air", "glm-4.x": "glm-4.6", "gpt-oss-120b": "gpt-oss-120b",
          "gpt-oss-20b": "gpt-oss-20b", "qwen3-14b": "qwen3-14b", "qwen3-235b-a22b": "qwen3-235b-a22b",
          "qwen3-32b": "qwen3-32b"}
HARDWARE = {"a100": "a100-80gb-sxm", "h100": "h100-sxm", "h200": "h200"}
MOE = {"deepseek-v3", "deepseek-v3.2", "glm-4.5-air", "glm-4.5", "glm-4.6", "gpt-oss-120b", "gpt-oss-20b", "qwen3-235b-a22b"}
COPIED = {("glm-4.5-air", "h100")}
#: the lab's single-H100 files of dense Qwen3, slow at every engine: see KNOWN_GAPS["box"] (the gpt-oss H100 files, from
#: one or two H100s as well, agree within 14 % but for gpt-oss-120b on one H100 at 2,000-4,000-token prompts, +17 / +20 %,
#: once vLLM's prompt-pass MoE factor is priced)
SINGLE_H100 = {"qwen3-14b", "qwen3-32b"}
#: the rows that fit a parameter (costsim/data/engines.yaml, engine vllm): the prompt-pass expert-GEMM factor
FIT_ROWS = {
    "I-gps-glm-4x-h200-vllm-bf16-tp8-1999-100": "vllm moe_prefill_compute_rel (0.26, with its attention_frac 0.5)",
    "I-gps-glm-4x-h200-vllm-bf16-tp8-4000-200": "vllm moe_prefill_compute_rel (0.26, with its attention_frac 0.5)",
    "I-gps-gpt-oss-120b-a100-vllm-mxfp4-tp1-1998-98": "vllm's Ampere gpt-oss kernels (0.49 / 0.15, with the 32,000-token row)",
    "I-gps-gpt-oss-120b-a100-vllm-mxfp4-tp1-32000-100": "vllm's Ampere gpt-oss kernels (0.49 / 0.15, with the 2,000-token row)",
}
KEYS = {"Successful requests": "n", "Benchmark duration (s)": "dur_s", "Total input tokens": "in_tok",
        "Total generated tokens": "out_tok", "Mean TTFT (ms)": "ttft_ms", "Mean TPOT (ms)": "tpot_ms",
        "Median ITL (ms)": "itl_med_ms"}

KNOWN_GAPS = {
    "short": (
        "A job of 1,000 requests of 128 prompt and 4 output tokens sent at once ({n} finished in {dur:.1f} s: "
        "{rps:.0f} requests/s, mean TTFT {ttft:.0f} ms) measures the server's per-request work. Not the HTTP client's: "
        "trtllm-serve's 4-token rows from the same client on the lab's A100 agree within 12 %. So it is vLLM's / SGLang's "
        "Python front end and scheduler (tokenization, admission, detokenization and streaming of each response), which "
        "costsim does not price beyond vLLM's per-sequence host time per step. The rows do not share one cost per "
        "request: dense Qwen3 on vLLM (A100) comes out +25..+53 %, DeepSeek-R1 and GLM on vLLM +77..+282 %, SGLang "
        "-17..+15 %, gpt-oss on A100 -40..+6 % (the 20B the furthest, as in its prompt-heavy rows), so no constant is "
        "fitted."),
    "box": (
        "The lab's single-H100 runs of dense Qwen3 14B / 32B come out 1.3-3.7x faster in costsim at every engine (vLLM BF16 "
        "+40..+266 %, SGLang FP8 and TensorRT-LLM FP8 +33..+133 %), while the same models on the lab's A100 agree within "
        "12 % (TensorRT-LLM) and 15 % (vLLM at 2,000-4,000-token prompts), and the lab's gpt-oss H100 runs agree within "
        "14 % (gpt-oss-120b on one H100 at 2,000-4,000 tokens +17 / +20 %). On it Qwen3-32B BF16 with "
        "4,000-token prompts has a median inter-token latency of 43.4 ms against 51.6 ms on the A100: 1.19x where the "
        "parts' HBM differs 1.64x. Priced as an H100 PCIe the BF16 rows at 2,000-4,000 tokens come within 31 % and the "
        "FP8 rows at 2,000-32,000 within 52 %, but the BF16 32,000-token rows no longer fit its KV cache, so no catalog "
        "part explains it. The file says 'a single NVIDIA H100 SXM GPU'; the cause (power cap, "
        "clocks, another part) is not published; not tuned away."),
    "moe_prefill": (
        "Prompt-heavy jobs of mixture-of-experts models on vLLM / SGLang: the routed experts' prompt GEMMs are priced at "
        "vLLM's fitted prompt-pass factor (moe_prefill_compute_rel 0.26 of the dense GEMMs' efficiency, fitted on this "
        "lab's two GLM-4.6 H200 rows at 2,000 / 4,000 tokens; a Triton fused-MoE kernel measurement gives 0.30) and the "
        "experts' outputs pay their HBM traffic (moe_dispersion_bytes_per_gpu). Before both, these rows ran 1.3-2x below "
        "costsim. The KV cache is BF16, the engines' 'auto' for these checkpoints (until 2026-12-06 the FP8 and MXFP4 "
        "rows were priced with costsim's FP8 default, which also ran their prompt attention at the FP8 rate), and "
        "DeepSeek-R1 on SGLang with attention data parallelism is priced with the tensor-parallel MoE SGLang runs "
        "without --ep-size (-16..+19 %; +47..+83 % as expert-parallel); DeepSeek-R1 on vLLM TP8 -13..+18 %. Still "
        "off: GLM-4.6 FP8 on SGLang (TP4) -12..-30 %, and Qwen3-235B on four or eight H100s -6..-28 %, slowest at "
        "32,000 tokens, where vLLM's and SGLang's FlashAttention-3 prompt attention may run above the efficiency "
        "transferred from TensorRT-LLM (attention_frac 0.5); gpt-oss-20b on A100 -9..-19 % (with vLLM's Ampere kernels "
        "for gpt-oss, Marlin MXFP4 experts and Triton sink attention, fitted on the 120B's 2,000- and 32,000-token rows, "
        "which put the 120B's other A100 rows within 10 %; before them -17..-44 % at 2,000-4,000 tokens and +15..+26 % "
        "at 32,000): in a 2,048-token prefill chunk its 32 experts get ~256 rows each where the 120B's 128 get ~64; "
        "gpt-oss-120b on one H100 at 2,000-4,000 tokens +17 / +20 % (on two, and the 20B on one, within 14 %). The "
        "factor is one number for every expert shape, where the grouped GEMM's efficiency "
        "depends on the rows per expert and the expert width. Not fitted further."),
    "dsa": (
        "DeepSeek-V3.2 (DeepSeek Sparse Attention) on SGLang v0.5.6 with DP attention, 8 x H200: -60 / -55 % at 2,000 / "
        "4,000-token prompts (within 13 % at 128 / 4 and 1,000 / 2,000). These rows are priced as TP 8 (costsim's layouts "
        "have no attention data parallelism with a tensor-parallel MoE; see _case), which replicates the latent cache and "
        "the indexer on all 8 GPUs and pads each rank's 16 heads to FlashMLA's 64 (core.inference_sparse "
        "head_padding_factor), where DP attention runs a request's attention, all 128 heads, on one GPU. Priced as EP 8 "
        "(attention data parallel, experts split) they come out -13 / +10 %, but the same lab's DeepSeek-R1 DP-attention "
        "rows then go +57..+83 % (as TP within 19 %), so no one pricing of SGLang's DP attention fits both files; "
        "SGLang's automatic mem_fraction_static, which sizes the KV pool of these pool-bound jobs, is not in them. The "
        "vLLM TP 8 rows of this file, priced with the same DSA physics, agree within 21 % (the 4-token row aside). Not "
        "tuned away."),
    "dense_long_a100": (
        "32,000-token prompts of dense Qwen3 on one A100 (vLLM's 2,048-token prefill chunks on A100): within 25 % with "
        "vLLM's prompt attention at TensorRT-LLM's fitted efficiency (attention_frac 0.5, engines.yaml vllm), -34 / -40 % "
        "at the 0.29 prior of vidur's A100 kernel profile (<= 2,816 tokens); TensorRT-LLM's own rows -10 / -11 %. The "
        "long-context attention term is the least checked part of these rows."),
}


def _gap_key(mid: str, gpu: str, stem: str, engine: str, inp: int, out: int, dp_attn: bool = False) -> str | None:
    if gpu == "h100" and stem in SINGLE_H100:
        return "box"
    if inp < 200 and out <= 8 and engine in ("vllm", "sglang"):
        return "short"
    if mid == "deepseek-v3.2" and dp_attn:
        return "dsa"
    if mid in MOE:
        return "moe_prefill"
    if gpu == "a100" and inp > 16_000:
        return "dense_long_a100"
    return None


def _read(repo: Path, rel: str) -> str | None:
    """A lab file from a checkout or a git directory; None where the lab has no such model x GPU file."""
    try:
        if (repo / rel).exists():
            return (repo / rel).read_text()
        got = subprocess.run(["git", "-C", str(repo), "show", f"HEAD:{rel}"], capture_output=True, text=True)
    except OSError:  # e.g. a name longer than the file system allows: no such lab file
        return None
    return got.stdout if got.returncode == 0 else None


def fenced_block(lines: list[str], i: int) -> tuple[list[str], int]:
    """The lines of the first ``` fenced block after line i, and the index of the line after its closing fence."""
    j = i + 1
    while j < len(lines) and "```" not in lines[j]:
        j += 1
    k = j + 1
    while k < len(lines) and "```" not in lines[k]:
        k += 1
    return lines[j + 1:k], k + 1


def _blocks(text: str):
    """(section heading, admonition title, code block) for each '??? info "..."' block, in order."""
    lines = text.split("\n")
    heading, i = "", 0
    while i < len(lines):
        if lines[i].startswith("#"):
            heading = lines[i].strip("# ").strip()
        m = re.match(r'\s*\?\?\?\+? (?:info|tip) "([^"]+)"', lines[i])
        if m:
            block, i = fenced_block(lines, i)
            yield heading, m.group(1), "\n".join(x.strip() for x in block)
            continue
        i += 1


def runs(text: str) -> list[dict]:
    """Every benchmark summary of a lab file with the serving command above it and its '# label'."""
    out, script = [], ""
    for heading, title, content in _blocks(text):
        t = title.lower()
        if "script" in t or "command" in t:
            script = " ".join(content.replace("\\", " ").split())
            continue
        if "result" not in t:
            continue
        label = ""
        for part in re.split(r"(?m)^(#.*)$", content):
            if part.startswith("#"):
                label = part.strip("# ").strip()
                continue
            rec = {}
            for line in part.split("\n"):
                k, _, v = line.rpartition(":")
                if k.strip() in KEYS:
                    try:
                        rec[KEYS[k.strip()]] = float(v)
                    except ValueError:
                        pass
            if {"n", "dur_s", "in_tok", "out_tok"} <= rec.keys():
                out.append({**rec, "section": heading, "label": label, "script": script})
    return out


def _flag(s: str, *names: str) -> int | None:
    for n in names:
        m = re.search(r"(?:^|\s)" + re.escape(n) + r"[ =](\d+)", s)
        if m:
            return int(m.group(1))
    return None


def _case(stem: str, gpu: str, version: str, r: dict) -> dict | None:
    s, mid = r["script"], MODELS[stem]
    engine = ("vllm" if s.startswith("vllm serve") or " vllm serve" in s else "sglang" if "sglang.launch_server" in s
              else "tensorrt-llm-pytorch" if "trtllm-serve" in s else None)
    if engine is None or not r["label"].startswith("random") or re.search(r"speculative|--mtp", s, re.I):
        return None
    n = int(r["n"])
    inp, out = round(r["in_tok"] / n), round(r["out_tok"] / n)
    tp = _flag(s, "-tp", "--tensor-parallel-size", "--tp", "--tp-size") or 1
    fp8 = "-FP8" in s or stem in ("deepseek-r1", "deepseek-v3.2")  # DeepSeek's checkpoints are block-scaled FP8
    wp = "fp8" if fp8 else "mxfp4" if mid.startswith("gpt-oss") else "bf16"
    dp_attn = "--enable-dp-attention" in s
    # SGLang's attention data parallelism without --ep-size keeps the MoE layers tensor-parallel over all tp GPUs
    # (moe_ep_rank = tp_rank // (tp_size // ep_size), ep_size 1: each GPU holds 1/tp of every expert, the DP ranks'
    # tokens all-gathered before each MoE layer and reduce-scattered after). costsim's layout has no attention-DP +
    # MoE-TP combination: these rows are priced as TP tp, which shards the experts and sizes the per-layer collectives
    # as SGLang does; the attention is then priced tensor-parallel too (the MLA cache on every GPU, a smaller KV pool
    # than DP's one copy per request). Until 2026-12-06 they were priced as EP tp (experts whole on one GPU each),
    # which SGLang runs only with --ep-size: +47..+83 % there, -16..+19 % as TP (changed after that comparison)
    layout = {"tp": tp}
    cap = _flag(s, "--max-num-seqs", "--max-running-requests", "--max_batch_size")
    if cap is None:
        cap = {"vllm": 256 if gpu == "a100" else 1024, "sglang": 4096, "tensorrt-llm-pytorch": DEFAULT_MAX_BATCH_SIZE}[engine]
    async_ = "--async-scheduling" in s
    tag = f"{'dpattn' if dp_attn else f'tp{tp}'}{'-async' if async_ else ''}"
    short_engine = {"tensorrt-llm-pytorch": "trtllm"}.get(engine, engine)
    cid = f"I-gps-{stem.replace('.', '')}-{gpu}-{short_engine}-{wp}-{tag}-{inp}-{out}"
    rps, itl = n / r["dur_s"], r.get("itl_med_ms")
    case = {
        "id": cid, "kind": "inference",
        "source": (f"gpustack/gpustack {LAB}/{stem}/{gpu}.md at commit {COMMIT} ('{r['section']}', {r['label']}; "
                   f"{version}; command: {s[:160]})"),
        "inputs": {"model": mid, "hardware": HARDWARE[gpu], "num_gpus": tp, **layout, "weight_precision": wp,
                   "kv_precision": "bf16", "engine": engine, "batch": "max" if engine == "tensorrt-llm-pytorch" else cap, "max_num_seqs": cap, "input_tokens": inp, "output_tokens": out,
                   "num_requests": n},
        "metric": "throughput_tokens_per_s",
        "expected": round(r["out_tok"] / r["dur_s"], 2),
        "comparison": "within", "tolerance_frac": 0.25,
        "tolerance_reason": ("25 %: a job through the engine's HTTP server (vllm bench serve, request rate inf), engine "
                             "defaults not all in the command (token budget, KV fraction); same target as the "
                             "TensorRT-LLM per-GPU cases"),
        "used_for_fit": cid in FIT_ROWS,
    }
    key = None if cid in FIT_ROWS else _gap_key(mid, gpu, stem, engine, inp, out, dp_attn)
    if key:
        case["known_gap"] = KNOWN_GAPS[key].format(n=n, dur=r["dur_s"], rps=rps, ttft=r.get("ttft_ms", float("nan")))
    model_note = " GLM-4.6 (glm-4.5's architecture with a 200K context)." if stem == "glm-4.x" else ""
    role = f"fits {FIT_ROWS[cid]}" if cid in FIT_ROWS else "held out"
    case["notes"] = (f"{role} (generated by build_gpustack_cases.py). {n} requests of {inp} / {out} tokens sent at once, "
                     f"{r['dur_s']:.2f} s; mean TTFT {r.get('ttft_ms', 0):.0f} ms, mean TPOT {r.get('tpot_ms', 0):.1f} ms"
                     f"{f', median ITL {itl:.1f} ms' if itl else ''}.{model_note}{' --async-scheduling (not modelled).' if async_ else ''} "
                     f"Regime: {engine} serving job, NVIDIA {gpu.upper()}, {tp} GPU(s).")
    return case


def build(repo: Path) -> list[dict]:
    cases, seen = [], set()
    for stem in MODELS:
        for gpu in HARDWARE:
            rel = f"{LAB}/{stem}/{gpu}.md"
            if (stem, gpu) in COPIED:
                continue
            text = _read(repo, rel)
            if text is None:
                continue
            ver = re.search(r"### Engine Version\s*\n+((?:- .+\n?)+)", text)
            version = "; ".join(x.strip("- ").strip() for x in ver.group(1).strip().split("\n")) if ver else "versions not given"
            for r in runs(text):
                c = _case(stem, gpu, version, r)
                if c is None:
                    continue
                if c["id"] in seen:
                    raise SystemExit(f"duplicate case id {c['id']}")
                seen.add(c["id"])
                cases.append(c)
    return cases


def main() -> None:
    gpustack_builder_main(__doc__, build, OUT, "build_gpustack_cases.py", COMMIT, f"no {LAB} files")


if __name__ == "__main__":
    main()
