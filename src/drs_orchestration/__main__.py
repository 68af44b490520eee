"""``python -m drs_orchestration``: the ``drs-orchestration`` command."""

import sys

from drs_orchestration.cli import main

sys.exit(main())
