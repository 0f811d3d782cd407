"""The electricity price and carbon intensity a `costsim train` / `costsim serve` result is priced at: a region's annual
means (`--region`, as `costsim plan --region` prices it) or the flat rates of the request's economics, and the words
that say which."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TypeVar

from costsim.power.balancing import price_basis
from costsim.power.signals import region_mean_economics
from costsim.specs.requests import ServeRequest, TrainRequest

R = TypeVar("R", TrainRequest, ServeRequest)


@dataclass(frozen=True)
class EnergyRates:
    """What one kWh of the run costs and emits, and where that comes from."""

    region: str | None  # the region id or CSV path (None: the flat rates)
    electricity_usd_per_kwh: float
    grid_gco2e_per_kwh: float
    basis: str  # one phrase: "us-pjm, annual mean of every hour; price: ..." or which flat rates were given / default

    def to_dict(self) -> dict:
        """JSON keys (costsim.report.fmt.energy_rates_text reads them back into words)."""
        return asdict(self)


def with_region_rates(request: R) -> R:
    """`request` with its economics' electricity price and carbon intensity replaced by its region's annual means (the
    request unchanged without a region). An unknown region raises InputError naming `region` and the known ids."""
    if request.region is None:
        return request
    return request.model_copy(update={"economics": region_mean_economics(request.economics, request.region)})


def energy_rates(request: TrainRequest | ServeRequest) -> EnergyRates:
    """The rates of a request that went through `with_region_rates`."""
    eco = request.economics
    if request.region is not None:
        kind = price_basis(request.region)
        basis = f"{request.region}, annual mean of every hour" + (f"; price: {kind}" if kind else "")
    else:
        fields = type(eco).model_fields  # a rate at its default reads as the default (JSON lists every field)
        given = {k for k in ("grid_gco2e_per_kwh", "electricity_usd_per_kwh") if getattr(eco, k) != fields[k].default}
        basis = ("flat rates as given" if given == {"grid_gco2e_per_kwh", "electricity_usd_per_kwh"} else
                 "flat rates (" + ("carbon as given, " if "grid_gco2e_per_kwh" in given else "carbon: costsim's default, ")
                 + ("price as given" if "electricity_usd_per_kwh" in given else "price: costsim's default")
                 + "; a grid region instead gives its annual means)")
    return EnergyRates(region=request.region, electricity_usd_per_kwh=float(eco.electricity_usd_per_kwh),
                       grid_gco2e_per_kwh=float(eco.grid_gco2e_per_kwh), basis=basis)
