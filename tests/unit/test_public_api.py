from __future__ import annotations

import openrerank


def test_public_api_exports_exactly_the_documented_names() -> None:
    assert openrerank.__all__ == sorted(openrerank.__all__)
    assert set(openrerank.__all__) == {
        name for name in dir(openrerank) if not name.startswith("_") and name[0].isupper()
    } | {"__version__"}


def test_public_api_version_is_the_installed_distribution() -> None:
    from importlib.metadata import version

    assert openrerank.__version__ == version("openrerank")
