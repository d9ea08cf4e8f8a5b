"""``python -m lodgepole.cli``: the same as the ``lodgepole`` command."""

import sys

from lodgepole.cli import main

sys.exit(main())
