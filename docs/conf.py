"""Sphinx configuration of the dreamer-sb3 docs site: the guide pages are docs/*.md (MyST), the API reference is
generated from the docstrings (autodoc). Build offline: ``python -m sphinx -W -b html docs docs/_build/html``."""

project = "dreamer-sb3"
author = "dreamer-sb3 contributors"
copyright = "2026, dreamer-sb3 contributors"

extensions = ["myst_parser", "sphinx.ext.autodoc", "sphinx.ext.autosummary", "sphinx.ext.napoleon", "sphinx.ext.viewcode"]
autosummary_generate = True
autosummary_imported_members = False
source_suffix = {".md": "markdown", ".rst": "restructuredtext"}
exclude_patterns = ["_build", "_autosummary/*.md"]
myst_heading_anchors = 3
myst_enable_extensions = ["colon_fence"]

autodoc_member_order = "bysource"
autodoc_typehints = "description"
autodoc_default_options = {"members": True, "show-inheritance": True, "ignore-module-all": True}
autodoc_mock_imports = ["minerl"]
napoleon_google_docstring = False
napoleon_numpy_docstring = False
nitpicky = False
suppress_warnings = ["myst.header", "myst.xref_missing"]

html_theme = "furo"
html_title = "dreamer-sb3"
html_static_path: list[str] = []
