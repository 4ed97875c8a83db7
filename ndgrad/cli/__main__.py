"""``python -m ndgrad.cli``: the ``ndgrad`` command."""

import sys

from . import main

sys.exit(main())
