"""DeepSeek Sparse Attention (DSA: DeepSeek-V3.2, GLM-5) in the inference core (numpy only): what a decode step and a
prompt pass do in a sparse-attention layer. A lightning indexer (a few FP8 heads over one cached key per token) scores
every earlier token for each query; the MLA attention then runs, in its absorbed (MQA) form, over the top-k of them
only (Shape.sparse_topk_tokens, 2,048). The KV cache keeps every token's latent and indexer key
(costsim.core.inference_memory.kv_bytes_stored_per_sequence).

decode (per sequence and layer, context c): the attention reads and computes min(c, k) latents
        (costsim.core.inference_memory.kv_token_layers); the indexer reads c keys (kv_bytes_per_sequence), spends
        Shape.indexer_flop_per_pair on each and writes and reads back c fp32 scores for the top-k selection;
prefill (a prompt of s tokens): attention over causal_pairs(s, k) (query, key) pairs at the absorbed form's FLOPs per
        pair (the MQA mode DSA runs in, arXiv:2512.02556 Sec. 2.1: 2h(kv_lora + rope) + 2h kv_lora, as a decode token
        per context token) instead of s(s+1)/2 pairs of the MHA form; the indexer scores all s(s+1)/2 pairs.
FlashMLA's sparse kernels compute at least 64 query heads per rank (head_padding_factor): under TP 8 a rank of
DeepSeek-V3.2 (16 heads) or GLM-5 (8) computes 4x / 8x its attention FLOPs.
The indexer's heads are not split by tensor parallelism (vLLM and SGLang replicate its projections and its key cache
on every rank, as MLA's latent): its FLOPs and bytes are per GPU whatever the TP degree; layers split over pipeline
stages, sequences over expert-parallel (attention data-parallel) ranks."""

from __future__ import annotations

import numpy as np

from costsim.core.inference_memory import _softmax_layers
from costsim.core.inference_types import Device, Layout, Shape, _a

#: HBM bytes per scored (query, key) pair beyond the key itself: the fp32 score the indexer kernel writes and the top-k
#: selection reads back (DeepGEMM fp8_mqa_logits / fp8_paged_mqa_logits output, then a top-k kernel over it)
INDEXER_LOGIT_BYTES_PER_PAIR = 8.0


def causal_pairs(prompt_tokens, window_tokens):
    """(query, key) pairs a causal prompt of s tokens computes, with keys capped at the window (or a sparse-attention
    layer's top-k)."""
    s, w = _a(prompt_tokens), _a(window_tokens)
    full = s * (s + 1.0) / 2.0
    wf = np.where(np.isfinite(w), w, s)
    capped = wf * s - wf * (wf - 1.0) / 2.0
    return np.where(s <= wf, full, capped)


def is_sparse(shape: Shape):
    return np.isfinite(_a(shape.sparse_topk_tokens))


def head_padding_factor(shape: Shape, dev: Device, layout: Layout):
    """Attention FLOPs a sparse-attention rank computes over those of its own heads: FlashMLA's sparse kernels run at
    least Device.sparse_attention_min_heads query heads, so a rank holding fewer (DeepSeek-V3.2's 128 heads at TP 8:
    16 per rank) computes padded ones; 1 for dense models and for ranks with enough heads (attention data parallel)."""
    per_rank = _a(shape.n_attention_heads) / _a(layout.tp)
    pad = np.maximum(1.0, _a(dev.sparse_attention_min_heads) / np.maximum(per_rank, 1e-9))
    return np.where(is_sparse(shape) & (per_rank > 0), pad, 1.0)


def indexer_decode_work(shape: Shape, layout: Layout, seqs_per_rank, context_tokens):
    """(score bytes, FLOPs) per GPU of the indexer in one decode step for `seqs_per_rank` sequences at `context_tokens`
    on each expert-parallel rank (its key reads are in kv_bytes_per_sequence). 0 for dense models."""
    pairs = _a(seqs_per_rank) * _softmax_layers(shape) / _a(layout.pp) * _a(context_tokens) * is_sparse(shape)
    return pairs * INDEXER_LOGIT_BYTES_PER_PAIR, pairs * _a(shape.indexer_flop_per_pair)


def sparse_prefill_work(shape: Shape, dev: Device, layout: Layout, prompts, prompt_tokens):
    """(attention FLOPs, indexer FLOPs, score bytes) per GPU of a prompt pass over `prompts` prompts of `prompt_tokens`
    tokens each in a sparse-attention model (the attention's replace the dense model's MHA-form FLOPs; padded heads
    included, head_padding_factor)."""
    per_gpu = _a(prompts) * _softmax_layers(shape) / (_a(layout.pp) * _a(layout.ep))
    chosen = per_gpu * causal_pairs(prompt_tokens, shape.sparse_topk_tokens)
    scored = per_gpu * causal_pairs(prompt_tokens, np.inf)
    return (chosen * _a(shape.attn_flop_per_ctx_decode) / _a(layout.tp) * head_padding_factor(shape, dev, layout),
            scored * _a(shape.indexer_flop_per_pair),
            scored * INDEXER_LOGIT_BYTES_PER_PAIR)
