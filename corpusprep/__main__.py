"""`python -m corpusprep`: the same entry point as the console script (and the module torchrun starts)."""
import sys

from corpusprep.cli import main

sys.exit(main())
