"""Loyalty pages for the team: the account page's loyalty section (balance, tier and progress,
history, redeem on the account's behalf, a manual award, a customer link) and the
redemptions list CSMs work through. The program dashboard is in :mod:`loyalty.views_dashboard`,
the customer's own page in :mod:`loyalty.views_public`.

Viewers read; only CSMs and admins change anything (``worker_required``). Every form that
moves points carries a nonce that becomes the ledger's idempotency key, so a double submit
moves them once.
"""

from __future__ import annotations

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.views.decorators.http import require_GET, require_POST

from accounts.decorators import worker_required
from core.http import safe_next
from customers.models import Account, Contact
from customers.sections import section_response
from customers.selectors import account_get
from loyalty import redemptions as redemption_actions
from loyalty import services
from loyalty.forms import AwardForm, CancelForm, LinkForm, RedeemForm, RedemptionFilterForm
from loyalty.links import link_create
from loyalty.models import Redemption
from loyalty.selectors_pages import account_standing, redemption_list

PANEL = "loyalty/_panel.html"


def _contacts(account: Account) -> list[Contact]:
    return list(account.contacts.order_by("name", "pk")[:100])


def _panel(request: HttpRequest, account: Account, *, status: int = 200, **extra) -> HttpResponse:
    standing = account_standing(account)
    context = {
        "standing": standing,
        "program": standing.program,
        "can_work": request.user.can_work,
        "award_form": AwardForm(auto_id="award_%s"),
        "redeem_form": RedeemForm(auto_id="redeem_%s"),
        "link_form": LinkForm(auto_id="link_%s", contacts=_contacts(account)),
    } | extra
    return section_response(
        request, account=account, template=PANEL, title="Loyalty", context=context, status=status
    )


@require_GET
def account_panel(request: HttpRequest, pk: int) -> HttpResponse:
    return _panel(request, account_get(user=request.user, account_id=pk))


def _done(request: HttpRequest, account: Account, message: str, **extra) -> HttpResponse:
    if request.htmx:
        return _panel(request, account, done=message, **extra)
    messages.success(request, message)
    return redirect("customers:account", pk=account.pk)


def _refused(request: HttpRequest, account: Account, **extra) -> HttpResponse:
    return _panel(request, account, status=422 if request.htmx else 400, **extra)


@require_POST
@worker_required
def account_award(request: HttpRequest, pk: int) -> HttpResponse:
    """A CSM's manual award, with its reason kept on the entry."""
    account = account_get(user=request.user, account_id=pk)
    form = AwardForm(request.POST, auto_id="award_%s")
    if not form.is_valid():
        return _refused(request, account, award_form=form, award_open=True)
    data = form.cleaned_data
    try:
        services.award(
            account,
            data["points"],
            reason=f"{data['reason']} (by {request.user.get_short_name()})",
            idempotency_key=f"manual:{account.pk}:{data['nonce']}",
        )
    except ValidationError as error:
        form.add_error(None, error)
        return _refused(request, account, award_form=form, award_open=True)
    return _done(request, account, f"{data['points']} points awarded.")


@require_POST
@worker_required
def account_redeem(request: HttpRequest, pk: int) -> HttpResponse:
    """Redeem a reward on the account's behalf: the points leave at once and the redemption
    waits on the redemptions list for approval and fulfilment."""
    account = account_get(user=request.user, account_id=pk)
    form = RedeemForm(request.POST, auto_id="redeem_%s")
    if not form.is_valid():
        return _refused(request, account, redeem_form=form)
    reward = form.cleaned_data["reward"]
    try:
        redemption_actions.redeem_for(
            account=account,
            reward=reward,
            idempotency_key=f"csm:{account.pk}:{form.cleaned_data['nonce']}",
            user=request.user,
        )
    except redemption_actions.RedeemRefused as refused:
        form.add_error(None, str(refused))
        return _refused(request, account, redeem_form=form)
    return _done(request, account, f"{reward.name} requested for {account.name}.")


@require_POST
@worker_required
def account_link(request: HttpRequest, pk: int) -> HttpResponse:
    """A new customer link for one of the account's contacts. The token is shown once, here:
    only its hash is kept."""
    account = account_get(user=request.user, account_id=pk)
    contacts = _contacts(account)
    form = LinkForm(request.POST, auto_id="link_%s", contacts=contacts)
    if not form.is_valid():
        return _refused(request, account, link_form=form, link_open=True)
    contact = next(c for c in contacts if c.pk == form.cleaned_data["contact"])
    _, token = link_create(contact=contact, user=request.user)
    url = request.build_absolute_uri(reverse("loyalty:public", args=[token]))
    return _panel(request, account, new_link=url, new_link_contact=contact, link_open=True)


# --- redemptions ----------------------------------------------------------------------------


@require_GET
def redemptions(request: HttpRequest) -> HttpResponse:
    """What the team has to approve and fulfil (``?state=`` for the others)."""
    form = RedemptionFilterForm(request.GET)
    status = 200
    state = None
    if form.is_valid():
        state = form.cleaned_data["state"] or None
    else:
        status = 400
    context = {
        "form": form,
        "state": state or "",
        "rows": redemption_list(user=request.user, state=state) if status == 200 else [],
        "can_work": request.user.can_work,
        "cancel_form": CancelForm(auto_id=False),
    }
    if request.htmx and not request.htmx.history_restore_request:
        return render(request, "loyalty/redemptions.html#rows", context, status=status)
    return render(request, "loyalty/redemptions.html", context, status=status)


@require_POST
@worker_required
def redemption_action(request: HttpRequest, pk: int, action: str) -> HttpResponse:
    """Approve, fulfil (which makes a task for the account's owner) or cancel (the points
    come back) one redemption."""
    redemption = get_object_or_404(
        Redemption.objects.filter(
            member__account__in=Account.objects.visible_to(request.user)
        ).select_related("member__account", "reward"),
        pk=pk,
    )
    reason = ""
    if action == "cancel":
        form = CancelForm(request.POST)
        reason = form.cleaned_data["reason"] if form.is_valid() else ""
    try:
        redemption_actions.move(
            redemption=redemption, action=action, user=request.user, reason=reason
        )
    except redemption_actions.RedeemRefused as refused:
        messages.error(request, str(refused))
    else:
        messages.success(request, f"{redemption.reward.name}: {action} done.")
    return redirect(safe_next(request, reverse("loyalty:redemptions")))
