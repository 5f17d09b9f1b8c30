"""Registry of pairwise change methods, so later methods plug in by name."""

from __future__ import annotations

from importlib import import_module

from ..errors import UnknownMethodError
from .base import ChangeMethod

# name -> "module:Class"; imported on first use so `import sitewatch` stays light
_BUILTIN: dict[str, str] = {
    "auto": "sitewatch.change.auto:AutoOpticalMethod",
    "irmad": "sitewatch.change.irmad:IRMADMethod",
    "cva": "sitewatch.change.cva:CVAMethod",
    "sar-ratio": "sitewatch.change.sar:SARRatioMethod",
}
_REGISTERED: dict[str, ChangeMethod] = {}


def register(method: ChangeMethod) -> None:
    """Add (or replace) a method under ``method.name``."""
    _REGISTERED[method.name] = method


def method_names() -> list[str]:
    """Names of every available method, built-in first."""
    return list(dict.fromkeys([*_BUILTIN, *_REGISTERED]))


def get_method(name: str) -> ChangeMethod:
    """Return the method registered as ``name``.

    Raises
    ------
    UnknownMethodError
        When no method has that name; the message lists the valid ones.
    """
    if name in _REGISTERED:
        return _REGISTERED[name]
    target = _BUILTIN.get(name)
    if target is None:
        raise UnknownMethodError(
            f"--method: {name!r} is not a change method; choose one of: {', '.join(method_names())}"
        )
    module_name, cls_name = target.split(":")
    method: ChangeMethod = getattr(import_module(module_name), cls_name)()
    _REGISTERED[name] = method
    return method
