from django.contrib import admin
from django.urls import include, path, re_path

from accounts.forms import AdminLoginForm
from config.views import healthz
from customers.api import not_found as api_not_found
from customers.api import segment_http_api_urlpatterns
from metrics.views import home

admin.site.site_header = "Tenure administration"
admin.site.site_title = "Tenure admin"
admin.site.login_form = AdminLoginForm

urlpatterns = [
    path("", home, name="home"),
    path("auth/", include("accounts.urls")),
    path("customers/", include("customers.urls")),
    path("surveys/", include("surveys.urls")),
    path("health/", include("health.urls")),
    path("s/", include("surveys.public_urls")),
    path("unsubscribe/", include("health.public_urls")),
    path("metrics/", include("metrics.urls")),
    path("loyalty/", include("loyalty.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("customers.api")),
    # Segment's HTTP API paths, where its libraries post when given only this site as host.
    path("v1/", include((segment_http_api_urlpatterns, "segment-v1"))),
    # Anything else under /api/ or /v1/ is a JSON 404, never the HTML page or a slash redirect.
    re_path(r"^(?:api|v1)(?:/|$)", api_not_found),
    path("healthz", healthz, name="healthz"),
]
