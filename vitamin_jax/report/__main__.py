"""`python -m vitamin_jax.report DIR` (vitamin_jax/report/cli.py)."""

import sys

from vitamin_jax.report.cli import main

if __name__ == "__main__":
    sys.exit(main())
