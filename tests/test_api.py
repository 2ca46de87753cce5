"""The public API (``import crmkit``): every name documented with a worked example that runs."""

from __future__ import annotations

import doctest
import inspect

import pytest

import crmkit

#: What DESIGN.md promises an analyst tabbing through ``crmkit.``.
PROMISED = {
    "connect", "publish", "classify", "rfm", "nps", "csat", "ces", "churn_rate",
    "cohort_retention", "kpis", "data_as_of",
}  # fmt: skip


def test_the_promised_names_are_public():
    assert set(crmkit.__all__) >= PROMISED
    assert all(callable(getattr(crmkit, n)) for n in crmkit.__all__)


@pytest.mark.parametrize("name", sorted(PROMISED))
def test_numpydoc_with_parameters_returns_and_examples(name):
    doc = inspect.getdoc(getattr(crmkit, name)) or ""
    for section in ("Parameters", "Returns", "Examples"):
        assert f"{section}\n---" in doc, f"crmkit.{name} lacks a {section} section"


@pytest.mark.parametrize("name", sorted(PROMISED))
def test_the_examples_run(name):
    fn = getattr(crmkit, name)
    finder = doctest.DocTestFinder(recurse=False)
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    module = inspect.getmodule(fn)
    for test in finder.find(fn, name, module=module, globs=vars(module).copy()):
        runner.run(test)
    assert runner.failures == 0 and runner.tries > 0, name
