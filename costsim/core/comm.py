"""Collective-communication cost models (numpy, vectorized over arrays of configurations).

Every function takes the message size in bytes (`bytes_` = the full buffer each rank holds before
the collective: the input of a reduce-scatter, the output of an all-gather, the buffer of an
all-reduce), the group size `n`, a per-rank link bandwidth in bytes/s per direction and a per-step
latency in s. All arguments broadcast.

Cost models (alpha-beta; Thakur, Rabenseifner & Gropp 2005; NCCL's bus-bandwidth convention):
  ring reduce-scatter / all-gather:  (n-1)/n * B / bw + (n-1) * lat
  ring all-reduce:                   2 (n-1)/n * B / bw + 2 (n-1) * lat
  tree all-reduce (double binary):   2 * B / bw + 2 * log2(n) * lat   (latency-optimal, for small B)
  all-to-all (pairwise, two tiers):  max((g-1)/n * B / bw_in, (n-g)/n * B / bw_out) + (n-1) * lat
  node-deduplicated expert dispatch: max((n-1)/n * B / bw_in, hits/k * B / bw_out) + (n-1) * lat
  point-to-point:                    B / bw + lat
A group of one rank costs nothing.

Tiers (group_bandwidth, used for TP, CP and pipeline P2P): a group whose ranks all sit in one
scale-up domain (NVLink/NVSwitch) uses the scale-up bandwidth; otherwise the slowest link is the
node's NICs, each GPU sending at once getting NIC_total / devices. `achievable_frac` scales raw link
bandwidth to what NCCL reaches (bus bandwidth / link rate).

Data-parallel and ZeRO collectives use `collective_s` on a `Fabric`: hierarchical bandwidth (inside
the domain on the scale-up fabric -- a switch, or a TPU torus with two links per axis the group
spans -- then across domains on the buffer's 1/g share over each device's NIC share), ring latency
per hop that grows with the ranks (a flat NCCL ring has n - d NVLink hops and d - 1 network hops;
XLA on a torus goes axis by axis), a base latency per call, and all-reduce as the faster of ring and
double binary tree. Latencies follow NCCL's tuning table (src/graph/tuning.cc).
"""

from __future__ import annotations

from dataclasses import dataclass

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
# a device with no published scale-out network: a 10 Gb/s Ethernet share, bytes/s (estimate)
NO_NETWORK_BYTES_PER_S = 1e9


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


# ---------------------------------------------------------------------------------------------
# Hierarchical collectives over a process group placed on a two-tier fabric
# ---------------------------------------------------------------------------------------------
# NCCL base latency of one collective call (ring, Simple protocol): 8.4 us (NCCL src/graph/tuning.cc
# baseLat; the same table gives per-step ring latencies of 3.4-5.7 us over NVLink and 6.6-9.6 us over
# the network, which SCALEOUT_LATENCY_S and the profiles' scaleup.latency_s follow).
COLLECTIVE_BASE_LATENCY_S = 8.4e-6
# TPU ICI: achievable fraction of the per-link rate for large collectives (estimate; the scaling book
# (jax-ml.github.io/scaling-book, "How to think about TPUs") reports ~95% of the link rate at >10 MB).
TORUS_ACHIEVABLE_FRAC = 0.9


@dataclass(frozen=True)
class Fabric:
    """A two-tier fabric: scale-up domains (NVLink/NVSwitch node, TPU ICI slice) joined by a scale-out
    network (InfiniBand/RoCE NICs, TPU data-center network).

    domain_size: devices in one scale-up domain; scaleup_bytes_per_s: per device, per direction
    (switched fabric); torus_dims / torus_link_bytes_per_s: a torus (TPU ICI) instead of a switch,
    with its per-link, per-direction rate; scaleout_bytes_per_s: per device, per direction (the node's
    NICs divided by its devices); latencies per ring step."""

    domain_size: float
    scaleup_bytes_per_s: float
    scaleup_latency_s: float
    scaleout_bytes_per_s: float
    scaleout_latency_s: float = SCALEOUT_LATENCY_S
    torus_dims: int = 0
    torus_link_bytes_per_s: float = 0.0


def group_split(n, stride, domain_size):
    """(ranks per domain, domains spanned) of a group of `n` ranks spaced `stride` apart in the rank
    order: a domain holds floor(domain/stride) of them (at least one), the group spans
    ceil(n / that) domains with n / domains ranks in each."""
    n = _a(n)
    per = np.maximum(1.0, np.floor(_a(domain_size) / np.maximum(_a(stride), 1.0)))
    n_out = np.ceil(n / per)
    return n / n_out, n_out


def inner_bandwidth(g_in, stride, fab: Fabric):
    """Per-device bandwidth of the inside-domain stage, achievable fractions applied.
    Switched (NVSwitch): the device's scale-up rate. Torus (TPU ICI): a ring along each torus axis the
    group spans runs both directions, so 2 links x axes; axes = how many torus dimensions a box of
    g_in*stride devices needs at edge = domain^(1/dims) (scaling book, "How to think about TPUs":
    an all-gather over k axes gets k times the bandwidth of one)."""
    if fab.torus_dims:
        dims = float(fab.torus_dims)
        edge = max(fab.domain_size ** (1.0 / dims), 2.0)
        span = np.maximum(_a(g_in) * np.maximum(_a(stride), 1.0), 2.0)
        axes = np.clip(np.ceil(np.log(span) / np.log(edge) - 1e-9), 1.0, dims)
        return 2.0 * fab.torus_link_bytes_per_s * axes * TORUS_ACHIEVABLE_FRAC + 0.0 * span
    return fab.scaleup_bytes_per_s * SCALEUP_ACHIEVABLE_FRAC + 0.0 * _a(g_in)


def collective_s(kind: str, bytes_, n, stride, fab: Fabric, flat=False, calls=1.0, node_aggregate=True):
    """Time (s) of collectives of kind 'rs' (reduce-scatter), 'ag' (all-gather) or 'ar' (all-reduce =
    rs + ag) moving `bytes_` in all (the full buffers, as in the module docstring) over `n` ranks spaced
    `stride` apart, issued as `calls` separate collectives (buckets, layers, submodules): the bandwidth
    term sees the total, every call pays the latency.

    Hierarchical algorithm (NCCL's rings through a node then across nodes; TPU ICI inside a slice then
    DCN across slices): the inside-domain stage moves (g-1)/g of the buffer over the scale-up fabric,
    the across-domain stage (d-1)/d of the buffer's 1/g share over the device's scale-out share, where
    g ranks of the group sit in each of d domains. Each device drives its own NIC, so the g devices of a
    node together use g NIC shares (a group with one rank per node gets one NIC share).
    Latency: per call, a base latency plus one step per ring hop: hierarchical g-1 inside and d-1 across;
    a flat ring over all ranks (`flat`: DeepSpeed ZeRO-3 2021, one ring through every rank) has n-d
    inside hops and d-1 across -- the latency term grows with the number of ranks. All-reduce takes the
    faster of the ring and a double binary tree across domains (2 log2(d) hops; NCCL's choice at scale).
    `node_aggregate` False: the group does not spread a domain's share over its devices' NICs; every
    rank's (n-1)/n of the buffer crosses the network through its own NIC share (vanilla ZeRO-3 over all
    ranks, MiCS Sec. 3.3); the latency hops stay as placed."""
    n = _a(n)
    B = _a(bytes_)
    g_in, n_out = group_split(n, stride, fab.domain_size)
    bw_in = inner_bandwidth(g_in, stride, fab)
    bw_out = fab.scaleout_bytes_per_s * SCALEOUT_ACHIEVABLE_FRAC
    lat_in, lat_out = fab.scaleup_latency_s, fab.scaleout_latency_s
    c = _a(calls)
    if node_aggregate:
        t_in = (g_in - 1.0) / g_in * B / bw_in
        t_out = (n_out - 1.0) / n_out * (B / g_in) / bw_out
    else:
        t_in = 0.0 * B
        t_out = np.where(n_out > 1, (n - 1.0) / n * B / bw_out, (g_in - 1.0) / g_in * B / bw_in)
    hops_in = np.where(flat, n - n_out, g_in - 1.0)
    ring_lat = hops_in * lat_in + (n_out - 1.0) * lat_out
    one = t_in + t_out + c * (ring_lat + COLLECTIVE_BASE_LATENCY_S)
    if kind == "ar":
        tree = 2.0 * (t_in + c * hops_in * lat_in) + 2.0 * (B / g_in) / bw_out \
            + c * (2.0 * np.log2(np.maximum(n_out, 1.0)) * lat_out + COLLECTIVE_BASE_LATENCY_S)
        one = np.minimum(2.0 * one, np.where(n_out > 1, tree, np.inf))
    elif kind not in ("rs", "ag"):
        raise ValueError(f"unknown collective kind {kind!r}")
    return np.where(n > 1, one, 0.0)


def all_to_all_two_tier_s(bytes_, n, stride, fab: Fabric):
    """Time (s) of an all-to-all in which each of `n` ranks (spaced `stride` apart) sends `bytes_` in all, an
    equal 1/n to every rank, on a two-tier fabric. Every byte goes straight to its destination: the share for
    ranks in the sender's own scale-up domain, (g-1)/n, over the scale-up link and the share for the other
    domains, (n-g)/n, over the device's scale-out share, both at once (different links), g ranks of the group
    per domain. Inside one domain this is (n-1)/n of the bytes at the scale-up rate; with one rank per domain,
    (n-1)/n at the scale-out rate. Latency: one step per peer as a ring's, at the slower tier's latency."""
    n = _a(n)
    B = _a(bytes_)
    g_in, n_out = group_split(n, stride, fab.domain_size)
    t_in = (g_in - 1.0) / n * B / inner_bandwidth(g_in, stride, fab)
    t_out = (n - g_in) / n * B / (fab.scaleout_bytes_per_s * SCALEOUT_ACHIEVABLE_FRAC)
    lat = np.where(n_out > 1, fab.scaleout_latency_s, fab.scaleup_latency_s)
    return np.where(n > 1, np.maximum(t_in, t_out) + (n - 1.0) * lat, 0.0)


def _miss_probability(total: float, held, picks: int):
    """Probability that `picks` distinct items drawn uniformly from `total` miss all `held` of them:
    C(total - held, picks) / C(total, picks) = prod_{i<picks} (total - held - i) / (total - i)."""
    miss = np.ones_like(_a(held), dtype=float)
    for i in range(picks):
        miss = miss * np.clip((total - held - i) / (total - i), 0.0, 1.0)
    return miss


def remote_domains_hit(n, stride, domain_size, experts_per_token: int, n_experts: int, groups: int = 0,
                       groups_per_token: int = 0):
    """Expected other scale-up domains one token's top-k experts fall in, when the n expert-parallel ranks
    (spaced `stride` apart) hold n_experts experts evenly and routing picks k distinct experts uniformly (the
    force-balanced routing of the published benchmarks): a domain holding e of the E experts is missed with
    probability C(E - e, k) / C(E, k). Group-limited routing (DeepSeek-V3: 8 groups, a token's experts from 4 of
    them; arXiv 2412.19437 Sec. 2.1.2 'node-limited routing') where every domain holds whole groups: the token's
    groups are drawn instead, and a domain holding h of the G groups is missed with probability C(G - h, m) / C(G, m),
    m groups per token (never more likely than the expert draw)."""
    g_in, n_out = group_split(n, stride, domain_size)
    e_all = float(max(n_experts, 1))
    k = int(min(max(experts_per_token, 1), n_experts))
    e_dom = e_all * g_in / _a(n)  # experts per domain of the group
    miss = _miss_probability(e_all, e_dom, k)
    if groups and groups_per_token:
        g_dom = float(groups) * g_in / _a(n)  # groups per domain
        whole = (np.abs(g_dom - np.round(g_dom)) < 1e-9) & (g_dom >= 1.0)
        miss = np.where(whole, np.maximum(miss, _miss_probability(float(groups), np.round(g_dom), int(groups_per_token))), miss)
    return (n_out - 1.0) * (1.0 - miss)


def all_to_all_dedup_s(bytes_, n, stride, fab: Fabric, experts_per_token: int, n_experts: int, groups: int = 0,
                       groups_per_token: int = 0):
    """Time (s) of a node-deduplicated expert all-to-all (DeepEP / Megatron-core's HybridEP 'flex' dispatcher;
    DeepSeek-V3 report, arXiv 2412.19437 Sec. 3.2.2): each rank sends `bytes_` in all = k copies of its tokens,
    one per selected expert, but a token crosses the scale-out network once per other domain holding one of its
    experts (to the same-index rank there) and is fanned out over that domain's scale-up fabric, instead of once
    per expert. Network: bytes_ x remote_domains_hit / k; scale-up: every copy not for the rank itself,
    (n-1)/n x bytes_ (direct or forwarded). Inside one domain this is the plain all-to-all's (n-1)/n at the
    scale-up rate, so only groups across domains change. Latency as all_to_all_two_tier_s."""
    n = _a(n)
    B = _a(bytes_)
    g_in, n_out = group_split(n, stride, fab.domain_size)
    hits = remote_domains_hit(n, stride, fab.domain_size, experts_per_token, n_experts, groups, groups_per_token)
    k = float(max(min(experts_per_token, n_experts), 1))
    t_in = (n - 1.0) / n * B / inner_bandwidth(g_in, stride, fab)
    t_out = hits / k * B / (fab.scaleout_bytes_per_s * SCALEOUT_ACHIEVABLE_FRAC)
    lat = np.where(n_out > 1, fab.scaleout_latency_s, fab.scaleup_latency_s)
    return np.where(n > 1, np.maximum(t_in, t_out) + (n - 1.0) * lat, 0.0)


def collective_latency_s(kind: str, n, stride, fab: Fabric, flat=False):
    """The latency-only part of one collective (s): what a tiny buffer costs."""
    return collective_s(kind, 0.0, n, stride, fab, flat)
