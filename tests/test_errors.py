"""One exception hierarchy, each class also the builtin callers already catch."""

from __future__ import annotations

import pytest

import sitewatch
from sitewatch import errors


@pytest.mark.parametrize(
    ("cls", "builtin"),
    [
        (errors.InputError, ValueError),
        (errors.MissingFileError, FileNotFoundError),
        (errors.RasterReadError, OSError),
        (errors.NoOverlapError, ValueError),
        (errors.BandMismatchError, ValueError),
        (errors.NoValidDataError, ValueError),
        (errors.UnknownMethodError, KeyError),
        (errors.OutputError, OSError),
    ],
)
def test_each_error_is_a_sitewatch_error_and_a_builtin(cls, builtin) -> None:
    message = "--thing: 'x' is wrong; give 'y'"
    with pytest.raises(builtin) as info:
        raise cls(message)
    assert isinstance(info.value, errors.SitewatchError)
    assert str(info.value) == message  # no quoting (KeyError) or errno formatting (OSError)


def test_public_api_exports_the_errors() -> None:
    for name in errors.__all__:
        assert getattr(sitewatch, name) is getattr(errors, name)
        assert name in sitewatch.__all__


def test_lazy_public_functions() -> None:
    from sitewatch.io.pair import open_pair
    from sitewatch.pairwise import change_files

    assert sitewatch.change_files is change_files
    assert sitewatch.open_pair is open_pair
    with pytest.raises(AttributeError, match="no attribute 'nothing'"):
        sitewatch.nothing  # noqa: B018
