"""What NVIDIA's `trtllm-bench throughput` sets when a run gives no --max_batch_size: its heuristic, emulated
for the validation rows priced as that benchmark ran them (case batch 'fill').

trtllm-bench estimates how many requests of the dataset's length its KV cache holds from the Hugging Face
config and the checkpoint alone, then rounds that up into the engine's max_batch_size
(NVIDIA/TensorRT-LLM tensorrt_llm/bench/build/tuning.py, calc_engine_setting and finetune_setting;
tensorrt_llm/bench/build/build.py, get_benchmark_engine_settings; tensorrt_llm/bench/benchmark/utils/general.py,
get_settings, which also hands it to the CUDA-graph config as the largest graph captured):

  bytes per token   = 2 x layers x max(tp, config num_key_value_heads) x head_size x KV bytes (1 for an fp8 KV
                      cache, else 2); head_size = config head_dim, else hidden_size / num_attention_heads
  engine size       = safetensors element count x bytes per element (FP8 1, NVFP4 0.5, unquantized 2)
  requests          = (device memory x tp x pp - engine size) x 0.95 / (bytes per token x (ISL + OSL))
  max_batch_size    = min(requests, 4096) / pp rounded up: to 32 below 256 (at least 64), 128 below 1,024, else 256
  max_num_tokens    = min(max_batch_size estimate x (1 + ISL / OSL), 32,768) rounded up: to 256 below 4,096 (at
                      least 2,048), 512 below 8,192, else 1,024; with chunked prefill off (its default, and the
                      tables' options) at least ISL + max_batch_size (tensorrt_llm/bench/benchmark/utils/general.py)

Checkpoints whose quantization it has no rule for (gpt-oss's MXFP4) get the LLM API's defaults, max_batch_size
2,048 and max_num_tokens 8,192. This is the heuristic of the 2025 releases that made NVIDIA's published tables; later ones estimate per
attention-DP rank (NVIDIA/TensorRT-LLM PR 13498, 2026-04) and count MLA's latent cache (PR 16707, 2026-07). The estimate is not the engine's real KV pool (costsim.core.inference.max_batch): it counts an MLA model
(DeepSeek) as num_key_value_heads 128 of hidden / heads = 56 dims, a GQA model split over more GPUs than it has
KV heads as max(tp, kv heads), and an NVFP4 checkpoint's packed weights (two per stored element) at half a byte
each. Two consequences for a run: the batch is the smaller of the real pool and max_batch_size, per rank with
attention data parallelism (each rank admits up to max_batch_size active requests, the whole executor tp_size times
that: tensorrt_llm/_torch/pyexecutor/executor_request_queue.py; NVIDIA's DeepSeek-R1 guide, docs/source/blogs/
Best_perf_practice_on_DeepSeek-R1_in_TensorRT-LLM.md, "max batch size in each rank"), and a padding engine captures
CUDA graphs only up to min(max_batch_size, max_num_tokens), that size included (model_engine.py,
_filter_cuda_graph_batch_sizes)."""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from costsim.core.inference_types import Device, Shape
from costsim.estimators.inference import default_kv_precision
from costsim.specs.hardware import Accelerator
from costsim.specs.model import ModelSpec

#: kv_cache_free_gpu_mem_fraction of NVIDIA's published runs ("we also use a higher KV cache percentage by setting
#: --kv_cache_free_gpu_mem_fraction 0.95", perf-overview.md)
KV_FREE_MEMORY_FRAC = 0.95
#: the LLM API's max_batch_size / max_num_tokens defaults, which trtllm-bench uses for quantizations it has no rule for
DEFAULT_MAX_BATCH_SIZE = 2048
DEFAULT_MAX_NUM_TOKENS = 8192
#: weight format of the case -> bytes per stored element trtllm-bench assumes, for the quantizations tuning.py's
#: BYTES_PER_ELEM knows (FP8, FP8 block scales, NVFP4, unquantized); checkpoint_elements counts the elements
TUNED_BYTES_PER_ELEMENT = {"bf16": 2.0, "fp16": 2.0, "fp8": 1.0, "fp4": 0.5}


@dataclass(frozen=True)
class BenchSettings:
    """trtllm-bench's engine settings for one run."""

    max_batch_size: int
    """Requests one executor (one attention-DP rank) schedules at once."""
    max_num_tokens: int
    """Tokens one executor's iteration takes at most (prompt chunks and decode tokens)."""
    kv_requests_estimate: float | None
    """Its estimate of the requests the KV cache holds (None where it falls back to the default)."""

    @property
    def cuda_graph_max_batch(self) -> int:
        """The largest decode batch captured as a CUDA graph (model_engine.py, _filter_cuda_graph_batch_sizes)."""
        return min(self.max_batch_size, self.max_num_tokens)


def finetune_max_batch(kv_requests: float, pp: int = 1) -> int:
    """finetune_setting's max_batch_size: the estimate capped at 4,096, split over pipeline stages, rounded up to
    a multiple of 32 (below 256, at least 64), 128 (below 1,024) or 256."""
    raw = min(kv_requests, 4096) / pp
    if raw < 256:
        return max(64, 32 * math.ceil(raw / 32))
    if raw < 1024:
        return 128 * math.ceil(raw / 128)
    return 256 * math.ceil(raw / 256)


def finetune_max_num_tokens(kv_requests: float, input_tokens: float, output_tokens: float, pp: int = 1) -> int:
    """finetune_setting's max_num_tokens: the batch estimate's tokens per iteration (1 + ISL / OSL per sequence),
    capped at 32,768, rounded up to 256 (below 4,096, at least 2,048), 512 (below 8,192) or 1,024."""
    raw = min(min(kv_requests, 4096) / pp * (1.0 + input_tokens / output_tokens), 32768.0)
    if raw < 4096:
        return max(2048, 256 * math.ceil(raw / 256))
    if raw < 8192:
        return 512 * math.ceil(raw / 512)
    return 1024 * math.ceil(raw / 1024)


def checkpoint_elements(shape: Shape, weight_precision: str) -> float:
    """Elements the checkpoint's safetensors hold (what trtllm-bench counts as parameters): an NVFP4 checkpoint
    packs two 4-bit weights per stored byte and adds an fp8 scale per 16 weights; its embeddings and LM head
    stay 16-bit, one element each."""
    total = float(shape.params_resident)
    if weight_precision != "fp4":
        return total
    quantized = total - float(shape.params_lm_head) - float(shape.params_lookup)
    return quantized / 2.0 + quantized / 16.0 + (total - quantized)


def trtllm_bench_settings(model: ModelSpec, shape: Shape, acc: Accelerator, *, num_gpus: int, pp: int,
                          input_tokens: float, output_tokens: float, weight_precision: str,
                          kv_precision: str | None) -> BenchSettings:
    """The max_batch_size `trtllm-bench --tp num_gpus/pp --pp pp throughput` sets for this model, part and
    dataset (see the module docstring)."""
    bytes_per_element = TUNED_BYTES_PER_ELEMENT.get(weight_precision)
    if bytes_per_element is None:
        return BenchSettings(max_batch_size=DEFAULT_MAX_BATCH_SIZE,
                             max_num_tokens=max(DEFAULT_MAX_NUM_TOKENS, int(input_tokens) + DEFAULT_MAX_BATCH_SIZE),
                             kv_requests_estimate=None)
    tp = max(1, num_gpus // pp)
    if model.kv_lora_rank:     # MLA: the config's num_key_value_heads (= heads) and no head_dim
        kv_heads, head_size = model.n_heads, model.d_model // model.n_heads
    else:
        kv_heads, head_size = model.kv_heads, model.hd
    fp8_kv = (kv_precision or default_kv_precision(weight_precision)) == "fp8"
    bytes_per_token = 2.0 * model.n_layers * max(tp, kv_heads) * head_size * (1.0 if fp8_kv else 2.0)
    engine_bytes = checkpoint_elements(shape, weight_precision) * bytes_per_element
    free_bytes = float(acc.memory_bytes) * tp * pp - engine_bytes
    requests = max(free_bytes, 0.0) * KV_FREE_MEMORY_FRAC / (bytes_per_token * (input_tokens + output_tokens))
    max_batch_size = finetune_max_batch(requests, pp)
    # chunked prefill off: an iteration must take a whole prompt beside a full decode batch
    max_num_tokens = max(finetune_max_num_tokens(requests, input_tokens, output_tokens, pp), int(input_tokens) + max_batch_size)
    return BenchSettings(max_batch_size=max_batch_size, max_num_tokens=max_num_tokens, kv_requests_estimate=requests)


#: engines whose scheduler admits up to trtllm-bench's max_batch_size (TensorRT-LLM's executors; the default engine is
#: TensorRT-LLM-class on NVIDIA parts)
TRTLLM_ENGINES = ("tensorrt-llm", "tensorrt-llm-pytorch")


def runs_trtllm_scheduler(engine: str, acc: Accelerator) -> bool:
    """Whether `engine` on `acc` schedules like TensorRT-LLM's executor (its batch 'fill' follows trtllm-bench)."""
    return engine in TRTLLM_ENGINES or (engine == "default" and acc.vendor == "nvidia")


def fill_batch(model: ModelSpec, shape: Shape, dev: Device, acc: Accelerator, *, tp: int, pp: int, ep: int, num_gpus: int,
               input_tokens: float, output_tokens: float, weight_precision: str, kv_precision: str | None,
               max_batch_fit: int, engine: str, cuda_graph_override: bool = False) -> tuple[float, Device]:
    """Batch 'fill' of one replica: every sequence its KV cache holds (`max_batch_fit`, already capped by any
    max_num_seqs), and on a TensorRT-LLM engine at most the max_batch_size trtllm-bench sets (per rank with attention
    data parallelism: tp 1, experts over ep ranks), with CUDA graphs captured up to its size where the engine pads
    decode steps to them (unless `cuda_graph_override`: a caller's own cuda_graph_max_batch). Returns (batch, dev)."""
    if not runs_trtllm_scheduler(engine, acc):
        return float(max_batch_fit), dev
    bench = trtllm_bench_settings(model, shape, acc, num_gpus=num_gpus, pp=pp, input_tokens=input_tokens,
                                  output_tokens=output_tokens, weight_precision=weight_precision, kv_precision=kv_precision)
    ranks = ep if tp == 1 and ep > 1 else 1
    b = float(min(max_batch_fit, bench.max_batch_size * ranks))
    if float(dev.cuda_graph_padding) > 0 and not cuda_graph_override:
        dev = replace(dev, cuda_graph_max_batch=float(bench.cuda_graph_max_batch))
    return b, dev
