"""``python -m ndgrad``: the ``ndgrad`` command (``python -m ndgrad --version``, ...)."""

import sys

from .cli import main

sys.exit(main())
