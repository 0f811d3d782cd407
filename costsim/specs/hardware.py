"""Accelerator and node/system specs. Hardware is data (hardware_profiles/*.yaml), never code.

YAML keys carry scaled units in their names where humans write them (`memory_gb`,
`memory_bandwidth_gb_per_s`, `peak_tflop_per_s`); the SI properties (`memory_bytes`,
`memory_bandwidth_bytes_per_s`, `peak_flop_per_s(dtype)`) are what the rest of the code uses.
"""

from __future__ import annotations

from typing import Annotated, Literal

from pydantic import Field, StringConstraints, model_validator

from costsim.specs.base import Spec
from costsim.units import GB, MIB, TERA

DTYPES = ("fp64", "fp32", "tf32", "bf16", "fp16", "fp8", "int8", "int4", "fp6", "fp4")
Dtype = Literal["fp64", "fp32", "tf32", "bf16", "fp16", "fp8", "int8", "int4", "fp6", "fp4"]
Category = Literal["datacenter_gpu", "ai_accelerator", "consumer_gpu", "laptop_soc", "desktop_soc", "phone_soc", "edge_module"]
ID_PATTERN = r"^[a-z0-9]+([.-][a-z0-9]+)*$"

# Upper bounds of a device profile's numbers: far above any part built (so none is refused), low enough that a typo
# (1e308) is named, not priced into inf / nan results. The largest single devices: Cerebras WSE-3 (CS-3 system ~23 kW,
# 125 PFLOP/s FP16 sparse, 21 PB/s on-chip SRAM bandwidth; cerebras.ai CS-3 datasheet, 2024).
MAX_DEVICE_POWER_W = 100_000.0        # 100 kW
MAX_PEAK_TFLOP_PER_S = 10_000_000.0   # 10 EFLOP/s
MAX_MEMORY_GB = 1_000_000.0           # 1 PB
MAX_BANDWIDTH_GB_PER_S = 100_000_000.0  # 100 PB/s
MAX_PRICE_USD = 1e9                   # a device, or a device-hour


class PeakRates(Spec):
    """Dense peak matrix rate per datatype in TFLOP/s (TOPS for integer types). Empty = not
    supported or not published."""

    fp64: float | None = Field(None, ge=0, le=MAX_PEAK_TFLOP_PER_S, description="FP64 peak, TFLOP/s (tensor/matrix rate where one exists).")
    fp32: float | None = Field(None, ge=0, le=MAX_PEAK_TFLOP_PER_S, description="FP32 peak (vector/CUDA-core), TFLOP/s.")
    tf32: float | None = Field(None, ge=0, le=MAX_PEAK_TFLOP_PER_S, description="TF32 dense matrix peak, TFLOP/s.")
    bf16: float | None = Field(None, ge=0, le=MAX_PEAK_TFLOP_PER_S, description="BF16 dense matrix peak, TFLOP/s.")
    fp16: float | None = Field(None, ge=0, le=MAX_PEAK_TFLOP_PER_S, description="FP16 dense matrix peak, TFLOP/s.")
    fp8: float | None = Field(None, ge=0, le=MAX_PEAK_TFLOP_PER_S, description="FP8 dense matrix peak, TFLOP/s.")
    int8: float | None = Field(None, ge=0, le=MAX_PEAK_TFLOP_PER_S, description="INT8 dense matrix peak, TOP/s.")
    int4: float | None = Field(None, ge=0, le=MAX_PEAK_TFLOP_PER_S, description="INT4 dense matrix peak, TOP/s.")
    fp6: float | None = Field(None, ge=0, le=MAX_PEAK_TFLOP_PER_S, description="FP6 (MXFP6) dense matrix peak, TFLOP/s (Blackwell: the FP8 rate; MI355X: the FP4 rate).")
    fp4: float | None = Field(None, ge=0, le=MAX_PEAK_TFLOP_PER_S, description="FP4 (NVFP4/MXFP4) dense matrix peak, TFLOP/s.")


class ScaleUp(Spec):
    fabric: str = Field(..., description="Scale-up fabric name (NVLink 4.0, Infinity Fabric, ICI, PCIe, none).")
    bandwidth_gb_per_s_per_direction: float = Field(
        ..., ge=0, description="Scale-up bandwidth per device, per direction, GB/s (10^9 B/s). NVLink '900 GB/s' is 450 per direction."
    )
    domain_size: int = Field(..., ge=1, description="Devices in one scale-up domain (NVLink/NVSwitch node, ICI slice, bridged pair).")
    latency_s: float = Field(5e-6, ge=0, description="Per-hop latency of one collective step on the scale-up fabric, s.")
    ring_ranks_per_device: int | None = Field(None, ge=1, le=64, description="A ring instead of a switch: each device has "
                                              "links to two neighbours only (Inferentia2: 2 NeuronLinks per chip, a ring of 12 in "
                                              "an inf2.48xlarge), so a small collective walks the ring, 2(n x r - 1) hops of "
                                              "latency_s for an all-reduce over n devices of r ranks each (AWS Neuron: one rank "
                                              "per NeuronCore). None: a switched or routed fabric, log-depth latency.")
    torus_dims: int | None = Field(None, ge=1, le=3, description="A torus instead of a switch (TPU ICI): its dimensions (2 or 3). Collectives then run along the torus axes a group spans.")
    link_gb_per_s_per_direction: float | None = Field(None, gt=0, description="Torus only: bandwidth of one link, per direction, GB/s (a ring along one axis uses two links).")


class Prices(Spec):
    purchase_usd: float | None = Field(None, ge=0, le=MAX_PRICE_USD, description="Typical purchase price per device, USD (midpoint where a range is known).")
    purchase_usd_low: float | None = Field(None, ge=0, le=MAX_PRICE_USD, description="Low end of the purchase price range, USD.")
    purchase_usd_high: float | None = Field(None, ge=0, le=MAX_PRICE_USD, description="High end of the purchase price range, USD.")
    rental_usd_per_hour_low: float | None = Field(None, ge=0, le=MAX_PRICE_USD, description="On-demand rental per device-hour, low end across providers, USD.")
    rental_usd_per_hour_high: float | None = Field(None, ge=0, le=MAX_PRICE_USD, description="On-demand rental per device-hour, high end across providers, USD.")
    price_date: str | None = Field(None, description="Year-month (YYYY-MM) of the price sources.")
    basis: str | None = Field(None, description="How the prices were obtained (street price, kit price / 8, estimate).")


class Efficiency(Spec):
    """Profile parameters of the performance model. Defaults are fitted on the calibration cases
    (see costsim/core/calibration.py); a profile overrides them only with a source or a note."""

    matmul_frac: float | None = Field(None, gt=0, le=1, description="Achievable fraction of dense peak for large matmuls (None = fitted default for the category).")
    memory_bandwidth_frac: float | None = Field(None, gt=0, le=1, description="Achievable fraction of peak memory bandwidth when streaming weights (None = fitted default).")
    step_overhead_s: float | None = Field(None, ge=0, description="Fixed per-step overhead of an inference step (framework, kernel launches), s (None = default).")
    num_compute_units: int | None = Field(None, gt=0, description="Streaming multiprocessors / compute units that GEMM output tiles are spread over (wave quantization in costsim.core.matmul); None = category default.")
    mamf_bf16_tflop_per_s: float | None = Field(None, gt=0, le=1.0e5, description="Maximum achievable BF16 matmul rate measured on this device (the best large GEMM of a shape search, e.g. ml-engineering's mamf-finder), TFLOP/s. Where the device has no fitted family in costsim.core.calibration, its GEMM ceiling is the measured H100 one scaled by (this / bf16 peak) / (the H100's MAMF / its peak); None = MATMUL_FRAC_DEFAULT. Needs a source in `note`.")
    fp4_tensor_pj_per_flop: float | None = Field(None, gt=0, le=100.0, description="Energy of one FP4 (NVFP4 / MXFP4) tensor-core FLOP, pJ: the part then runs FP4 GEMMs no faster than its power limit pays for ((TDP - idle) / energy per FLOP over a step; costsim.core.power.power_limit_stretch_s). None = not modelled (the GEMM fraction alone). Needs a source or the fitted case in `note`.")
    note: str | None = Field(None, description="Where these numbers come from.")


class Accelerator(Spec):
    id: str = Field(..., pattern=ID_PATTERN, description="Stable kebab-case id, e.g. h100-sxm.")
    aliases: list[Annotated[str, StringConstraints(pattern=ID_PATTERN)]] = Field(default_factory=list, description="Other names this part answers to wherever an id is accepted, e.g. trn1 for trainium1; only names that mean one part (no h100: SXM, PCIe and NVL differ). Results carry `id`; an alias never names another entry.")
    name: str = Field(..., description="Marketing name.")
    vendor: str = Field(..., description="Vendor.")
    category: Category = Field(..., description="Device class; selects default efficiency and power parameters.")
    year: int = Field(..., ge=2000, le=2035, description="Year of launch or first availability.")
    memory_gb: float = Field(..., gt=0, le=MAX_MEMORY_GB, description="Device memory, GB (10^9 bytes). For SoCs: unified memory of the configuration described.")
    memory_reported_mib: float | None = Field(None, gt=0, description="Total device memory as the driver reports it (nvidia-smi 'Total', rocm-smi 'VRAM Total Memory'), MiB (2^20 bytes): what serving engines and training frameworks allocate from. Vendors round capacities to marketing 'GB' (an H100 '80GB' reports 81,559 MiB = 85.5 GB). None = memory_gb; needs a source in `sources`.")
    memory_type: str | None = Field(None, description="HBM3, LPDDR5, ...")
    memory_bandwidth_gb_per_s: float = Field(..., gt=0, le=MAX_BANDWIDTH_GB_PER_S, description="Peak memory bandwidth, GB/s (10^9 B/s).")
    dma_bandwidth_gb_per_s: float | None = Field(None, gt=0, description="Aggregate peak throughput of the DMA engines that move every HBM read into on-chip SRAM, GB/s, on devices whose cores have no load path of their own to HBM (AWS NeuronCores: 16 DMA engines per core). Where it is below the HBM peak times the achievable fraction, streaming is DMA-bound at this rate. None = the HBM bandwidth is the only limit; needs a source in `sources`.")
    peak_tflop_per_s: PeakRates = Field(..., description="Dense peak rate per datatype (TFLOP/s; TOP/s for int).")
    tdp_w: float = Field(..., gt=0, le=MAX_DEVICE_POWER_W, description="Maximum board/module power (TDP/TBP), W. For SoCs: sustained package power under load.")
    idle_w: float = Field(..., ge=0, le=MAX_DEVICE_POWER_W, description="Idle power, W (measured where a source gives one, else an estimate with a note).")
    scaleup: ScaleUp = Field(..., description="Scale-up fabric (NVLink/ICI/...).")
    scaleout_gb_per_s: float = Field(0.0, ge=0, description="Scale-out network bandwidth per device, per direction, GB/s (400 Gb/s NIC = 50).")
    host_link_gb_per_s_per_direction: float | None = Field(None, gt=0, le=1.0e4, description="Achievable bandwidth between the device's memory and its host's memory, per direction, GB/s: what offloaded activations (training with activation offload) move over. GH200's NVLink-C2C 450 per direction; None = the category default (costsim.core.training_shapes.HOST_LINK_DEFAULT_BYTES_PER_S: a PCIe Gen4/5 x16 link). Needs a source in `sources`.")
    default_node: str | None = Field(None, description="Id of the node/system profile this device usually ships in (host power, NICs).")
    prices: Prices = Field(default_factory=Prices, description="Purchase and rental prices with their date.")
    embodied_kgco2e: float | None = Field(None, ge=0, description="Embodied carbon per device (manufacturing), kg CO2e, where known or estimated.")
    lifetime_years: float = Field(5.0, gt=0, description="Service life used to amortize purchase price and embodied carbon, years.")
    efficiency: Efficiency = Field(default_factory=Efficiency, description="Performance-model parameters (defaults fitted on calibration cases).")
    sources: list[str] = Field(..., min_length=1, description="URLs or papers for the values above.")
    notes: str | None = Field(None, description="Caveats, estimates, disagreements between sources.")

    # --- SI views -------------------------------------------------------------------------
    @property
    def memory_bytes(self) -> float:
        """Allocatable device memory, bytes: the driver-reported total where the profile has it, else the marketing capacity."""
        if self.memory_reported_mib is not None:
            return self.memory_reported_mib * MIB
        return self.memory_gb * GB

    @property
    def memory_bandwidth_bytes_per_s(self) -> float:
        return self.memory_bandwidth_gb_per_s * GB

    @property
    def dma_bandwidth_bytes_per_s(self) -> float | None:
        return None if self.dma_bandwidth_gb_per_s is None else self.dma_bandwidth_gb_per_s * GB

    @property
    def streaming_frac_cap(self) -> float:
        """Largest fraction of the HBM peak that kernels can stream: the DMA engines' aggregate
        throughput over the HBM peak where the profile gives one (at most 1), else 1."""
        if self.dma_bandwidth_gb_per_s is None:
            return 1.0
        return min(1.0, self.dma_bandwidth_gb_per_s / self.memory_bandwidth_gb_per_s)

    @property
    def scaleup_bytes_per_s(self) -> float:
        return self.scaleup.bandwidth_gb_per_s_per_direction * GB

    @property
    def scaleout_bytes_per_s(self) -> float:
        return self.scaleout_gb_per_s * GB

    @property
    def host_link_bytes_per_s(self) -> float | None:
        """Device <-> host memory bandwidth per direction, B/s, where the profile gives one (None: the default)."""
        return None if self.host_link_gb_per_s_per_direction is None else self.host_link_gb_per_s_per_direction * GB

    def peak_flop_per_s(self, dtype: str) -> float:
        """Dense peak for `dtype`, FLOP/s. Falls back along the chain a real kernel would use
        (fp8 -> bf16/fp16 -> fp32) when a datatype is not supported, so a model can still run."""
        chain = {
            "fp4": ["fp4", "fp8", "int8", "bf16", "fp16", "fp32"],
            "fp6": ["fp6", "fp8", "bf16", "fp16", "fp32"],
            "int4": ["int4", "int8", "fp8", "bf16", "fp16", "fp32"],
            "int8": ["int8", "fp8", "bf16", "fp16", "fp32"],
            "fp8": ["fp8", "bf16", "fp16", "fp32"],
            "bf16": ["bf16", "fp16", "fp32"],
            "fp16": ["fp16", "bf16", "fp32"],
            "tf32": ["tf32", "fp32"],
            "fp32": ["fp32", "tf32", "bf16", "fp16"],
            "fp64": ["fp64", "fp32"],
        }[dtype]
        for d in chain:
            v = getattr(self.peak_tflop_per_s, d)
            if v:
                return v * TERA
        return 0.0

    def supports(self, dtype: str) -> bool:
        return bool(getattr(self.peak_tflop_per_s, dtype))

    @property
    def rental_usd_per_hour(self) -> float | None:
        lo, hi = self.prices.rental_usd_per_hour_low, self.prices.rental_usd_per_hour_high
        if lo is not None and hi is not None:
            return 0.5 * (lo + hi)
        return lo if lo is not None else hi

    @model_validator(mode="after")
    def _check(self) -> "Accelerator":
        rates = self.peak_tflop_per_s
        if not any(getattr(rates, d) for d in DTYPES):
            raise ValueError(f"hardware '{self.id}': peak_tflop_per_s needs at least one datatype with a rate")
        if self.memory_reported_mib is not None:
            ratio = self.memory_reported_mib * MIB / (self.memory_gb * GB)
            if not 0.8 <= ratio <= 1.25:
                raise ValueError(f"hardware '{self.id}': memory_reported_mib ({self.memory_reported_mib:g} MiB = "
                                 f"{self.memory_reported_mib * MIB / GB:.4g} GB) is not within 0.8-1.25x of memory_gb "
                                 f"({self.memory_gb:g} GB); give the driver's total in MiB (2^20 bytes), as nvidia-smi "
                                 "prints it: an 80 GB H100 reports 81,559")
        mamf = self.efficiency.mamf_bf16_tflop_per_s
        if mamf is not None and not (self.peak_tflop_per_s.bf16 and mamf <= self.peak_tflop_per_s.bf16):
            raise ValueError(f"hardware '{self.id}': efficiency.mamf_bf16_tflop_per_s ({mamf:g}) must come with a bf16 peak "
                             f"and not exceed it ({self.peak_tflop_per_s.bf16 or 0:g} TFLOP/s); give the measured rate of "
                             "the best large BF16 GEMM, or remove the field")
        if self.idle_w > self.tdp_w:
            raise ValueError(f"hardware '{self.id}': idle_w ({self.idle_w}) is above tdp_w ({self.tdp_w}); idle power must be below TDP")
        p = self.prices
        if p.purchase_usd_low is not None and p.purchase_usd_high is not None and p.purchase_usd_low > p.purchase_usd_high:
            raise ValueError("prices.purchase_usd_low must not exceed prices.purchase_usd_high")
        if p.rental_usd_per_hour_low is not None and p.rental_usd_per_hour_high is not None and p.rental_usd_per_hour_low > p.rental_usd_per_hour_high:
            raise ValueError("prices.rental_usd_per_hour_low must not exceed prices.rental_usd_per_hour_high")
        return self


class Nics(Spec):
    count: int = Field(..., ge=0, description="Scale-out NICs per node.")
    gbit_per_s_each: float = Field(..., ge=0, description="Line rate per NIC, Gb/s (10^9 bit/s).")
    kind: str | None = Field(None, description="InfiniBand NDR, RoCE, Slingshot, EFA, ...")


class Node(Spec):
    id: str = Field(..., pattern=ID_PATTERN, description="Stable kebab-case id, e.g. dgx-h100.")
    name: str = Field(..., description="System name.")
    accelerator: str = Field(..., description="Accelerator id of the devices in this node.")
    devices_per_node: int = Field(..., ge=1, description="Accelerators per node (or per system).")
    host_power_w: float = Field(..., ge=0, description="Host power under load: CPUs, DRAM, NICs, fans, storage, PSU losses; everything but the accelerators, W.")
    host_idle_power_w: float | None = Field(None, ge=0, description="Host power when the node idles, W (None = 60% of host_power_w).")
    node_rated_power_w: float = Field(..., gt=0, description="Rated (nameplate/PSU) power of the whole node, W.")
    nics: Nics = Field(..., description="Scale-out network interfaces.")
    price_usd: float | None = Field(None, ge=0, description="System price where published, USD.")
    sources: list[str] = Field(..., min_length=1, description="URLs or papers for the values above.")
    notes: str | None = Field(None, description="Caveats.")

    @property
    def scaleout_bytes_per_s(self) -> float:
        return self.nics.count * self.nics.gbit_per_s_each * 1e9 / 8.0

    @property
    def host_idle_w(self) -> float:
        return self.host_idle_power_w if self.host_idle_power_w is not None else 0.6 * self.host_power_w
