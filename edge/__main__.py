"""``python -m maskwatch``: the same as the ``maskwatch`` command."""

import sys

from maskwatch.service.cli import main

sys.exit(main())
