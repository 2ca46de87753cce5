"""What each dashboard page shows: filters → figures + tables, PII masked.

A page is one module here (its ``*_data`` function, its :class:`~crmkit.views.base.Page` subclass
and the entry point the dashboard notebook calls) and one thin notebook in ``dashboards/``.
:mod:`crmkit.views.base` holds what every page shares: filters, scoping, exports, widgets, the
page registry and the landing page. Everything public is re-exported here, so notebooks and tests
write ``from crmkit import views; views.customer_classification()``.
"""

from crmkit.views.base import *  # noqa: F403
from crmkit.views.churn import *  # noqa: F403
from crmkit.views.classification import *  # noqa: F403
from crmkit.views.exports import *  # noqa: F403
from crmkit.views.kpi import *  # noqa: F403
from crmkit.views.needs import *  # noqa: F403
from crmkit.views.overview import *  # noqa: F403
from crmkit.views.satisfaction import *  # noqa: F403
