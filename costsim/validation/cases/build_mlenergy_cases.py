"""Rebuild serving_mlenergy_v3.yaml: every 1-GPU lm-arena-chat configuration of the models below (dense and one MoE) in
the ML.ENERGY Benchmark v3 data, on H100 and B200, as held-out serving-throughput cases.

Usage (a developer tool, not needed at run time):

    python costsim/validation/cases/build_mlenergy_cases.py --leaderboard DIR

--leaderboard: a copy of https://github.com/ml-energy/leaderboard (commit 0cd52dab, 2026-02-27); files used:
               public/data/models/<model>__lm-arena-chat.json ("configurations": gpu_model, num_gpus,
               max_num_seqs, avg_batch_size, avg_output_len, output_throughput_tokens_per_sec,
               median_itl_ms, avg_power_watts; vLLM 0.11.1, bf16 weights).

Configurations already hand-written in serving_published.yaml (I-mle-8b-*) are skipped. None of these
cases was used to fit anything; the selection is mechanical (all configurations of the listed models), so
the misses stay in: KNOWN_GAPS records the cause of each, written after the first comparison.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

import yaml

HERE = Path(__file__).resolve().parent
OUT = HERE / "serving_mlenergy_v3.yaml"
COMMIT = "0cd52dab"
MODELS = {  # costsim model id -> (leaderboard file stem, short id used in case ids)
    "llama-3.1-8b": ("meta-llama__Llama-3.1-8B-Instruct", "8b"),
    "qwen3-8b": ("Qwen__Qwen3-8B", "qwen3-8b"),
    "qwen3-14b": ("Qwen__Qwen3-14B", "qwen3-14b"),
    "qwen3-32b": ("Qwen__Qwen3-32B", "qwen3-32b"),
    "qwen3-30b-a3b": ("Qwen__Qwen3-30B-A3B-Instruct-2507", "qwen3-30b-a3b"),  # MoE, 128 experts, 8 active; 1 GPU
}
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
    "Model too slow at the largest batch (the same model is within 1 % at 256 and 512): a running batch of "
    "{batch} only fits the B200's memory beside the weights if the sequences are shorter than the {inp} + {out} "
    "tokens assumed (costsim refuses this batch at that length), so the real prompts are shorter; decode "
    "attention, which scales with that unpublished context, dominates the step at this batch. Not tuned away.")
#: Was a third cause until the mechanism was modelled: the MoE on B200 at full power, 24-49 % over, is vLLM 0.11.1's
#: fused-MoE kernel running its default (untuned) tile configuration on B200 (engine vllm, device_parameters b200,
#: moe_kernel_rel 0.59 from the kernel times in vllm-project/vllm PR 31448, not fitted on these cases); now -8..+5 %.
KNOWN_GAPS: dict[str, str] = {  # case id -> cause (_STARVED or _SHORT_PROMPTS), recorded after the first comparison
    **{cid: _STARVED for cid in (
        "I-mle3-8b-b200-b32-thr", "I-mle3-8b-b200-b128-thr", "I-mle3-8b-b200-b256-thr", "I-mle3-8b-b200-b1024-thr",
        "I-mle3-qwen3-8b-b200-b16-thr", "I-mle3-qwen3-8b-b200-b32-thr", "I-mle3-qwen3-8b-b200-b64-thr",
        "I-mle3-qwen3-8b-b200-b1024-thr",
        "I-mle3-qwen3-14b-b200-b32-thr", "I-mle3-qwen3-14b-b200-b64-thr", "I-mle3-qwen3-14b-b200-b128-thr",
        "I-mle3-qwen3-30b-a3b-b200-b512-thr", "I-mle3-qwen3-30b-a3b-b200-b768-thr", "I-mle3-qwen3-30b-a3b-b200-b1024-thr",
        "I-mle3-qwen3-30b-a3b-b200-b1536-thr")},
    "I-mle3-qwen3-14b-b200-b2048-thr": _SHORT_PROMPTS,
}
_EXISTING = {("llama-3.1-8b", "H100", m) for m in (16, 64, 128, 256, 512)} | {("llama-3.1-8b", "B200", m) for m in (64, 512)}


def _load(repo: Path, stem: str) -> dict:
    rel = f"public/data/models/{stem}__lm-arena-chat.json"
    if (repo / rel).exists():
        return json.loads((repo / rel).read_text())
    got = subprocess.run(["git", "-C", str(repo), "show", f"HEAD:{rel}"], capture_output=True, text=True)
    if got.returncode != 0:
        print(f"error: --leaderboard '{repo}' has no {rel} (neither a checkout nor a git directory holding it); "
              f"give a copy of github.com/ml-energy/leaderboard at commit {COMMIT}.", file=sys.stderr)
        raise SystemExit(2)
    return json.loads(got.stdout)


def build(repo: Path) -> list[dict]:
    cases = []
    for mid, (stem, short) in MODELS.items():
        confs = [c for c in _load(repo, stem)["configurations"] if c["num_gpus"] == 1]
        by = {(c["gpu_model"], c["max_num_seqs"]): c for c in confs}
        peak = {g: max((c for c in confs if c["gpu_model"] == g), key=lambda c: c["avg_power_watts"]) for g in HARDWARE}
        for (gpu, m), c in sorted(by.items(), key=lambda kv: (kv[0][0] != "H100", kv[0][1])):
            if gpu not in HARDWARE or (mid, gpu, m) in _EXISTING:
                continue
            cid = f"I-mle3-{short}-{gpu.lower()}-b{m}-thr"
            h = by.get(("H100", m))
            case = {
                "id": cid, "kind": "inference",
                "source": (f"ML.ENERGY benchmark v3 (ml-energy/leaderboard public/data/models/{stem}__lm-arena-chat.json "
                           f"at commit {COMMIT}; vLLM 0.11.1, lm-arena-chat, max_num_seqs {m})"),
                "inputs": {"model": mid, "hardware": HARDWARE[gpu], "num_gpus": 1, "tp": 1, "weight_precision": "bf16",
                           "engine": "vllm", "batch": int(round(c["avg_batch_size"])), "input_tokens": INPUT_TOKENS,
                           "output_tokens": int(round(c["avg_output_len"]))},
                "metric": "throughput_tokens_per_s",
                "expected": round(float(c["output_throughput_tokens_per_sec"]), 1),
                "comparison": "within", "tolerance_frac": 0.2,
                "tolerance_reason": ("20 %: ML.ENERGY does not publish the prompt lengths (LMArena conversations; "
                                     f"{INPUT_TOKENS} tokens assumed, estimate); the engine mixes prefill chunks into decode steps"),
                "used_for_fit": False,
            }
            if cid in KNOWN_GAPS:
                itl = (f"; its median ITL {c['median_itl_ms']:.1f} ms is {c['median_itl_ms'] / h['median_itl_ms']:.2f}x the "
                       "H100's at the same max_num_seqs although the B200 has 2.4x the HBM bandwidth") if h else ""
                case["known_gap"] = KNOWN_GAPS[cid].format(
                    power=c["avg_power_watts"], peak=peak[gpu]["avg_power_watts"], peak_m=peak[gpu]["max_num_seqs"], itl=itl,
                    batch=case["inputs"]["batch"], inp=INPUT_TOKENS, out=case["inputs"]["output_tokens"])
            moe = (" MoE on B200: vLLM 0.11.1 ran its default (untuned) fused-MoE kernel configuration here (engine vllm, "
                   "moe_kernel_rel 0.59 on b200, from vllm-project/vllm PR 31448's kernel times; not fitted on these cases)."
                   if mid == "qwen3-30b-a3b" and gpu == "B200" else "")
            case["notes"] = (f"held out (generated by build_mlenergy_cases.py). Mean running batch {c['avg_batch_size']:.1f}, "
                             f"mean output {c['avg_output_len']:.0f} tokens, median ITL {c['median_itl_ms']:.2f} ms, "
                             f"mean GPU power {c['avg_power_watts']:.0f} W. Regime: small models at high batch (vLLM), "
                             f"NVIDIA {gpu}, 1 GPU(s).{moe}")
            cases.append(case)
    unknown = set(KNOWN_GAPS) - {c["id"] for c in cases}
    if unknown:
        raise SystemExit(f"KNOWN_GAPS names cases that were not built: {sorted(unknown)}")
    return cases


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--leaderboard", required=True, type=Path, help="copy of github.com/ml-energy/leaderboard")
    a = ap.parse_args()
    cases = build(a.leaderboard)
    head = ("# Generated by build_mlenergy_cases.py from ml-energy/leaderboard at commit "
            f"{COMMIT}; do not edit by hand.\n")
    OUT.write_text(head + yaml.safe_dump(cases, sort_keys=False, width=120, allow_unicode=True))
    print(f"wrote {len(cases)} cases to {OUT}")


if __name__ == "__main__":
    main()
