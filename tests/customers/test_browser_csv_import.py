"""Real-browser checks of the CSV import: upload, preview, confirm, and the live progress."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import expect

from accounts.roles import Role
from customers.imports import services, steps
from customers.models import Account, ImportJob, ImportStatus

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

ACCOUNTS_CSV = (
    b"id,name,plan,stage,owner_email,traits.tier\n"
    b"acc-1,Acme,pro,onboarding,casey@example.com,gold\n"
    b"acc-2,Globex,starter,,,\n"
    b"acc-3,Initech,pro,renewal,,silver\n"
)


def choose_file(page, data: bytes, name: str = "accounts.csv") -> None:
    page.get_by_label("CSV file").set_input_files(
        files=[{"name": name, "mimeType": "text/csv", "buffer": data}]
    )


def test_a_csm_uploads_accounts_sees_the_preview_confirms_and_sees_the_counts(
    page, login, make_user
):
    Account.objects.create(external_id="acc-3", name="Initech (old name)")
    login(make_user(Role.CSM, "casey@example.com", "Casey Success"))
    page.goto("/customers/imports/")
    page.get_by_label("The file holds").select_option("accounts")
    choose_file(page, ACCOUNTS_CSV)
    page.get_by_role("button", name="Upload and check").click()

    page.wait_for_url(re.compile(r"/customers/imports/\d+/$"))
    expect(page.get_by_role("heading", name="Preview")).to_be_visible()
    preview = page.locator("table.import-preview")
    expect(preview.get_by_role("cell", name="Acme", exact=True)).to_be_visible()
    expect(preview.get_by_role("cell", name="tier: gold")).to_be_visible()
    expect(page.get_by_text("Nothing has been written yet")).to_be_visible()
    assert Account.objects.count() == 1

    page.get_by_role("button", name="Import 3 rows").click()
    expect(page.get_by_role("heading", name="Imported")).to_be_visible()
    expect(page.locator('[data-count="created"]')).to_have_text("2")
    expect(page.locator('[data-count="updated"]')).to_have_text("1")
    assert set(Account.objects.values_list("name", flat=True)) == {"Acme", "Globex", "Initech"}
    assert Account.objects.get(external_id="acc-1").owner.email == "casey@example.com"


def test_rows_with_errors_need_the_skip_box_ticked(page, login, make_user):
    login(make_user(Role.CSM))
    page.goto("/customers/imports/")
    page.get_by_label("The file holds").select_option("accounts")
    choose_file(page, b"id,name,stage\nacc-1,Acme,\nacc-2,Globex,prospect\n")
    page.get_by_role("button", name="Upload and check").click()

    errors = page.locator("table.import-errors")
    expect(errors.get_by_role("row").nth(1)).to_contain_text("3")
    expect(errors).to_contain_text("'prospect' is not a known lifecycle stage")
    page.get_by_role("button", name="Import 1 row").click()
    expect(page.get_by_role("alert")).to_contain_text("Tick “Skip 1 rows with errors”")
    assert not Account.objects.exists()

    page.get_by_label("Skip 1 row with errors and import the other 1").check()
    page.get_by_role("button", name="Import 1 row").click()
    expect(page.locator('[data-count="created"]')).to_have_text("1")
    expect(page.locator('[data-count="skipped"]')).to_have_text("1")
    assert list(Account.objects.values_list("external_id", flat=True)) == ["acc-1"]


def test_the_job_page_follows_a_worker_through_checking_and_importing(
    page, login, make_user, monkeypatch
):
    """With no eager task (as with a real worker), the page polls and updates by itself."""
    monkeypatch.setattr(services, "_import_enqueue", lambda task, job_id: None)
    login(make_user(Role.CSM))
    page.goto("/customers/imports/")
    page.get_by_label("The file holds").select_option("accounts")
    choose_file(page, ACCOUNTS_CSV.replace(b"casey@example.com", b""))
    page.get_by_role("button", name="Upload and check").click()

    expect(page.get_by_text("Checking rows: 0 of 3")).to_be_visible()
    job = ImportJob.objects.get()
    steps.import_job_validate(job_id=job.pk)  # the worker
    expect(page.get_by_role("heading", name="Preview")).to_be_visible()  # no reload

    page.get_by_role("button", name="Import 3 rows").click()
    expect(page.get_by_text("Importing rows: 0 of 3")).to_be_visible()
    assert ImportJob.objects.get().status == ImportStatus.IMPORTING
    steps.import_job_apply(job_id=job.pk)  # the worker
    expect(page.locator('[data-count="created"]')).to_have_text("3")
    expect(page.locator("#import-job")).not_to_have_attribute("hx-get", re.compile(".*"))
