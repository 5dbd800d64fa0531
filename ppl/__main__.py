"""`python -m ppl`: the command line (ppl.frontends.cli)."""
import sys

from .frontends.cli import main

sys.exit(main())
