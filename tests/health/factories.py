"""The health app's test builders: plain functions, not fixtures."""

from __future__ import annotations

from decimal import Decimal

from health.models import HealthProfile, Measure, MeasureGroup


def make_profile(name: str = "Simple", *, groups: dict, **fields) -> HealthProfile:
    """A profile from ``{group name: (weight, [(kind, weight, mapping options), …])}``."""
    profile = HealthProfile.objects.create(name=name, **fields)
    for order, (group_name, (weight, measures)) in enumerate(groups.items()):
        group = MeasureGroup.objects.create(
            profile=profile, name=group_name, weight=Decimal(weight), order=order
        )
        for kind, measure_weight, options in measures:
            Measure.objects.create(
                group=group, kind=kind, weight=Decimal(measure_weight), **options
            )
    return profile
