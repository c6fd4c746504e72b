"""Demo survey history for ``seed_demo`` (listed in its ``APP_SEEDERS`` as
``demo.surveys.seed_surveys``): :mod:`.catalogue` holds what it is made of, :mod:`.history`
how a year of answers is drawn from what the accounts did and written in bulk."""

from demo.surveys.history import seed_surveys

__all__ = ["seed_surveys"]
