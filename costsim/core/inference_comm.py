"""Serving communication (numpy, vectorized over layouts): a replica's tensor-parallel all-reduces inside its
scale-up domain, its expert all-to-all and its pipeline hand-offs, on the scale-up fabric inside one domain (NVLink
or the PCIe server) and over the node's NICs beyond it. costsim.core.inference prices the steps with them."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from costsim.core.comm import NO_NETWORK_BYTES_PER_S, SCALEOUT_ACHIEVABLE_FRAC
from costsim.core.inference_types import Device, Layout, _a


def _scaleup_bytes_per_s(dev: Device):
    """Achievable collective bandwidth on the scale-up fabric (inf where the profile gives none)."""
    bw = _a(dev.scaleup_bytes_per_s) * _a(dev.comm_bandwidth_frac)
    return np.where(bw > 0, bw, np.inf)


def _nic_bytes_per_s(dev: Device):
    """Achievable bandwidth of the device's NIC share (NO_NETWORK_BYTES_PER_S where none is published)."""
    bw = _a(dev.scaleout_bytes_per_s) * SCALEOUT_ACHIEVABLE_FRAC
    return np.where(bw > 0, bw, NO_NETWORK_BYTES_PER_S)


def allreduce_time_s(message_bytes, n, dev: Device):
    """All-reduce of `message_bytes` over n devices (0 for n = 1). Inside one scale-up group (dev.local_group_size):
    ring, latency tree-like ((1+log2 n) hops) on a switched fabric, or 2(n r - 1) hops on a ring fabric of r ranks per
    device (dev.scaleup_ring_ranks: Inferentia2's NeuronLink ring, one rank per NeuronCore), + 2(n-1)/n * bytes at the
    achievable bus bandwidth. Over d groups of g
    (tensor parallelism across nodes, as SGLang's TP 16 over two 8-GPU nodes): hierarchical, a reduce-scatter and an
    all-gather inside each group on the scale-up fabric, 2(g-1)/g * bytes, and between them an all-reduce of each
    rank's 1/g share across the groups over its NIC share, 2(d-1)/d * bytes/g, at the scale-out latency (2 log2 d
    hops of a tree)."""
    n = _a(n)
    B = _a(message_bytes)
    safe_bw, out_bw = _scaleup_bytes_per_s(dev), _nic_bytes_per_s(dev)
    ring = _a(dev.scaleup_ring_ranks)
    hops = np.where(ring > 0, 2.0 * (n * ring - 1.0), 1.0 + np.log2(np.maximum(n, 1.0)))
    inside = _a(dev.scaleup_latency_s) * hops + 2.0 * (n - 1.0) / n * B / safe_bw
    g = np.clip(_a(dev.local_group_size), 1.0, np.maximum(n, 1.0))
    d = np.ceil(n / g)
    across = (_a(dev.scaleup_latency_s) * (1.0 + np.log2(g)) + 2.0 * (g - 1.0) / g * B / safe_bw
              + _a(dev.scaleout_latency_s) * 2.0 * np.log2(np.maximum(d, 1.0)) + 2.0 * (d - 1.0) / d * (B / g) / out_bw)
    return np.where(n > 1, np.where(n > g, across, inside), 0.0)


def alltoall_time_s(message_bytes, n, dev: Device, stride=1.0):
    """Expert all-to-all of n ranks spaced `stride` GPUs apart, each sending `message_bytes` in all, 1/n to every
    rank. Inside the scale-up group (dev.local_group_size GPUs): (n-1)/n of it at the scale-up rate. A group that
    spans g ranks per scale-up group sends the other groups' share (n-g)/n over its NIC share at the scale-out rate
    while the local share goes over NVLink (both at once), at the scale-out latency: what wide expert parallelism
    across nodes pays (DeepEP's low-latency decode kernels send one copy per token and expert over RDMA)."""
    n = _a(n)
    B = _a(message_bytes)
    safe_bw, out_bw = _scaleup_bytes_per_s(dev), _nic_bytes_per_s(dev)
    g = np.clip(np.floor(_a(dev.local_group_size) / np.maximum(_a(stride), 1.0)), 1.0, np.maximum(n, 1.0))
    hops = 1.0 + np.log2(np.maximum(n, 1.0))
    inside = _a(dev.scaleup_latency_s) * hops + (n - 1.0) / n * B / safe_bw
    across = _a(dev.scaleout_latency_s) * hops + np.maximum((g - 1.0) / n * B / safe_bw, (n - g) / n * B / out_bw)
    return np.where(n > 1, np.where(n > g, across, inside), 0.0)


def gather_or_scatter_time_s(total_bytes, n, dev: Device, stride=1.0):
    """An all-gather (or a reduce-scatter) of `total_bytes` in all over n ranks spaced `stride` GPUs apart: half an
    all-reduce of them (a ring all-reduce is a reduce-scatter then an all-gather: each rank moves (n-1)/n of the
    total in each), with its latency steps halved; the scale-up group then holds local_group_size / stride ranks."""
    local = _a(dev.local_group_size) / np.maximum(_a(stride), 1.0)
    return 0.5 * allreduce_time_s(total_bytes, n, replace(dev, local_group_size=local))


def moe_exchange_time_s(tokens, d_model, moe_layers, n, dev: Device, stride, experts_per_token, act_bytes, dispatch_bytes):
    """Time of one forward pass's expert-parallel token exchange over n ranks, `tokens` in all (every rank's), per
    GPU: moe_layers x (dispatch + combine). Device.moe_allgather_dispatch 1: all-gather the tokens (at
    `dispatch_bytes` per value) and reduce-scatter the outputs (`act_bytes`); 0: two all-to-alls of one copy per
    chosen expert (alltoall_time_s) at `act_bytes`."""
    t, d, layers = _a(tokens), _a(d_model), _a(moe_layers)
    if not np.any((layers > 0) & (_a(n) > 1)):   # dense models, or no expert parallelism: nothing to exchange
        return np.zeros(np.broadcast(t, layers, _a(n)).shape)
    flag = _a(dev.moe_allgather_dispatch) > 0
    out = 0.0
    if np.any(flag):
        gather = (gather_or_scatter_time_s(t * d * _a(dispatch_bytes), n, dev, stride)
                  + gather_or_scatter_time_s(t * d * _a(act_bytes), n, dev, stride))
        out = np.where(flag, gather, 0.0)
    if not np.all(flag):
        a2a = 2.0 * alltoall_time_s(t / np.maximum(_a(n), 1.0) * _a(experts_per_token) * d * _a(act_bytes), n, dev, stride)
        out = np.where(flag, out, a2a)
    return layers * out


def pp_handoff_s(message_bytes, layout: Layout, dev: Device):
    """Mean time of one pipeline hand-off (s): `message_bytes` of activations to the next stage, on the scale-up
    fabric when both stages sit in one scale-up group, else over the NIC share at the scale-out latency. Stages of
    tp x ep GPUs fill the groups in order, so ceil(pp x tp x ep / group) - 1 of the pp - 1 boundaries cross."""
    tp, pp, ep = _a(layout.tp), _a(layout.pp), _a(layout.ep)
    up = _a(dev.scaleup_bytes_per_s)
    t_in = _a(dev.scaleup_latency_s) + _a(message_bytes) / np.where(up > 0, up, np.inf)
    t_out = _a(dev.scaleout_latency_s) + _a(message_bytes) / _nic_bytes_per_s(dev)
    local = _a(dev.local_group_size)
    spanned = np.where(np.isfinite(local), np.ceil(pp * tp * ep / np.where(np.isfinite(local), local, 1.0)), 1.0)
    boundaries = np.maximum(pp - 1.0, 1.0)
    cross = np.clip(spanned - 1.0, 0.0, boundaries)
    return np.where(pp > 1, ((boundaries - cross) * t_in + cross * t_out) / boundaries, 0.0)
