"""``python -m mailsettings ADDRESS...``."""

import sys

from .cli import main

sys.exit(main())
