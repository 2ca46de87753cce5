"""Test tiers for the whole repository (pytest loads this file whatever paths it is given).

The notebooks run through nbval (``--nbval`` in pyproject's ``addopts``): every cell of
``notebooks/*.ipynb`` is a test item, and the notebooks build their own demos and fit their own
models (several seconds to half a minute a notebook). They are all marked ``slow``, so
``make test-fast`` (``-m "not slow and not browser"``) leaves them out and ``make test`` runs them.
"""

from __future__ import annotations

import pytest


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)
