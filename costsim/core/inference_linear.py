"""Linear-attention (Gated DeltaNet, Mamba-2) layers of hybrid models in the inference core (numpy only): what a decode step
and a prompt pass do in them. Such a layer keeps no KV cache: each sequence carries a fixed recurrent state (a
key x value matrix per value head, plus the short convolution's last inputs), Shape.linear_state_bytes_per_layer.

decode: every step reads and rewrites each sequence's state (2 x state bytes) and spends
        Shape.linear_flop_per_token_decode on it (decay, the delta rule's read and rank-one write or Mamba-2's write,
        the output);
prefill: the chunked form (chunks of the model's linear_chunk tokens) costs Shape.linear_flop_per_token_prefill per prompt token, linear in
        the prompt, and leaves one state per prompt.
Heads split over tensor parallelism up to Shape.linear_shard_max (Gated DeltaNet's key heads, Mamba-2's heads); layers over pipeline
stages; sequences over expert-parallel (attention data-parallel) ranks, as the KV cache."""

from __future__ import annotations

from costsim.core.inference_memory import _state_tp_split, linear_state_bytes_per_sequence
from costsim.core.inference_types import Layout, Shape, _a


def linear_decode_work(shape: Shape, layout: Layout, seqs_per_rank):
    """(HBM bytes, FLOPs) per GPU of one decode step in the linear-attention layers, for `seqs_per_rank` sequences on
    each expert-parallel rank."""
    split = _state_tp_split(shape, layout) * _a(layout.pp)
    b = _a(seqs_per_rank)
    traffic = 2.0 * b * linear_state_bytes_per_sequence(shape) / split
    flop = b * _a(shape.n_linear_layers) * _a(shape.linear_flop_per_token_decode) / split
    return traffic, flop


def linear_prefill_work(shape: Shape, layout: Layout, prompts, tokens):
    """(FLOPs, state bytes written) per GPU of a prompt pass over `prompts` prompts of `tokens` tokens in all."""
    split = _state_tp_split(shape, layout) * _a(layout.pp) * _a(layout.ep)
    flop = _a(tokens) * _a(shape.n_linear_layers) * _a(shape.linear_flop_per_token_prefill) / split
    write = _a(prompts) * linear_state_bytes_per_sequence(shape) / split
    return flop, write
