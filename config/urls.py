from django.contrib import admin
from django.urls import include, path

from accounts.forms import AdminLoginForm
from config.views import healthz
from metrics.views import home

admin.site.site_header = "Tenure administration"
admin.site.site_title = "Tenure admin"
admin.site.login_form = AdminLoginForm

urlpatterns = [
    path("", home, name="home"),
    path("auth/", include("accounts.urls")),
    path("customers/", include("customers.urls")),
    path("surveys/", include("surveys.urls")),
    path("s/", include("surveys.public_urls")),
    path("metrics/", include("metrics.urls")),
    path("loyalty/", include("loyalty.urls")),
    path("admin/", admin.site.urls),
    path("api/v1/", include("customers.api")),
    path("healthz", healthz, name="healthz"),
]
