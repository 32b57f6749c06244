"""``python -m ibdesk`` is the ``ibdesk`` command."""

import sys

from ibdesk.cli import main

sys.exit(main())
