import sys

from drs_orchestration.cli import main

sys.exit(main())
