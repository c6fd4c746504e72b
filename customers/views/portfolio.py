from django.http import HttpRequest, HttpResponse
from django.shortcuts import render

from customers.models import Account


def portfolio(request: HttpRequest) -> HttpResponse:
    accounts = Account.objects.visible_to(request.user).select_related("owner")[:50]
    return render(request, "customers/portfolio.html", {"accounts": accounts})
