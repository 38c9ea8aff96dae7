"""HTML views of a workspace: the static report (``build_report``) and the templates the review app shares.

``views`` gathers values from the workspace, ``render`` holds the Jinja2 environment (autoescape on),
``site`` writes the static report atomically.
"""
from .site import build_report

write_report = build_report  # the name the demo command uses: write_report(ws, out, lang="en") -> index.html

__all__ = ["build_report", "write_report"]
