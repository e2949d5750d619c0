"""The public façade: a small, sorted, complete `__all__`."""

from __future__ import annotations

import syndicate
import syndicate.errors


def test_all_is_sorted_and_names_what_the_package_exports() -> None:
    assert syndicate.__all__ == sorted(syndicate.__all__)
    public = {name for name in vars(syndicate) if not name.startswith("_")}
    modules = {
        name for name in public if type(getattr(syndicate, name)).__name__ == "module"
    }
    assert set(syndicate.__all__) == public - modules


def test_every_error_is_a_syndicate_error_with_an_exit_code() -> None:
    for name in syndicate.errors.__all__:
        obj = getattr(syndicate.errors, name)
        if isinstance(obj, type) and issubclass(obj, Exception):
            assert issubclass(obj, syndicate.errors.SyndicateError)
            assert obj.exit_code in (1, 2)
