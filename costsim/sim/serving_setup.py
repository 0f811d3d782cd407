"""Serving-fleet simulation, setup: the replica groups a serving section asks for (explicit groups, one group,
or the deployment search of a GPU budget), each with its step table, power cap (its own, or the one the site's grid
import cap implies) and host power (`build_groups`). Used by serving.py, which runs the fleet."""

from __future__ import annotations

from dataclasses import dataclass

from costsim.core.power import warm_idle_power_w
from costsim.errors import InputError
from costsim.estimators.deployment import DeploymentSearch, search_deployment
from costsim.estimators.inference import check_engine_layout, check_layout, served_model
from costsim.sim.steptable import CAP_THROUGHPUT_FLOOR_FRAC, StepTable, build_step_table
from costsim.specs.catalog import get_accelerator, get_model, node_for
from costsim.specs.hardware import Accelerator, Node
from costsim.specs.scenario import Scenario
from costsim.specs.serving_sim import ReplicaGroup, ServingWorkload


def host_w(acc: Accelerator, node: Node | None, facility=None) -> float:
    """Host share + cluster fabric/storage per powered-on accelerator, W (as account_run counts them)."""
    from costsim.economics import accounting as ac

    w = float(ac.host_power_per_gpu_w(acc, node))
    if facility is not None and hasattr(ac, "fabric_power_per_gpu_w"):
        w += float(ac.fabric_power_per_gpu_w(acc, facility))
    return w


@dataclass
class Group:
    idx: int
    spec: ReplicaGroup
    acc: Accelerator
    node: Node | None
    table: StepTable
    role: str
    n0: int
    power_cap_w: float | None
    j_per_token_est: float = 0.0
    overhead_w: float = 0.0  # host + fabric per powered-on GPU


# ------------------------------------------------------------------------------------------------
# setup
# ------------------------------------------------------------------------------------------------
def _length_mean(dist, fallback: float) -> float:
    return float(dist.mean) if dist.mean is not None else (0.5 * (dist.low + dist.high) if dist.high else fallback)


def searched_deployment(wl: ServingWorkload, model) -> DeploymentSearch:
    """The deployment search for a serving section that gives a GPU budget (wl.gpus) and leaves the
    per-replica layout open: mean prompt / output lengths of the section, its TTFT / TPOT limits,
    batch capped by the scheduler's max_num_seqs (the same search as `costsim serve --gpus N`)."""
    acc = get_accelerator(wl.hardware)
    i = _length_mean(wl.input_tokens, 512.0)
    o = _length_mean(wl.output_tokens, 256.0)
    return search_deployment(model, acc, int(wl.gpus), input_tokens=max(1, int(round(i))), output_tokens=max(1, int(round(o))),
                             weight_precision=wl.weight_precision, kv_precision=wl.kv_precision, engine=wl.engine,
                             ttft_slo_s=wl.slo.ttft_s, tpot_slo_s=wl.slo.tpot_s, max_batch=wl.scheduler.max_num_seqs, runners_up=0,
                             power_cap_w=_binding_cap_w(wl.power_cap_w_per_gpu, acc))


def _binding_cap_w(cap_w: float | None, acc) -> float | None:
    """The workload's per-GPU power cap where it binds and a step can run under it (between the part's warm idle and its
    TDP), for the deployment search to rank layouts at; the step tables apply any cap (costsim.sim.steptable)."""
    if cap_w is None or not (float(warm_idle_power_w(acc.idle_w, acc.tdp_w)) < cap_w < acc.tdp_w):
        return None
    return cap_w


def _groups_spec(wl: ServingWorkload, model=None) -> list[ReplicaGroup]:
    if wl.replica_groups:
        return list(wl.replica_groups)
    if wl.gpus is not None:
        found = searched_deployment(wl, model if model is not None else served_model(get_model(wl.model), wl))
        if not found.feasible or found.chosen is None:
            raise Infeasible(found.reason or "no feasible deployment")
        d = found.chosen
        return [ReplicaGroup(name="main", hardware=wl.hardware, num_replicas=d.replicas, gpus_per_replica=d.gpus_per_replica, pp=d.pp,
                             ep=d.ep, weight_precision=d.weight_precision, kv_precision=d.kv_precision)]
    return [ReplicaGroup(name="main", hardware=wl.hardware, num_replicas=wl.num_replicas, gpus_per_replica=wl.gpus_per_replica,
                         pp=wl.pp, ep=wl.ep, weight_precision=wl.weight_precision or "bf16", kv_precision=wl.kv_precision)]


def grid_power_cap_w(scenario: Scenario, gspecs: list[ReplicaGroup], accs: list[Accelerator], nodes: list) -> float | None:
    """Per-GPU cap implied by the site's grid import cap: (cap / PUE - host power) / GPUs, or None."""
    cap_mw = scenario.grid.import_cap_mw
    if cap_mw is None:
        return None
    wl = scenario.serving
    n_gpu = 0.0
    host = 0.0
    d = wl.disaggregation
    # each pool runs its own group (disaggregation.prefill_group / decode_group) or the first
    names = [gs.name for gs in gspecs]
    pre_i, dec_i = (d.pool_group_index("prefill", names), d.pool_group_index("decode", names)) if d.enabled else (None, None)
    a = wl.autoscaler
    for i, (gs, acc, node) in enumerate(zip(gspecs, accs, nodes)):
        n = gs.num_replicas
        grow = a.max_replicas if i == 0 else 0  # the most replicas the autoscaled pools this group runs may grow to
        if d.enabled and i in (pre_i, dec_i):
            n = (d.prefill_replicas if i == pre_i else 0) + (d.decode_replicas if i == dec_i else 0)
            grow = (a.bounds("prefill").max_replicas if i == pre_i else 0) + (a.bounds("decode").max_replicas if i == dec_i else 0)
        elif d.enabled:
            grow = 0  # a group beside the pools keeps its num_replicas
        if a.policy != "none":
            n = max(n, grow)  # each autoscaled pool may grow to its max_replicas
        n_gpu += n * gs.gpus_per_replica
        host += n * gs.gpus_per_replica * host_w(acc, node, scenario.facility)
    if n_gpu == 0:
        return None
    return (cap_mw * 1e6 / scenario.facility.pue - host) / n_gpu


def build_groups(scenario: Scenario, model, max_context: int) -> tuple[list[Group], list[str]]:
    wl = scenario.serving
    gspecs = _groups_spec(wl, model)
    accs = [get_accelerator(gs.hardware or wl.hardware) for gs in gspecs]
    nodes = [node_for(a) for a in accs]
    notes: list[str] = []
    grid_cap = grid_power_cap_w(scenario, gspecs, accs, nodes)
    groups = []
    for i, (gs, acc, node) in enumerate(zip(gspecs, accs, nodes)):
        cap = gs.power_cap_w or wl.power_cap_w_per_gpu
        if grid_cap is not None and grid_cap < acc.tdp_w and (cap is None or grid_cap < cap):
            cap = grid_cap
            notes.append(f"grid import cap sets a per-GPU power cap of {grid_cap:.0f} W on group '{gs.name}'")
        warm_idle = float(warm_idle_power_w(acc.idle_w, acc.tdp_w))
        if cap is not None and cap <= warm_idle:
            raise Infeasible(f"power cap {cap:.0f} W per GPU on group '{gs.name}' is at or below warm-idle power "
                              f"({warm_idle:.0f} W): the fleet cannot run under this cap")
        sc = wl.scheduler
        if gs.gpus_per_replica % (gs.pp * gs.ep):
            raise InputError(f"replica group '{gs.name}': gpus_per_replica ({gs.gpus_per_replica}) must be a multiple of pp x ep "
                             f"({gs.pp * gs.ep}).", field="serving.gpus_per_replica")
        tp = gs.gpus_per_replica // (gs.pp * gs.ep)
        try:
            check_engine_layout(wl.engine, tp, gs.pp, gs.ep)
        except InputError as exc:  # in a scenario the sizes come from gpus_per_replica, pp and ep
            size = {"tp": tp, "pp": gs.pp, "ep": gs.ep}[exc.field]
            raise InputError(f"replica group '{gs.name}': {exc.message.split(':')[0]}, and gpus_per_replica "
                             f"{gs.gpus_per_replica} at pp {gs.pp} x ep {gs.ep} asks for {exc.field} {size}; set serving.pp to "
                             "gpus_per_replica (its layers split over the GPUs) or pick another serving.engine.",
                             field="serving.pp") from None
        check_layout(model, acc, gs.gpus_per_replica, tp, gs.pp, gs.ep)
        table = build_step_table(model, acc, tp=tp, pp=gs.pp, ep=gs.ep, engine=wl.engine, weight_precision=gs.weight_precision,
                                 kv_precision=gs.kv_precision, max_batch=sc.max_num_seqs, max_prefill_tokens=sc.max_num_batched_tokens,
                                 max_context=max_context, memory_frac=sc.gpu_memory_utilization_frac, power_cap_w=cap)
        if table.cap_cells_at_floor:
            notes.append(f"power cap {cap:.0f} W on group '{gs.name}' ({acc.id}) is below the working floor (clock-independent power) "
                         f"of {table.cap_cells_at_floor} of {table.cap_cells_total} step-table cells: the power model gives them zero "
                         f"throughput; they run at the floor of {CAP_THROUGHPUT_FLOOR_FRAC:g} of uncapped throughput (raise the cap "
                         "or lower max_num_seqs / max_num_batched_tokens)")
        elif table.cap_throughput_frac_min < 1.0:
            notes.append(f"power cap {cap:.0f} W slows group '{gs.name}' steps to as little as "
                         f"{table.cap_throughput_frac_min:.3g} of uncapped throughput")
        if table.kv_capacity_tokens < sc.kv_block_tokens * 4 + table.state_tokens_per_sequence:  # one sequence's blocks and state
            raise Infeasible(f"model {model.name} in {gs.weight_precision} does not fit on {gs.gpus_per_replica} x {acc.id} "
                              f"with room for a KV cache (weights {table.weight_bytes / 1e9:.1f} GB); use more GPUs per replica or a smaller precision")
        role = "mixed"
        g = Group(i, gs, acc, node, table, role, gs.num_replicas, cap, overhead_w=host_w(acc, node, scenario.facility))
        # modeled J per output token at half the max batch, mid context (power-aware routing order)
        b = max(1, table.max_batch // 2)
        c = 0.5 * max_context
        g.j_per_token_est = table.decode_power_w(b, c) * table.gpus * table.decode_s(b, c) / b
        groups.append(g)
    return groups, notes


class Infeasible(Exception):
    """A valid request the fleet cannot serve (the run returns a result saying why)."""
