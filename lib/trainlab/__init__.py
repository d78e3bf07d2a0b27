"""trainlab: the helper package of an interactive course on training deep networks.

Modules read like the syllabus: ``activations``, ``layers``, ``norm``, ``dropout``, ``init``,
``gradcheck``, ``data``, ``models``, ``train``, ``plots``, ``widgets``. Import them by name::

    from trainlab import norm, gradcheck
    out, cache = norm.batchnorm_forward(x, gamma, beta)

The conventions every module follows (one spelling per concept) are written down once, in
:mod:`trainlab.conventions`.
"""

from trainlab._meta import REPO_URL, __version__
from trainlab.gradcheck import rel_error
from trainlab.notebook import in_colab, setup_notebook

__all__ = ["REPO_URL", "__version__", "in_colab", "rel_error", "setup_notebook"]
