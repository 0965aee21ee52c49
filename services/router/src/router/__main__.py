"""`python -m router [serve | migrate | check FILE... | explain --event FILE ...]`."""

import sys

from router.cli import COMMANDS
from router.config import SERVICE
from router.wiring import build
from switchboard_runtime.cli import main

if __name__ == "__main__":
    sys.exit(main(SERVICE, build, commands=COMMANDS))
