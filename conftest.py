"""Test tiers for the whole repository (pytest loads this file whatever paths it is given).

The notebooks run through nbval (``--nbval`` in pyproject's ``addopts``): every cell of
``notebooks/*.ipynb`` is a test item. They open the shared demo's snapshot (the one the tests'
``demo_published`` is, built once into the cache: ``make shared-demo``), still several seconds
to most of a minute a notebook. They are all marked ``slow``, so ``make test-fast``
(``-m "not slow and not browser"``) leaves them out and ``make test`` runs them.
"""

from __future__ import annotations

import pytest


@pytest.hookimpl(tryfirst=True)  # before ``-m`` deselects by marker
def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    for item in items:
        if item.path.suffix == ".ipynb":
            item.add_marker(pytest.mark.slow)
