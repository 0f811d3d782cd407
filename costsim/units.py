"""Unit constants. SI base units inside the code; scaled units only at the edges.

Never convert with 2**30 where 10**9 is meant: `_gb` is 10^9 bytes, `_gib` is 2^30 bytes.
"""

GB = 1e9
GIB = 2.0**30
MIB = 2.0**20
TB = 1e12
TERA = 1e12
PETA = 1e15
GIGA = 1e9
MEGA = 1e6
KILO = 1e3
BITS_PER_BYTE = 8.0
S_PER_MINUTE = 60.0
S_PER_HOUR = 3600.0
S_PER_DAY = 86400.0
S_PER_YEAR = 365.25 * 86400.0
J_PER_KWH = 3.6e6
J_PER_MWH = 3.6e9
G_PER_KG = 1e3
KG_PER_TONNE = 1e3
