"""The bank statement import: incoming payments matched to deals, confirmed, recorded once."""

import re
from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.roles import Role
from compensation import bank_import
from compensation.bank_import import (
    ImportRefused,
    LineState,
    proposals,
    record_confirmed,
)
from compensation.models import BankLine
from deals.documents import document_number_key
from deals.models import Client, Deal, Payment
from deals.services import client_update_requisites, payment_record
from deals.stages import Stage
from imports.models import ImportJob
from tests.deals.factories import ENTREPRENEUR_REQUISITES, Pipeline, make_client, make_deal
from tests.factories import UserFactory
from tests.properties.support import assert_clear_russian, page_text

ORDER_TOTAL = Decimal("5000.00")  # what Pipeline orders: 10 × 500,00
UNKNOWN_INN = "5408131553"


def document(
    *,
    inn: str,
    amount: str,
    number: str = "318",
    day: str = "05.03.2026",
    credited: str | None = None,
    purpose: str = "Оплата за бытовую химию, НДС не облагается",
) -> list[str]:
    return [
        "СекцияДокумент=Платежное поручение",
        f"Номер={number}",
        f"Дата={day}",
        f"Сумма={amount}",
        "ПлательщикСчет=40702810938000012345",
        "Плательщик1=ООО «Ромашка»",
        f"ПлательщикИНН={inn}",
        "ПолучательСчет=40702810900000000001",
        "ПолучательИНН=8602000000",
        f"ДатаПоступило={credited or day}",
        f"НазначениеПлатежа={purpose}",
        "КонецДокумента",
    ]


def statement(*documents: list[str]) -> bytes:
    header = [
        "1CClientBankExchange",
        "ВерсияФормата=1.03",
        "Кодировка=Windows",
        "ДатаНачала=01.03.2026",
        "ДатаКонца=31.03.2026",
        "РасчСчет=40702810900000000001",
    ]
    lines = header + [line for lines in documents for line in lines] + ["КонецФайла"]
    return "\r\n".join(lines).encode("cp1251")


def for_invoice(deal: Deal, **fields) -> list[str]:
    """A payment by the deal's client naming the deal's invoice."""
    invoice = deal.documents.get(kind="invoice").number
    fields.setdefault("amount", f"{ORDER_TOTAL}")
    return document(
        inn=Client.objects.get(pk=deal.client_id).inn,
        purpose=f"Оплата по счету № {invoice} от 03.03.2026 за бытовую химию, НДС не облагается",
        **fields,
    )


def statement_file(*, inn: str, invoice: str, amount: str) -> bytes:
    return statement(
        document(
            inn=inn, amount=amount, purpose=f"Оплата по счету № {invoice} от 03.03.2026 за бытовую химию"
        )
    )


@pytest.fixture
def pipeline(hunter, production, accountant, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path
    settings.VAR_DIR = tmp_path
    return Pipeline(hunter=hunter, production=production, accountant=accountant)


@pytest.fixture
def deal_awaiting_payment(pipeline, hunter):
    return pipeline.advance_to(make_deal(acting_user=hunter), Stage.PAYMENT)


@pytest.fixture
def other_deal(pipeline, hunter):
    """A deal of another client, with an ИНН of its own."""
    client = make_client(acting_user=hunter, name="ИП Соколова")
    client_update_requisites(acting_user=hunter, client=client, requisites=ENTREPRENEUR_REQUISITES)
    return pipeline.advance_to(
        make_deal(acting_user=hunter, client=client, title="Поставка на март"), Stage.PAYMENT
    )


def upload(client, data: bytes):
    return client.post(
        reverse("compensation:bank_import"), {"file": SimpleUploadedFile("kl_to_1c.txt", data)}
    )


_on_commit = None


@pytest.fixture(autouse=True)
def _confirmations_run_their_job(django_capture_on_commit_callbacks):
    """A confirmation queues its job when it commits; the task then runs eagerly, as a worker would."""
    global _on_commit
    _on_commit = django_capture_on_commit_callbacks


def confirm(client, chosen: dict[int, int], *, follow: bool = True):
    """Confirms the stored statement; the answer is the job's page once the job has run."""
    fields = {"step": "confirm", **{f"deal_{index}": str(deal_id) for index, deal_id in chosen.items()}}
    with _on_commit(execute=True):
        response = client.post(reverse("compensation:bank_import"), fields)
    if follow and response.status_code == 302 and "/jobs/" in response["Location"]:
        return client.get(response["Location"])
    return response


def by_hand(
    accountant, deal: Deal, *, amount=ORDER_TOTAL, document_number="318", on=date(2026, 3, 5)
) -> Payment:
    return payment_record(
        acting_user=accountant, deal=deal, amount=amount, received_on=on, bank_document=document_number
    )


def plain(text: str) -> str:
    """Money is written with no-break spaces; the assertions read it with plain ones."""
    return " ".join(str(text).split())


def report(response) -> str:
    """The report on the job's page once the confirmation is done."""
    assert response.context["job"].status == ImportJob.Status.DONE
    summary = plain(response.context["result"]["summary"])
    assert summary in plain(page_text(response))
    return summary


# --- the rule: the same document ---------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("written", "key"),
    [
        ("318", "318"),
        ("№ 318", "318"),
        ("п/п 0318 от 05.03.2026", "318"),
        ("пп №318 от 05.03.26", "318"),
        ("05.03.2026 п/п 318", "318"),
        ("000", "0"),
        ("б/н", "Б/Н"),
    ],
)
def test_document_numbers_compare_by_the_number_written_not_its_decoration(written, key):
    assert document_number_key(written) == key


# --- 1. documents already recorded -------------------------------------------------------------------------


def test_incoming_payment_is_matched_by_inn_and_invoice_and_recorded_once(
    client, accountant, deal_awaiting_payment
):
    deal = deal_awaiting_payment
    data = statement(for_invoice(deal))
    client.force_login(accountant)

    preview = upload(client, data).content.decode()
    assert "по ИНН плательщика и счёту" in preview
    assert re.search(rf'type="checkbox" name="deal_0" value="{deal.pk}" checked', preview)
    response = confirm(client, {0: deal.pk}, follow=True)

    payment = Payment.objects.get(deal=deal)
    assert payment.amount == ORDER_TOTAL
    assert payment.received_on == date(2026, 3, 5)
    assert payment.bank_document == "п/п 318 от 05.03.2026"
    assert "Внесено оплат: 1; уже были внесены: 0; пропущено: 0." in report(response)

    again = upload(client, data)
    assert [item.state for item in again.context["items"]] == [LineState.RECORDED]
    assert 'name="deal_0"' not in again.content.decode()
    response = confirm(client, {0: deal.pk}, follow=True)
    assert Payment.objects.filter(deal=deal).count() == 1
    assert "Внесено оплат: 0; уже были внесены: 1; пропущено: 0. Ничего нового не внесено." in report(
        response
    )


@pytest.mark.parametrize("keyed_in", ["318", "№ 318", "п/п 0318", "пп 318 от 05.03.2026"])
def test_a_document_keyed_in_by_hand_is_shown_as_recorded_and_never_recorded_again(
    client, accountant, deal_awaiting_payment, keyed_in
):
    deal = deal_awaiting_payment
    by_hand(accountant, deal, amount=Decimal("2000.00"), document_number=keyed_in)
    data = statement(for_invoice(deal, amount="2000.00"))
    client.force_login(accountant)

    response = upload(client, data)
    [item] = response.context["items"]
    assert item.state == LineState.RECORDED and item.deal == deal
    text = page_text(response)
    assert "уже внесена" in text and keyed_in in text
    assert reverse("deals:detail", args=[deal.pk]) in response.content.decode()
    assert 'name="deal_0"' not in response.content.decode()

    result = record_confirmed(acting_user=accountant, data=data, chosen={0: deal.pk})
    assert (len(result.recorded), len(result.already), result.skipped) == (0, 1, [])
    assert Payment.objects.filter(deal=deal).count() == 1


def test_a_document_credited_a_day_later_is_recognised_by_either_date(accountant, deal_awaiting_payment):
    deal = deal_awaiting_payment
    by_hand(accountant, deal, on=date(2026, 3, 6))
    data = statement(for_invoice(deal, credited="06.03.2026"))
    [item], _errors = proposals(data, viewer=accountant)
    assert item.state == LineState.RECORDED


def test_a_document_on_another_deal_of_the_payer_is_recognised_there(accountant, pipeline, hunter):
    """Keyed in on the first deal, which it paid in full; the payer's only open deal is another one."""
    first = pipeline.advance_to(make_deal(acting_user=hunter), Stage.PAYMENT)
    second = pipeline.advance_to(make_deal(acting_user=hunter, client=first.client), Stage.PAYMENT)
    by_hand(accountant, first)
    data = statement(document(inn=first.client.inn, amount=f"{ORDER_TOTAL}", purpose="Оплата за химию"))

    [item], _errors = proposals(data, viewer=accountant)
    assert item.state == LineState.RECORDED and item.deal == first
    result = record_confirmed(acting_user=accountant, data=data, chosen={0: second.pk})
    assert len(result.already) == 1 and not result.recorded
    assert not Payment.objects.filter(deal=second).exists()


@pytest.mark.parametrize(
    ("amount", "on"),
    [(Decimal("1000.00"), date(2026, 3, 5)), (ORDER_TOTAL, date(2026, 2, 20))],
    ids=["other amount", "other date"],
)
def test_the_same_number_with_another_amount_or_date_is_flagged_and_not_recorded(
    client, accountant, deal_awaiting_payment, amount, on
):
    deal = deal_awaiting_payment
    keyed = by_hand(accountant, deal, amount=amount, on=on)
    data = statement(for_invoice(deal, amount="1500.00" if amount == ORDER_TOTAL else "2000.00"))
    client.force_login(accountant)

    response = upload(client, data)
    [item] = response.context["items"]
    assert item.state == LineState.CONFLICT and item.recorded == keyed
    assert "проверьте" in page_text(response) and "другой суммой или датой" in page_text(response)
    assert 'name="deal_0"' not in response.content.decode()

    refused = confirm(client, {0: deal.pk})  # posted anyway
    assert refused.context["job"].status == ImportJob.Status.FAILED
    [line] = refused.context["items"]
    assert "с тем же номером документа" in line.refusal
    assert_clear_russian(line.refusal, echoed=[keyed.bank_document])
    assert list(Payment.objects.filter(deal=deal)) == [keyed]


# --- 2. lines matched to no deal ----------------------------------------------------------------------------


def test_an_unknown_payer_gets_a_choice_of_the_accountants_deals_by_name_and_outstanding(
    client, accountant, deal_awaiting_payment, other_deal
):
    data = statement(document(inn=UNKNOWN_INN, amount="1200.00"))
    client.force_login(accountant)

    response = upload(client, data)
    [item] = response.context["items"]
    assert item.state == LineState.UNMATCHED and item.payer_choices == []
    assert {choice.deal for choice in item.other_choices} == {deal_awaiting_payment, other_deal}
    text = page_text(response)
    assert "не найден среди клиентов" in text
    assert "ИП Соколова — Поставка на март (сделка №" in text
    assert "осталось 5 000,00 ₽" in text
    assert not re.search(r">\s*Сделка №\d+", response.content.decode())

    response = confirm(client, {0: other_deal.pk}, follow=True)
    payment = Payment.objects.get()
    assert (payment.deal, payment.amount, payment.bank_document) == (
        other_deal,
        Decimal("1200.00"),
        "п/п 318 от 05.03.2026",
    )
    assert "Внесено оплат: 1;" in report(response)


def test_an_ambiguous_line_offers_the_payers_deals_first(accountant, pipeline, hunter, other_deal):
    first = pipeline.advance_to(make_deal(acting_user=hunter), Stage.PAYMENT)
    second = pipeline.advance_to(make_deal(acting_user=hunter, client=first.client), Stage.PAYMENT)
    data = statement(document(inn=first.client.inn, amount="100.00", purpose="Оплата за химию"))

    [item], _errors = proposals(data, viewer=accountant)
    assert item.state == LineState.UNMATCHED and item.deal is None
    assert {choice.deal for choice in item.payer_choices} == {first, second}
    assert [choice.deal for choice in item.other_choices] == [other_deal]


def test_deals_that_cannot_take_the_amount_are_not_offered(
    accountant, deal_awaiting_payment, other_deal, hunter
):
    by_hand(accountant, other_deal, amount=Decimal("4500.00"), document_number="1")
    early = make_deal(acting_user=hunter)  # not a deal the accountant works yet
    data = statement(document(inn=UNKNOWN_INN, amount="600.00"))

    [item], _errors = proposals(data, viewer=accountant)
    offered = {choice.deal for choice in item.other_choices}
    assert offered == {deal_awaiting_payment}
    assert early not in offered


def test_a_deal_the_accountant_does_not_work_is_refused_on_confirm(
    client, accountant, deal_awaiting_payment, hunter
):
    early = make_deal(acting_user=hunter)
    client.force_login(accountant)
    upload(client, statement(document(inn=UNKNOWN_INN, amount="600.00")))

    response = confirm(client, {0: early.pk})
    assert response.context["job"].status == ImportJob.Status.FAILED
    [item] = response.context["items"]
    assert "Сделка не найдена среди сделок" in item.refusal
    assert "Ничего не внесено." in page_text(response) and item.refusal in page_text(response)
    assert not Payment.objects.exists()


def test_a_chosen_deal_that_lacks_less_than_the_amount_is_refused_with_the_figures(
    accountant, deal_awaiting_payment, other_deal
):
    by_hand(accountant, other_deal, amount=Decimal("4500.00"), document_number="1")
    data = statement(document(inn=UNKNOWN_INN, amount="600.00"))

    with pytest.raises(ImportRefused) as refused:
        record_confirmed(acting_user=accountant, data=data, chosen={0: other_deal.pk})
    [item] = refused.value.items
    assert plain(item.refusal) == (
        "Оплата 600,00 ₽ больше, чем осталось оплатить по заказу сделки «ИП Соколова — Поставка на март»: "
        "500,00 ₽ (сумма заказа 5 000,00 ₽, оплачено 4 500,00 ₽)."
    )
    assert Payment.objects.filter(deal=other_deal).count() == 1


# --- 3. more than the order lacks ---------------------------------------------------------------------------


def test_a_line_beyond_the_outstanding_amount_shows_the_figures_and_is_not_recorded_as_is(
    client, accountant, deal_awaiting_payment, other_deal
):
    deal = deal_awaiting_payment
    by_hand(accountant, deal, amount=Decimal("3000.00"), document_number="1")
    data = statement(for_invoice(deal, amount="2500.00"))
    client.force_login(accountant)

    response = upload(client, data)
    [item] = response.context["items"]
    assert item.state == LineState.EXCEEDS
    text = page_text(response)
    assert "заказ 5 000,00 ₽, оплачено 3 000,00 ₽, осталось 2 000,00 ₽" in text
    html = response.content.decode()
    assert 'type="checkbox" name="deal_0"' not in html
    assert f'<option value="{deal.pk}"' not in html and f'<option value="{other_deal.pk}"' in html

    refused = confirm(client, {0: deal.pk})
    assert refused.context["job"].status == ImportJob.Status.FAILED
    assert "больше, чем осталось оплатить" in refused.context["items"][0].refusal
    assert Payment.objects.filter(deal=deal).count() == 1

    confirm(client, {0: other_deal.pk})
    assert Payment.objects.get(deal=other_deal).amount == Decimal("2500.00")


def test_two_lines_that_fit_the_order_alone_but_not_together_are_refused(accountant, deal_awaiting_payment):
    deal = deal_awaiting_payment
    data = statement(for_invoice(deal, amount="3000.00"), for_invoice(deal, number="319", amount="3000.00"))

    items, _errors = proposals(data, viewer=accountant)
    assert [item.state for item in items] == [LineState.READY, LineState.READY]
    with pytest.raises(ImportRefused) as refused:
        record_confirmed(acting_user=accountant, data=data, chosen={0: deal.pk, 1: deal.pk})
    first, second = refused.value.items
    assert not first.refusal
    assert "Из остатка уже взято 3 000,00 ₽ строками выписки выше." in plain(second.refusal)
    assert not Payment.objects.exists()


# --- 4. the report and all or nothing -----------------------------------------------------------------------


def test_the_report_counts_what_was_added_what_was_there_and_what_was_skipped_with_reasons(
    client, accountant, deal_awaiting_payment, other_deal
):
    by_hand(accountant, other_deal, amount=Decimal("700.00"), document_number="77")
    data = statement(
        for_invoice(deal_awaiting_payment, amount="1000.00"),
        for_invoice(other_deal, number="77", amount="700.00"),
        document(inn=UNKNOWN_INN, number="90", amount="50.00"),
        for_invoice(deal_awaiting_payment, number="91", amount="10.00"),
    )
    client.force_login(accountant)
    upload(client, data)

    response = confirm(client, {0: deal_awaiting_payment.pk}, follow=True)
    assert report(response) == (
        "Внесено оплат: 1; уже были внесены: 1; пропущено: 2 "
        f"(№90 от 05.03.2026 — плательщик с ИНН {UNKNOWN_INN} не найден среди клиентов, сделка не выбрана; "
        "№91 от 05.03.2026 — не отмечена)."
    )
    assert Payment.objects.filter(deal=deal_awaiting_payment).get().amount == Decimal("1000.00")


def test_a_line_refused_at_confirm_time_records_nothing_and_shows_the_reason_by_the_line(
    client, accountant, deal_awaiting_payment, other_deal
):
    data = statement(
        for_invoice(deal_awaiting_payment, amount="1000.00"), for_invoice(other_deal, number="5")
    )
    client.force_login(accountant)
    upload(client, data)
    by_hand(accountant, other_deal, amount=Decimal("10.00"), document_number="9")  # meanwhile, by hand

    response = confirm(client, {0: deal_awaiting_payment.pk, 1: other_deal.pk})
    assert response.context["job"].status == ImportJob.Status.FAILED
    first, second = response.context["items"]
    assert not first.refusal and "осталось оплатить" in second.refusal
    html = response.content.decode()
    assert re.search(rf'name="deal_0" value="{deal_awaiting_payment.pk}" checked', html)
    row = re.search(r'<tr id="line-1".*?</tr>', html, re.DOTALL).group()
    assert "осталось оплатить по заказу" in row
    assert not Payment.objects.filter(deal=deal_awaiting_payment).exists()


def test_a_refusal_by_payment_record_itself_rolls_back_the_lines_before_it(
    accountant, deal_awaiting_payment, other_deal, monkeypatch
):
    data = statement(
        for_invoice(deal_awaiting_payment, amount="1000.00"), for_invoice(other_deal, number="5")
    )
    real = bank_import.payment_record

    def refusing_the_second(**kwargs):
        if kwargs["deal"] == other_deal:
            raise ValidationError({"amount": "Оплата больше, чем осталось оплатить по заказу."})
        return real(**kwargs)

    monkeypatch.setattr(bank_import, "payment_record", refusing_the_second)
    with pytest.raises(ImportRefused) as refused:
        record_confirmed(
            acting_user=accountant, data=data, chosen={0: deal_awaiting_payment.pk, 1: other_deal.pk}
        )
    assert refused.value.items[1].refusal == "Оплата больше, чем осталось оплатить по заказу."
    assert not Payment.objects.exists()


def test_the_same_document_twice_in_one_statement_is_refused_not_recorded_twice(
    accountant, deal_awaiting_payment
):
    deal = deal_awaiting_payment
    data = statement(for_invoice(deal, amount="100.00"), for_invoice(deal, amount="100.00"))
    with pytest.raises(ImportRefused) as refused:
        record_confirmed(acting_user=accountant, data=data, chosen={0: deal.pk, 1: deal.pk})
    assert "вносится один раз" in refused.value.items[1].refusal
    assert not Payment.objects.exists()


def test_the_preview_reads_the_deals_and_payments_once_whatever_the_number_of_lines(
    client, accountant, deal_awaiting_payment, other_deal, django_assert_max_num_queries
):
    by_hand(accountant, other_deal, amount=Decimal("700.00"), document_number="77")
    data = statement(
        for_invoice(deal_awaiting_payment, amount="1000.00"),
        for_invoice(other_deal, number="77", amount="700.00"),
        document(inn=UNKNOWN_INN, number="90", amount="50.00"),
        for_invoice(deal_awaiting_payment, number="91", amount="10.00"),
        for_invoice(other_deal, number="92", amount="9000.00"),
    )
    client.force_login(accountant)
    with django_assert_max_num_queries(12):
        response = upload(client, data)
    assert [item.state for item in response.context["items"]] == [
        LineState.READY,
        LineState.RECORDED,
        LineState.UNMATCHED,
        LineState.READY,
        LineState.EXCEEDS,
    ]


# --- 5. the same stored statement twice ---------------------------------------------------------------------


def test_confirming_the_stored_statement_twice_records_nothing_the_second_time_and_says_so(
    client, accountant, deal_awaiting_payment, other_deal
):
    data = statement(
        for_invoice(deal_awaiting_payment, amount="1000.00"),
        document(inn=UNKNOWN_INN, number="6", amount="40.00"),
    )
    client.force_login(accountant)
    upload(client, data)
    chosen = {0: deal_awaiting_payment.pk, 1: other_deal.pk}

    first = confirm(client, chosen, follow=True)
    second = confirm(client, chosen, follow=True)
    assert "Внесено оплат: 2; уже были внесены: 0" in report(first)
    assert report(second) == "Внесено оплат: 0; уже были внесены: 2; пропущено: 0. Ничего нового не внесено."
    assert Payment.objects.count() == 2


# --- who may ------------------------------------------------------------------------------------------------


def test_unknown_payer_is_listed_and_nothing_is_recorded_without_a_choice(
    client, accountant, deal_awaiting_payment
):
    client.force_login(accountant)
    page = upload(client, statement_file(inn=UNKNOWN_INN, invoice="1", amount="100.00")).content.decode()
    assert "не найден среди клиентов" in page
    assert 'type="checkbox"' not in page
    response = confirm(client, {}, follow=True)
    assert "пропущено: 1" in report(response)
    assert not Payment.objects.exists()


def test_a_file_that_is_not_a_bank_statement_is_refused_in_russian(client, accountant, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    client.force_login(accountant)
    response = upload(client, "Наименование;Телефон\n".encode("cp1251"))
    assert response.status_code == 400
    assert "1CClientBankExchange" in response.content.decode()


@pytest.mark.parametrize("role", ["hunter", "sales_head", "production"])
def test_only_the_accountant_imports_bank_statements(client, request, deal_awaiting_payment, role):
    user = request.getfixturevalue(role)
    client.force_login(user)
    assert client.get(reverse("compensation:bank_import")).status_code == 403
    assert upload(client, statement(for_invoice(deal_awaiting_payment))).status_code == 403
    assert confirm(client, {0: deal_awaiting_payment.pk}).status_code == 403
    with pytest.raises(PermissionDenied):
        record_confirmed(
            acting_user=user,
            data=statement(for_invoice(deal_awaiting_payment)),
            chosen={0: deal_awaiting_payment.pk},
        )
    assert not Payment.objects.exists()


# --- in the background ----------------------------------------------------------------------------------


def test_a_refused_confirmation_shows_the_preview_again_and_takes_the_corrected_choice(
    client, accountant, deal_awaiting_payment, other_deal
):
    data = statement(
        for_invoice(deal_awaiting_payment, amount="1000.00"), for_invoice(other_deal, number="5")
    )
    client.force_login(accountant)
    upload(client, data)
    by_hand(accountant, other_deal, amount=Decimal("10.00"), document_number="9")

    refused = confirm(client, {0: deal_awaiting_payment.pk, 1: other_deal.pk})

    html = refused.content.decode()
    assert f'action="{reverse("compensation:bank_import")}"' in html  # not back to the job's page
    assert "Импорт не выполнен." not in page_text(refused)  # the preview says it, by each line
    assert page_text(refused).count("Ничего не внесено.") == 1
    again = confirm(client, {0: deal_awaiting_payment.pk})
    assert report(again).startswith("Внесено оплат: 1; уже были внесены: 0; пропущено: 1")
    assert ImportJob.objects.filter(status="failed").count() == 1
    assert Payment.objects.filter(deal=deal_awaiting_payment).get().amount == Decimal("1000.00")


def test_a_bank_job_is_seen_by_the_accountant_who_confirmed_it_only(
    client, accountant, sales_head, deal_awaiting_payment
):
    client.force_login(accountant)
    upload(client, statement(for_invoice(deal_awaiting_payment)))
    url = confirm(client, {0: deal_awaiting_payment.pk}, follow=False)["Location"]
    colleague = UserFactory(username="buh2", role=Role.ACCOUNTANT)

    client.force_login(colleague)
    assert client.get(url).status_code == 404
    client.force_login(sales_head)
    assert client.get(url).status_code == 403


def test_a_bank_job_delivered_twice_records_its_payments_once(client, accountant, deal_awaiting_payment):
    from compensation.tasks import import_bank_statement

    client.force_login(accountant)
    upload(client, statement(for_invoice(deal_awaiting_payment)))
    confirm(client, {0: deal_awaiting_payment.pk})
    job = ImportJob.objects.get()

    import_bank_statement.delay(job.pk)

    job.refresh_from_db()
    assert (job.status, job.attempts, job.result["recorded"]) == ("done", 1, 1)
    assert Payment.objects.count() == 1


# --- lines that recorded no payment wait on the accountant's home -------------------------------------------


def home_page(client) -> str:
    return plain(page_text(client.get(reverse("compensation:home"))))


def listed_on_home(client, line: BankLine) -> bool:
    """The line's link is on the home (a message may still name its number after it was dealt with)."""
    return (
        reverse("compensation:bank_line", args=[line.pk])
        in client.get(reverse("compensation:home")).content.decode()
    )


def test_a_line_on_no_deal_waits_on_the_home_until_its_document_is_recorded_by_hand(
    client, accountant, deal_awaiting_payment
):
    client.force_login(accountant)
    upload(client, statement(document(inn=UNKNOWN_INN, amount="5000.00", number="777")))
    confirm(client, {})
    [line] = BankLine.objects.all()
    assert (line.document_number, line.amount, line.payer_inn) == ("777", ORDER_TOTAL, UNKNOWN_INN)
    assert "не найден среди клиентов" in line.reason
    assert "№777 от 05.03.2026" in home_page(client) and listed_on_home(client, line)

    # The same statement confirmed again keeps one row.
    upload(client, statement(document(inn=UNKNOWN_INN, amount="5000.00", number="777")))
    confirm(client, {})
    assert BankLine.objects.count() == 1

    by_hand(accountant, deal_awaiting_payment, document_number="п/п 777 от 05.03.2026")
    assert not listed_on_home(client, line)


def test_a_bank_line_is_recorded_on_the_deal_chosen_on_its_page(client, accountant, deal_awaiting_payment):
    client.force_login(accountant)
    upload(client, statement(document(inn=UNKNOWN_INN, amount="5000.00", number="778")))
    confirm(client, {})
    line = BankLine.objects.get()
    page = client.get(reverse("compensation:bank_line", args=[line.pk]))
    assert f'value="{deal_awaiting_payment.pk}"' in page.content.decode()

    response = client.post(
        reverse("compensation:bank_line", args=[line.pk]),
        {"action": "record", "deal": deal_awaiting_payment.pk},
    )
    assert response.status_code == 302 and response["Location"] == reverse("compensation:home")
    payment = Payment.objects.get(deal=deal_awaiting_payment)
    assert (payment.amount, payment.bank_document) == (ORDER_TOTAL, "п/п 778 от 05.03.2026")
    assert not listed_on_home(client, line)


def test_a_line_set_aside_needs_a_reason_and_then_leaves_the_list(client, accountant, deal_awaiting_payment):
    client.force_login(accountant)
    upload(client, statement(document(inn=UNKNOWN_INN, amount="120.00", number="779")))
    confirm(client, {})
    line = BankLine.objects.get()
    url = reverse("compensation:bank_line", args=[line.pk])

    refused = client.post(url, {"action": "dismiss", "note": "  "})
    assert refused.status_code == 400
    assert "Напишите, почему строка не относится к оплатам клиентов." in page_text(refused)
    assert BankLine.objects.get().dismissed_at is None

    assert client.post(url, {"action": "dismiss", "note": "Возврат от поставщика"}).status_code == 302
    assert not listed_on_home(client, line)
    assert client.get(url).status_code == 404
    assert not Payment.objects.exists()


def test_only_the_accountant_works_bank_lines(client, hunter, sales_head, accountant, deal_awaiting_payment):
    line = BankLine.objects.create(
        document_number="780", document_date=date(2026, 3, 5), amount=Decimal("10.00"), payer_inn=UNKNOWN_INN
    )
    url = reverse("compensation:bank_line", args=[line.pk])
    for user in (hunter, sales_head):
        client.force_login(user)
        assert client.get(url).status_code == 403
        assert client.post(url, {"action": "record", "deal": deal_awaiting_payment.pk}).status_code == 403
    assert not Payment.objects.exists()
