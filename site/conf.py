"""Sphinx configuration of the course website (built by ``make site`` = ``scripts/build_site.py``).

``scripts/build_site.py`` copies this folder and the generated pages (lessons with their stored
outputs, course map, lecturers' page, references) into ``build/site-src/`` and runs
``sphinx-build`` there; nothing is executed (``nb_execution_mode = "off"``) and nothing is
loaded from another host: the theme's fonts and scripts come with its wheel, MathJax 3 is copied
from the npm ``mathjax`` package into ``_static/mathjax/`` at build time.
"""

import os

project = "trainlab"
author = "the trainlab authors"
copyright = "the trainlab authors, MIT licence"

extensions = ["myst_nb"]
exclude_patterns = ["_build", "**.ipynb_checkpoints", "notebooks", "decks", "explorers"]
myst_enable_extensions = ["dollarmath", "amsmath", "html_image"]
myst_heading_anchors = 3
suppress_warnings = ["myst.header", "mystnb.unknown_mime_type", "misc.highlighting_failure"]

# the stored outputs are the page: never run a lesson here
nb_execution_mode = "off"
# no require.js / widget manager from a CDN: explorers are embedded as exported viewers
nb_ipywidgets_js = {}
nb_merge_streams = True

mathjax_path = "mathjax/tex-chtml.js"  # relative to _static; copied from npm by scripts/build_site.py
mathjax3_config = {"options": {"enableMenu": False}}

html_theme = "sphinx_book_theme"
html_title = "trainlab — training deep networks"
html_static_path = ["_static"]
html_css_files = ["trainlab.css"]
html_js_files = ["trainlab.js"]
html_extra_path = ["_extra"]
html_last_updated_fmt = None
html_copy_source = False
html_show_sourcelink = False
html_theme_options = {
    "repository_url": os.environ.get("TRAINLAB_REPO_URL", ""),
    "use_repository_button": bool(os.environ.get("TRAINLAB_REPO_URL")),
    "use_download_button": False,   # each lesson has its own download links (original + student)
    "use_fullscreen_button": False,
    "home_page_in_toc": True,
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "pygments_light_style": "a11y-high-contrast-light",  # comments pass axe's contrast check
}
html_context = {"default_mode": "light"}
