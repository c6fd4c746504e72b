"""CSV import pages: permissions, CSRF, upload → preview → confirm, escaping, htmx progress."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from django.urls import reverse

from customers.imports.services import import_job_create
from customers.models import Account, Contact, ImportJob, ImportStatus
from tests.customers.csv_import_helpers import checked_job, csv_text, domain_counts

pytestmark = pytest.mark.django_db

PAYLOAD = "<script>alert(1)</script>"
ACCOUNTS = "id,name,plan,stage,traits.tier"


def upload(client: Client, kind: str, text: str | bytes, name: str = "accounts.csv", **extra):
    data = text if isinstance(text, bytes) else text.encode()
    return client.post(
        reverse("customers:import_new"),
        {"kind": kind, "file": SimpleUploadedFile(name, data, content_type="text/csv")},
        **extra,
    )


@pytest.fixture
def committed(django_capture_on_commit_callbacks):
    """Run a request's after-commit hooks (the eager tasks) as they run outside a test."""

    def run(request, *args, **kwargs):
        with django_capture_on_commit_callbacks(execute=True):
            return request(*args, **kwargs)

    return run


# --- who may import ------------------------------------------------------------------------


@pytest.fixture
def job(csm_user):
    return checked_job("accounts", ACCOUNTS, "acc-1,Acme,pro,,", user=csm_user)


def test_a_viewer_is_refused_every_import_page(viewer_client, job):
    pages = [
        ("get", reverse("customers:import_new")),
        ("get", reverse("customers:import_template", args=["accounts"])),
        ("get", reverse("customers:import_detail", args=[job.pk])),
        ("get", reverse("customers:import_progress", args=[job.pk])),
    ]
    for method, url in pages:
        assert getattr(viewer_client, method)(url, HTTP_HX_REQUEST="true").status_code == 403, url


def test_a_viewer_cannot_upload_or_confirm(viewer_client, job):
    assert upload(viewer_client, "accounts", "id,name\nacc-2,Globex\n").status_code == 403
    response = viewer_client.post(reverse("customers:import_confirm", args=[job.pk]))
    assert response.status_code == 403
    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEW
    assert ImportJob.objects.count() == 1
    assert not Account.objects.exists()


def test_an_anonymous_visitor_is_sent_to_log_in(client):
    response = client.get(reverse("customers:import_new"))
    assert response.status_code == 302
    assert response["Location"].startswith(reverse("accounts:login"))


def test_an_admin_may_import(admin_client_):
    assert admin_client_.get(reverse("customers:import_new")).status_code == 200


def test_uploading_without_a_csrf_token_is_refused(csm_user):
    client = Client(enforce_csrf_checks=True)
    client.force_login(csm_user)
    response = upload(client, "accounts", "id,name\nacc-1,Acme\n")
    assert response.status_code == 403
    assert not ImportJob.objects.exists()


def test_confirming_without_a_csrf_token_is_refused(csm_user, job):
    client = Client(enforce_csrf_checks=True)
    client.force_login(csm_user)
    response = client.post(reverse("customers:import_confirm", args=[job.pk]))
    assert response.status_code == 403
    job.refresh_from_db()
    assert job.status == ImportStatus.PREVIEW
    assert not Account.objects.exists()


def test_the_confirm_form_carries_a_csrf_token(csm_client, job):
    page = csm_client.get(reverse("customers:import_detail", args=[job.pk])).content.decode()
    form = page[page.index(reverse("customers:import_confirm", args=[job.pk])) :]
    assert 'name="csrfmiddlewaretoken"' in form[: form.index("</form>")]


# --- upload, preview, confirm --------------------------------------------------------------


def test_the_upload_page_offers_a_blank_file_for_each_kind(csm_client):
    page = csm_client.get(reverse("customers:import_new")).content.decode()
    for kind in ("accounts", "contacts", "revenue"):
        assert reverse("customers:import_template", args=[kind]) in page
    response = csm_client.get(reverse("customers:import_template", args=["revenue"]))
    assert response["Content-Type"] == "text/csv; charset=utf-8"
    assert "attachment" in response["Content-Disposition"]
    assert response.content == b"account,effective_at,mrr,id,kind,plan\r\n"
    assert csm_client.get(reverse("customers:import_template", args=["tickets"])).status_code == 404


def test_upload_shows_a_preview_and_writes_nothing_until_confirmed(csm_client, committed):
    before = domain_counts()
    text = csv_text(ACCOUNTS, "acc-1,Acme,pro,onboarding,gold")
    response = committed(upload, csm_client, "accounts", text)
    job = ImportJob.objects.get()
    assert response.status_code == 302
    assert response["Location"] == reverse("customers:import_detail", args=[job.pk])
    page = csm_client.get(response["Location"])
    html = page.content.decode()
    assert job.status == ImportStatus.PREVIEW
    assert "Acme" in html and "tier: gold" in html
    assert "Import 1 row" in html
    assert "Nothing has been written yet" in html
    assert domain_counts() == before


def test_confirming_imports_and_the_page_shows_the_counts(csm_client, csm_user, committed):
    Account.objects.create(external_id="acc-1", name="Old name")
    job = checked_job("accounts", ACCOUNTS, "acc-1,Acme,pro,,", "acc-2,Globex,,,", user=csm_user)
    response = committed(csm_client.post, reverse("customers:import_confirm", args=[job.pk]))
    assert response.status_code == 302
    job.refresh_from_db()
    assert (job.status, job.created_rows, job.updated_rows) == (ImportStatus.DONE, 1, 1)
    html = csm_client.get(response["Location"]).content.decode()
    assert '<dd data-count="created">1</dd>' in html
    assert '<dd data-count="updated">1</dd>' in html
    assert '<dd data-count="unchanged">0</dd>' in html
    assert "hx-get" not in html  # finished: nothing polls


def test_a_header_error_answers_400_naming_the_columns(csm_client):
    response = upload(csm_client, "contacts", "id,mail\n1,a@b.c\n")
    assert response.status_code == 400
    html = response.content.decode()
    assert "missing required column: account" in html
    assert "unknown column: “mail”" in html
    assert not ImportJob.objects.exists()


def test_an_oversized_upload_answers_400_with_the_limit(csm_client):
    response = upload(csm_client, "accounts", b"id,name\n" + b"x" * (20 * 2**20))
    assert response.status_code == 400
    assert "larger than 20 MB" in response.content.decode()
    assert not ImportJob.objects.exists()


def test_an_upload_without_a_file_names_the_file_field(csm_client):
    response = csm_client.post(reverse("customers:import_new"), {"kind": "accounts"})
    assert response.status_code == 400
    assert "This field is required" in response.content.decode()


def test_row_errors_block_confirming_until_skipping_is_ticked(csm_client, csm_user, committed):
    Account.objects.create(external_id="acc-1", name="Acme")
    job = checked_job(
        "contacts", "id,account,email", "c-1,acc-1,ola@acme.com", "c-2,acc-9,kari@x.com"
    )
    html = csm_client.get(reverse("customers:import_detail", args=[job.pk])).content.decode()
    assert "Skip 1 row with errors and import the other 1" in html
    assert 'name="skip_invalid"' in html
    response = csm_client.post(reverse("customers:import_confirm", args=[job.pk]))
    assert response.status_code == 400
    assert "Tick “Skip 1 rows with errors”" in response.content.decode()
    assert not Contact.objects.exists()

    response = committed(
        csm_client.post, reverse("customers:import_confirm", args=[job.pk]), {"skip_invalid": "1"}
    )
    assert response.status_code == 302
    assert list(Contact.objects.values_list("external_id", flat=True)) == ["c-1"]
    html = csm_client.get(response["Location"]).content.decode()
    assert '<dd data-count="skipped">1</dd>' in html


def test_a_file_with_no_valid_row_offers_no_confirmation(csm_client):
    job = checked_job("contacts", "id,account", "c-1,acc-404")
    html = csm_client.get(reverse("customers:import_detail", args=[job.pk])).content.decode()
    assert reverse("customers:import_confirm", args=[job.pk]) not in html
    assert "cannot be imported as it is" in html


def test_confirming_a_job_still_being_checked_answers_409(csm_client):
    job = import_job_create(
        kind="accounts", filename="a.csv", content_bytes=b"id,name\na,A\n", user=None
    )
    response = csm_client.post(reverse("customers:import_confirm", args=[job.pk]))
    assert response.status_code == 409
    assert "only a checked file" in response.content.decode()


def test_a_missing_job_is_a_404(csm_client):
    assert csm_client.get(reverse("customers:import_detail", args=[424242])).status_code == 404
    assert csm_client.post(reverse("customers:import_confirm", args=[424242])).status_code == 404


def test_a_latin1_upload_shows_its_warning_on_the_job_page(csm_client, committed):
    response = committed(
        upload, csm_client, "accounts", "id,name\nacc-1,Société\n".encode("latin-1")
    )
    html = csm_client.get(response["Location"]).content.decode()
    assert "not UTF-8" in html
    assert "Société" in html


# --- escaping ------------------------------------------------------------------------------


def test_script_payloads_are_escaped_in_the_preview_errors_and_lists(csm_client, committed):
    text = csv_text(
        ACCOUNTS,
        f"acc-1,{PAYLOAD},{PAYLOAD},,{PAYLOAD}",
        f"acc-2,Fine,,{PAYLOAD},",
    )
    filename = "<img src=x onerror=alert(2)>.csv"  # a "/" would be cut as a path
    response = committed(upload, csm_client, "accounts", text, name=filename)
    job = ImportJob.objects.get()
    assert job.filename == filename
    assert any(PAYLOAD in error["error"] for error in job.errors)  # it reached the errors
    assert job.preview[0]["name"] == PAYLOAD  # and the preview
    pages = {
        "job": csm_client.get(response["Location"]),
        "progress": csm_client.get(
            reverse("customers:import_progress", args=[job.pk]), HTTP_HX_REQUEST="true"
        ),
        "list": csm_client.get(reverse("customers:import_new")),
    }
    for name, page in pages.items():
        html = page.content.decode()
        assert PAYLOAD not in html and "<img src=x" not in html, name
        assert "&lt;img src=x onerror=alert(2)&gt;.csv" in html or name == "progress", name
        if name != "list":
            assert "&lt;script&gt;alert(1)&lt;/script&gt;" in html, name


# --- progress ------------------------------------------------------------------------------


def test_the_progress_endpoint_returns_a_polling_fragment_while_checking(csm_client):
    job = import_job_create(
        kind="accounts", filename="a.csv", content_bytes=b"id,name\na,A\nb,B\n", user=None
    )
    ImportJob.objects.filter(pk=job.pk).update(processed_rows=1)
    url = reverse("customers:import_progress", args=[job.pk])
    response = csm_client.get(url, HTTP_HX_REQUEST="true")
    html = response.content.decode()
    assert response.status_code == 200
    assert "<html" not in html and html.lstrip().startswith('<div id="import-job"')
    assert f'hx-get="{url}"' in html and 'hx-trigger="every 1s"' in html
    assert '<progress id="import-progress-bar" max="2" value="1">' in html
    assert "Checking rows: 1 of 2 (50 %)" in html
    assert response["Vary"] and "HX-Request" in response["Vary"]


def test_the_progress_fragment_stops_polling_once_the_check_is_done(csm_client, job):
    response = csm_client.get(
        reverse("customers:import_progress", args=[job.pk]), HTTP_HX_REQUEST="true"
    )
    html = response.content.decode()
    assert "hx-get" not in html and "every 1s" not in html
    assert "Acme" in html  # the preview arrives in the same swap


def test_the_progress_bar_shows_an_import_under_way(csm_client, job):
    ImportJob.objects.filter(pk=job.pk).update(status=ImportStatus.IMPORTING, processed_rows=0)
    html = csm_client.get(
        reverse("customers:import_progress", args=[job.pk]), HTTP_HX_REQUEST="true"
    ).content.decode()
    assert "Importing rows: 0 of 1" in html and 'hx-trigger="every 1s"' in html


def test_the_progress_url_without_htmx_leads_to_the_job_page(csm_client, job):
    response = csm_client.get(reverse("customers:import_progress", args=[job.pk]))
    assert response.status_code == 302
    assert response["Location"] == reverse("customers:import_detail", args=[job.pk])


def test_the_job_page_polls_while_checking(csm_client):
    job = import_job_create(
        kind="accounts", filename="a.csv", content_bytes=b"id,name\na,A\n", user=None
    )
    html = csm_client.get(reverse("customers:import_detail", args=[job.pk])).content.decode()
    assert "<html" in html
    assert reverse("customers:import_progress", args=[job.pk]) in html


def test_the_upload_page_lists_recent_imports_in_a_fixed_number_of_queries(
    csm_client, csm_user, django_assert_max_num_queries
):
    for n in range(25):
        ImportJob.objects.create(
            kind="accounts", filename=f"file-{n}.csv", content="id,name\n", created_by=csm_user
        )
    with django_assert_max_num_queries(8):
        html = csm_client.get(reverse("customers:import_new")).content.decode()
    assert "file-24.csv" in html
    assert "file-4.csv" not in html  # the twenty most recent


def test_the_admin_lists_imports_read_only_without_their_content(admin_client_, job):
    changelist = admin_client_.get(reverse("admin:customers_importjob_changelist"))
    assert changelist.status_code == 200
    assert "upload.csv" in changelist.content.decode()
    detail = admin_client_.get(reverse("admin:customers_importjob_change", args=[job.pk]))
    assert detail.status_code == 200
    assert "acc-1,Acme,pro" not in detail.content.decode()  # the file's text stays out
    assert admin_client_.get(reverse("admin:customers_importjob_add")).status_code == 403
