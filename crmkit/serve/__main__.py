"""``python -m crmkit.serve``: the ``crmkit serve`` command on its own."""

import sys

from crmkit.serve import main

sys.exit(main())
