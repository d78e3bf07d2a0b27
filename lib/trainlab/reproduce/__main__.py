"""``python -m trainlab.reproduce`` (``make reproduce``)."""

import sys

from trainlab.reproduce.cli import main

sys.exit(main())
