"""Serve plotly.js straight from the installed ``plotly`` package.

The brief wants no CDN and no front-end build; copying a 4 MB bundle into the repository would
let it drift from the Python package that renders the figures. This finder exposes exactly one
file, ``vendor/plotly.min.js``, so ``collectstatic`` and the dev server both pick it up.
"""

from __future__ import annotations

from pathlib import Path

import plotly
from django.contrib.staticfiles.finders import BaseFinder
from django.core.files.storage import FileSystemStorage

PLOTLY_DIR = Path(plotly.__file__).parent / "package_data"
PLOTLY_PATH = "vendor/plotly.min.js"


class _PrefixedStorage(FileSystemStorage):
    prefix = "vendor"


class PlotlyFinder(BaseFinder):
    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.storage = _PrefixedStorage(location=str(PLOTLY_DIR))

    def check(self, **kwargs):
        return []

    def find(self, path: str, find_all: bool = False, **kwargs):
        if path == PLOTLY_PATH:
            found = str(PLOTLY_DIR / "plotly.min.js")
            return [found] if find_all else found
        return [] if find_all else None

    def list(self, ignore_patterns):
        yield "plotly.min.js", self.storage
