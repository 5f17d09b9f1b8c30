"""The change-method registry: lookup by name, errors for unknown names."""

from __future__ import annotations

import pytest
from rasterkit import TEST_METHOD

from sitewatch.change import registry
from sitewatch.errors import SitewatchError, UnknownMethodError


def test_registered_method_is_returned() -> None:
    assert registry.get_method("test-diff") is TEST_METHOD
    assert "test-diff" in registry.method_names()


def test_builtin_names_come_first() -> None:
    names = registry.method_names()
    assert names[:4] == ["auto", "irmad", "cva", "sar-ratio"]
    assert len(names) == len(set(names))


@pytest.mark.parametrize("name", ["nope", "", "IRMAD", "test_diff", " cva"])
def test_unknown_method(name: str) -> None:
    with pytest.raises(UnknownMethodError, match=r"is not a change method; choose one of: auto, "):
        registry.get_method(name)


def test_unknown_method_error_is_a_plain_sentence() -> None:
    with pytest.raises(UnknownMethodError) as info:
        registry.get_method("magic")
    err = info.value
    assert isinstance(err, SitewatchError) and isinstance(err, KeyError)
    text = str(err)
    assert text.startswith("--method: 'magic' is not a change method")  # KeyError would quote it
    assert "test-diff" in text and "irmad" in text and "\n" not in text


def test_register_replaces_by_name() -> None:
    class Other:
        name = "test-replaced"
        description = "x"
        sensor = "any"

    first, second = Other(), Other()
    registry.register(first)
    registry.register(second)
    assert registry.get_method("test-replaced") is second
    assert registry.method_names().count("test-replaced") == 1
