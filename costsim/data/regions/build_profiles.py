"""Rebuild the typical-day-per-month region profiles (12 x 24) from published annual averages.

    .venv/bin/python costsim/data/regions/build_profiles.py

Each profile = annual mean (sourced, see REGIONS) x a normalized shape made of a seasonal factor
and a diurnal shape (evening/morning demand peaks, a solar midday dip that is deeper in summer,
a windy-night dip where wind is large). The shapes are stylized from the well-known patterns of
each grid (CAISO "duck curve", ERCOT summer evening peaks, German midday solar), NOT fitted to
hourly data. The annual means are exact to the source; hours and months are illustrative.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

HERE = Path(__file__).resolve().parent
DATE = "2026-05"  # when these files were built
EUR_USD = 1.08  # 2023 average (ECB reference rate ~1.081)
CAD_USD = 0.74  # 2023 average (Bank of Canada ~0.741)

OWID = "Ember via Our World in Data, 'Carbon intensity of electricity generation' 2023 (https://ourworldindata.org/grapher/carbon-intensity-electricity)"
EIA = "EIA Electric Power Annual 2023, average revenue per kWh, industrial sector, by state (https://www.eia.gov/electricity/annual/secrev-map.php)"
EUROSTAT = "Eurostat electricity price statistics, non-household consumers 2023-S2, excl. VAT (nrg_pc_205; https://ec.europa.eu/eurostat/statistics-explained/index.php?title=Electricity_price_statistics); approximate reading, converted at 1.08 USD/EUR"

# price_usd_per_kwh, gco2e_per_kwh, and shape knobs:
#  peak: evening demand peak (price), solar: midday solar dip depth, wind_night: night dip in carbon,
#  winter/summer: seasonal price factor amplitude (+ = dearer in that season), carbon_flat: damp carbon shape
REGIONS = {
    "us-pjm-virginia": dict(price=0.0892, carbon=330, peak=0.25, solar=0.05, wind_night=0.0, winter=0.08, summer=0.10, carbon_flat=0.5,
                            price_src=EIA + ": Virginia 8.92 c/kWh",
                            carbon_src="PJM system-average ~330 g/kWh (PJM emissions reports 2023 ~0.73 lb/kWh; eGRID2022 SRVC/RFCE 270-370 g/kWh); approximate, not re-verified cell by cell",
                            note="Dominion zone of PJM (Northern Virginia data-center cluster)."),
    "us-ercot-texas": dict(price=0.0660, carbon=370, peak=0.45, solar=0.15, wind_night=0.12, winter=0.05, summer=0.25, carbon_flat=1.0,
                           price_src=EIA + ": Texas 6.60 c/kWh",
                           carbon_src="ERCOT ~370 g/kWh (eGRID2022 ERCT ~ 0.37 t/MWh; approximate, not re-verified)",
                           note="Summer evening scarcity pricing is flattened in a typical day; real ERCOT prices spike to 5 $/kWh in a few hours."),
    "us-caiso-california": dict(price=0.1864, carbon=210, peak=0.35, solar=0.45, wind_night=0.0, winter=0.0, summer=0.12, carbon_flat=1.0,
                                price_src=EIA + ": California 18.64 c/kWh",
                                carbon_src="CAISO ~210 g/kWh (eGRID2022 CAMX ~ 0.2 t/MWh; CAISO 2023 ~200-230; approximate, not re-verified)",
                                note="Duck curve: midday solar dip in price and carbon, steep evening ramp."),
    "us-miso-iowa": dict(price=0.0691, carbon=430, peak=0.20, solar=0.05, wind_night=0.15, winter=0.08, summer=0.10, carbon_flat=1.0,
                         price_src=EIA + ": Iowa 6.91 c/kWh",
                         carbon_src="MISO West ~430 g/kWh (eGRID2022 MROW; Iowa in-state generation is lower, ~60 % wind, but imports from MISO; approximate, not re-verified)",
                         note="Windy nights lower carbon."),
    "ca-quebec": dict(price=0.055 * CAD_USD, carbon=2.0, peak=0.05, solar=0.0, wind_night=0.0, winter=0.10, summer=-0.05, carbon_flat=0.2,
                      price_src="Hydro-Quebec Rate L (large-power industrial, >= 5 MW), ~5.5 CAD cents/kWh all-in incl. demand charge (https://www.hydroquebec.com/business/customer-space/rates/rate-l-industrial-rate-large-power-customers.html); approximate, converted at 0.74 USD/CAD",
                      carbon_src="Hydro-Quebec generation ~1-2 g/kWh operational (Hydro-Quebec sustainability report; Canada NIR 2023 Quebec consumption intensity ~1.3 g/kWh); approximate",
                      note="~99 % hydro; flat carbon; regulated flat tariff (winter peak optimization charges ignored)."),
    "no-norway": dict(price=0.070, carbon=30, peak=0.12, solar=0.0, wind_night=0.0, winter=0.25, summer=-0.20, carbon_flat=0.2,
                      price_src="Nord Pool 2023 NO1-NO5 average ~0.05-0.09 EUR/kWh spot plus grid tariff for large consumers; approximate 0.07 USD/kWh (varies ~3x between zones)",
                      carbon_src="Ember 2023: Norway 30 g/kWh (Statista/Ember, July 2024; https://statista.com/statistics/943137/global-emissions-intensity-power-sector-by-country)",
                      note="~90 % hydro; prices differ strongly between north (NO4) and south (NO1/NO2)."),
    "fr-france": dict(price=0.14 * EUR_USD, carbon=56, peak=0.25, solar=0.08, wind_night=0.0, winter=0.20, summer=-0.15, carbon_flat=0.6,
                      price_src=EUROSTAT + ": France ~0.14 EUR/kWh",
                      carbon_src=OWID + ": France 56 g/kWh",
                      note="Nuclear; winter evening peaks raise both price and (gas peakers) carbon."),
    "de-germany": dict(price=0.19 * EUR_USD, carbon=381, peak=0.25, solar=0.30, wind_night=0.05, winter=0.10, summer=-0.05, carbon_flat=1.0,
                       price_src=EUROSTAT + ": Germany ~0.19 EUR/kWh",
                       carbon_src=OWID + ": Germany 381 g/kWh",
                       note="Midday solar dip (deeper in summer); coal/gas in winter evenings."),
    "ie-ireland": dict(price=0.24 * EUR_USD, carbon=291, peak=0.30, solar=0.03, wind_night=0.08, winter=0.10, summer=-0.05, carbon_flat=0.8,
                       price_src=EUROSTAT + ": Ireland ~0.24 EUR/kWh (among the highest in the EU)",
                       carbon_src=OWID + ": Ireland 291 g/kWh",
                       note="Wind-driven day-to-day swings are averaged out in a typical day."),
    "cn-china": dict(price=0.09, carbon=582, peak=0.20, solar=0.06, wind_night=0.0, winter=0.05, summer=0.08, carbon_flat=0.4,
                     price_src="China average industrial tariff ~0.63-0.70 CNY/kWh (NDRC provincial time-of-use tariffs 2023; ~0.09 USD); approximate national average, provinces differ",
                     carbon_src=OWID + ": China 582 g/kWh",
                     note="Time-of-use tariffs in most provinces (peak/valley ~3:1) are softened to a national typical shape."),
}


def _bump(h, center, width):
    d = np.minimum(np.abs(h - center), 24 - np.abs(h - center))
    return np.exp(-0.5 * (d / width) ** 2)


def shapes(r):
    h = np.arange(24)[None, :].astype(float)
    m = np.arange(12)[:, None].astype(float)
    summerness = 0.5 * (1 - np.cos(2 * np.pi * (m - 0.5) / 12))  # 0 in Jan, 1 in Jul
    winterness = 1 - summerness
    solar_strength = 0.4 + 0.6 * summerness
    evening = _bump(h, 18.5, 2.0)
    morning = _bump(h, 8.0, 1.5)
    midday = _bump(h, 13.0, 2.5)
    night = _bump(h, 3.5, 2.5)
    season = 1 + r["winter"] * (winterness - winterness.mean()) * 2 + r["summer"] * (summerness - summerness.mean()) * 2
    price = season * (1 + r["peak"] * (evening + 0.4 * morning) - r["solar"] * solar_strength * midday - 0.15 * night)
    carbon = 1 + r["carbon_flat"] * (0.12 * evening - r["solar"] * 0.9 * solar_strength * midday - r["wind_night"] * night)
    return price, carbon


def annual_mean(tab):
    days = np.array([31, 28, 31, 30, 31, 30, 31, 31, 30, 31, 30, 31])
    return float((tab * days[:, None]).sum() / (days.sum() * 24))


def build():
    for rid, r in REGIONS.items():
        ps, cs = shapes(r)
        price = ps / annual_mean(ps) * r["price"]
        carbon = cs / annual_mean(cs) * r["carbon"]
        assert price.min() > 0 and carbon.min() > 0, rid
        lines = [
            f"# region: {rid}",
            "# kind: synthetic typical day per month (12 x 24); annual means from the sources below, hourly and monthly shape stylized (see README.md). NOT a real year.",
            f"# price_source: {r['price_src']}",
            f"# carbon_source: {r['carbon_src']} (location-based, generation)",
            f"# source: price: {r['price_src'].split(' (')[0]}; carbon: {r['carbon_src'].split(' (')[0]}",
            f"# date: built {DATE}; data years 2023",
            f"# note: {r['note']}",
            f"# annual_mean_usd_per_kwh: {r['price']:.4f}",
            f"# annual_mean_gco2e_per_kwh: {r['carbon']:.1f}",
            "month,hour,usd_per_kwh,gco2e_per_kwh",
        ]
        for mi in range(12):
            for hi in range(24):
                lines.append(f"{mi + 1},{hi},{price[mi, hi]:.5f},{carbon[mi, hi]:.2f}")
        (HERE / f"{rid}.csv").write_text("\n".join(lines) + "\n")
        print(rid, f"{price.min():.4f}-{price.max():.4f} USD/kWh", f"{carbon.min():.1f}-{carbon.max():.1f} g/kWh")


if __name__ == "__main__":
    build()
