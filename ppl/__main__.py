"""`python -m ppl`: the command line (ppl.frontends.command)."""
import sys

from .frontends.command import main

sys.exit(main())
