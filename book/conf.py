"""Sphinx configuration of the rendered book (`make book` → _build/book/index.html).

scripts/build_book.py lays the sources out in _build/book_src/ (README as the home page with the table of
contents appended, the notebooks, the glossary, the files they link to) and calls
``sphinx-build -c book _build/book_src _build/book``. Nothing is executed: MyST-NB renders the stored outputs,
including saved ipywidgets state (mystmd/Jupyter Book 2 cannot). MathJax, require.js and the widget manager are
served from the build (copied from node_modules by scripts/build_book.py), so the site works offline.
"""
from __future__ import annotations

import tomllib
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
ASSETS = ROOT / "_build" / "book_assets"   # filled by scripts/build_book.py from node_modules (→ _static/vendor/)

_pyproject = tomllib.loads((ROOT / "pyproject.toml").read_text())
_settings = _pyproject["tool"]["phonon_dos"]

project = "Phonon DoS with e3nn"
author = "phonon-dos-e3nn contributors"
copyright = "phonon-dos-e3nn contributors; code MIT, text and data CC BY 4.0"
release = _pyproject["project"]["version"]

extensions = ["myst_nb", "sphinx.ext.mathjax"]
root_doc = "README"                      # the README is the home page; index.html redirects to it
exclude_patterns = ["_build", "**.ipynb_checkpoints", "src"]

# --- MyST / MyST-NB: render what is stored, never execute -------------------------------------------------
nb_execution_mode = "off"
nb_merge_streams = True
nb_output_stderr = "show"
myst_enable_extensions = ["dollarmath", "amsmath", "colon_fence", "deflist", "html_image"]
myst_heading_anchors = 3                 # notebooks link to README.md#the-notebooks
myst_dmath_double_inline = True
# Widgets from their saved state, with require.js and @jupyter-widgets/html-manager served from _static/.
# The manager finds its fonts next to the AMD module "@jupyter-widgets/html-manager/dist/…": point require.js there.
_WIDGET_PATHS = """requirejs.config({paths: {"@jupyter-widgets/html-manager/dist": new URL(
  (document.documentElement.dataset.content_root || "") + "_static/vendor/html-manager", location.href).href}});"""
nb_ipywidgets_js = {
    "vendor/require.js": {},
    "": {"body": _WIDGET_PATHS},
    "vendor/html-manager/embed-amd.js": {},
}

# --- MathJax 3 served from the build (npm package `mathjax`) -----------------------------------------------
mathjax_path = "vendor/mathjax/tex-mml-chtml.js"
mathjax_config_path = "mathjax_config.js"   # MathJax 3 options + a MathJax 2 shim for the widget manager

# --- HTML --------------------------------------------------------------------------------------------------
html_theme = "sphinx_book_theme"
html_title = "Phonon DoS with e3nn"
html_static_path = ["_static", str(ASSETS)]
html_css_files = ["book.css"]
html_last_updated_fmt = None
html_copy_source = True
html_show_sourcelink = True
html_context = {"default_mode": "light"}   # figures have white backgrounds
html_theme_options = {
    "repository_url": _settings["repository"],
    "repository_branch": _settings["branch"],
    "path_to_docs": "",
    "use_repository_button": True,
    "use_download_button": True,
    "home_page_in_toc": True,
    "show_navbar_depth": 1,
    "show_toc_level": 2,
    "navigation_with_keys": False,
    "launch_buttons": {
        "binderhub_url": "https://mybinder.org",
        "colab_url": "https://colab.research.google.com",
        "notebook_interface": "jupyterlab",
    },
}
