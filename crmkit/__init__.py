"""crmkit: a customer-management workbench (客户管理) over DuckDB.

Modules, one per concern (see DESIGN.md): ``schema`` (the tables), ``db`` (connect, publish),
``ingest`` (files in), ``quality`` (准确性和完整性), ``demo`` (synthetic data with planted
signals), ``privacy`` (PII masking), ``cli`` (the ``crmkit`` command).
"""

from crmkit.db import connect, publish

__all__ = ["connect", "publish"]
__version__ = "0.1.0"
