"""The bank statement import: incoming payments matched to deals, confirmed, recorded once."""

import re
from datetime import date

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from deals.models import Client, Payment
from deals.stages import Stage
from tests.deals.factories import Pipeline, make_deal


def statement_file(*, inn: str, invoice: str, amount: str) -> bytes:
    lines = [
        "1CClientBankExchange",
        "ВерсияФормата=1.03",
        "Кодировка=Windows",
        "ДатаНачала=01.03.2026",
        "ДатаКонца=31.03.2026",
        "РасчСчет=40702810900000000001",
        "СекцияДокумент=Платежное поручение",
        "Номер=318",
        "Дата=05.03.2026",
        f"Сумма={amount}",
        "ПлательщикСчет=40702810938000012345",
        "Плательщик1=ООО «Ромашка»",
        f"ПлательщикИНН={inn}",
        "ПолучательСчет=40702810900000000001",
        "ПолучательИНН=8602000000",
        "ДатаПоступило=05.03.2026",
        f"НазначениеПлатежа=Оплата по счету № {invoice} от 03.03.2026 за бытовую химию, НДС не облагается",
        "КонецДокумента",
        "КонецФайла",
    ]
    return "\r\n".join(lines).encode("cp1251")


@pytest.fixture
def deal_awaiting_payment(hunter, production, accountant, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.VAR_DIR = tmp_path
    return Pipeline(hunter=hunter, production=production, accountant=accountant).advance_to(
        make_deal(acting_user=hunter), Stage.PAYMENT
    )


def upload(client, data: bytes):
    return client.post(
        reverse("compensation:bank_import"), {"file": SimpleUploadedFile("kl_to_1c.txt", data)}
    )


def test_incoming_payment_is_matched_by_inn_and_invoice_and_recorded_once(
    client, accountant, deal_awaiting_payment
):
    deal = deal_awaiting_payment
    inn = Client.objects.get(pk=deal.client_id).inn
    invoice = deal.documents.get(kind="invoice").number
    data = statement_file(inn=inn, invoice=invoice, amount=f"{deal.order.total}")
    client.force_login(accountant)

    preview = upload(client, data).content.decode()
    assert "по ИНН плательщика и счёту" in preview
    take = re.search(r'name="(take_\d+)"', preview).group(1)
    deal_field = re.search(r'name="(deal_\d+)" value="(\d+)"', preview)
    assert int(deal_field.group(2)) == deal.pk
    confirm = {"step": "confirm", take: "1", deal_field.group(1): deal_field.group(2)}
    client.post(reverse("compensation:bank_import"), confirm)

    payment = Payment.objects.get(deal=deal)
    assert payment.amount == deal.order.total
    assert payment.received_on == date(2026, 3, 5)
    assert payment.bank_document == "п/п 318 от 05.03.2026"

    upload(client, data)
    client.post(reverse("compensation:bank_import"), confirm)
    assert Payment.objects.filter(deal=deal).count() == 1


def test_unknown_payer_is_listed_and_nothing_is_recorded(client, accountant, deal_awaiting_payment):
    client.force_login(accountant)
    page = upload(client, statement_file(inn="5408131553", invoice="1", amount="100.00")).content.decode()
    assert "не найден среди клиентов" in page
    assert 'name="take_' not in page
    assert not Payment.objects.exists()


def test_a_file_that_is_not_a_bank_statement_is_refused_in_russian(client, accountant, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    client.force_login(accountant)
    response = upload(client, "Наименование;Телефон\n".encode("cp1251"))
    assert response.status_code == 400
    assert "1CClientBankExchange" in response.content.decode()


def test_hunters_cannot_import_bank_statements(client, hunter):
    client.force_login(hunter)
    assert client.get(reverse("compensation:bank_import")).status_code == 403
