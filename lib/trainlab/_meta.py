"""Project facts defined in exactly one place.

`REPO_URL` is where Colab installs trainlab from; the setup cell of every notebook is generated
from it by ``scripts/nbtools.py sync`` (and checked by ``scripts/nbtools.py check`` in CI).
"""

__version__ = "0.1.0"

REPO_URL = "https://github.com/trainlab-course/trainlab"
"""The public repository. Change it here, then run ``make sync``."""

INSTALL_SPEC = f"trainlab @ git+{REPO_URL}"
"""What ``pip install`` receives on Colab (overridable with TRAINLAB_INSTALL_SOURCE)."""
