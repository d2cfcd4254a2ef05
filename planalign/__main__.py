"""`python -m planalign` → the CLI."""

import sys

from planalign.cli import main

if __name__ == "__main__":
    sys.exit(main())
