"""Project-wide middleware."""

from __future__ import annotations

from collections.abc import Callable

from django.http import HttpRequest, HttpResponse
from django.utils.cache import patch_vary_headers

# Pages answer htmx with a fragment and a browser with the whole page at the same URL; a
# history restore gets the whole page although it also says HX-Request.
HTMX_VARY = ["HX-Request", "HX-History-Restore-Request"]


class HtmxVaryMiddleware:
    """Mark every response as varying on the htmx headers, so no cache (the browser's
    included, on back and forward) hands a fragment to a full-page load of its URL. One place
    instead of each view that branches on ``request.htmx`` remembering to."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        response = self.get_response(request)
        patch_vary_headers(response, HTMX_VARY)
        return response
