from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from metrics.selectors import home_figures


def home(request: HttpRequest) -> HttpResponse:
    return render(request, "metrics/home.html", {"figures": home_figures(user=request.user)})


def index(request: HttpRequest) -> HttpResponse:
    return render(request, "metrics/index.html", {"figures": home_figures(user=request.user)})
