"""A lead list imported in the background, in the browser: the rep uploads, checks the preview, confirms,
and the job's page follows the import (htmx polling under the strict CSP) until it shows the report."""

from playwright.sync_api import expect

from accounts.roles import Role
from deals import tasks as deal_tasks
from deals.models import Client
from imports.models import ImportJob
from tests.browser.helpers import sign_in
from tests.browser.test_role_journeys import Console
from tests.factories import UserFactory

LEADS_CSV = (
    "Наименование;Рубрики;Адрес;Город;Телефон 1\n"
    "ООО «Ромашка»;Клининг;ул. Ленина, 1;Сургут;8 (3462) 55-12-34\n"
    "Кафе «Уют»;Общепит;ул. Мира, 3;Сургут;8 922 222-22-22\n"
    "Без адреса;;;Сургут;8 912 111-11-11\n"
).encode("cp1251")


def test_the_job_page_follows_a_lead_import_until_its_report(
    page, settings, monkeypatch, tmp_path, screenshot
):
    settings.VAR_DIR = tmp_path
    console = Console()
    console.watch(page)
    UserFactory(username="novikov", role=Role.HUNTER, full_name="Павел Новиков")
    queued = []
    # No worker takes the job until the test says so: the page must wait for it, then see it done.
    monkeypatch.setattr(deal_tasks.import_leads, "delay", queued.append)

    sign_in(page, "novikov")
    page.goto("/clients/import/")
    page.get_by_label("Файл CSV или XLSX").set_input_files(
        {"name": "2gis-surgut.csv", "mimeType": "text/csv", "buffer": LEADS_CSV}
    )
    page.get_by_role("button", name="Проверить файл").click()
    expect(page.get_by_text("Будет импортировано: 2")).to_be_visible()
    page.get_by_role("button", name="Импортировать 2").click()

    expect(page.get_by_text("В очереди")).to_be_visible()
    job = ImportJob.objects.get()
    assert queued == [job.pk] and Client.objects.count() == 0
    page.reload()  # the page is the job's, not the request's: it survives a reload
    expect(page.get_by_text("В очереди")).to_be_visible()

    deal_tasks.import_leads.apply(args=[job.pk])  # a worker takes it

    expect(page.get_by_text("Импортировано клиентов: 2")).to_be_visible(timeout=10_000)  # polled, no reload
    expect(page.get_by_text("Без адреса")).to_be_visible()
    expect(page.locator("#import-job[hx-trigger]")).to_have_count(0)  # done: polling stopped
    screenshot(page, "lead-import-job-done")
    assert Client.objects.filter(owner__username="novikov").count() == 2
    console.assert_clean()
