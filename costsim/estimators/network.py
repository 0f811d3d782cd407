"""Where a device's traffic goes beyond its scale-up fabric: its share of the node's NICs, and (for serving) the GPUs it
reaches on the scale-up fabric before traffic crosses the network. One rule for the training and the serving cores."""

from __future__ import annotations

from costsim.core.comm import NO_NETWORK_BYTES_PER_S
from costsim.specs.catalog import node_for
from costsim.specs.hardware import Accelerator, Node


def nic_share_bytes_per_s(acc: Accelerator, node: Node | None) -> float:
    """A device's share of its node's scale-out NICs, bytes/s per direction: the node's NICs over its devices, else the
    profile's per-device scale-out rate, else NO_NETWORK_BYTES_PER_S (no network published)."""
    if node is not None and node.scaleout_bytes_per_s > 0:
        out = node.scaleout_bytes_per_s / node.devices_per_node
    else:
        out = acc.scaleout_bytes_per_s
    return float(out) if out > 0 else NO_NETWORK_BYTES_PER_S


def network_parameters(acc: Accelerator) -> dict[str, float]:
    """What a serving replica beyond one scale-up group pays for its collectives, expert all-to-all and pipeline
    hand-offs (costsim.core.inference_types.Device fields): the GPUs one device reaches on its scale-up fabric at the
    profile's scale-up rate (the NVLink domain; for parts without NVLink, whose profile rate is PCIe, the server they
    ship in: its usual node) and its NIC share."""
    node = node_for(acc)
    per_node = node.devices_per_node if node is not None else 1
    # a part without NVLink (domain 1: the profile's scale-up rate is PCIe) reaches its server's GPUs at that rate; a
    # part with a smaller NVLink group than its server (bridged PCIe pairs) reaches only the group at the NVLink rate
    group = acc.scaleup.domain_size if acc.scaleup.domain_size > 1 else per_node
    return {"local_group_size": float(max(group, 1)), "scaleout_bytes_per_s": nic_share_bytes_per_s(acc, node)}
