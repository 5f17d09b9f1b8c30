"""One exception hierarchy for everything sitewatch raises on purpose.

Each subclass also derives from the builtin that fits, so callers that
already catch ``ValueError`` or ``FileNotFoundError`` keep working.
"""

from __future__ import annotations


class SitewatchError(Exception):
    """Base of every error sitewatch raises deliberately (bad input, unmet precondition)."""


class InputError(SitewatchError, ValueError):
    """A user-supplied value is invalid; the message names it and how to fix it."""


class MissingFileError(SitewatchError, FileNotFoundError):
    """A path given by the user does not exist."""


class InvalidSiteError(SitewatchError, ValueError):
    """A site file is not a valid site: bad JSON, structure, geometry, zones or properties."""


class RasterReadError(SitewatchError, OSError):
    """A file exists but cannot be read as a raster (corrupt, truncated, not an image)."""


class NoOverlapError(SitewatchError, ValueError):
    """Two images, or an image and a site, share no area."""


class BandMismatchError(SitewatchError, ValueError):
    """Two images have bands that cannot be matched."""


class NoValidDataError(SitewatchError, ValueError):
    """Nothing is left to analyse: all nodata, all cloud, or a constant image."""


class UnknownMethodError(SitewatchError, KeyError):
    """A change method name is not registered."""

    def __str__(self) -> str:  # KeyError quotes its message; keep it a plain sentence
        return str(self.args[0]) if self.args else ""


class OutputError(SitewatchError, OSError):
    """An output cannot be written where asked."""


class CatalogError(SitewatchError, ValueError):
    """An imagery source yields no usable scenes: no dated images, not STAC, API unreachable."""


class ProfileError(SitewatchError, ValueError):
    """An indicator profile is invalid: bad YAML, unknown key, signal or zone, wrong type."""


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
]
