"""Writes costsim/validation/cases/training_torchtune.yaml from torchtune's published fine-tuning tables (pytorch/torchtune
README.md, BSD-3-Clause; the numbers below are copied from it): step time and peak memory of full fine-tuning, LoRA and
QLoRA on one GPU.

Sources, both read from the public repository's history (github.com/pytorch/torchtune):
  * README.md at 1814feb17 (2024-11-18, "add flags to readme"), table "Optimization flags": Llama 3.2 3B on one A100
    (80 GB: the table's 60 GiB peak does not fit 40), batch size 2, max sequence length 4096 on a packed dataset, bf16,
    each technique added on top of the previous one (LoRA and QLoRA without optimizer_in_bwd and 8-bit AdamW); the
    command given for the QLoRA row (recipe lora_finetune_single_device, config llama3_2/3B_qlora_single_device:
    adapters of rank 64 on q_proj, v_proj, output_proj and the MLP, lora_dropout 0.0; dataset.packed=True, compile=True,
    CEWithChunkedOutputLoss, activation checkpointing and offloading, torch.optim.AdamW, batch_size 2, max_seq_len 4096,
    gradient_accumulation_steps 1). Tokens per second is the recipe's tokens_per_second_per_gpu: batch["tokens"].numel()
    over the step's time (recipes/lora_finetune_single_device.py), so one step is 2 x 4096 tokens.
  * README.md at 30b8519e8 (2024-09-24, "Readme Updates"), table "Peak Memory per GPU / Tokens/sec": batch size 2 without
    gradient accumulation, a dataset packed to 2048 tokens, torch.compile on; configs of that commit:
    llama3_1/8B_lora_single_device (rank 8 on q_proj and v_proj, lora_dropout 0.0, activation checkpointing on) and
    llama3_1/8B_qlora_single_device (rank 8 on q, k, v, output_proj and the MLP, activation checkpointing on).

Which rows are cases and why (decided before any was compared, except where the note says so):
  * the 3B table's rows from "+ Packed Dataset" on; not its baseline (unpacked, padded batches of unstated length) nor
    "+ 8-bit AdamW" (bitsandbytes' 8-bit optimizer state: not modelled). The rows with the optimizer fused into the
    backward pass ("+ Fuse optimizer step", "+ Activation Offloading") are step-time cases only: freeing each gradient
    as its parameter updates changes the memory, which costsim does not model, not the work. "+ Packed Dataset" runs
    eager (no torch.compile): priced on the fsdp-2023 stack (eager PyTorch kernels), one GPU (nothing to shard); the
    others on torchtune-2024. "+ Compile" keeps the unchunked loss (fp32 logits): step time only.
  * the main table's two RTX 4090 LoRA / QLoRA rows (step time and memory). Left out: the RTX 4090 / A6000 full
    fine-tuning rows (bitsandbytes' paged 8-bit AdamW with the optimizer in the backward pass, paged to host memory: not
    modelled); the A6000 rows (which part is not said: RTX A6000 (Ampere, 155 TFLOP/s bf16) or RTX 6000 Ada (364); on
    the RTX A6000 the full fine-tuning row's 2,579 tokens/s would be 80 % of the bf16 peak even without activation
    checkpointing); the 8 x A100 rows (Llama 3.1 70B LoRA at 3,497 tokens/s per GPU, the recipe's per-GPU figure, is
    1.5 PFLOP/s of model FLOPs per GPU, five times the A100's peak; the 405B QLoRA row likewise: the column's meaning
    is not what the recipe logs, so the rows price nothing).

Run from the repository root: .venv/bin/python costsim/validation/cases/build_torchtune_cases.py
"""
from __future__ import annotations

from pathlib import Path

from costsim.validation.cases.generated import write_cases

OUT = Path(__file__).with_name("training_torchtune.yaml")
GIB = 2.0**30
SRC_3B = "pytorch/torchtune@1814feb17 README.md, 'Optimization flags' (Llama 3.2 3B, batch size 2, max seq len 4096, bf16, A100)"
SRC_8B = ("pytorch/torchtune@30b8519e8 README.md, 'Peak Memory per GPU / Tokens/sec' table (batch size 2, packed to 2048 "
          "tokens, torch.compile)")
QV_O_MLP = "q,v,o,gate,up,down"  # llama3_2/3B_lora_single_device / 3B_qlora_single_device: q_proj, v_proj, output_proj + MLP
TOL_STEP = "issue target 15 %; one published table of a fine-tuning library on one GPU"
TOL_MEM = ("15 %: a static count against PyTorch's allocator peak (its rounding, transient buffers and the CUDA "
           "context outside it)")
GAP_QLORA_MEM = ("+15 % (costsim 5.3 GiB against 4.6): the packed base (NF4 weights 1.35 GiB, tied bf16 embedding "
                 "0.73 GiB), the adapters with their gradients and AdamW state (0.5 GiB) and the chunked loss's logits "
                 "(2.45 GiB: 8,192 x 128,256 bf16 logits plus one fp32 chunk of eight) are counted; the same count on "
                 "the LoRA row is +8 % and on the RTX 4090 QLoRA row +4 %, so what the 3B QLoRA run keeps below that "
                 "count is not identified. Not tuned away.")
GAP_4090 = ("The RTX 4090 rows come out slow (LoRA +39 % in step time, costsim 2,218 tokens/s against 3,083; QLoRA +24 %, "
            "1,939 against 2,413) while their memories agree within 7 % and the 3B A100 rows within 13 %. With the configs' "
            "activation checkpointing (without it the 8B LoRA run does not fit 24 GB) the LoRA row's 3,083 tokens/s is 90 % "
            "of the 4090's dense BF16 peak (165 TFLOP/s with FP32 accumulation, NVIDIA's Ada whitepaper) in the FLOPs the "
            "step runs (costsim: 65 % at its 2,218), the QLoRA row's 71 %: above what a whole training step reaches on any "
            "part costsim is validated on. Candidates: the table's figure taken with another batch or without "
            "checkpointing (its note says the numbers share batch size 2, packing to 2,048 and compile, not checkpointing), "
            "and torch.compile's recomputation skipping what the backward does not read (the down projections' outputs: "
            "about a fifth of the recomputed GEMM FLOPs), which costsim does not model for any compiled stack. "
            "Not tuned away.")
rows: list[dict] = []


def case(cid: str, source: str, label: str, inputs: dict, metric: str, expected: float, published: str, notes: str,
         known_gap: str | None = None) -> None:
    c = {"id": cid, "kind": "training_step_time", "source": f"{source}, row '{label}': {published}",
         "inputs": inputs, "metric": metric, "expected": expected, "comparison": "within", "tolerance_frac": 0.15,
         "tolerance_reason": TOL_MEM if metric == "peak_memory_allocated_bytes" else TOL_STEP, "used_for_fit": False,
         "notes": "held out (generated by build_torchtune_cases.py). " + notes}
    if known_gap:
        c["known_gap"] = known_gap
    rows.append(c)


def one_gpu(model: str, hardware: str, seq: int, recompute: str, framework: str = "torchtune-2024", **extra) -> dict:
    return {"model": model, "hardware": hardware, "gpus": 1, "seq_len": seq, "global_batch": 2, "precision": "bf16",
            "tp": 1, "pp": 1, "cp": 1, "dp": 1, "micro_batch": 2, "recompute": recompute,
            "zero": 2 if framework == "fsdp-2023" else 0, "sequence_parallel": False, "framework": framework, **extra}


def table_row(cid: str, label: str, tps: float, gib: float | None, inputs: dict, note: str,
              source: str = SRC_3B, tokens_per_step: int = 8192, mem_gap: str | None = None,
              step_gap: str | None = None) -> None:
    step = tokens_per_step / tps
    case(cid, source, label, inputs, "step_time_s", round(step, 5), f"{tps:,.0f} tokens/s",
         f"step time = {tokens_per_step:,} tokens / {tps:,.0f} tokens/s = {step:.4f} s. {note}", step_gap)
    if gib is not None:
        case(cid + "-MEM", source, label, inputs, "peak_memory_allocated_bytes", round(gib * GIB), f"{gib} GiB peak memory",
             f"{gib} GiB = {gib * GIB:,.0f} bytes, PyTorch's peak active memory. {note}", mem_gap)


L3B, A100 = "llama-3.2-3b", "a100-80gb-sxm"
table_row("TT3B-A100-PACKED-EAGER", "+ Packed Dataset", 7075, None, one_gpu(L3B, A100, 4096, "none", "fsdp-2023"),
          "Full fine-tuning, eager PyTorch (no torch.compile), no activation checkpointing.")
table_row("TT3B-A100-COMPILE", "+ Compile", 8998, None, one_gpu(L3B, A100, 4096, "none"),
          "Full fine-tuning, torch.compile, unchunked loss (its memory is not a case: torchtune-2024 prices the chunked loss).")
table_row("TT3B-A100-CHUNKED-CE", "+ Chunked Cross Entropy", 9174, 42.9, one_gpu(L3B, A100, 4096, "none"),
          "Full fine-tuning, torch.compile, chunked loss, no activation checkpointing.")
table_row("TT3B-A100-AC", "+ Activation Checkpointing", 7210, 24.9, one_gpu(L3B, A100, 4096, "full"),
          "Full fine-tuning with whole-layer activation checkpointing.")
table_row("TT3B-A100-OPT-IN-BWD", "+ Fuse optimizer step into backward", 7309, None, one_gpu(L3B, A100, 4096, "full"),
          "Full fine-tuning, the optimizer step fused into the backward pass (memory only; its 23.1 GiB is not a case).")
table_row("TT3B-A100-OFFLOAD", "+ Activation Offloading", 7301, None,
          one_gpu(L3B, A100, 4096, "full", activation_offload=True),
          "Full fine-tuning, checkpointed activations offloaded to host memory (with the fused optimizer step: its 21.8 GiB "
          "is not a case).")
table_row("TT3B-A100-LORA", "LoRA", 8210, 8.5,
          one_gpu(L3B, A100, 4096, "full", activation_offload=True, lora_rank=64, lora_targets=QV_O_MLP),
          "LoRA rank 64 on q, v, output and the MLP projections (torch.optim.AdamW), activation checkpointing and offloading.")
table_row("TT3B-A100-QLORA", "QLoRA", 8035, 4.6,
          one_gpu(L3B, A100, 4096, "full", activation_offload=True, lora_rank=64, lora_targets=QV_O_MLP,
                  lora_base_precision="nf4"),
          "QLoRA: the LoRA row with the base's linear weights in NF4 (the reproduction command of the table).",
          mem_gap=GAP_QLORA_MEM)
L8B, R4090 = "llama-3.1-8b", "rtx-4090"
table_row("TT8B-4090-LORA", "Llama 3.1 8B | LoRA | 1x 4090", 3083, 16.2,
          one_gpu(L8B, R4090, 2048, "full", lora_rank=8, lora_targets="q,v"),
          "LoRA rank 8 on q_proj and v_proj (llama3_1/8B_lora_single_device), activation checkpointing.",
          source=SRC_8B, tokens_per_step=4096, step_gap=GAP_4090)
table_row("TT8B-4090-QLORA", "Llama 3.1 8B | QLoRA | 1x 4090", 2413, 7.4,
          one_gpu(L8B, R4090, 2048, "full", lora_rank=8, lora_targets="q,k,v,o,gate,up,down", lora_base_precision="nf4"),
          "QLoRA rank 8 on q, k, v, output and the MLP (llama3_1/8B_qlora_single_device), activation checkpointing.",
          source=SRC_8B, tokens_per_step=4096, step_gap=GAP_4090)

if __name__ == "__main__":
    write_cases(OUT, "# Generated by costsim/validation/cases/build_torchtune_cases.py from pytorch/torchtune README.md "
                     "(commits 1814feb17 and 30b8519e8); do not edit by hand. Every case is held out. Inputs were written "
                     "from the tables and configs; the 3B rows' LoRA / QLoRA step times and memories and the RTX 4090 rows "
                     "were first compared while the torchtune-2024 stack and QLoRA were built (the stack's defaults come "
                     "from torchtune's configs, not from those comparisons).\n", rows)
