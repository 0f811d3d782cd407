"""Rebuild serving_mlenergy_v3.yaml: every lm-arena-chat configuration of the models below (dense, sliding-window and
MoE; one GPU, or tensor- or expert-parallel over several) in the ML.ENERGY Benchmark v3 data, on H100 and B200, as held-out
serving-throughput cases.

Usage (a developer tool, not needed at run time):

    python costsim/validation/cases/build_mlenergy_cases.py --leaderboard DIR

--leaderboard: a copy of https://github.com/ml-energy/leaderboard (commit 0cd52dab, 2026-02-27); files used:
               public/data/models/<model>__lm-arena-chat.json ("configurations": gpu_model, num_gpus,
               max_num_seqs, avg_batch_size, avg_output_len, output_throughput_tokens_per_sec,
               median_itl_ms, avg_power_watts; vLLM 0.11.1, bf16 weights).

Configurations already hand-written in serving_published.yaml (I-mle-8b-*) are skipped. One case (FIT) fits vLLM's
top-k sampling cost; the others fit nothing; the selection is mechanical (all configurations of the listed models), so
the misses stay in: KNOWN_GAPS records the cause of each, written after the first comparison.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from costsim.validation.cases.generated import write_cases

HERE = Path(__file__).resolve().parent
OUT = HERE / "serving_mlenergy_v3.yaml"
COMMIT = "0cd52dab"
MODELS = {  # costsim model id -> (leaderboard file stem, short id used in case ids)
    "llama-3.1-8b": ("meta-llama__Llama-3.1-8B-Instruct", "8b"),
    "qwen3-8b": ("Qwen__Qwen3-8B", "qwen3-8b"),
    "qwen3-14b": ("Qwen__Qwen3-14B", "qwen3-14b"),
    "qwen3-32b": ("Qwen__Qwen3-32B", "qwen3-32b"),
    "qwen3-30b-a3b": ("Qwen__Qwen3-30B-A3B-Instruct-2507", "qwen3-30b-a3b"),  # MoE, 128 experts, 8 active; 1 GPU
    "llama-3.1-70b": ("meta-llama__Llama-3.1-70B-Instruct", "70b"),  # tensor parallel: TP2 on B200, TP4 on H100
    "gemma-3-12b": ("google__gemma-3-12b-it", "gemma3-12b"),  # 5:1 local (1,024-token window) : global attention
    "gemma-3-27b": ("google__gemma-3-27b-it", "gemma3-27b"),  # the same; 1 GPU, and TP2 on H100
    "qwen3-235b-a22b": ("Qwen__Qwen3-235B-A22B-Instruct-2507", "qwen3-235b-a22b"),  # MoE, expert parallel over 4 or 8 GPUs
}
#: The GPQA task (long reasoning outputs, ~7-8k tokens: decode over long contexts), H100 only: every B200 GPQA run
#: draws 294-774 W (the lm-arena-chat B200 runs reach 691-955 W) with a median ITL 2-4x the H100's at the same batch
#: (Qwen3-8B at 8: 32.5 vs 9.7 ms), the host-bound pattern of _STARVED across the whole sweep, so the B200 GPQA runs
#: are left out rather than added as two dozen copies of that gap.
GPQA_MODELS = {
    "qwen3-8b": ("Qwen__Qwen3-8B", "qwen3-8b"),
    "qwen3-14b": ("Qwen__Qwen3-14B", "qwen3-14b"),
    "qwen3-32b": ("Qwen__Qwen3-32B", "qwen3-32b"),
    "qwen3-30b-a3b": ("Qwen__Qwen3-30B-A3B-Thinking-2507", "qwen3-30b-a3b"),  # Thinking-2507: the same shapes
}
TASKS = (("lm-arena-chat", MODELS, ("H100", "B200"), "I-mle3-", "LMArena conversations"),
         ("gpqa", GPQA_MODELS, ("H100",), "I-mle3-gpqa-", "GPQA questions"))
HARDWARE = {"H100": "h100-sxm", "B200": "b200"}
INPUT_TOKENS = 250  # not published (LMArena conversations); the same estimate as the I-mle-8b cases

_STARVED = (
    "GPU-starved run: mean GPU power {power:.0f} W against {peak:.0f} W at this model's best-loaded B200 point "
    "(max_num_seqs {peak_m}){itl}. The GPU idles for part of each step waiting on the host (engine scheduling, "
    "sampling and output handling on the CPU), which the benchmark does not report and costsim does not model "
    "per run: the shortfall is not monotone in batch (Qwen3-8B ITL 12.9 ms at 64, 12.1 ms at 128; Llama 3.1 8B "
    "throughput 5,589 tokens/s at 64, 4,570 at 128), while this sweep's B200 points near full power agree within "
    "20 %. Not tuned away.")
_SHORT_PROMPTS = (
    "Too slow at the largest batch (the same model agrees better at smaller batches): a running batch of {batch} fits "
    "beside the weights in the memory of {gpus} {part}(s) only if the sequences are much shorter than the {inp} + {out} "
    "tokens assumed (costsim's own memory check refuses this batch at that length), so the real prompts are shorter; "
    "decode attention, which scales with that unpublished context, dominates the step at this batch. Not tuned away.")
_EP8_B200 = (
    "Expert parallelism over 8 B200s is no faster than over 4 at the same batch in this sweep (mean step 29.6 vs 30.6 ms "
    "at 32, 123 vs 117 ms at 1,024) while the 8 GPUs draw 493-674 W each against 641-817 W in the 4-GPU runs: the added "
    "GPUs mostly wait. The leaderboard records tensor_parallel 1 / expert_parallel 8, which vLLM cannot run as such (its "
    "expert-parallel size is TP x DP), so the layout actually run is unknown; costsim's EP8 (and TP8) predict 1.2-1.6x the "
    "EP4 speed, as the H100 EP8 points of the same model (within 20 %) bear out. Not tuned away.")
#: Were two more causes until the decode power was priced per part (costsim.core.inference.decode_step_power_w, engine
#: vllm seq_overhead_busy_frac 1: vLLM 0.11's PyTorch-native sampler sorts the logits on the GPU): the 8B points 26-29 %
#: low in J/token (the per-sequence time had counted as idle) and the 70B TP4 batch-768/1,024 points 25-31 % high
#: (a running batch that does not fit at the assumed prompt length, priced at the largest that does); now -24..+10 %.
#: Was a third cause until the mechanism was modelled: the MoE on B200 at full power, 24-49 % over, is vLLM 0.11.1's
#: fused-MoE kernel running its default (untuned) tile configuration on B200 (engine vllm, device_parameters b200,
#: moe_kernel_rel 0.59 from the kernel times in vllm-project/vllm PR 31448, not fitted on these cases); now -8..+5 %.
KNOWN_GAPS: dict[str, str] = {  # case id -> cause (_STARVED, _SHORT_PROMPTS, _EP8_B200), after the first comparison
    **{cid: _STARVED for cid in (
        "I-mle3-8b-b200-b32-thr", "I-mle3-8b-b200-b128-thr", "I-mle3-8b-b200-b256-thr", "I-mle3-8b-b200-b1024-thr",
        "I-mle3-qwen3-8b-b200-b16-thr", "I-mle3-qwen3-8b-b200-b32-thr", "I-mle3-qwen3-8b-b200-b64-thr",
        "I-mle3-qwen3-14b-b200-b32-thr", "I-mle3-qwen3-14b-b200-b64-thr", "I-mle3-qwen3-14b-b200-b128-thr",
        "I-mle3-qwen3-30b-a3b-b200-b768-thr", "I-mle3-qwen3-30b-a3b-b200-b1536-thr",
        "I-mle3-gemma3-12b-b200-b16-thr", "I-mle3-gemma3-12b-b200-b32-thr")},
    "I-mle3-qwen3-14b-b200-b1024-thr": _SHORT_PROMPTS,
    "I-mle3-qwen3-14b-b200-b2048-thr": _SHORT_PROMPTS,
    "I-mle3-70b-b200x2-b2048-thr": _SHORT_PROMPTS,
    # 770 sequences of 250 + 920 tokens fit two H100s beside Qwen3-30B-A3B's weights; 20.0 % slow before the MoE
    # prompt-pass factor (engine vllm, moe_prefill_compute_rel), 21.2 % with it
    "I-mle3-qwen3-30b-a3b-h100x2-b1024-thr": _SHORT_PROMPTS,
    **{f"I-mle3-qwen3-235b-a22b-b200x8-b{m}-thr": _EP8_B200 for m in (8, 32, 64, 128, 256, 512, 1024, 1536, 2048)},
}
#: The one case of this file used to fit a parameter: engine vllm topk_bytes_per_logit (top-k masking of the logits,
#: charged for models whose default sampling sets top_k). Everything else stays held out.
FIT = {"I-mle3-qwen3-8b-h100-b128-thr": "fit: engine vllm topk_bytes_per_logit (440 bytes per sequence per vocabulary entry)"}
#: GPU energy per output token (J/token = mean power / throughput, the leaderboard's energy_per_token_joules) of the H100
#: configurations with one GPU or tensor parallelism, through `costsim serve` (kind serve_gpu_energy_per_token): the
#: power model's held-out check. H100 only: the B200 sweeps' power is dominated by the host-bound runs above.
#: Configurations that are already power cases (serving_published.yaml P-mle-8b-*, power.yaml P-mlenergy-70b-j-*) are skipped.
_EXISTING_J = ({("llama-3.1-8b", 1, m) for m in (64, 128, 256)} | {("llama-3.1-70b", 4, m) for m in (8, 64, 128, 256)})
_EXISTING = ({("llama-3.1-8b", "H100", 1, m) for m in (16, 64, 128, 256, 512)} | {("llama-3.1-8b", "B200", 1, m) for m in (64, 512)}
             | {("llama-3.1-70b", "H100", 4, 128), ("llama-3.1-70b", "H100", 4, 512), ("llama-3.1-70b", "B200", 2, 512)})


def _load(repo: Path, stem: str, task: str = "lm-arena-chat") -> dict:
    rel = f"public/data/models/{stem}__{task}.json"
    if (repo / rel).exists():
        return json.loads((repo / rel).read_text())
    got = subprocess.run(["git", "-C", str(repo), "show", f"HEAD:{rel}"], capture_output=True, text=True)
    if got.returncode != 0:
        print(f"error: --leaderboard '{repo}' has no {rel} (neither a checkout nor a git directory holding it); "
              f"give a copy of github.com/ml-energy/leaderboard at commit {COMMIT}.", file=sys.stderr)
        raise SystemExit(2)
    return json.loads(got.stdout)


def _max_batch(mid: str, tp: int, out: int) -> int:
    """costsim's largest batch of INPUT_TOKENS + out-token sequences on tp H100s (the runner's fallback), for gap texts."""
    from costsim.core import inference as core
    from costsim.estimators.inference import core_inputs
    from costsim.specs.catalog import get_accelerator, get_model

    ci = core_inputs(get_model(mid), get_accelerator("h100-sxm"), "bf16", None, "vllm", None)
    n = INPUT_TOKENS + out
    return int(core.max_batch(ci.shape, ci.dev, ci.prec, core.Layout(tp=tp), n, min(2048, n)))


def build(repo: Path) -> list[dict]:
    cases = []
    for task, models, gpus_allowed, prefix, prompts in TASKS:
        cases += _build_task(repo, task, models, gpus_allowed, prefix, prompts)
    return cases


def _build_task(repo: Path, task: str, models: dict, gpus_allowed: tuple[str, ...], prefix: str, prompts: str) -> list[dict]:
    cases = []
    for mid, (stem, short) in models.items():
        # one GPU, pure tensor parallelism, or pure expert parallelism (tensor_parallel 1, data_parallel 1, expert_parallel
        # = GPUs: costsim's tp 1 / ep N layout, experts split N ways, the dense part data parallel)
        def _layout(c: dict) -> tuple[int, int] | None:
            p, n = c["parallelization"], int(c["num_gpus"])
            if n == 1:
                return 1, 1
            if p["data_parallel"] != 1:
                return None
            if p["tensor_parallel"] == n and p["expert_parallel"] == 1:
                return n, 1
            if p["tensor_parallel"] == 1 and p["expert_parallel"] == n:
                return 1, n
            return None
        confs = [c for c in _load(repo, stem, task)["configurations"] if _layout(c) is not None and c["gpu_model"] in gpus_allowed]
        by = {(c["gpu_model"], int(c["num_gpus"]), c["max_num_seqs"]): c for c in confs}
        peak = {(g, n): max((c for c in confs if c["gpu_model"] == g and c["num_gpus"] == n), key=lambda c: c["avg_power_watts"])
                for g, n, _ in by}
        for (gpu, ng, m), c in sorted(by.items(), key=lambda kv: (kv[0][0] != "H100", kv[0][1], kv[0][2])):
            if gpu not in HARDWARE or (task == "lm-arena-chat" and (mid, gpu, ng, m) in _EXISTING):
                continue
            tp, ep = _layout(c)
            cid = f"{prefix}{short}-{gpu.lower()}{f'x{ng}' if ng > 1 else ''}-b{m}-thr"
            h = by.get(("H100", ng, m))
            case = {
                "id": cid, "kind": "inference",
                "source": (f"ML.ENERGY benchmark v3 (ml-energy/leaderboard public/data/models/{stem}__{task}.json "
                           f"at commit {COMMIT}; vLLM 0.11.1, {task}, max_num_seqs {m})"),
                "inputs": {"model": mid, "hardware": HARDWARE[gpu], "num_gpus": ng, "tp": tp, **({"ep": ep} if ep > 1 else {}),
                           "weight_precision": "bf16",
                           "engine": "vllm", "batch": int(round(c["avg_batch_size"])), "input_tokens": INPUT_TOKENS,
                           "output_tokens": int(round(c["avg_output_len"]))},
                "metric": "throughput_tokens_per_s",
                "expected": round(float(c["output_throughput_tokens_per_sec"]), 1),
                "comparison": "within", "tolerance_frac": 0.2,
                "tolerance_reason": (f"20 %: ML.ENERGY does not publish the prompt lengths ({prompts}; "
                                     f"{INPUT_TOKENS} tokens assumed, estimate); the engine mixes prefill chunks into decode steps"),
                "used_for_fit": cid in FIT,
            }
            if cid in KNOWN_GAPS:
                itl = (f"; its median ITL {c['median_itl_ms']:.1f} ms is {c['median_itl_ms'] / h['median_itl_ms']:.2f}x the "
                       "H100's at the same max_num_seqs although the B200 has 2.4x the HBM bandwidth") if h else ""
                case["known_gap"] = KNOWN_GAPS[cid].format(
                    power=c["avg_power_watts"] / ng, peak=peak[(gpu, ng)]["avg_power_watts"] / ng, peak_m=peak[(gpu, ng)]["max_num_seqs"], itl=itl,
                    batch=case["inputs"]["batch"], inp=INPUT_TOKENS, out=case["inputs"]["output_tokens"], gpus=ng, part=gpu)
            moe = (" MoE on B200: vLLM 0.11.1 ran its default (untuned) fused-MoE kernel configuration here (engine vllm, "
                   "moe_kernel_rel 0.59 on b200, from vllm-project/vllm PR 31448's kernel times; not fitted on these cases)."
                   if mid in ("qwen3-30b-a3b", "qwen3-235b-a22b") and gpu == "B200" else "")
            case["notes"] = (f"{FIT.get(cid, 'held out')} (generated by build_mlenergy_cases.py). Mean running batch {c['avg_batch_size']:.1f}, "
                             f"mean output {c['avg_output_len']:.0f} tokens, median ITL {c['median_itl_ms']:.2f} ms, "
                             f"mean GPU power {c['avg_power_watts'] / ng:.0f} W{' per GPU' if ng > 1 else ''}. Regime: vLLM serving sweep, "
                             f"NVIDIA {gpu}, {ng} GPU(s){f' (TP{tp})' if tp > 1 else ''}{f' (EP{ep})' if ep > 1 else ''}.{moe}")
            cases.append(case)
            if gpu == "H100" and ep == 1 and (mid, ng, m) not in _EXISTING_J:
                cases.append(_energy_case(task, stem, prefix, short, mid, ng, m, c, prompts))
    return cases


def _energy_case(task: str, stem: str, prefix: str, short: str, mid: str, ng: int, m: int, c: dict, prompts: str) -> dict:
    cid = f"P{prefix[1:]}{short}-h100{f'x{ng}' if ng > 1 else ''}-b{m}-j"
    case = {
        "id": cid, "kind": "serve_gpu_energy_per_token",
        "source": (f"ML.ENERGY benchmark v3 (ml-energy/leaderboard public/data/models/{stem}__{task}.json at commit "
                   f"{COMMIT}; vLLM 0.11.1, {task}, max_num_seqs {m}; energy_per_token_joules, GPU energy only)"),
        "inputs": {"model": mid, "hardware": "h100-sxm", "tp": ng, "batch": int(round(c["avg_batch_size"])),
                   "input_tokens": INPUT_TOKENS, "output_tokens": int(round(c["avg_output_len"])), "engine": "vllm"},
        "metric": "gpu_energy_per_output_token_j",
        "expected": round(float(c["energy_per_token_joules"]), 5),
        "comparison": "within", "tolerance_frac": 0.25,
        "tolerance_reason": ("25 %: the 20 % of the throughput cases combined with the power model's 15 % (issue target): "
                             f"sqrt(0.2^2 + 0.15^2) = 0.25, chosen before comparing ({prompts}; {INPUT_TOKENS}-token prompts assumed)"),
        "used_for_fit": False,
    }
    if cid in KNOWN_GAPS:
        case["known_gap"] = KNOWN_GAPS[cid].format(power=c["avg_power_watts"] / ng, batch=case["inputs"]["batch"], inp=INPUT_TOKENS,
                                                   out=case["inputs"]["output_tokens"], cap=_max_batch(mid, ng, case["inputs"]["output_tokens"]))
    case["notes"] = (f"held out (generated by build_mlenergy_cases.py). Mean GPU power {c['avg_power_watts'] / ng:.0f} W"
                     f"{' per GPU' if ng > 1 else ''}, throughput {c['output_throughput_tokens_per_sec']:.0f} tokens/s. "
                     f"Regime: power, NVIDIA H100, {ng} GPU(s){f' (TP{ng})' if ng > 1 else ''}.")
    return case


def _check(cases: list[dict]) -> list[dict]:
    unknown = (set(KNOWN_GAPS) | set(FIT)) - {c["id"] for c in cases}
    if unknown:
        raise SystemExit(f"KNOWN_GAPS / FIT name cases that were not built: {sorted(unknown)}")
    return cases


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--leaderboard", required=True, type=Path, help="copy of github.com/ml-energy/leaderboard")
    a = ap.parse_args()
    cases = _check(build(a.leaderboard))
    write_cases(OUT, f"# Generated by build_mlenergy_cases.py from ml-energy/leaderboard at commit {COMMIT}; do not edit "
                     "by hand.\n", cases)


if __name__ == "__main__":
    main()
