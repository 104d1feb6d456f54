"""`python -m gateway`: the `gatekeeper` command."""

import sys

from gateway.cli import main

sys.exit(main())
