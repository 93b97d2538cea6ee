"""The exception tree is one tree, documented, and pinned."""

from __future__ import annotations

import inspect

import sijil
from sijil import errors


def _classes() -> dict[str, type[BaseException]]:
    return {
        name: obj
        for name, obj in vars(errors).items()
        if inspect.isclass(obj) and issubclass(obj, BaseException)
    }


def test_every_error_descends_from_the_one_root() -> None:
    for name, cls in _classes().items():
        assert issubclass(cls, errors.SijilError), name


def test_every_error_is_exported_and_named_in_the_tree_docstring() -> None:
    classes = _classes()
    assert set(errors.__all__) == set(classes)
    doc = errors.__doc__ or ""
    for name in classes:
        assert name in doc, f"{name} missing from the tree in sijil/errors.py"


def test_the_package_exports_the_root() -> None:
    assert sijil.SijilError is errors.SijilError
    assert sijil.__all__ == ["SijilError", "__version__"]
