"""The customer's page behind a per-contact link: the survey links' token rules (only the hash
stored, unknown and revoked alike 404, expired 410, GET never writes), the contact's language,
and a reward request that is CSRF-protected and idempotent on a double submit."""

from __future__ import annotations

import datetime as dt
import hashlib
import uuid
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from loyalty.links import LinkState, link_create, link_resolve, link_revoke
from loyalty.models import LedgerEntry, LoyaltyLink, Redemption, Reward, RewardKind, Tier
from loyalty.services import award, balance
from tests.customers.factories import SCRIPT, make_account, make_contact

pytestmark = pytest.mark.django_db


def gift(name: str = "Free month", cost: int = 100, **fields) -> Reward:
    fields.setdefault("kind", RewardKind.FREE_MONTH)
    fields.setdefault("value", Decimal("1"))
    return Reward.objects.create(name=name, cost_points=cost, **fields)


def url(token: str) -> str:
    return reverse("loyalty:public", args=[token])


@pytest.fixture
def person():
    return make_contact(make_account(name="Acme"), locale="en")


def test_only_the_sha256_of_the_token_is_stored(person):
    link, token = link_create(contact=person)

    assert link.token_hash == hashlib.sha256(token.encode()).hexdigest()
    assert not LoyaltyLink.objects.filter(token_hash=token).exists()
    assert link_resolve(token).state is LinkState.VALID


def test_unknown_tampered_and_revoked_links_get_the_same_404(client, person):
    _, token = link_create(contact=person)
    revoked_link, revoked = link_create(contact=person)
    link_revoke(link=revoked_link)
    tampered = token[:-1] + ("A" if token[-1] != "A" else "B")

    pages = [client.get(url(t)) for t in ("x" * 43, tampered, revoked, "short")]

    assert {p.status_code for p in pages} == {404}
    assert len({p.content for p in pages}) == 1
    assert b"Link not found" in pages[0].content


def test_an_expired_link_gets_a_friendly_410(client, person):
    _, token = link_create(contact=person, now=timezone.now() - dt.timedelta(days=91))

    response = client.get(url(token))

    assert response.status_code == 410
    assert "This link has expired" in response.text


def test_opening_the_page_writes_nothing(client, person, django_assert_max_num_queries):
    link, token = link_create(contact=person)
    award(person.account, 500, reason="x", idempotency_key="k-1")
    gift()
    before = (LedgerEntry.objects.count(), Redemption.objects.count())

    with django_assert_max_num_queries(20) as queries:
        client.get(url(token))
        client.head(url(token))

    writes = [
        q["sql"]
        for q in queries.captured_queries
        if q["sql"].split()[0] in ("INSERT", "UPDATE", "DELETE")
    ]
    assert writes == []
    link.refresh_from_db()
    assert link.last_used_at is None
    assert (LedgerEntry.objects.count(), Redemption.objects.count()) == before


def test_the_page_shows_balance_tier_progress_and_the_rewards_with_escaped_names(client, person):
    Tier.objects.create(name="Silver", threshold=100)
    Tier.objects.create(name="Gold", threshold=1100)
    award(person.account, 600, reason="x", idempotency_key="k-1")
    gift(SCRIPT, 200)
    gift("Beta access", 5000, kind=RewardKind.EARLY_ACCESS, value=None, feature="AI")
    _, token = link_create(contact=person)

    response = client.get(url(token))

    text = response.text
    assert response.status_code == 200
    assert 'data-balance="600"' in text and "Points to spend: 600" in text
    assert "Your tier: Silver" in text
    assert "Earn 500 more to reach Gold." in text
    assert SCRIPT not in text and "&lt;script&gt;" in text
    assert text.count('type="submit"') == 1  # the dear one cannot be requested
    assert "Not enough points yet" in text
    assert response["X-Robots-Tag"] == "noindex, nofollow"


def test_the_page_speaks_the_contacts_language(client):
    contact = make_contact(make_account(), locale="nb")
    _, token = link_create(contact=contact)

    response = client.get(url(token))

    assert response["Content-Language"] == "nb"
    assert '<html lang="nb">' in response.text
    assert "Belønninger" in response.text


def test_a_customer_requests_a_reward_once_even_with_a_double_tap(client, person):
    award(person.account, 300, reason="x", idempotency_key="k-1")
    reward = gift(cost=200)
    _, token = link_create(contact=person)
    data = {"reward": reward.pk, "nonce": uuid.uuid4().hex, "lang": "en"}

    first = client.post(url(token), data)
    second = client.post(url(token), data)

    assert first.status_code == second.status_code == 302
    redemption = Redemption.objects.get()
    assert redemption.requested_by_contact == person
    assert balance(person.account) == 100
    page = client.get(first["Location"])
    assert "Your request is on its way" in page.text


def test_a_request_the_balance_cannot_cover_is_a_message_not_a_500(client, person):
    reward = gift(cost=200)
    _, token = link_create(contact=person)

    response = client.post(url(token), {"reward": reward.pk, "nonce": uuid.uuid4().hex})

    assert response.status_code == 400
    assert "cannot be requested right now" in response.text
    assert Redemption.objects.count() == 0


@pytest.mark.parametrize(
    "data",
    [
        {"reward": "abc", "nonce": uuid.uuid4().hex},
        {"reward": "999999", "nonce": uuid.uuid4().hex},
        {"reward": "1", "nonce": "<script>"},
        {},
    ],
)
def test_bad_input_gets_a_400_with_a_message(client, person, data):
    _, token = link_create(contact=person)

    response = client.post(url(token), data)

    assert response.status_code == 400
    assert 'role="alert"' in response.text
    assert Redemption.objects.count() == 0


def test_a_post_without_the_csrf_token_is_refused(person):
    award(person.account, 300, reason="x", idempotency_key="k-1")
    reward = gift(cost=200)
    _, token = link_create(contact=person)

    response = Client(enforce_csrf_checks=True).post(
        url(token), {"reward": reward.pk, "nonce": uuid.uuid4().hex}
    )

    assert response.status_code == 403
    assert Redemption.objects.count() == 0


def test_a_post_through_an_expired_or_revoked_link_requests_nothing(client, person):
    award(person.account, 300, reason="x", idempotency_key="k-1")
    reward = gift(cost=200)
    _, expired = link_create(contact=person, now=timezone.now() - dt.timedelta(days=91))
    revoked_link, revoked = link_create(contact=person)
    link_revoke(link=revoked_link)
    data = {"reward": reward.pk, "nonce": uuid.uuid4().hex}

    assert client.post(url(expired), data).status_code == 410
    assert client.post(url(revoked), data).status_code == 404
    assert Redemption.objects.count() == 0
