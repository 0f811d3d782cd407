"""Speculative decoding's yield (numpy only): how many tokens a verify step produces per sequence on average when k
drafted tokens are each accepted with probability a, given the ones before them were (the i.i.d. acceptance model of
Leviathan et al., arXiv:2211.17192, Eq. 1): 1 + a + a^2 + ... + a^k = (1 - a^(k+1)) / (1 - a). The first rejected
draft is replaced by the target model's own token, so a step always yields at least one."""

from __future__ import annotations

import numpy as np

from costsim.core.inference_types import _a


def tokens_per_step(draft_tokens, acceptance_rate):
    """Expected tokens per sequence per verify step with `draft_tokens` drafts at per-token `acceptance_frac` (1 with
    no drafts; k + 1 at acceptance 1)."""
    k, a = _a(draft_tokens), np.clip(_a(acceptance_rate), 0.0, 1.0)
    geometric = (1.0 - a ** (k + 1.0)) / np.maximum(1.0 - a, 1e-12)
    return np.where(a >= 1.0, k + 1.0, np.where(k > 0, geometric, 1.0))
