"""The lead import as the rep meets it: upload, columns, preview, confirmation, then the job's page.

The preview checks the list against the whole client base, so it names an existing card only to whoever may
see it (SPEC §2), is limited per hour and is logged for the head.
"""

import json
import re
from datetime import timedelta
from html import unescape

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse
from django.utils import timezone

from atlanset_portal.audit import audit_entries
from deals.models import Client, LeadImportUpload
from imports.models import ImportJob
from tests.deals.factories import make_client
from tests.properties.support import assert_clear_russian, page_text

TWO_GIS_CSV = (
    "Наименование;Рубрики;Адрес;Город;Телефон 1;Телефон 2;E-mail 1\n"
    "ООО «Ромашка»;Клининг, Уборка;ул. Ленина, 1;Сургут;8 (3462) 55-12-34;8 912 345-67-89;info@romashka.ru\n"
    "Без адреса;;;Сургут;8 912 111-11-11;;\n"
    "Кафе «Уют»;Общепит;ул. Мира, 3;Сургут;8 922 222-22-22;;\n"
)


@pytest.fixture(autouse=True)
def _stash_in_tmp(settings, tmp_path):
    settings.VAR_DIR = tmp_path


def upload(client, data: bytes = TWO_GIS_CSV.encode("cp1251"), name="leads.csv", **fields):
    return client.post(
        reverse("clients:import"),
        {"step": "upload", "source": "2gis", "file": SimpleUploadedFile(name, data), **fields},
    )


def hidden(response, name: str) -> str:
    return unescape(re.search(rf'name="{name}" value="([^"]*)"', response.content.decode()).group(1))


def confirm(client, preview, *, run, **fields):
    """Confirms the previewed import; ``run`` executes the queued job (the task runs eagerly on commit)."""
    body = {
        "step": "confirm",
        "token": hidden(preview, "token"),
        "mapping": hidden(preview, "mapping"),
        **fields,
    }
    with run(execute=True):
        return client.post(reverse("clients:import"), body)


def test_a_list_is_previewed_then_imported_in_the_background_with_its_report(
    client, hunter, django_capture_on_commit_callbacks
):
    make_client(acting_user=hunter, name="Кафе «Уют» (старое)", phones=["8 922 222-22-22"])
    client.force_login(hunter)
    preview = upload(client)
    text = page_text(preview)
    assert "Будет импортировано: 1" in text
    assert "нет адреса" in text
    assert "уже есть в базе у вашего клиента «Кафе «Уют» (старое)»" in text  # her own card is named
    assert Client.objects.count() == 1  # nothing is written before the confirmation

    response = confirm(client, preview, run=django_capture_on_commit_callbacks)

    job = ImportJob.objects.get()
    assert response.status_code == 302 and response["Location"] == reverse(
        "clients:import_job", args=[job.pk]
    )
    assert (job.kind, job.owner, job.status, job.total, job.processed) == ("leads", hunter, "done", 3, 3)
    imported = Client.objects.get(name="ООО «Ромашка»")
    assert imported.owner == hunter
    assert imported.address == "Сургут, ул. Ленина, 1"
    assert sorted(imported.phones.values_list("number", flat=True)) == ["+73462551234", "+79123456789"]
    page = page_text(client.get(response["Location"]))
    assert "Импортировано клиентов: 1 . Пропущено строк: 2 ." in page  # (the figures are in <strong>)
    assert "Без адреса" in page and "нет адреса" in page
    assert bytes(job.data) == b""  # the list is not kept once imported


def test_the_job_page_survives_a_reload_and_polls_only_while_the_job_is_not_over(
    client, hunter, django_capture_on_commit_callbacks
):
    client.force_login(hunter)
    preview = upload(client)
    with django_capture_on_commit_callbacks(execute=False):  # queued, no worker has taken it yet
        client.post(
            reverse("clients:import"),
            {"step": "confirm", "token": hidden(preview, "token"), "mapping": hidden(preview, "mapping")},
        )
    job = ImportJob.objects.get()
    url = reverse("clients:import_job", args=[job.pk])

    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert f'hx-get="{url}"' in html and 'hx-trigger="every 2s"' in html
    assert "В очереди" in page_text(page) and "Страницу можно закрыть" in page_text(page)
    assert not re.search(r"<script(?![^>]*\bsrc=)", html)  # no inline script: the CSP forbids it
    assert " style=" not in html

    fragment = client.get(url, headers={"HX-Request": "true"})
    assert fragment.status_code == 200
    assert fragment.content.decode().lstrip().startswith('<section id="import-job"')
    assert "<html" not in fragment.content.decode()
    assert "HX-Request" in fragment["Vary"]

    from deals.tasks import import_leads

    import_leads.delay(job.pk)  # the worker takes it
    done = client.get(url, headers={"HX-Request": "true"}).content.decode()
    assert "hx-trigger" not in done  # over: the fragment stops polling
    assert "Импортировано клиентов: 2 ." in page_text(client.get(url))  # and a reload shows the report
    assert Client.objects.count() == 2


def test_a_job_runs_once_however_often_its_task_is_delivered(
    client, hunter, django_capture_on_commit_callbacks
):
    from deals.tasks import import_leads

    client.force_login(hunter)
    confirm(client, upload(client), run=django_capture_on_commit_callbacks)
    job = ImportJob.objects.get()
    finished_at = job.finished_at

    import_leads.delay(job.pk)
    import_leads.delay(job.pk)

    job.refresh_from_db()
    assert Client.objects.count() == 2
    assert (job.status, job.attempts, job.finished_at, job.result["created"]) == ("done", 1, finished_at, 2)


def test_confirming_the_same_upload_twice_is_one_job(client, hunter, django_capture_on_commit_callbacks):
    client.force_login(hunter)
    preview = upload(client)
    first = confirm(client, preview, run=django_capture_on_commit_callbacks)
    second = confirm(client, preview, run=django_capture_on_commit_callbacks)

    assert first.status_code == 302
    assert second.status_code == 400  # the upload is used up
    assert "Загруженный файл не найден" in page_text(second)
    assert ImportJob.objects.count() == 1 and Client.objects.count() == 2


def test_only_the_owner_and_the_head_see_a_lead_import_job(
    client, hunter, other_hunter, sales_head, accountant, django_capture_on_commit_callbacks
):
    client.force_login(hunter)
    confirm(client, upload(client), run=django_capture_on_commit_callbacks)
    url = reverse("clients:import_job", args=[ImportJob.objects.get().pk])

    client.force_login(other_hunter)
    assert client.get(url).status_code == 404
    assert client.get(url, headers={"HX-Request": "true"}).status_code == 404
    client.force_login(sales_head)
    assert client.get(url).status_code == 200
    client.force_login(accountant)
    assert client.get(url).status_code == 403
    client.force_login(hunter)
    assert client.get(reverse("clients:import_job", args=[ImportJob.objects.get().pk + 1])).status_code == 404


def test_a_job_of_another_kind_is_not_found_on_the_lead_import_page(client, sales_head):
    job = ImportJob.objects.create(kind=ImportJob.Kind.CALLS, owner=sales_head, status="done")
    client.force_login(sales_head)
    assert client.get(reverse("clients:import_job", args=[job.pk])).status_code == 404
    assert client.get(reverse("kpi:call_import_job", args=[job.pk])).status_code == 200


def test_the_upload_page_lists_the_reps_own_recent_imports(
    client, hunter, other_hunter, django_capture_on_commit_callbacks
):
    client.force_login(hunter)
    confirm(client, upload(client, name="Сургут-автосервисы.csv"), run=django_capture_on_commit_callbacks)
    assert "Сургут-автосервисы.csv" in page_text(client.get(reverse("clients:import")))
    client.force_login(other_hunter)
    assert "Сургут-автосервисы.csv" not in page_text(client.get(reverse("clients:import")))


# --- finding 1: the preview is no look-up service for the client base ---------------------------------------


def test_a_hunter_learns_only_that_a_phone_is_taken_not_whose_card_it_is(client, hunter, other_hunter):
    make_client(acting_user=other_hunter, name="Салон «Секрет» Анны", phones=["8 922 222-22-22"])
    client.force_login(hunter)

    text = page_text(upload(client))

    assert "телефон +79222222222 уже в базе" in text
    assert "Салон «Секрет» Анны" not in text and "Смирнова" not in text


def test_the_head_sees_the_card_and_its_hunter_as_the_duplicate_rule_says(client, sales_head, other_hunter):
    make_client(acting_user=other_hunter, name="Салон «Секрет» Анны", phones=["8 922 222-22-22"])
    client.force_login(sales_head)

    text = page_text(upload(client, owner=str(other_hunter.pk)))

    assert "уже есть в базе у клиента «Салон «Секрет» Анны» (хантер: Анна Смирнова)" in text


def test_every_check_is_logged_for_the_head_with_its_rows_and_duplicates(client, hunter, other_hunter):
    make_client(acting_user=other_hunter, phones=["8 922 222-22-22"])
    client.force_login(hunter)
    upload(client, name="выгрузка-2гис.csv")

    log = LeadImportUpload.objects.get()
    assert (log.by, log.file_name, log.rows, log.duplicates) == (hunter, "выгрузка-2гис.csv", 3, 1)
    [entry] = audit_entries(kinds=["lead_upload"])
    assert (entry.who, entry.object_label) == ("Иван Иванов", "выгрузка-2гис.csv")
    assert ("строк", "—", "3") in entry.changes and ("уже в базе", "—", "1") in entry.changes


def test_the_audit_page_shows_the_checks_to_the_head(client, hunter, sales_head):
    client.force_login(hunter)
    upload(client, name="выгрузка-2гис.csv")
    client.force_login(sales_head)

    text = page_text(client.get(reverse("audit"), {"kind": "lead_upload"}))

    assert "Проверка списка лидов: выгрузка-2гис.csv" in text
    assert "строк: — → 3" in text


def test_checks_beyond_the_hourly_limit_are_refused_saying_when_to_try_again(client, hunter, settings):
    settings.LEAD_IMPORT_UPLOADS_PER_HOUR = 3
    client.force_login(hunter)
    first_at = timezone.now() - timedelta(minutes=50)
    for minutes in (0, 10, 20):
        LeadImportUpload.objects.create(
            by=hunter, at=first_at + timedelta(minutes=minutes), rows=20_000, duplicates=0
        )
    LeadImportUpload.objects.create(
        by=hunter, at=timezone.now() - timedelta(minutes=61), rows=1, duplicates=0
    )

    response = upload(client)

    assert response.status_code == 429
    retry_at = timezone.localtime(first_at + timedelta(hours=1))
    message = response.context["error"]
    assert message == (
        "Списки лидов можно проверять не больше 3 раз в час. "
        f"Следующую проверку можно сделать в {retry_at:%H:%M}."
    )
    assert message in page_text(response)
    assert LeadImportUpload.objects.count() == 4  # a refused check is no check


def test_choosing_columns_again_is_another_check(client, hunter, settings):
    settings.LEAD_IMPORT_UPLOADS_PER_HOUR = 2
    client.force_login(hunter)
    data = "Компания;Где;Тел.;Тел. 2\nКафе;Сургут, ул. Мира, 3;89225553311;89225553312\n".encode()
    token = hidden(upload(client, data), "token")

    def map_phones(column: str):
        return client.post(
            reverse("clients:import"),
            {"step": "map", "token": token, "name": "0", "address": "1", "phones": [column]},
        )

    assert map_phones("2").status_code == 200
    assert map_phones("3").status_code == 200
    refused = map_phones("2")
    assert refused.status_code == 429
    assert "не больше 2 раз в час" in page_text(refused)
    assert LeadImportUpload.objects.count() == 2


def test_other_people_s_checks_do_not_count_against_the_limit(client, hunter, other_hunter, settings):
    settings.LEAD_IMPORT_UPLOADS_PER_HOUR = 1
    LeadImportUpload.objects.create(by=other_hunter, rows=1, duplicates=0)
    client.force_login(hunter)
    assert upload(client).status_code == 200


# --- steps that do not fit ----------------------------------------------------------------------------


def test_lead_import_asks_for_columns_when_the_layout_is_unknown(client, hunter):
    client.force_login(hunter)
    response = upload(client, "Компания;Где;Тел.\nКафе;Сургут, ул. Мира, 3;89225553311\n".encode("utf-8-sig"))
    assert "Какие столбцы что означают" in page_text(response)
    assert LeadImportUpload.objects.count() == 0  # nothing was looked up yet
    preview = client.post(
        reverse("clients:import"),
        {"step": "map", "token": hidden(response, "token"), "name": "0", "address": "1", "phones": ["2"]},
    )
    assert "Будет импортировано: 1" in page_text(preview)


def test_lead_import_refuses_a_file_that_is_not_a_table(client, hunter):
    client.force_login(hunter)
    response = upload(client, b"%PDF-1.4 not a table", name="leads.pdf")
    assert response.status_code == 400
    assert Client.objects.count() == 0


@pytest.mark.parametrize(
    "mapping",
    [
        json.dumps({"nope": [1]}),
        json.dumps({"name": [1.5], "address": [2], "phones": [4]}),  # was a server error
        json.dumps({"name": [0], "address": [2], "phones": [5]}),  # valid, but not what was previewed
        "[" * 100_000,
        "",
    ],
    ids=["unknown-field", "float-column", "other-columns", "deep-json", "empty"],
)
def test_a_confirmation_with_another_mapping_than_the_preview_s_is_refused_in_russian(
    client, hunter, mapping, django_capture_on_commit_callbacks
):
    client.force_login(hunter)
    preview = upload(client)
    with django_capture_on_commit_callbacks(execute=True):
        response = client.post(
            reverse("clients:import"),
            {"step": "confirm", "token": hidden(preview, "token"), "mapping": mapping},
        )
    assert response.status_code == 400
    message = response.context["error"]
    assert_clear_russian(message)
    assert "повреждено" in message and message in page_text(response)
    assert Client.objects.count() == 0 and not ImportJob.objects.exists()


def test_a_confirmation_without_a_preview_is_refused(client, hunter):
    client.force_login(hunter)
    response = upload(client, "Компания;Где;Тел.\nКафе;Сургут, ул. Мира, 3;89225553311\n".encode())
    confirmed = client.post(
        reverse("clients:import"), {"step": "confirm", "token": hidden(response, "token"), "mapping": "{}"}
    )
    assert confirmed.status_code == 400 and not ImportJob.objects.exists()


def test_the_job_page_reads_a_fixed_number_of_queries_whatever_the_report_holds(
    client, hunter, django_capture_on_commit_callbacks, django_assert_max_num_queries
):
    rows = "".join(f"Кафе {n};;;Сургут;8 912 {n:07d};;\n" for n in range(300))  # 300 rejected rows
    client.force_login(hunter)
    confirm(client, upload(client, (TWO_GIS_CSV + rows).encode()), run=django_capture_on_commit_callbacks)
    url = reverse("clients:import_job", args=[ImportJob.objects.get().pk])

    with django_assert_max_num_queries(12):  # the page's frame (session, user, bell, onboarding) and the job
        page = client.get(url)
    assert "Импортировано клиентов: 2 . Пропущено строк: 301 ." in page_text(page)
    with django_assert_max_num_queries(12):  # polled every 2 s: the same handful of queries
        client.get(url, headers={"HX-Request": "true"})
