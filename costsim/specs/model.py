"""Model architecture spec and parameter counts computed from the shape.

Parameter count (per transformer layer):
  attention  q: d*h*hd, k and v: d*kv*hd each, o: h*hd*d (+ biases where the model has them);
             MLA (DeepSeek): q down/up through q_lora_rank, kv down to kv_lora_rank + rope dims,
             kv up to h*(nope + v), o: h*v*d; DeepSeek Sparse Attention adds its lightning indexer
             (q latent -> index heads x index dim, d -> index dim + LayerNorm, d -> index heads);
  linear     a Gated DeltaNet or Mamba-2 mixer in place of attention in linear_attention_layers of the layers
             (linear_params_per_layer: input / output projections, short convolution, per-head parameters, gated norm);
  FFN        3*d*d_ff gated (swiglu/geglu), 2*d*d_ff otherwise (relu2 = squared ReLU, Nemotron-H); none in the
             n_ffn_free_layers mixer layers of hybrid models that stack mixer and FFN blocks separately;
  MoE        every routed and shared expert's FFN plus a d*E router (active: k routed + shared); LatentMoE
             (moe_latent_dim L) runs the routed experts on L values (L*d_ff each) and adds 2*d*L projections;
  norms      1 weight vector per norm (2 for LayerNorm with bias).
Whole model: layers + final norm + embedding (vocab*d) + LM head unless tied + learned positions.
"""

from __future__ import annotations

from functools import cached_property
from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from costsim.specs.base import Spec
from costsim.specs.hardware import ID_PATTERN


#: Chunk length of the chunked linear-attention kernels when the model's config names none, by recurrence:
#: flash-linear-attention's chunk_gated_delta_rule runs chunks of 64; Mamba-2's SSD kernels (mamba_ssm
#: mamba_chunk_scan_combined, vLLM's mamba_mixer2) default to the config's chunk_size, 256 in MambaConfig/Mamba2Config
LINEAR_CHUNK_TOKENS = {"gated_deltanet": 64, "mamba2": 256}
#: bytes per element of a linear-attention recurrent state by its storage dtype
STATE_DTYPE_BYTES = {"fp32": 4, "bf16": 2, "fp16": 2}
#: values per fp32 scale of the DSA indexer's FP8 key cache (vLLM / SGLang quantize each 128-value key with one scale)
INDEXER_QUANT_BLOCK_VALUES = 128
DEFAULT_MAX_CONTEXT = 4096  # a custom model without max_context (the most common context of 2023-era open models)


class ModelSpec(Spec):
    model_config = Spec.model_config | {"ignored_types": (cached_property,)}

    id: str | None = Field(None, pattern=ID_PATTERN, description="Catalog id (kebab-case); optional for user files.")
    aliases: list[Annotated[str, StringConstraints(pattern=ID_PATTERN)]] = Field(default_factory=list, description="Other names this model answers to wherever an id is accepted: checkpoints of the same architecture and shape (deepseek-r1 for deepseek-v3). Results carry `id`; an alias never names another entry.")
    name: str = Field(..., description="Human-readable model name.")
    n_layers: int = Field(..., ge=1, description="Transformer layers.")
    d_model: int = Field(..., ge=1, description="Hidden size.")
    n_heads: int = Field(..., ge=1, description="Attention (query) heads.")
    n_kv_heads: int | None = Field(None, ge=1, description="Key/value heads (default n_heads = MHA; 1 = MQA; between = GQA).")
    head_dim: int | None = Field(None, ge=1, description="Per-head dimension (default d_model / n_heads).")
    d_ff: int = Field(..., ge=1, description="FFN intermediate size (per expert for MoE models).")
    ffn_type: Literal["swiglu", "geglu", "gelu", "relu", "relu2"] = Field(..., description="swiglu/geglu are gated (3 matrices); "
                                                                        "gelu/relu/relu2 (squared ReLU, Nemotron-H) have 2.")
    vocab_size: int = Field(..., ge=1, description="Rows of the embedding matrix (padded size).")
    tied_embeddings: bool = Field(False, description="LM head shares the input embedding matrix.")
    n_experts: int = Field(1, ge=1, description="Routed experts per MoE layer (1 = dense).")
    experts_per_token: int = Field(1, ge=1, description="Routed experts active per token (top-k).")
    n_shared_experts: int = Field(0, ge=0, description="Always-on shared experts per MoE layer.")
    expert_groups: int | None = Field(None, ge=1, description="Group-limited routing: the routed experts form this many "
                                      "equal groups (DeepSeek-V3 config n_group: 8); None = routing over all experts.")
    expert_groups_per_token: int | None = Field(None, ge=1, description="Groups a token's experts may come from (DeepSeek-V3 "
                                                "config topk_group: 4); with expert parallelism that keeps whole groups on a "
                                                "node, a token reaches at most this many nodes.")
    moe_latent_dim: int | None = Field(None, ge=1, description="LatentMoE (Nemotron 3 Super / Ultra): the routed experts "
                                       "run in a latent space of this width; each MoE layer projects the token from "
                                       "d_model down to it before dispatch and back up after the combine (two dense "
                                       "d_model x latent projections), so an expert is latent x d_ff and the "
                                       "all-to-all carries latent values. Shared experts and the router stay at d_model. "
                                       "None = the experts run at d_model.")
    n_dense_layers: int = Field(0, ge=0, description="Layers that are dense even in an MoE model (DeepSeek-V3: "
                                "the first 3; Llama 4 Maverick: every other layer, 24). Only the count enters the FLOP, "
                                "memory and parameter math, not where the layers sit.")
    d_ff_dense: int | None = Field(None, ge=1, description="FFN size of those dense layers (default d_ff).")
    n_ffn_free_layers: int = Field(0, ge=0, description="Layers that have a token mixer but no FFN / MoE block after it. "
                                   "Hybrid Mamba models stack mixer and FFN blocks separately (Nemotron-H 8B's "
                                   "hybrid_override_pattern: 24 Mamba-2 and 4 attention blocks but 24 MLP blocks): "
                                   "n_layers counts the mixers (28) and this the mixers without an FFN (4). Dense layers "
                                   "are n_dense_layers, MoE layers the rest.")
    max_context: int = Field(DEFAULT_MAX_CONTEXT, ge=1, description="Context length the model was released for, tokens. Default 4096 "
                             "when a custom model leaves it out (it caps request lengths in serving and the default sequence length); "
                             "required with learned_positions (it sizes the position-embedding table).")
    training_tokens: float | None = Field(None, gt=0, le=1e16, description="Pre-training tokens (optional; default for `costsim train --tokens`; at most 1e16, the bound of --tokens).")
    attention: Literal["mha", "gqa", "mqa", "mla"] | None = Field(None, description="Attention type (default inferred from n_kv_heads).")
    kv_lora_rank: int | None = Field(None, ge=1, description="MLA: latent KV rank (DeepSeek-V3: 512).")
    q_lora_rank: int | None = Field(None, ge=1, description="MLA: query low-rank size (DeepSeek-V3: 1536).")
    qk_rope_head_dim: int | None = Field(None, ge=1, description="MLA: decoupled RoPE key dims per head (DeepSeek-V3: 64).")
    qk_nope_head_dim: int | None = Field(None, ge=1, description="MLA: non-RoPE query/key dims per head (DeepSeek-V3: 128).")
    v_head_dim: int | None = Field(None, ge=1, description="MLA: value dims per head (DeepSeek-V3: 128).")
    sliding_window: int | None = Field(None, ge=1, description="Sliding-window attention span, tokens (None = full attention).")
    sliding_window_layer_frac: float = Field(1.0, ge=0, le=1, description="Fraction of layers that use the sliding window (Gemma 2 alternates: 0.5).")
    sparse_attention_topk: int | None = Field(None, ge=1, description="DeepSeek Sparse Attention (DSA): keys each query "
                                              "attends to, chosen per query by a lightning indexer that scores every "
                                              "earlier token (DeepSeek-V3.2 index_topk: 2048); None = dense attention. "
                                              "Needs MLA attention and the indexer_* fields. The KV cache still holds "
                                              "every token (plus the indexer's key); attention reads and computes only "
                                              "the chosen ones.")
    indexer_num_heads: int | None = Field(None, ge=1, description="DSA lightning indexer query heads (DeepSeek-V3.2 "
                                          "index_n_heads: 64).")
    indexer_head_dim: int | None = Field(None, ge=1, description="DSA lightning indexer head dims; its one key head is "
                                         "cached per token in FP8 (DeepSeek-V3.2 index_head_dim: 128).")
    indexer_layers: int | None = Field(None, ge=1, description="DSA: layers that run their own lightning indexer and "
                                       "cache its keys; the others reuse an earlier layer's top-k (GLM-5.2 IndexShare: "
                                       "21 of 78). None = every layer.")
    linear_attention_layers: int = Field(0, ge=0, description="Layers whose token mixer is a linear-attention recurrence "
                                         "(Gated DeltaNet: Qwen3-Next and Qwen3.5 use 3 of every 4; Mamba-2: Nemotron-H, Nemotron "
                                         "Nano 2 / 3, Granite 4.0-H) instead of softmax attention "
                                         "over a KV cache: each sequence keeps a fixed-size state per such layer (linear_num_value_heads x "
                                         "linear_key_head_dim x linear_value_head_dim, plus the short convolution's last "
                                         "linear_conv_kernel_dim - 1 inputs), whatever its context. The other layers attend as "
                                         "`attention` says.")
    linear_attention_kind: Literal["gated_deltanet", "mamba2"] = Field("gated_deltanet", description="The recurrence of "
                                                                         "those layers: gated_deltanet (Qwen3-Next's Gated "
                                                                         "DeltaNet) or mamba2 (Mamba-2's SSD; its config maps "
                                                                         "onto the linear_* fields as n_groups -> key heads, "
                                                                         "ssm_state_size -> key head dims, mamba_num_heads -> "
                                                                         "value heads, mamba_head_dim -> value head dims).")
    linear_num_key_heads: int | None = Field(None, ge=1, description="Linear-attention query/key heads (Qwen3-Next: 16; "
                                             "Mamba-2: n_groups of B/C projections, Nemotron-H: 8).")
    linear_num_value_heads: int | None = Field(None, ge=1, description="Linear-attention value heads, each with its own "
                                               "state (Qwen3-Next: 32; Mamba-2: mamba_num_heads, Nemotron-H 8B: 128).")
    linear_key_head_dim: int | None = Field(None, ge=1, description="Linear-attention key dims per head (Qwen3-Next: 128; "
                                            "Mamba-2: ssm_state_size, 128).")
    linear_value_head_dim: int | None = Field(None, ge=1, description="Linear-attention value dims per head (Qwen3-Next: 128; "
                                              "Mamba-2: mamba_head_dim, 64).")
    linear_conv_kernel_dim: int = Field(4, ge=1, description="Width of the causal depthwise convolution over the "
                                        "linear-attention q/k/v inputs (Mamba-2: x/B/C; Qwen3-Next and Nemotron-H: 4).")
    linear_chunk_tokens: int | None = Field(None, ge=1, le=4096, description="Chunk length of the chunked prompt kernels "
                                            "(Mamba-2 config chunk_size: Nemotron-H 128; default 64 for Gated DeltaNet, "
                                            "256 for Mamba-2).")
    linear_state_dtype: Literal["fp32", "bf16", "fp16"] = Field("bf16", description="Storage of the linear-attention "
                                                                 "recurrent state (the config's mamba_ssm_dtype: Qwen3.5 float32; "
                                                                 "Nemotron-H float32, vLLM's default for it; else the model's "
                                                                 "16-bit dtype). The convolution state stays 16-bit. A request's "
                                                                 "state_precision overrides it.")
    attention_output_gate: bool = Field(False, description="Softmax-attention layers gate their output with a sigmoid of a "
                                        "second query-sized projection (Qwen3-Next / Qwen3.5 attn_output_gate): q_proj is twice "
                                        "as wide.")
    attention_sinks: bool = Field(False, description="Learned attention sinks: one softmax bias per attention head "
                                  "(gpt-oss). The arithmetic is the attention's; what changes is which kernels can run "
                                  "it: an engine without a sink-capable fast kernel on a part falls back to a slower one "
                                  "(vLLM on Ampere / Ada: its Triton attention; engine parameter sink_attention_frac).")
    default_top_k: int | None = Field(None, ge=1, description="top_k of the model's published default sampling "
                                      "(generation_config.json; Qwen3 20, Gemma 3 64; None = not set). Engines that apply "
                                      "the model's defaults (vLLM) mask the logits to the top k every step.")
    speculative_tokens: int = Field(0, ge=0, le=16, description="Serving with speculative decoding (a DeepSeek MTP module, "
                                    "an EAGLE head): draft tokens proposed per sequence per step (0 = none). Set per "
                                    "request by --speculative-tokens; the draft is priced as one more layer of the model.")
    speculative_acceptance_frac: float | None = Field(None, gt=0, lt=1, description="Probability that a drafted token is "
                                                      "accepted given the ones before it were (DeepSeek-V3 reports 0.85-0.90 "
                                                      "for its MTP module's second token). Required with speculative_tokens.")
    qkv_bias: bool = Field(False, description="Biases on Q/K/V projections (Qwen2.5).")
    linear_bias: bool = Field(False, description="Biases on every linear layer (GPT-3, OPT, BLOOM).")
    norm: Literal["rmsnorm", "layernorm"] = Field("rmsnorm", description="Normalization type (LayerNorm has a bias vector too).")
    norms_per_layer: int = Field(2, ge=0, description="Norm weight vectors per layer (Gemma 2: 4).")
    learned_positions: bool = Field(False, description="Learned absolute position embeddings of size max_context x d_model (GPT-3, OPT).")
    params_total_reported: float | None = Field(None, gt=0, description="Developer-reported total parameters (for the size check).")
    params_active_reported: float | None = Field(None, gt=0, description="Developer-reported active parameters per token.")
    param_count_gap_reason: str | None = Field(None, description="Known reason the computed size differs from the reported one by more than 2%.")
    released_weight_precision: Literal["fp8", "mxfp4"] | None = Field(
        None, description="The weight format the model's own checkpoint ships in where it is narrower than 16 bit "
                          "(gpt-oss: MXFP4 expert weights, attention and embeddings in BF16). A deployment search that is "
                          "not given --weight-precision tries it on every part, as a weight-only format with the upcast "
                          "priced where the part has no tensor-core rate for it: running the released checkpoint costs "
                          "no accuracy. None = released in 16 bit.")
    sources: list[str] = Field(default_factory=list, description="Model card, config and paper references.")
    notes: str | None = Field(None, description="Caveats.")

    @model_validator(mode="after")
    def _check(self) -> "ModelSpec":
        kv = self.kv_heads
        if self.n_heads % kv != 0:
            raise ValueError(f"n_heads ({self.n_heads}) must be a multiple of n_kv_heads ({kv}) for grouped-query attention")
        if self.experts_per_token > self.n_experts:
            raise ValueError(f"experts_per_token ({self.experts_per_token}) cannot exceed n_experts ({self.n_experts})")
        if self.n_dense_layers > self.n_layers:
            raise ValueError("n_dense_layers cannot exceed n_layers")
        if self.moe_latent_dim is not None:
            if not self.is_moe:
                raise ValueError("moe_latent_dim (LatentMoE) needs a mixture-of-experts model (n_experts > 1)")
            if self.moe_latent_dim > self.d_model:
                raise ValueError(f"moe_latent_dim ({self.moe_latent_dim}) cannot exceed d_model ({self.d_model}): the latent "
                                 "space is a down-projection")
        if self.n_ffn_free_layers:
            if self.n_dense_layers + self.n_ffn_free_layers > self.n_layers:
                raise ValueError(f"n_dense_layers ({self.n_dense_layers}) + n_ffn_free_layers ({self.n_ffn_free_layers}) cannot "
                                 f"exceed n_layers ({self.n_layers})")
            if self.n_ffn_free_layers >= self.n_layers:
                raise ValueError(f"n_ffn_free_layers ({self.n_ffn_free_layers}) must leave at least one of the {self.n_layers} "
                                 "layers with an FFN")
            if self.is_moe and self.n_dense_layers + self.n_ffn_free_layers >= self.n_layers:
                raise ValueError(f"a mixture-of-experts model needs at least one MoE layer: n_dense_layers ({self.n_dense_layers}) "
                                 f"+ n_ffn_free_layers ({self.n_ffn_free_layers}) must be below n_layers ({self.n_layers})")
        if (self.expert_groups is None) != (self.expert_groups_per_token is None):
            raise ValueError("expert_groups and expert_groups_per_token go together (DeepSeek-V3: 8 and 4); give both or neither")
        if self.expert_groups is not None:
            if self.n_experts % self.expert_groups != 0:
                raise ValueError(f"expert_groups ({self.expert_groups}) must divide n_experts ({self.n_experts})")
            if self.expert_groups_per_token > self.expert_groups:
                raise ValueError(f"expert_groups_per_token ({self.expert_groups_per_token}) cannot exceed expert_groups "
                                 f"({self.expert_groups})")
        if self.attention_type == "mla" and not (self.kv_lora_rank and self.qk_rope_head_dim):
            raise ValueError("attention 'mla' needs kv_lora_rank and qk_rope_head_dim")
        if self.head_dim is None and self.d_model % self.n_heads != 0:
            raise ValueError(f"d_model ({self.d_model}) is not divisible by n_heads ({self.n_heads}); give head_dim explicitly")
        if self.linear_attention_layers:
            if self.linear_attention_layers >= self.n_layers:
                raise ValueError(f"linear_attention_layers ({self.linear_attention_layers}) must leave at least one softmax-attention "
                                 f"layer of the {self.n_layers}; a model without any is not modeled")
            missing = [f for f in ("linear_num_key_heads", "linear_num_value_heads", "linear_key_head_dim", "linear_value_head_dim")
                       if getattr(self, f) is None]
            if missing:
                raise ValueError(f"linear_attention_layers needs {', '.join(missing)} (the config's linear_* fields)")
            if self.linear_num_value_heads % self.linear_num_key_heads != 0:
                raise ValueError(f"linear_num_value_heads ({self.linear_num_value_heads}) must be a multiple of "
                                 f"linear_num_key_heads ({self.linear_num_key_heads})")
            if self.sliding_window is not None:
                raise ValueError("sliding_window together with linear_attention_layers is not modeled; give one of them")
        elif self.linear_attention_kind != "gated_deltanet" or self.linear_chunk_tokens is not None:
            raise ValueError("linear_attention_kind / linear_chunk_tokens need linear_attention_layers (how many layers run "
                             "the recurrence)")
        if self.sparse_attention_topk is not None:
            if self.attention_type != "mla":
                raise ValueError("sparse_attention_topk (DeepSeek Sparse Attention) is modeled on MLA attention only; "
                                 "set attention: mla with its kv_lora_rank, or drop sparse_attention_topk")
            missing = [f for f in ("indexer_num_heads", "indexer_head_dim") if getattr(self, f) is None]
            if missing:
                raise ValueError(f"sparse_attention_topk needs {', '.join(missing)} (the config's index_n_heads / index_head_dim)")
            if self.sliding_window is not None or self.linear_attention_layers:
                raise ValueError("sparse_attention_topk together with sliding_window or linear_attention_layers is not "
                                 "modeled; give one of them")
            if self.indexer_layers is not None and self.indexer_layers > self.n_layers:
                raise ValueError(f"indexer_layers ({self.indexer_layers}) cannot exceed n_layers ({self.n_layers})")
        elif self.indexer_num_heads is not None or self.indexer_head_dim is not None or self.indexer_layers is not None:
            raise ValueError("indexer_num_heads / indexer_head_dim / indexer_layers need sparse_attention_topk (the indexer's top-k, "
                             "DeepSeek-V3.2 index_topk 2048)")
        if self.speculative_tokens and self.speculative_acceptance_frac is None:
            raise ValueError("speculative_tokens needs speculative_acceptance_frac (the chance a drafted token is accepted, "
                             "0-1 exclusive; DeepSeek-V3's MTP: 0.85-0.90)")
        if self.learned_positions and "max_context" not in self.model_fields_set:
            raise ValueError("learned_positions needs max_context: the position-embedding table has max_context x d_model "
                             "parameters; give the context length the model was trained with")
        return self

    # ---- derived shape --------------------------------------------------------------------
    @property
    def kv_heads(self) -> int:
        return self.n_kv_heads if self.n_kv_heads is not None else self.n_heads

    @property
    def hd(self) -> int:
        return self.head_dim if self.head_dim is not None else self.d_model // self.n_heads

    @property
    def attention_type(self) -> str:
        if self.attention:
            return self.attention
        kv = self.kv_heads
        return "mha" if kv == self.n_heads else ("mqa" if kv == 1 else "gqa")

    @property
    def is_moe(self) -> bool:
        return self.n_experts > 1

    @property
    def gated(self) -> bool:
        return self.ffn_type in ("swiglu", "geglu")

    @property
    def n_moe_layers(self) -> int:
        return self.n_layers - self.n_dense_layers - self.n_ffn_free_layers if self.is_moe else 0

    @property
    def n_ffn_layers(self) -> int:
        """Layers with an FFN or MoE block (all but n_ffn_free_layers)."""
        return self.n_layers - self.n_ffn_free_layers

    # ---- parameter counts ------------------------------------------------------------------
    def ffn_params(self, d_ff: int, width: int | None = None) -> float:
        """One FFN of d_ff hidden units on `width` input / output values (default d_model)."""
        d = width or self.d_model
        mats = 3 if self.gated else 2
        p = mats * d * d_ff
        if self.linear_bias:
            p += (2 if self.gated else 1) * d_ff + d
        return float(p)

    @property
    def attn_params_per_layer(self) -> float:
        d, h, kv, hd = self.d_model, self.n_heads, self.kv_heads, self.hd
        if self.attention_type == "mla":
            rope = self.qk_rope_head_dim or 0
            nope = self.qk_nope_head_dim or hd
            v = self.v_head_dim or hd
            if self.q_lora_rank:
                q = d * self.q_lora_rank + self.q_lora_rank + self.q_lora_rank * h * (nope + rope)
            else:
                q = d * h * (nope + rope)
            kvp = d * (self.kv_lora_rank + rope) + self.kv_lora_rank + self.kv_lora_rank * h * (nope + v)
            return float(q + kvp + h * v * d)
        p = d * h * hd * (2 if self.attention_output_gate else 1) + 2 * d * kv * hd + h * hd * d
        if self.qkv_bias or self.linear_bias:
            p += h * hd + 2 * kv * hd
        if self.linear_bias:
            p += d
        return float(p)

    @property
    def n_softmax_layers(self) -> int:
        """Layers that attend over a KV cache (all but the linear-attention layers)."""
        return self.n_layers - self.linear_attention_layers

    @property
    def linear_qk_dim(self) -> int:
        return (self.linear_num_key_heads or 0) * (self.linear_key_head_dim or 0)

    @property
    def linear_v_dim(self) -> int:
        return (self.linear_num_value_heads or 0) * (self.linear_value_head_dim or 0)

    @property
    def linear_params_per_layer(self) -> float:
        """One linear-attention token mixer.
        Gated DeltaNet: q/k/v/z input projection d x (2 qk + 2 v), the per-head beta / decay projection d x 2 Hv, the
        depthwise convolution over q, k, v (kernel width each), per-head decay and dt bias, the gated output norm
        (v head dims) and the output projection v x d.
        Mamba-2 (mamba_ssm Mamba2, transformers NemotronHMamba2Mixer): in_proj d x (2 d_inner + 2 groups x state + heads)
        for z, x, B, C and dt; the depthwise convolution over x, B, C with its bias; per-head dt_bias, A_log and D; the
        gated RMSNorm over d_inner; out_proj d_inner x d. Here d_inner = v, groups x state = qk."""
        if not self.linear_attention_layers:
            return 0.0
        d, qk, v, hv = self.d_model, self.linear_qk_dim, self.linear_v_dim, self.linear_num_value_heads
        conv_ch = 2 * qk + v
        if self.linear_attention_kind == "mamba2":
            return float(d * (2 * v + 2 * qk + hv) + conv_ch * (self.linear_conv_kernel_dim + 1) + 3 * hv + v + v * d)
        return float(d * (2 * qk + 2 * v) + d * 2 * hv + conv_ch * self.linear_conv_kernel_dim + 2 * hv
                     + self.linear_value_head_dim + v * d)

    @property
    def linear_shard_max(self) -> int:
        """Tensor-parallel ranks a linear-attention layer's heads and state split over: Gated DeltaNet's key heads
        (vLLM shards q/k heads and their value heads together); Mamba-2's heads (vLLM's MambaMixer2 shards the heads and
        replicates the B/C groups when they do not divide), 1 without such layers."""
        if not self.linear_attention_layers:
            return 1
        if self.linear_attention_kind == "mamba2":
            return int(self.linear_num_value_heads)
        return int(self.linear_num_key_heads)

    @property
    def linear_chunk(self) -> int:
        """Chunk length of the chunked prompt kernels (linear_chunk_tokens, else the recurrence's default)."""
        return self.linear_chunk_tokens or LINEAR_CHUNK_TOKENS[self.linear_attention_kind]

    @property
    def indexer_params_per_layer(self) -> float:
        """DSA lightning indexer parameters of one layer: its query projection from the query latent (q_lora_rank, else
        d_model) to index_n_heads x index_head_dim, its key projection d_model -> index_head_dim with a LayerNorm
        (weight and bias), and the per-head weights d_model -> index_n_heads (DeepSeek-V3.2-Exp inference/model.py
        Indexer: wq_b, wk, k_norm, weights_proj). 0 without sparse attention."""
        if self.sparse_attention_topk is None:
            return 0.0
        d, hi, di = self.d_model, self.indexer_num_heads, self.indexer_head_dim
        return float((self.q_lora_rank or d) * hi * di + d * di + 2 * di + d * hi)

    @property
    def indexer_layer_frac(self) -> float:
        """Share of the softmax-attention layers that run their own DSA indexer (1 = every one; 0 without DSA)."""
        if self.sparse_attention_topk is None:
            return 0.0
        return 1.0 if self.indexer_layers is None else self.indexer_layers / self.n_softmax_layers

    @property
    def indexer_key_bytes_per_token_layer(self) -> float:
        """Bytes of one token's indexer key in one layer's cache: index_head_dim FP8 values and one fp32 scale per
        INDEXER_QUANT_BLOCK_VALUES values (vLLM DeepseekV32IndexerCache, SGLang's NSA index-K buffer). 0 without sparse
        attention."""
        if self.sparse_attention_topk is None:
            return 0.0
        return float(self.indexer_head_dim + 4 * -(-self.indexer_head_dim // INDEXER_QUANT_BLOCK_VALUES))

    @property
    def fp8_sparse_latent_extra_bytes_per_token_layer(self) -> float:
        """Bytes per token per layer that a DeepSeek Sparse Attention model's FP8 latent cache holds beyond one byte per
        latent value: an fp32 scale per INDEXER_QUANT_BLOCK_VALUES (128) of the kv_lora_rank values and the RoPE part kept
        in BF16 (one more byte per rope dim). DeepSeek-V3.2: 16 + 64 -> 656 bytes per token where a plain FP8 latent is
        576 (vLLM blog 2025-09-29 'DeepSeek-V3.2': 512 FP8 values, 4 fp32 scales, 64 BF16 RoPE values; vLLM's
        fp8_ds_mla, SGLang's NSA FP8 cache). 0 without sparse attention."""
        if self.sparse_attention_topk is None:
            return 0.0
        return float(4 * -(-self.kv_lora_rank // INDEXER_QUANT_BLOCK_VALUES) + (self.qk_rope_head_dim or 0))

    @property
    def indexer_flop_per_pair(self) -> float:
        """FLOPs of the indexer per (query, key) pair per layer: each of its heads' dot product (2 x index_head_dim),
        ReLU and the weighted sum over heads (2 per head). 0 without sparse attention."""
        if self.sparse_attention_topk is None:
            return 0.0
        return float(self.indexer_num_heads * (2 * self.indexer_head_dim + 2))

    @property
    def mixer_params_per_layer(self) -> float:
        """Token-mixer (attention or linear attention, with a sparse-attention indexer) parameters, averaged over the
        layers."""
        return (self.n_softmax_layers * (self.attn_params_per_layer + self.indexer_layer_frac * self.indexer_params_per_layer)
                + self.linear_attention_layers * self.linear_params_per_layer) / self.n_layers

    @property
    def linear_recurrent_state_elements_per_layer(self) -> float:
        """Elements of one sequence's recurrent state in one linear-attention layer: a key x value matrix per value head."""
        return float((self.linear_num_value_heads or 0) * (self.linear_key_head_dim or 0) * (self.linear_value_head_dim or 0))

    @property
    def linear_state_elements_per_layer(self) -> float:
        """Elements of one sequence's state in one linear-attention layer: the recurrent state and the convolution's last
        kernel - 1 inputs of q, k and v."""
        if not self.linear_attention_layers:
            return 0.0
        conv = (self.linear_conv_kernel_dim - 1) * (2 * self.linear_qk_dim + self.linear_v_dim)
        return self.linear_recurrent_state_elements_per_layer + conv

    @property
    def linear_state_bytes_per_layer(self) -> float:
        """Bytes of one sequence's state in one linear-attention layer: the recurrent state at linear_state_dtype, the
        convolution's inputs in 16 bit."""
        if not self.linear_attention_layers:
            return 0.0
        rec = self.linear_recurrent_state_elements_per_layer
        return rec * STATE_DTYPE_BYTES[self.linear_state_dtype] + 2.0 * (self.linear_state_elements_per_layer - rec)

    @property
    def linear_state_bytes_per_sequence(self) -> float:
        """Bytes of one sequence's linear-attention state over all such layers (0 without them)."""
        return self.linear_attention_layers * self.linear_state_bytes_per_layer

    @property
    def linear_decode_flop_per_token_per_layer(self) -> float:
        """Recurrence FLOPs of one new token in one linear-attention layer, per value head on its dk x dv state.
        Gated DeltaNet: decay (1), the delta rule's read k^T S (2) and rank-one write (2), the output q^T S (2): 7 dk dv.
        Mamba-2: decay (1), the rank-one write of dt x B^T (2), the output C^T S (2): 5 dk dv."""
        per_element = 5.0 if self.linear_attention_kind == "mamba2" else 7.0
        return per_element * self.linear_recurrent_state_elements_per_layer

    @property
    def linear_prefill_flop_per_token_per_layer(self) -> float:
        """FLOPs per prompt token of one linear-attention layer run chunk-wise (chunks of linear_chunk C; Gated DeltaNet:
        the gated delta rule's chunked form, Yang et al. 2024 arXiv 2406.06484 / 2412.06464): per value head, the
        intra-chunk q k^T, k k^T and attention-times-value products 2C(2 dk + dv), and the inter-chunk state read,
        correction and update 6 dk dv."""
        if not self.linear_attention_layers:
            return 0.0
        dk, dv, c = self.linear_key_head_dim, self.linear_value_head_dim, self.linear_chunk
        if self.linear_attention_kind == "mamba2":
            # SSD (Dao & Gu 2024, arXiv 2405.21060, Sec. 6): C B^T once per group (2 C N), per head the masked
            # scores times x (2 C P), the chunk state B^T x (2 N P) and the carried state's output C h (2 N P)
            return float(self.linear_num_key_heads * 2.0 * c * dk + self.linear_num_value_heads * (2.0 * c * dv + 4.0 * dk * dv))
        return float(self.linear_num_value_heads * (2.0 * c * (2 * dk + dv) + 6.0 * dk * dv))

    @property
    def norm_params_per_layer(self) -> float:
        return float(self.norms_per_layer * self.d_model * (2 if self.norm == "layernorm" else 1))

    @property
    def embedding_params(self) -> float:
        p = self.vocab_size * self.d_model
        if not self.tied_embeddings:
            p += self.vocab_size * self.d_model
        if self.learned_positions:
            p += self.max_context * self.d_model
        return float(p)

    @property
    def moe_width(self) -> int:
        """Values per token the routed experts take in and give out: moe_latent_dim under LatentMoE, else d_model."""
        return self.moe_latent_dim or self.d_model

    @property
    def expert_params(self) -> float:
        """One routed expert's FFN parameters (d_ff is per expert; on moe_width values)."""
        return self.ffn_params(self.d_ff, self.moe_width)

    @property
    def shared_expert_params(self) -> float:
        """One shared expert's FFN parameters: d_ff hidden units on d_model values (= expert_params without LatentMoE)."""
        return self.ffn_params(self.d_ff)

    @property
    def moe_latent_params_per_layer(self) -> float:
        """LatentMoE's down and up projections of one MoE layer (d_model x latent each; 0 without LatentMoE)."""
        return float(2 * self.d_model * self.moe_latent_dim) if self.moe_latent_dim else 0.0

    @property
    def dense_ffn_params_per_layer(self) -> float:
        return self.ffn_params(self.d_ff_dense or self.d_ff)

    def _ffn_total(self, active: bool) -> float:
        if not self.is_moe:
            return self.n_ffn_layers * self.ffn_params(self.d_ff)
        dense = self.n_dense_layers * self.dense_ffn_params_per_layer
        n_routed = self.experts_per_token if active else self.n_experts
        per_moe = (n_routed * self.expert_params + self.n_shared_experts * self.shared_expert_params + self.d_model * self.n_experts
                   + self.moe_latent_params_per_layer)
        return dense + self.n_moe_layers * per_moe

    def _total(self, active: bool) -> float:
        final_norm = self.d_model * (2 if self.norm == "layernorm" else 1)
        return (
            self.n_layers * (self.mixer_params_per_layer + self.norm_params_per_layer)
            + self._ffn_total(active)
            + self.embedding_params
            + final_norm
        )

    @property
    def params_total(self) -> float:
        return self._total(active=False)

    @property
    def params_active(self) -> float:
        return self._total(active=True)

    @property
    def params_non_embedding_active(self) -> float:
        """Active parameters that take part in per-token matmuls, excluding the input embedding
        lookup (the LM head matmul counts: it is a real matmul, tied or not)."""
        return self.params_active - self.vocab_size * self.d_model * (1 if not self.tied_embeddings else 0) - (
            self.max_context * self.d_model if self.learned_positions else 0
        )

    def kv_elements_per_token_per_layer(self) -> float:
        """KV-cache elements stored per token per (full-attention) layer."""
        if self.attention_type == "mla":
            return float(self.kv_lora_rank + (self.qk_rope_head_dim or 0))
        return float(2 * self.kv_heads * self.hd)
