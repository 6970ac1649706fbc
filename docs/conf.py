"""Sphinx configuration of rnnlearn's documentation site.

Build it with ``python -m sphinx -W -b html docs docs/_build/html`` after
``pip install -e ".[docs]"``. The gallery runs every ``examples/plot_*.py`` with the small
settings of ``RNNLEARN_EXAMPLES_FAST=1``.
"""

import os

import rnnlearn

os.environ.setdefault("RNNLEARN_EXAMPLES_FAST", "1")

project = "rnnlearn"
author = "The rnnlearn developers"
copyright = "2026, The rnnlearn developers"
release = rnnlearn.__version__
version = release

extensions = [
    "sphinx.ext.autodoc",
    "sphinx.ext.autosummary",
    "sphinx.ext.mathjax",
    "numpydoc",
    "myst_parser",
    "sphinx_gallery.gen_gallery",
]
source_suffix = {".rst": "restructuredtext", ".md": "markdown"}
root_doc = "index"
exclude_patterns = ["_build", "images/README.md"]

autosummary_generate = True
autodoc_default_options = {"inherited-members": False}
# rnnlearn.aeon and rnnlearn.sktime subclass their toolkit's base classes; the site is built
# without the toolkits (and without pandas, which sktime brings and its forecaster imports), so
# autodoc imports them against stand-ins
autodoc_mock_imports = ["aeon", "sktime", "pandas"]
numpydoc_show_class_members = False
numpydoc_class_members_toctree = False

myst_heading_anchors = 3

sphinx_gallery_conf = {
    "examples_dirs": "../examples",
    "gallery_dirs": "auto_examples",
    "filename_pattern": r"plot_",
    "within_subsection_order": "FileNameSortKey",
    "download_all_examples": False,
    "remove_config_comments": True,
}

html_theme = "pydata_sphinx_theme"
html_title = f"rnnlearn {release}"
html_theme_options = {"navigation_with_keys": False, "show_prev_next": False}
html_static_path = []
