"""Metrics pages: the home page (``home``) and the dashboards, one module each; ``common``
holds what the dashboards share (tabs, filters, CSV/partial/full answers)."""

from metrics.views.home import home

__all__ = ["home"]
