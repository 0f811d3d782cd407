"""Memory model of the inference core: KV-cache bytes, weights (16-bit embeddings of quantized checkpoints
included), activation workspace, and each engine's KV budget (usable memory, runtime reserve, the share of the free
memory the KV pool takes) -> the largest batch that fits. numpy only; every argument broadcasts."""

from __future__ import annotations

import numpy as np

from costsim.core.inference_types import Device, Layout, Precision, Shape, _a, any_finite, any_positive


# --------------------------------------------------------------------------------------------
# KV cache and memory
# --------------------------------------------------------------------------------------------
def _softmax_layers(shape: Shape):
    return _a(shape.n_layers) - _a(shape.n_linear_layers)  # linear-attention layers hold no KV


def _token_layers(shape: Shape, context_tokens, window_layers, full_span):
    c = _a(context_tokens)
    nl, nw = _softmax_layers(shape), _a(window_layers)
    return (nl - nw) * full_span + nw * np.minimum(c, _a(shape.window_tokens))


def kv_token_layers(shape: Shape, context_tokens):
    """Sum over layers of the context each layer attends over: full layers every token (a sparse-attention layer its
    top-k, Shape.sparse_topk_tokens), sliding-window layers at most the window."""
    c = _a(context_tokens)
    span = np.minimum(c, _a(shape.sparse_topk_tokens)) if any_finite(shape.sparse_topk_tokens) else c
    return _token_layers(shape, context_tokens, shape.n_window_layers, span)


def kv_token_layers_stored(shape: Shape, context_tokens):
    """Sum over layers of the context each layer's KV cache holds: every token of a full (or sparse-attention) layer;
    a sliding-window layer's window, or the whole context where the engine does not cap its cache (kv_stores_window 0)."""
    return _token_layers(shape, context_tokens, _a(shape.n_window_layers) * _a(shape.kv_stores_window), _a(context_tokens))


def _plus(x, extra):
    """x + extra, without a new array where extra is the scalar 0 a dense model's indexer terms return (hot path)."""
    return x if isinstance(extra, float) and extra == 0.0 else x + extra


def indexer_bytes_per_sequence(shape: Shape, context_tokens):
    """Bytes of one sequence's sparse-attention indexer keys (whole model): every token in every softmax layer, at the
    indexer's own FP8 format whatever the KV precision; the indexer scores all of them each step. 0 for dense models."""
    per_token_layer = shape.indexer_bytes_per_token_layer
    if not any_positive(per_token_layer):  # dense models: skip the context-sized product (the searches' hot path)
        return 0.0
    return _a(per_token_layer) * _softmax_layers(shape) * _a(context_tokens)


def kv_bytes_per_token_layer(shape: Shape, prec: Precision):
    """Bytes one token's KV occupies in one softmax layer: its elements at the KV precision, plus the precision's layout
    extra (Precision.kv_extra_bytes_per_token_layer: the FP8 sparse-MLA scales and BF16 RoPE part)."""
    return _plus(_a(shape.kv_elements_per_token_layer) * _a(prec.kv_bytes_per_element), prec.kv_extra_bytes_per_token_layer)


def kv_bytes_per_sequence(shape: Shape, prec: Precision, context_tokens):
    """KV-cache bytes one sequence at `context_tokens` attends over (whole model, unsharded): what a decode
    step reads (a sparse-attention model: its top-k latents and every indexer key)."""
    return _plus(kv_bytes_per_token_layer(shape, prec) * kv_token_layers(shape, context_tokens),
                 indexer_bytes_per_sequence(shape, context_tokens))


def kv_bytes_stored_per_sequence(shape: Shape, prec: Precision, context_tokens):
    """KV-cache bytes one sequence at `context_tokens` occupies (whole model, unsharded), indexer keys included."""
    return _plus(kv_bytes_per_token_layer(shape, prec) * kv_token_layers_stored(shape, context_tokens),
                 indexer_bytes_per_sequence(shape, context_tokens))


def kv_bytes_per_token(shape: Shape, prec: Precision):
    """KV-cache bytes per token with every softmax-attention layer holding it (full attention; MHA 2*h*hd, GQA
    2*kv*hd, MQA 2*hd, MLA kv_lora_rank + rope dims, per layer; plus a sparse-attention indexer's key)."""
    return _plus(kv_bytes_per_token_layer(shape, prec) * _softmax_layers(shape),
                 indexer_bytes_per_sequence(shape, 1.0))


def linear_state_bytes_per_sequence(shape: Shape):
    """Bytes of one sequence's linear-attention state (whole model, unsharded): fixed, whatever its context, at the
    dtypes the checkpoint sets (Shape.linear_state_bytes_per_layer, not the KV precision). A decode step reads and
    rewrites all of it."""
    return _a(shape.n_linear_layers) * _a(shape.linear_state_bytes_per_layer)


def _state_tp_split(shape: Shape, layout: Layout):
    return np.minimum(_a(layout.tp), _a(shape.linear_shard_max))


def linear_state_bytes_per_sequence_per_gpu(shape: Shape, layout: Layout):
    """One sequence's linear-attention state on one GPU (its heads split over tp, its layers over pp; per ep rank as the
    KV cache)."""
    return linear_state_bytes_per_sequence(shape) / (_a(layout.pp) * _state_tp_split(shape, layout) * _a(layout.ep))


def _kv_tp_split(shape: Shape, layout: Layout):
    return np.minimum(_a(layout.tp), _a(shape.kv_shard_max))


def tp_replicated_extra_params_per_gpu(shape: Shape, layout: Layout):
    """Parameters one GPU holds and runs beyond its 1 / (tp x pp) share because every TP rank keeps them whole
    (Shape.params_tp_replicated): (1 - 1/tp) of them per pipeline stage."""
    if not any_positive(shape.params_tp_replicated):
        return 0.0
    return _a(shape.params_tp_replicated) * (1.0 - 1.0 / _a(layout.tp)) / _a(layout.pp)


def weight_bytes_per_gpu(shape: Shape, prec: Precision, layout: Layout):
    tp, pp, ep = _a(layout.tp), _a(layout.pp), _a(layout.ep)
    routed = _a(shape.n_moe_layers) * _a(shape.n_experts) * _a(shape.params_expert) * (_a(shape.n_experts) > 1)
    dense = _a(shape.params_resident) - routed
    embed = (_a(shape.params_lm_head) + _a(shape.params_lookup)) * _a(prec.embed_extra_bytes_per_param)
    dense_gpu = dense / (tp * pp) + tp_replicated_extra_params_per_gpu(shape, layout)
    return _a(prec.weight_bytes_per_param) * (dense_gpu + routed / (tp * pp * ep)) + embed / (tp * pp)


def lm_head_extra_bytes_per_gpu(shape: Shape, prec: Precision, layout: Layout):
    """Bytes the LM head adds to a forward pass's weight stream beyond weight_bytes_per_param (kept in 16 bit)."""
    return _a(shape.params_lm_head) * _a(prec.embed_extra_bytes_per_param) / (_a(layout.tp) * _a(layout.pp))


def workspace_bytes_per_gpu(shape: Shape, layout: Layout, prefill_chunk_tokens, batch, prec: Precision | None = None):
    """Activation workspace: one prefill chunk's activations (residual, QKV/attention out, FFN
    intermediate, double-buffered) + fp32 logits of the batch."""
    tp = _a(layout.tp)
    t = _a(prefill_chunk_tokens)
    act = 2.0 * t * (4.0 * _a(shape.d_model) + _a(shape.ffn_act_width) / tp) * 2.0
    logits = _a(batch) * _a(shape.vocab_size) * 4.0 / tp
    return act + logits


def kv_bytes_per_sequence_per_gpu(shape: Shape, prec: Precision, layout: Layout, context_tokens):
    return kv_bytes_stored_per_sequence(shape, prec, context_tokens) / (_a(layout.pp) * _kv_tp_split(shape, layout) * _a(layout.ep))


def usable_memory_bytes(dev: Device):
    """Bytes per GPU the engine may fill with weights, workspace and KV cache: usable_memory_frac of the
    device less the runtime's own reserve."""
    return _a(dev.memory_bytes) * _a(dev.usable_memory_frac) - _a(dev.runtime_reserve_bytes)


def kv_budget_bytes_per_gpu(dev: Device, weight_bytes, workspace_bytes):
    """Bytes per GPU the engine gives the KV cache: kv_free_memory_frac of what is left of the usable
    memory (usable_memory_bytes) after weights and workspace; negative when the weights and workspace
    alone do not fit."""
    free = usable_memory_bytes(dev) - _a(weight_bytes) - _a(workspace_bytes)
    return np.where(free > 0, free * _a(dev.kv_free_memory_frac), free)


def _kv_free_and_per_sequence(shape: Shape, dev: Device, prec: Precision, layout: Layout, context_tokens, prefill_chunk_tokens):
    """(KV budget bytes per GPU, bytes per GPU of one sequence of `context_tokens`: its KV share and logits buffer)."""
    free = kv_budget_bytes_per_gpu(dev, weight_bytes_per_gpu(shape, prec, layout),
                                   workspace_bytes_per_gpu(shape, layout, prefill_chunk_tokens, 0.0))
    per_seq_gpu = (kv_bytes_per_sequence_per_gpu(shape, prec, layout, context_tokens) + linear_state_bytes_per_sequence_per_gpu(shape, layout)
                   + _a(shape.vocab_size) * 4.0 / _a(layout.tp))
    return free, per_seq_gpu


def max_batch(shape: Shape, dev: Device, prec: Precision, layout: Layout, context_tokens, prefill_chunk_tokens):
    """Largest number of sequences of `context_tokens` whose KV cache fits in the engine's KV budget
    (kv_budget_bytes_per_gpu). 0 when not even one fits (or the weights do not)."""
    free, per_seq_gpu = _kv_free_and_per_sequence(shape, dev, prec, layout, context_tokens, prefill_chunk_tokens)
    # each ep rank holds B/ep sequences: B = ep * (sequences one rank holds)
    per_rank = np.floor(np.maximum(free, 0.0) / (per_seq_gpu * _a(layout.ep)))
    return np.maximum(per_rank * _a(layout.ep), 0.0)


def kv_capacity_tokens(shape: Shape, dev: Device, prec: Precision, layout: Layout, context_tokens, prefill_chunk_tokens):
    """Tokens the replica's KV budget holds, counted at the average bytes per token of a sequence of
    `context_tokens` (its logits buffer included): max_batch before rounding down to whole sequences, times
    `context_tokens`. The pool of an engine that allocates KV as sequences grow (costsim.core.serving_paged)."""
    free, per_seq_gpu = _kv_free_and_per_sequence(shape, dev, prec, layout, context_tokens, prefill_chunk_tokens)
    return np.maximum(free, 0.0) / per_seq_gpu * _a(context_tokens)


def memory_per_gpu_bytes(shape: Shape, prec: Precision, layout: Layout, batch, context_tokens, prefill_chunk_tokens):
    return (weight_bytes_per_gpu(shape, prec, layout)
            + _a(batch) * (kv_bytes_per_sequence_per_gpu(shape, prec, layout, context_tokens) + linear_state_bytes_per_sequence_per_gpu(shape, layout))
            + workspace_bytes_per_gpu(shape, layout, prefill_chunk_tokens, batch))
