"""Common band names, and how to recognise them from band descriptions or file names.

Common names follow the STAC ``eo`` extension (``blue``, ``nir``, ``swir16`` ...)
plus ``vv``/``vh`` for radar, so the rest of sitewatch never deals with
sensor-specific band ids.
"""

from __future__ import annotations

import re

COMMON_NAMES = (
    "coastal", "blue", "green", "red", "rededge1", "rededge2", "rededge3", "nir", "nir08",
    "nir09", "cirrus", "swir16", "swir22", "pan", "lwir", "vv", "vh", "hh", "hv", "gray",
)  # fmt: skip

SENTINEL2 = {
    "B01": "coastal", "B02": "blue", "B03": "green", "B04": "red", "B05": "rededge1",
    "B06": "rededge2", "B07": "rededge3", "B08": "nir", "B8A": "nir08", "B09": "nir09",
    "B10": "cirrus", "B11": "swir16", "B12": "swir22",
}  # fmt: skip

# Bands measuring the atmosphere rather than the ground: left out of a band
# folder unless asked for by name, since they only add noise to change tests.
ATMOSPHERIC = frozenset({"coastal", "nir09", "cirrus"})

# Landsat 4-7 TM/ETM+ reflective bands; recognised only as this exact set, because
# "B1" means blue there but coastal aerosol on Landsat 8/9.
LANDSAT_TM = {"B1": "blue", "B2": "green", "B3": "red", "B4": "nir", "B5": "swir16", "B7": "swir22"}

LANDSAT_OLI = {
    "B1": "coastal", "B2": "blue", "B3": "green", "B4": "red", "B5": "nir",
    "B6": "swir16", "B7": "swir22", "B8": "pan", "B9": "cirrus",
}  # fmt: skip

_ALIASES = {
    "r": "red", "g": "green", "b": "blue", "near_infrared": "nir", "nir08": "nir08",
    "grey": "gray", "intensity": "gray", "swir1": "swir16", "swir2": "swir22",
}  # fmt: skip

_S2_TOKEN = re.compile(r"(?:^|[_\-.])(B(?:0[1-9]|1[0-2]|8A))(?:[_\-.]|$)", re.IGNORECASE)
_S2_PADDED = re.compile(r"(?:^|[_\-.])B(?:0[1-9]|8A)(?:[_\-.]|$)", re.IGNORECASE)
_OLI_TOKEN = re.compile(r"(?:^|_)(?:SR_)?(B(?:[1-9]|1[01]))(?:[_.]|$)", re.IGNORECASE)


def normalise_name(label: str | None) -> str | None:
    """Map a band description such as ``"Red"``, ``"B04"`` or ``"VV"`` to a common name.

    Returns None when the label says nothing recognisable.
    """
    if not label:
        return None
    key = label.strip().lower().replace(" ", "_")
    if key in COMMON_NAMES:
        return key
    if key in _ALIASES:
        return _ALIASES[key]
    m = _S2_TOKEN.search(label.strip())
    if m:
        return SENTINEL2[m.group(1).upper()]
    return None


def names_for_layout(labels: list[str | None]) -> list[str | None]:
    """Common names for a whole image's band labels, using sensor layouts where needed.

    Landsat ids are ambiguous one by one (``B1`` is blue on TM, coastal on OLI),
    so they are resolved from the set of labels as a whole.
    """
    upper = [(lbl or "").strip().upper() for lbl in labels]
    if upper and set(upper) == set(LANDSAT_TM):
        return [LANDSAT_TM[u] for u in upper]
    # Sentinel-2 ids are zero-padded (B02) or B8A; B10/B11 alone must not make them Landsat.
    sentinel2 = any(_S2_PADDED.search(u) for u in upper)
    landsat = any(u.startswith("SR_B") for u in upper) or bool({"B10", "B11"} & set(upper))
    if upper and landsat and not sentinel2:
        out: list[str | None] = []
        for u in upper:
            m = _OLI_TOKEN.search(u)
            out.append(LANDSAT_OLI.get(m.group(1)) if m else normalise_name(u))
        return out
    return [normalise_name(lbl) for lbl in labels]


def band_id_from_filename(name: str) -> str | None:
    """Common name of the band a single-band file holds, from its name (``..._B8A.tif``)."""
    stem = name.rsplit(".", 1)[0]
    m = _S2_TOKEN.search(stem)
    if m:
        return SENTINEL2[m.group(1).upper()]
    tail = re.split(r"[_\-.]", stem)[-1]
    return normalise_name(tail)


def parse_band_list(text: str | None) -> list[str] | None:
    """Parse ``--bands blue,green,red,nir`` into validated common names (None: all)."""
    if text is None or not text.strip():
        return None
    from ..errors import InputError

    out: list[str] = []
    for raw in text.split(","):
        name = normalise_name(raw) or raw.strip().lower()
        if name not in COMMON_NAMES and not re.fullmatch(r"band\d+", name):
            raise InputError(
                f"--bands: {raw.strip()!r} is not a band name; use common names such as "
                f"blue,green,red,nir (known: {', '.join(COMMON_NAMES)}) or band1,band2..."
            )
        if name in out:
            raise InputError(f"--bands: {name!r} is listed twice; name each band once")
        out.append(name)
    return out
