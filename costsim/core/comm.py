"""Collective-communication cost models (numpy, vectorized over arrays of configurations).

Every function takes the message size in bytes (`bytes_` = the full buffer each rank holds before
the collective: the input of a reduce-scatter, the output of an all-gather, the buffer of an
all-reduce), the group size `n`, a per-rank link bandwidth in bytes/s per direction and a per-step
latency in s. All arguments broadcast.

Cost models (alpha-beta; Thakur, Rabenseifner & Gropp 2005; NCCL's bus-bandwidth convention):
  ring reduce-scatter / all-gather:  (n-1)/n * B / bw + (n-1) * lat
  ring all-reduce:                   2 (n-1)/n * B / bw + 2 (n-1) * lat
  tree all-reduce (double binary):   2 * B / bw + 2 * log2(n) * lat   (latency-optimal, for small B)
  all-to-all (pairwise):             (n-1)/n * B / bw + (n-1) * lat
  point-to-point:                    B / bw + lat
A group of one rank costs nothing.

Tiers: a group whose ranks all sit in one scale-up domain (NVLink/NVSwitch) uses the scale-up
bandwidth; otherwise the slowest link is the node's NICs. Traffic leaving a node shares that
node's NICs: each of the `senders_per_node` GPUs sending at once gets NIC_total / senders.
`achievable_frac` scales raw link bandwidth to what NCCL reaches (bus bandwidth / link rate).
"""

from __future__ import annotations

import numpy as np

# Achievable fraction of the link rate for large collectives (NCCL bus bandwidth / link rate).
# Scale-up: DGX A100 4-GPU 64 MB all-reduce reaches ~167 GB/s bus bandwidth of 300 GB/s (0.56,
# kernels.csv K-a100-allreduce, microsoft/vidur); nccl-tests on full 8-GPU NVSwitch nodes reach
# ~230 of 300 (A100) and ~360-480 of 450 (H100). 0.7 is the midpoint used by default (estimate).
SCALEUP_ACHIEVABLE_FRAC = 0.7
# Scale-out: InfiniBand NDR/HDR with GPUDirect RDMA: nccl-tests multi-node bus bandwidth is
# typically ~80-90% of the NIC line rate (estimate; NVIDIA DGX SuperPOD reference numbers).
SCALEOUT_ACHIEVABLE_FRAC = 0.85
# Per-step latency of an inter-node collective step (IB switch hops + NCCL proxy), s (estimate).
SCALEOUT_LATENCY_S = 10e-6


def _a(x):
    return np.asarray(x, dtype=float)


def ring_reduce_scatter_s(bytes_, n, bw_bytes_per_s, latency_s):
    n = _a(n)
    t = (n - 1.0) / np.maximum(n, 1.0) * _a(bytes_) / _a(bw_bytes_per_s) + (n - 1.0) * _a(latency_s)
    return np.where(n > 1, t, 0.0)


def ring_all_gather_s(bytes_, n, bw_bytes_per_s, latency_s):
    return ring_reduce_scatter_s(bytes_, n, bw_bytes_per_s, latency_s)


def ring_all_reduce_s(bytes_, n, bw_bytes_per_s, latency_s):
    return 2.0 * ring_reduce_scatter_s(bytes_, n, bw_bytes_per_s, latency_s)


def tree_all_reduce_s(bytes_, n, bw_bytes_per_s, latency_s):
    n = _a(n)
    t = 2.0 * _a(bytes_) / _a(bw_bytes_per_s) + 2.0 * np.log2(np.maximum(n, 1.0)) * _a(latency_s)
    return np.where(n > 1, t, 0.0)


def all_reduce_s(bytes_, n, bw_bytes_per_s, latency_s):
    """NCCL-like choice: the faster of ring and tree for each configuration."""
    return np.minimum(ring_all_reduce_s(bytes_, n, bw_bytes_per_s, latency_s),
                      tree_all_reduce_s(bytes_, n, bw_bytes_per_s, latency_s))


def all_to_all_s(bytes_, n, bw_bytes_per_s, latency_s):
    return ring_reduce_scatter_s(bytes_, n, bw_bytes_per_s, latency_s)


def p2p_s(bytes_, bw_bytes_per_s, latency_s):
    b = _a(bytes_)
    return np.where(b > 0, b / _a(bw_bytes_per_s) + _a(latency_s), 0.0)


def group_bandwidth(n, stride, domain_size, scaleup_bytes_per_s, scaleout_per_gpu_bytes_per_s,
                    scaleup_latency_s, scaleout_latency_s=SCALEOUT_LATENCY_S):
    """Per-rank bandwidth and latency of a process group of `n` ranks spaced `stride` apart in the
    rank order (tensor parallel innermost). Inside one scale-up domain when n*stride <= domain.

    Returns (bw_bytes_per_s, latency_s), already scaled by the achievable fractions."""
    n = _a(n)
    inside = n * _a(stride) <= _a(domain_size)
    bw = np.where(inside, _a(scaleup_bytes_per_s) * SCALEUP_ACHIEVABLE_FRAC,
                  _a(scaleout_per_gpu_bytes_per_s) * SCALEOUT_ACHIEVABLE_FRAC)
    lat = np.where(inside, _a(scaleup_latency_s), _a(scaleout_latency_s))
    return bw, lat
