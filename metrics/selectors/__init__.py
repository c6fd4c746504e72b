"""Reads for the metrics pages, one module per figure family (set-based: each figure is one
aggregate query, never a loop over accounts). Dashboards added later put their own module
here (e.g. ``metrics/selectors/rfm.py``) and import it directly."""

from metrics.selectors.home import HomeFigures, PlanMrr, home_figures, mrr_by_plan_today

__all__ = ["HomeFigures", "PlanMrr", "home_figures", "mrr_by_plan_today"]
