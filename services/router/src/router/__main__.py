"""Entry point: `python -m router` runs the service; see `router.cli` for the commands."""

import sys

from router.cli import main

if __name__ == "__main__":
    sys.exit(main())
