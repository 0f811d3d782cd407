"""Collectives on a two-tier fabric (costsim.core.comm): group placement, hierarchical bandwidth, ring
latency that grows with the ranks, the vanilla (per-rank NIC) ZeRO-3 ring, TPU torus axes."""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from costsim.core import comm

# DGX A100-like: 8 GPUs per NVSwitch domain, 300 GB/s scale-up, 25 GB/s NIC per GPU
DGX = comm.Fabric(domain_size=8.0, scaleup_bytes_per_s=300e9, scaleup_latency_s=5e-6, scaleout_bytes_per_s=25e9)
# TPU v4-like: 3-D torus of 16^3, 45 GB/s per link, 1 us hops
TPU = comm.Fabric(domain_size=4096.0, scaleup_bytes_per_s=300e9, scaleup_latency_s=1e-6, scaleout_bytes_per_s=3.1e9,
                  torus_dims=3, torus_link_bytes_per_s=45e9)


@pytest.mark.parametrize("n, stride, domain, g_in, n_out", [
    (128, 8, 8, 1, 128),      # DP group with TP 8: one rank per node
    (1536, 1, 8, 8, 192),     # ZeRO-3 without TP: every GPU of 192 nodes
    (512, 12, 3072, 256, 2),  # PaLM: 12-way model parallel, FSDP over a 3072-chip pod, two pods
    (8, 1, 8, 8, 1),          # inside one node
])
def test_group_split(n, stride, domain, g_in, n_out):
    g, d = comm.group_split(n, stride, domain)
    assert float(g) == g_in and float(d) == n_out


def test_hierarchical_bandwidth_uses_all_nics_of_a_node():
    """A group holding all 8 GPUs of each node moves 1/8 of the buffer per NIC; a group with one rank per
    node moves all of it through one NIC share: 8x the network time (4x+ in all, with the NVLink stage)."""
    B = 8e9
    all8 = comm.collective_s("ag", B, 1024, 1, DGX, flat=True)
    one = comm.collective_s("ag", B, 128, 8, DGX, flat=True)
    t_out_all8 = (127 / 128) * (B / 8) / (25e9 * comm.SCALEOUT_ACHIEVABLE_FRAC)
    t_in_all8 = (7 / 8) * B / (300e9 * comm.SCALEUP_ACHIEVABLE_FRAC)
    lat = float(comm.collective_latency_s("ag", 1024, 1, DGX, True))
    assert float(all8) == pytest.approx(t_out_all8 + t_in_all8 + lat, rel=1e-9)
    assert float(one) > 4 * float(all8)


def test_vanilla_zero3_ring_pays_per_rank_nic_share():
    """node_aggregate=False (DeepSpeed ZeRO-3 2021, MiCS Sec. 3.3): each rank's (n-1)/n of the buffer
    crosses its own NIC share -- much slower than the hierarchical form, same latency hops."""
    B = 3.6e9
    agg = comm.collective_s("ag", B, 1536, 1, DGX, flat=True)
    van = comm.collective_s("ag", B, 1536, 1, DGX, flat=True, node_aggregate=False)
    assert float(van) == pytest.approx((1535 / 1536) * B / (25e9 * comm.SCALEOUT_ACHIEVABLE_FRAC)
                                       + float(comm.collective_latency_s("ag", 1536, 1, DGX, True)), rel=1e-6)
    assert float(van) > 3.5 * float(agg)


def test_ring_latency_grows_with_ranks_and_calls():
    lat = [float(comm.collective_latency_s("ag", n, 1, DGX, flat=True)) for n in (64, 256, 1024, 4096)]
    assert all(b > a for a, b in zip(lat, lat[1:]))
    # flat NCCL ring: n - nodes NVLink hops + nodes - 1 network hops
    assert lat[2] == pytest.approx((1024 - 128) * 5e-6 + 127 * comm.SCALEOUT_LATENCY_S + comm.COLLECTIVE_BASE_LATENCY_S)
    # hierarchical: only g - 1 hops inside the domain
    assert float(comm.collective_latency_s("ag", 1024, 1, DGX, flat=False)) < lat[2]
    # every call pays the latency, the bandwidth term sees the total bytes
    one = comm.collective_s("rs", 1e9, 256, 1, DGX, True, calls=1.0)
    many = comm.collective_s("rs", 1e9, 256, 1, DGX, True, calls=100.0)
    assert float(many - one) == pytest.approx(99 * float(comm.collective_latency_s("rs", 256, 1, DGX, True)))


def test_torus_collective_uses_more_axes_for_larger_groups():
    """A group inside one torus axis gets 2 links; one spanning 2 or 3 axes gets 4 or 6."""
    bw1 = float(comm.inner_bandwidth(16, 1, TPU))
    bw2 = float(comm.inner_bandwidth(256, 1, TPU))
    bw3 = float(comm.inner_bandwidth(4096, 1, TPU))
    assert bw1 == pytest.approx(2 * 45e9 * comm.TORUS_ACHIEVABLE_FRAC)
    assert (bw2 / bw1, bw3 / bw1) == (pytest.approx(2.0), pytest.approx(3.0))


def test_all_reduce_prefers_tree_across_many_nodes_for_small_buffers():
    ring = 2.0 * comm.collective_s("rs", 1e6, 4096, 8, DGX, True)
    ar = comm.collective_s("ar", 1e6, 4096, 8, DGX, True)
    assert float(ar) < 0.2 * float(ring)


@settings(max_examples=60, deadline=None)
@given(b=st.floats(1e3, 1e11), n=st.integers(2, 20000), stride=st.sampled_from([1, 2, 4, 8, 16]),
       kind=st.sampled_from(["rs", "ag", "ar"]), agg=st.booleans())
def test_collective_time_monotone_in_bytes_and_zero_for_one_rank(b, n, stride, kind, agg):
    t = float(comm.collective_s(kind, b, n, stride, DGX, True, node_aggregate=agg))
    t2 = float(comm.collective_s(kind, 2 * b, n, stride, DGX, True, node_aggregate=agg))
    assert 0 < t <= t2 and np.isfinite(t2)
    assert float(comm.collective_s(kind, b, 1, stride, DGX, True, node_aggregate=agg)) == 0.0


def test_all_to_all_sends_only_the_other_nodes_share_over_the_network():
    """Expert all-to-all: each rank sends 1/n of its bytes to every rank; only the share bound for other
    nodes crosses the NICs, the rest goes over NVLink at the same time (by hand, 1 GB per rank)."""
    B = 1e9
    bw_in = DGX.scaleup_bytes_per_s * comm.SCALEUP_ACHIEVABLE_FRAC
    bw_out = DGX.scaleout_bytes_per_s * comm.SCALEOUT_ACHIEVABLE_FRAC
    # inside one node: (n-1)/n at the scale-up rate
    assert float(comm.all_to_all_two_tier_s(B, 8, 1, DGX)) == pytest.approx(7 / 8 * B / bw_in + 7 * DGX.scaleup_latency_s)
    # 16 ranks on two nodes: 8/16 of the bytes go to the other node, 7/16 stay inside (NVLink is faster)
    two = float(comm.all_to_all_two_tier_s(B, 16, 1, DGX))
    assert two == pytest.approx(8 / 16 * B / bw_out + 15 * DGX.scaleout_latency_s)
    # one rank per node (stride 8): all but the own share crosses the network
    assert float(comm.all_to_all_two_tier_s(B, 16, 8, DGX)) == pytest.approx(15 / 16 * B / bw_out + 15 * DGX.scaleout_latency_s)
    assert two < 0.6 * float(comm.all_to_all_two_tier_s(B, 16, 8, DGX))
    assert float(comm.all_to_all_two_tier_s(B, 1, 1, DGX)) == 0.0


def test_remote_domains_hit_counts_other_nodes_holding_a_tokens_experts():
    """Expected other nodes a token's k experts fall in (uniform routing over evenly placed experts), by hand and by
    enumerating every choice of experts."""
    from itertools import combinations
    # one node: no other node to reach
    assert float(comm.remote_domains_hit(8, 1, 8, 8, 128)) == 0.0
    # 16 experts on 16 ranks over two nodes, top-2: the other node's 8 experts are all missed with C(8,2)/C(16,2)
    assert float(comm.remote_domains_hit(16, 1, 8, 2, 16)) == pytest.approx(1.0 - 28.0 / 120.0)
    # 4 nodes (EP 32), 16 experts, top-3: enumerate; node of expert e is e // 4, the sender sits on node 0
    hits = [len({e // 4 for e in c} - {0}) for c in combinations(range(16), 3)]
    assert float(comm.remote_domains_hit(32, 1, 8, 3, 16)) == pytest.approx(sum(hits) / len(hits))
    # top-8 of 128 experts over two nodes (Qwen3-30B-A3B, EP 16): the other node is almost always hit, once
    assert 0.99 < float(comm.remote_domains_hit(16, 1, 8, 8, 128)) < 1.0


def test_deduplicated_dispatch_sends_a_token_once_per_other_node():
    """DeepEP / HybridEP: one network copy per (token, other node holding its experts), fanned out over NVLink.
    Inside one node it is the plain all-to-all; across two nodes at top-8 of 128 experts the network share drops from
    k x 8/16 = 4 copies per token to ~1 (by hand), and never exceeds the plain all-to-all's."""
    B = 8e9  # 8 copies of 1 GB of tokens
    bw_in = DGX.scaleup_bytes_per_s * comm.SCALEUP_ACHIEVABLE_FRAC
    bw_out = DGX.scaleout_bytes_per_s * comm.SCALEOUT_ACHIEVABLE_FRAC
    assert float(comm.all_to_all_dedup_s(B, 8, 1, DGX, 8, 128)) == pytest.approx(float(comm.all_to_all_two_tier_s(B, 8, 1, DGX)))
    hits = float(comm.remote_domains_hit(16, 1, 8, 8, 128))
    dedup = float(comm.all_to_all_dedup_s(B, 16, 1, DGX, 8, 128))
    assert dedup == pytest.approx(max(hits / 8 * B / bw_out, 15 / 16 * B / bw_in) + 15 * DGX.scaleout_latency_s)
    plain = float(comm.all_to_all_two_tier_s(B, 16, 1, DGX))
    assert dedup < 0.3 * plain
    # top-1 routing has nothing to deduplicate: the network share is the plain one
    assert float(comm.all_to_all_dedup_s(B, 64, 1, DGX, 1, 64)) == pytest.approx(float(comm.all_to_all_two_tier_s(B, 64, 1, DGX)))
    for n, stride, k in [(16, 1, 2), (64, 1, 8), (64, 2, 6), (256, 1, 8), (32, 8, 4)]:
        assert float(comm.all_to_all_dedup_s(B, n, stride, DGX, k, 256)) <= float(comm.all_to_all_two_tier_s(B, n, stride, DGX)) * (1 + 1e-12)


def test_group_limited_routing_reaches_fewer_nodes():
    """DeepSeek-V3's node-limited routing (8 expert groups, a token's experts from 4): with EP 64 over 8 nodes each node
    holds one group, so a token reaches 4 of the 8 nodes, 3.5 others on average (C(7,4)/C(8,4) = 1/2 misses each),
    where uniform routing over 256 experts reaches ~4.6. A layout whose nodes hold parts of groups keeps the uniform
    draw; the limit never raises the count."""
    uniform = float(comm.remote_domains_hit(64, 1, 8, 8, 256))
    miss = 1.0
    for i in range(8):
        miss *= (224 - i) / (256 - i)
    assert uniform == pytest.approx(7 * (1 - miss))
    assert float(comm.remote_domains_hit(64, 1, 8, 8, 256, 8, 4)) == pytest.approx(3.5)
    # EP 128 over 16 nodes: half a group per node, the groups do not map to nodes: uniform
    assert float(comm.remote_domains_hit(128, 1, 8, 8, 256, 8, 4)) == pytest.approx(float(comm.remote_domains_hit(128, 1, 8, 8, 256)))
    # EP 32 over 4 nodes: two groups per node; at most 4 groups -> the node misses with C(6,4)/C(8,4)
    import math
    assert float(comm.remote_domains_hit(32, 1, 8, 8, 256, 8, 4)) == pytest.approx(3 * (1 - math.comb(6, 4) / math.comb(8, 4)))
    for n in (16, 32, 64, 256):
        assert float(comm.remote_domains_hit(n, 1, 8, 8, 256, 8, 4)) <= float(comm.remote_domains_hit(n, 1, 8, 8, 256)) + 1e-12


def test_expert_groups_are_checked_on_the_model():
    """expert_groups / expert_groups_per_token come together, divide the experts, and the per-token count fits."""
    from pydantic import ValidationError

    from costsim.specs.catalog import get_model
    base = get_model("deepseek-v3").model_dump()
    assert base["expert_groups"] == 8 and base["expert_groups_per_token"] == 4
    from costsim.specs.model import ModelSpec
    for bad, needle in (({"expert_groups_per_token": None}, "together"), ({"expert_groups": 7}, "divide"),
                        ({"expert_groups_per_token": 9}, "cannot exceed")):
        with pytest.raises(ValidationError) as e:
            ModelSpec(**{**base, **bad})
        assert needle in str(e.value)
