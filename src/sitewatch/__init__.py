"""sitewatch: watch named sites in satellite image time series.

The public API is small and stable; heavy modules load on first use so that
``import sitewatch`` stays light.
"""

from __future__ import annotations

from .errors import (
    BandMismatchError,
    CatalogError,
    InputError,
    InvalidSiteError,
    MissingFileError,
    NoOverlapError,
    NoValidDataError,
    OutputError,
    ProfileError,
    RasterReadError,
    SitewatchError,
    UnknownMethodError,
)

__version__ = "0.1.0"

__all__ = [
    "BandMismatchError",
    "CatalogError",
    "InputError",
    "InvalidSiteError",
    "MissingFileError",
    "NoOverlapError",
    "NoValidDataError",
    "OutputError",
    "ProfileError",
    "RasterReadError",
    "SitewatchError",
    "UnknownMethodError",
    "__version__",
    "change_files",
    "open_pair",
]


def __getattr__(name: str) -> object:
    if name == "change_files":
        from .pairwise import change_files

        return change_files
    if name == "open_pair":
        from .io.pair import open_pair

        return open_pair
    raise AttributeError(f"module 'sitewatch' has no attribute {name!r}")
