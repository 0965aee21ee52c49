"""Entry point: `python -m profile_lookup` runs the service; see `profile_lookup.cli`."""

import sys

from profile_lookup.cli import main

if __name__ == "__main__":
    sys.exit(main())
