"""Every page varies on the htmx headers: the same URL answers htmx with a fragment and a
browser with the whole page, and no cache may hand one to the other."""

import pytest

from tests.surveys.factories import make_survey

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    "url", ["/", "/customers/", "/surveys/", "/surveys/nps-vary/", "/surveys/follow-ups/"]
)
def test_full_pages_and_fragments_vary_on_the_htmx_headers(csm_client, url):
    make_survey("nps", slug="nps-vary")
    for headers in ({}, {"HX-Request": "true"}):
        response = csm_client.get(url, headers=headers)
        assert response.status_code == 200
        vary = {value.strip() for value in response["Vary"].split(",")}
        assert {"HX-Request", "HX-History-Restore-Request"} <= vary, url


def test_a_history_restore_gets_the_whole_results_page(csm_client):
    make_survey("nps", slug="nps-vary")
    restore = {"HX-Request": "true", "HX-History-Restore-Request": "true"}
    fragment = csm_client.get("/surveys/nps-vary/", headers={"HX-Request": "true"})
    whole = csm_client.get("/surveys/nps-vary/", headers=restore)
    assert "<html" not in fragment.text
    assert "<html" in whole.text
