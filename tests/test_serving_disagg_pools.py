"""The pools of a disaggregated serving fleet (costsim.sim.serving, autoscaler, replica): each pool's own autoscaler
bounds (serving.autoscaler.prefill_* / decode_*), what a prefill replica's occupancy counts (the KV it holds for the
decode side) and which pool a decode shortfall grows, and which replica group each pool runs."""

from __future__ import annotations

import numpy as np
import pytest
import yaml
from pydantic import ValidationError

from costsim.sim.serving import simulate_serving
from costsim.specs.scenario import Scenario


def _sc(serving: dict, duration_s: float, **top) -> Scenario:
    base = {"model": "llama-3-8b", "hardware": "h100-sxm", "input_tokens": {"kind": "fixed", "mean": 512},
            "output_tokens": {"kind": "fixed", "mean": 128}}
    return Scenario.model_validate({"name": "pools", "serving": {**base, **serving}, "simulation": {"seed": 0, "duration_s": duration_s},
                                    **top})


def _conserved(s: dict) -> None:
    reasons = ("too_long", "queue_full", "curtailed", "no_decode_replica")
    assert s["requests_dropped"] == sum(s[f"requests_dropped_{k}"] for k in reasons)
    assert s["requests_arrived"] == s["requests_completed"] + s["requests_dropped"] + s["requests_in_flight_at_end"]
    assert s["littles_law_window_rel_error"] < 1e-6


_DIS = {"enabled": True, "prefill_replicas": 1, "decode_replicas": 1}


def _decoded_on(o) -> set[int]:
    """The replicas completed requests decoded on (a request still queued for a prefill names its prefill replica)."""
    req = o.tables["requests"]
    return set(np.asarray(req["replica"])[~np.isnan(np.asarray(req["e2e_s"]))].tolist())


# ---- per-pool autoscaler bounds ------------------------------------------------------------------------------------
def test_each_pool_keeps_its_own_fewest_replicas():
    """min_replicas bounded both pools alike: a decode pool kept warm at 3 replicas beside one prefill replica could
    not be asked for. decode_min_replicas 3 with prefill_max_replicas 1: light load, 4 GPUs on once booted."""
    o = simulate_serving(_sc({"arrivals": {"process": "poisson", "rate_per_s": 0.2}, "disaggregation": _DIS,
                              "autoscaler": {"policy": "queue_length", "interval_s": 10, "startup_delay_s": 20, "min_replicas": 1,
                                             "max_replicas": 8, "decode_min_replicas": 3, "prefill_max_replicas": 1}}, 300.0), seed=0)
    s, ts = o.summary, o.timeseries
    _conserved(s)
    assert s["requests_dropped"] == 0
    booted = ts["t_s"] >= 60.0
    assert np.all(ts["gpus_on"][booted] >= 4.0 - 1e-9) and s["num_gpus_peak"] == 4


def test_each_pool_grows_only_to_its_own_most_replicas():
    """Decode-heavy load (256-token prompts, 512-token answers, 32 sequences a replica) grows the decode pool; under
    decode_max_replicas 3 it stops at 3 while the shared max_replicas 8 still bounds the prefill pool."""
    o = simulate_serving(_sc({"arrivals": {"process": "poisson", "rate_per_s": 20.0},
                              "input_tokens": {"kind": "fixed", "mean": 256}, "output_tokens": {"kind": "fixed", "mean": 512},
                              "scheduler": {"max_num_seqs": 32, "max_num_batched_tokens": 4096}, "disaggregation": _DIS,
                              "autoscaler": {"policy": "queue_length", "target_queue_per_replica": 1.0, "interval_s": 10,
                                             "startup_delay_s": 20, "min_replicas": 1, "max_replicas": 8, "decode_max_replicas": 3}},
                             300.0), seed=0)
    s = o.summary
    _conserved(s)
    assert len(_decoded_on(o)) == 3  # the decode pool grew to its own bound, not to max_replicas
    assert s["num_gpus_peak"] <= 3 + 8


@pytest.mark.parametrize("auto, needle", [
    ({"prefill_min_replicas": 3, "prefill_max_replicas": 2},
     "autoscaler.prefill_min_replicas (3) exceeds autoscaler.prefill_max_replicas (2)"),
    ({"decode_min_replicas": 5, "max_replicas": 4}, "autoscaler.decode_min_replicas (5) exceeds autoscaler.max_replicas (4)"),
    ({"min_replicas": 3, "prefill_max_replicas": 2}, "autoscaler.min_replicas (3) exceeds autoscaler.prefill_max_replicas (2)"),
])
def test_a_pools_bounds_that_cross_are_refused_by_name(auto, needle):
    with pytest.raises(ValidationError) as e:
        _sc({"disaggregation": _DIS, "autoscaler": {"policy": "queue_length", **auto}}, 60.0)
    assert needle in str(e.value)


def test_pool_bounds_need_disaggregation_and_hold_its_starting_pools():
    with pytest.raises(ValidationError, match="autoscaler.decode_max_replicas bounds a pool of a disaggregated fleet; set "
                                              "serving.disaggregation.enabled: true"):
        _sc({"autoscaler": {"policy": "queue_length", "decode_max_replicas": 2}}, 60.0)
    with pytest.raises(ValidationError, match=r"serving.disaggregation.decode_replicas \(3\) starts the decode pool above "
                                              r"autoscaler.decode_max_replicas \(2\)"):
        _sc({"disaggregation": {**_DIS, "decode_replicas": 3}, "autoscaler": {"policy": "queue_length", "decode_max_replicas": 2}}, 60.0)
    # the shared keys behave as before: a pool may start at max_replicas, and without a policy nothing is checked
    _sc({"disaggregation": {**_DIS, "decode_replicas": 3}, "autoscaler": {"policy": "queue_length", "max_replicas": 3}}, 60.0)
    _sc({"disaggregation": {**_DIS, "decode_replicas": 3}, "autoscaler": {"decode_max_replicas": 2}}, 60.0)


def test_a_crossed_pool_bound_exits_2_naming_the_fields(tmp_path, cli):
    d = {"name": "x", "simulation": {"duration_s": 60},
         "serving": {"model": "llama-3-8b", "hardware": "h100-sxm", "disaggregation": _DIS, "autoscaler": {"policy": "queue_length"}}}
    f = tmp_path / "s.yaml"
    f.write_text(yaml.safe_dump(d))
    r = cli("run", str(f), "--out", str(tmp_path / "o"), "--set", "serving.autoscaler.decode_min_replicas=5",
            "--set", "serving.autoscaler.decode_max_replicas=2")
    assert r.returncode == 2, r.stderr
    assert "autoscaler.decode_min_replicas (5) exceeds autoscaler.decode_max_replicas (2)" in r.stderr
    assert "Traceback" not in r.stderr + r.stdout


def test_a_balancing_authority_sees_each_pool_grown_to_its_own_bound():
    """The site a balancing authority curtails was sized as max_replicas of the first replica: one pool of a
    disaggregated fleet (3 replicas' peak where both pools may grow to 3 each)."""
    def site_w(auto: dict) -> float:
        sc = _sc({"arrivals": {"process": "poisson", "rate_per_s": 1.0}, "disaggregation": _DIS, "autoscaler": auto}, 60.0,
                 grid={"balancing_authority": {"region": "us-ercot", "year": 2023}})
        return float(simulate_serving(sc, seed=0).summary["ba_site_load_w"])

    one = site_w({"policy": "none"}) / 2  # one prefill + one decode replica, fixed
    assert site_w({"policy": "queue_length", "max_replicas": 3}) == pytest.approx(6 * one)
    assert site_w({"policy": "queue_length", "max_replicas": 3, "decode_max_replicas": 5}) == pytest.approx(8 * one)


def test_the_replica_guard_and_the_grid_cap_count_each_pool_at_its_own_bound():
    """The work guard (COSTSIM_MAX_REPLICAS) and the per-GPU cap a grid import cap implies size an autoscaled
    disaggregated fleet as both pools grown to their own max_replicas."""
    from costsim.sim.serving_setup import grid_power_cap_w
    from costsim.specs.catalog import get_accelerator, node_for
    from costsim.specs.limits import serving_estimates
    from costsim.specs.serving_sim import ReplicaGroup

    def both(auto: dict) -> tuple[float, float]:
        sc = _sc({"disaggregation": _DIS, "autoscaler": {"policy": "queue_length", **auto}}, 60.0, grid={"import_cap_mw": 0.01})
        reps = next(e.estimate for e in serving_estimates(sc) if e.key == "replicas")
        acc = get_accelerator("h100-sxm")
        return reps, grid_power_cap_w(sc, [ReplicaGroup(name="main")], [acc], [node_for(acc)])

    reps, cap_w = both({"max_replicas": 3})
    assert reps == 6
    reps, cap_w_more = both({"max_replicas": 3, "decode_max_replicas": 5})
    assert reps == 8
    it_w = 0.01e6 / _sc({}, 60.0).facility.pue  # the cap is (IT power - host power per GPU x GPUs) / GPUs
    assert cap_w - cap_w_more == pytest.approx(it_w / 6 - it_w / 8)  # 6 GPUs, then 8


# ---- what a prefill replica's occupancy counts, and which pool a decode shortfall grows ----------------------------
class _NoDecodeSide:
    """The fleet seen by one prefill replica whose decode side never copies a prompt's KV (a decode pool far too small)."""

    def __init__(self, env, prompts: list[int]) -> None:
        n = len(prompts)
        self.env, self.inp, self.gen, self.out = env, list(prompts), [0] * n, [64] * n
        self.sched, self.first = [float("nan")] * n, [float("nan")] * n
        self.handed: list[int] = []

    def handoff(self, rid, r, t) -> None:
        self.handed.append(rid)

    def first_token(self, t) -> None:
        pass

    def add_busy(self, *args) -> None:
        pass

    def idle_begin(self, r, t) -> None:
        pass


def test_a_prefill_replica_holding_kv_for_the_decode_side_reads_its_memory_full():
    """A prefill replica's occupancy was its prompt backlog alone: with its memory full of finished prompts' KV that
    no decode replica had room for (outbound), it could take no prompt yet read 0 once its queue was empty. It now
    reads the KV blocks it holds, outbound included, and reads empty again when the decode side has copied them."""
    import simpy

    from costsim.sim.replica import Replica
    from costsim.sim.steptable import build_step_table
    from costsim.specs.catalog import get_accelerator, get_model
    from costsim.specs.serving_sim import SchedulerSpec

    sched = SchedulerSpec(gpu_memory_utilization_frac=0.25)
    table = build_step_table(get_model("llama-3-8b"), get_accelerator("h100-sxm"), tp=1, weight_precision="bf16", kv_precision=None,
                             max_batch=sched.max_num_seqs, max_prefill_tokens=sched.max_num_batched_tokens, max_context=4096,
                             memory_frac=sched.gpu_memory_utilization_frac, power_cap_w=None)
    n = int(0.6 * table.kv_capacity_tokens // 2000)  # prompts of 2,000 tokens filling about half the KV cache
    env = simpy.Environment()
    fleet = _NoDecodeSide(env, [2000] * n)
    r = Replica(env, 0, 0, table, sched, "prefill", fleet)
    r.state = "active"
    r.waiting.extend(range(n))
    r.start()
    env.run(until=60.0)
    assert len(fleet.handed) == n and r.outbound == n and not r.waiting and not r.prefilling  # all done, KV held here
    held = (n * 2000 / sched.kv_block_tokens + n * r.seq_blocks) / r.cap_blocks
    assert 0.45 < held < 0.65
    assert r.occupancy_frac() == pytest.approx(held)  # read 0 before: no prompt left to prefill
    for rid in fleet.handed:
        r.kv_sent(fleet.inp[rid])  # the decode side copies them
    assert r.occupancy_frac() == pytest.approx(0.0, abs=1e-12)


def _short(auto: dict, rate_per_s: float = 4.0) -> dict:
    """2,000-token prompts and 1,500-token answers on Llama 3 8B replicas with a quarter of an H100's memory: one
    prefill replica keeps up with 4 prompts/s (8,000 tokens/s) while the decode pool needs ~10 replicas."""
    return {"arrivals": {"process": "poisson", "rate_per_s": rate_per_s}, "input_tokens": {"kind": "fixed", "mean": 2000},
            "output_tokens": {"kind": "fixed", "mean": 1500}, "scheduler": {"gpu_memory_utilization_frac": 0.25},
            "disaggregation": _DIS, "autoscaler": {"interval_s": 10, "startup_delay_s": 20, "min_replicas": 1, **auto}}


@pytest.mark.parametrize("auto", [{"policy": "target_utilization", "target_utilization_frac": 0.6},
                                  {"policy": "queue_length", "target_queue_per_replica": 1.0}])
def test_a_decode_shortfall_does_not_grow_the_prefill_pool(auto):
    """A decode pool that cannot keep up parks finished prompts' KV on the prefill replicas, whose prompts then queue:
    the prefill pool grew on that queue to max_replicas (6 prefill replicas beside 6 decode ones, 12 GPUs, where one
    prefill replica keeps up), parking more KV at idle power. It now holds while the decode pool is short."""
    o = simulate_serving(_sc(_short({**auto, "max_replicas": 6}), 200.0), seed=0)
    s = o.summary
    _conserved(s)
    assert len(_decoded_on(o)) == 6  # the decode pool grew to its bound
    assert s["num_gpus_peak"] <= 6 + 1  # and the prefill pool stayed at one replica


def test_the_decode_pool_counts_the_prompts_its_shortfall_holds_on_the_prefill_side():
    """queue_length scaled the decode pool on the KV copies queued at its replicas, at most the few prompts a prefill
    replica's memory parks: at 8 waiting per replica it grew one replica at a time while the prompts waited at the
    prefill replica (TTFT p50 50 s). The prompts queued behind the parked KV now count as the decode pool's queue (a
    Dynamo decode worker reserves the KV before the remote prefill: they would wait at the decode workers)."""
    s = simulate_serving(_sc(_short({"policy": "queue_length", "target_queue_per_replica": 8.0, "max_replicas": 10,
                                     "prefill_max_replicas": 1}), 200.0), seed=0).summary
    _conserved(s)
    assert s["ttft_p50_s"] < 10.0 and s["requests_completed"] > 0.75 * s["requests_arrived"]


def test_a_decode_replica_that_cannot_take_the_kv_queued_for_it_reads_full():
    """A decode replica's blocks in use stop short of its capacity by less than one sequence (2,000 + 1,500 tokens in
    a quarter of an H100: ~0.9), so target_utilization 0.95 never grew the decode pool past 2 replicas however long
    the KV waited for it. A decode replica with KV queued that it has no room for reads full."""
    s = simulate_serving(_sc(_short({"policy": "target_utilization", "target_utilization_frac": 0.95, "max_replicas": 10,
                                     "prefill_max_replicas": 1}), 200.0), seed=0).summary
    _conserved(s)
    assert s["num_gpus_peak"] >= 1 + 5


# ---- the replica group each pool runs ----------------------------------------------------------------------------
def _split(order: tuple[str, str], **disagg) -> dict:
    """Llama 3 70B prompts on a TP4 H100 replica (FP8), decodes on two TP4 A100 replicas (Splitwise), the groups
    listed in `order`."""
    groups = {"prompt": {"name": "prompt", "hardware": "h100-sxm", "num_replicas": 1, "gpus_per_replica": 4, "weight_precision": "fp8"},
              "token": {"name": "token", "hardware": "a100-80gb-sxm", "num_replicas": 0, "gpus_per_replica": 4, "weight_precision": "bf16"}}
    return {"model": "llama-3-70b", "hardware": "h100-sxm", "arrivals": {"process": "poisson", "rate_per_s": 4.0},
            "input_tokens": {"kind": "fixed", "mean": 1500}, "output_tokens": {"kind": "fixed", "mean": 200},
            "replica_groups": [groups[k] for k in order],
            "disaggregation": {"enabled": True, "prefill_replicas": 1, "decode_replicas": 2, "decode_group": "token", **disagg}}


def test_the_prefill_pool_runs_the_group_prefill_group_names_in_any_order():
    """The prefill pool always ran the first replica group: listing the decode group first put the prompts on the
    A100s as well. disaggregation.prefill_group names the prefill pool's group; the order of the groups no longer
    matters, and without it the first group runs the prefill pool as before."""
    first = simulate_serving(_sc(_split(("prompt", "token")), 300.0), seed=0).summary
    named = simulate_serving(_sc(_split(("token", "prompt"), prefill_group="prompt"), 300.0), seed=0).summary
    for s in (first, named):
        _conserved(s)
        assert s["requests_dropped"] == 0 and s["num_gpus_peak"] == 12
    for k in ("ttft_p50_s", "tpot_p50_s", "e2e_p50_s", "energy_per_token_j"):
        assert named[k] == pytest.approx(first[k], rel=0.02), k
    old = simulate_serving(_sc({**_split(("token", "prompt")), "arrivals": {"process": "poisson", "rate_per_s": 1.0}}, 120.0),
                           seed=0).summary  # no prefill_group: the first group (token, A100) runs both pools, as before
    _conserved(old)
    assert old["num_gpus_peak"] == 3 * 4 + 4  # the prompt group's own H100 replica runs beside them, mixed


@pytest.mark.parametrize("change, needle", [
    ({"disaggregation": {"enabled": False, "prefill_group": "prompt"}},
     "serving.disaggregation.prefill_group names the prefill pool's group; set disaggregation.enabled: true"),
    ({"disaggregation": {"prefill_group": "prompts"}}, "serving.disaggregation.prefill_group 'prompts' must name exactly one"),
    ({"disaggregation": {"prefill_group": "prompt"}, "prompt": {"num_replicas": 3}},
     "replica group 'prompt' runs the prefill pool, whose size is disaggregation.prefill_replicas (1); set its num_replicas to 0"),
    ({"disaggregation": {"prefill_group": "prompt", "decode_group": "prompt"}, "prompt": {"num_replicas": 2}},
     "replica group 'prompt' runs the prefill and decode pools, whose size is disaggregation.prefill_replicas + "
     "disaggregation.decode_replicas (3); set its num_replicas to 0 (or to 3)"),
])
def test_a_prefill_group_that_cannot_be_used_is_refused_by_name(change, needle):
    """(The groups listed decode group first: 'prompt' is the second.)"""
    d = _split(("token", "prompt"), prefill_group="prompt")
    d["disaggregation"].update(change["disaggregation"])
    for g in d["replica_groups"]:
        g.update(change.get(g["name"], {}))
    with pytest.raises(ValidationError) as e:
        _sc(d, 60.0)
    assert needle in str(e.value)


def test_both_pools_may_run_one_group_that_is_not_first():
    d = _split(("prompt", "token"), prefill_group="token")
    d["replica_groups"][1]["num_replicas"] = 3  # = prefill_replicas + decode_replicas
    d["arrivals"]["rate_per_s"] = 1.0
    s = simulate_serving(_sc(d, 120.0), seed=0).summary
    _conserved(s)
    assert s["num_gpus_peak"] == 3 * 4 + 4  # both pools on the A100s, the prompt group's H100 replica beside them
