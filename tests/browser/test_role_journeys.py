"""One journey per role, through the pages as a person goes through them: the hunter from onboarding to
the payslip, the accountant and the sales head signing in with a TOTP code, production working its queue.

Every journey watches the browser console: the portal sends a strict Content-Security-Policy, and a
refused script, style or image is a failure, as is a JavaScript error or a server error (5xx)."""

import csv
import io
import re
from base64 import b32decode
from datetime import timedelta
from decimal import Decimal

from django.core import mail
from django.utils import timezone
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice
from playwright.sync_api import expect
from pypdf import PdfReader

from accounts.roles import Role
from atlanset_portal.wording import month_year
from compensation.models import BankLine
from compensation.services import statement_approve
from deals.models import Client, Deal, DealDocument, Order, Product
from deals.services import (
    OrderLineInput,
    client_update_requisites,
    order_decide,
    order_set_lines,
    payment_record,
    sample_request_create,
    sample_request_set_status,
)
from deals.stages import Stage
from deals.units import Unit
from kpi.models import ActivityKind
from kpi.services import activity_log
from onboarding.demo import seed_demo_onboarding
from tests.browser.helpers import answer_the_drawn_test, pdf_picture, screenshot_dir, sign_in
from tests.deals.factories import Pipeline, branch_requisites, make_client, make_deal, unique_phone
from tests.factories import UserFactory

SECOND_FACTOR_ROLES = [Role.SALES_HEAD.value, Role.ACCOUNTANT.value]
# The smallest file the portal takes for a PDF: it checks the extension and the signature.
INVOICE_PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


def plain(text: str) -> str:
    return " ".join(text.replace("\u00a0", " ").split())


class Console:
    """What the browser complained about: CSP refusals, JavaScript errors and server errors."""

    def __init__(self):
        self.problems: list[str] = []

    def watch(self, page):
        page.on("console", self._on_console)
        page.on("pageerror", lambda error: self.problems.append(f"JavaScript: {error}"))
        page.on("response", self._on_response)
        return page

    def _on_console(self, message) -> None:
        text = message.text
        if "Content Security Policy" in text or "Refused to" in text:
            self.problems.append(f"console {message.type}: {text} ({message.location.get('url', '')})")

    def _on_response(self, response) -> None:
        if response.status >= 500:
            self.problems.append(f"HTTP {response.status}: {response.request.method} {response.url}")

    def assert_clean(self) -> None:
        assert self.problems == [], "\n".join(self.problems)


def code_from_key(key: bytes, device: TOTPDevice) -> str:
    """What the authenticator app shows now for ``key``."""
    return f"{totp(key, step=device.step, digits=device.digits):0{device.digits}d}"


def confirm_second_factor(page, code: str) -> None:
    page.get_by_label("Код из приложения").fill(code)
    page.get_by_role("button", name="Подтвердить").click()


def advance(page) -> None:
    page.get_by_role("button", name="Следующий этап").click()


# --- 1. The hunter ---------------------------------------------------------------------------------


def test_hunter_onboards_opens_a_client_and_a_deal_logs_work_and_reads_the_payslip(
    page, settings, screenshot
):
    settings.ONBOARDING_REQUIRED_FOR_DEALS = True
    console = Console()
    console.watch(page)
    head = UserFactory(role=Role.SALES_HEAD, full_name="Ольга Петрова")
    hunter = UserFactory(role=Role.HUNTER, full_name="Павел Новиков")
    production = UserFactory(role=Role.PRODUCTION, full_name="Сергей Кузнецов")
    seed_demo_onboarding(author=head)
    Product.objects.create(
        name="Мыло жидкое 5 л", unit=Unit.CANISTER, list_price=Decimal("1000"), cost=Decimal("700")
    )

    sign_in(page, hunter.username)
    expect(page.get_by_role("heading", level=1)).to_have_text("Мой день")
    banner = page.locator("#onboarding-banner")
    expect(banner).to_contain_text("Обучение не завершено")

    # Onboarding: every section read and confirmed, then the test.
    banner.get_by_role("link", name="К обучению").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Обучение")
    titles = page.locator("main .list-group-item a").all_inner_texts()
    assert len(titles) >= 10
    for title in titles:
        page.get_by_role("link", name=title, exact=True).click()
        expect(page.get_by_role("heading", level=1)).to_have_text(title)
        expect(page.locator(".regulation-text")).not_to_be_empty()
        page.get_by_role("button", name="Прочитал").click()
        expect(page.locator(".alert-success")).to_contain_text(f"раздел «{title}» прочитан")
        expect(page.locator("main .list-group-item", has_text=title).locator(".badge")).to_have_text(
            "прочитано"
        )
    page.get_by_role("link", name="Пройти тест").click()
    answer_the_drawn_test(page, correctly=True)
    expect(page.locator("main")).to_contain_text("Тест сдан")
    page.get_by_role("link", name="К обучению").click()
    expect(page.locator(".progress-bar")).to_have_text("100 %")
    expect(page.locator("#onboarding-banner")).to_have_count(0)
    screenshot(page, "journey-hunter-onboarding")

    # A new client.
    page.locator("nav").get_by_role("link", name="Клиенты").click()
    page.get_by_role("link", name="Новый клиент").click()
    page.get_by_label("Название").fill("Салон красоты «Лотос»")
    page.get_by_label("Адрес").fill("Сургут, пр. Мира, 7")
    page.get_by_label("Телефоны").fill("8 912 410-22-03")
    page.get_by_label("ЛПР: имя").fill("Ирина Викторовна")
    page.get_by_role("button", name="Сохранить").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Салон красоты «Лотос»")
    expect(page.locator("main")).to_contain_text("+7 912 410-22-03")
    expect(page.locator("main")).to_contain_text("Сделок пока нет.")
    screenshot(page, "journey-hunter-client")

    # A deal, driven stage by stage with the stage forms.
    page.get_by_role("link", name="Новая сделка").click()
    page.get_by_role("button", name="Создать").click()
    expect(page.locator(".alert-success")).to_contain_text("Сделка создана.")
    expect(page.locator("#checklist")).to_contain_text("Этап 1: Выборка потенциальных клиентов")
    advance(page)
    expect(page.locator(".alert-success")).to_contain_text("Сделка перешла на этап «Звонок»")

    expect(page.locator("#checklist")).to_contain_text("Этап 2: Звонок")
    page.get_by_label("Результат звонка").select_option(label="Согласен получить пробники")
    page.get_by_label("Описание звонка").fill("Рассказал о профессиональной линейке, интересуются.")
    page.get_by_label("Описание клиента").fill("Три салона, закупают раз в месяц.")
    page.get_by_label("Рабочая почта ЛПР").fill("director@lotos.ru")
    page.get_by_role("button", name="Записать звонок").click()
    expect(page.locator(".alert-success")).to_contain_text("Результат звонка записан.")
    expect(page.locator("#checklist li.text-danger")).to_have_count(0)
    advance(page)

    expect(page.locator("#checklist")).to_contain_text("Этап 3: Отправка КП")
    expect(page.get_by_label("Отправлено на почту")).to_have_value("director@lotos.ru")
    page.get_by_label("Шаблон КП").fill("КП для салонов красоты")
    page.get_by_label("Когда отправлено").fill(timezone.localtime().strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Дата обратного звонка").fill((timezone.localdate() + timedelta(days=2)).isoformat())
    page.get_by_role("button", name="Записать отправку КП").click()
    expect(page.locator(".alert-success")).to_contain_text("КП записано как отправленное.")
    advance(page)

    expect(page.locator("#checklist")).to_contain_text("Этап 4: Передача пробников")
    page.get_by_role("group", name="Позиция 1").get_by_label("Товар").select_option(label="Мыло жидкое 5 л")
    page.get_by_label("Телефон получателя").fill("+7 912 000-11-22")
    page.get_by_label("Потенциальный оптовый объём").fill("40 л в месяц")
    page.get_by_role("button", name="Отправить заявку").click()
    expect(page.locator(".alert-success")).to_contain_text("Заявка на пробники отправлена в производство.")
    expect(page.locator("main")).to_contain_text("Запрошены")
    # Moving on before production hands the samples over is refused, in Russian.
    advance(page)
    expect(page.locator(".alert-danger")).to_contain_text("не может перейти дальше")
    screenshot(page, "journey-hunter-deal-samples")
    # Production's side of it is the production journey's; here its queue is worked through the service.
    sample = Deal.objects.get(client__name="Салон красоты «Лотос»").sample_requests.get()
    for status in ("prepared", "handed_over"):
        sample_request_set_status(acting_user=production, request=sample, status=status)
    page.reload()
    expect(page.locator("main")).to_contain_text("Переданы клиенту")
    advance(page)

    expect(page.locator("#checklist")).to_contain_text("Этап 5: Дожим")
    page.get_by_label("Итог контакта").fill("Пробники понравились, готовы заказать.")
    page.get_by_label("Клиент подтвердил желание купить").check()
    page.get_by_role("button", name="Записать контакт").click()
    expect(page.locator(".alert-success")).to_contain_text("Контакт записан.")
    advance(page)
    expect(page.locator("#checklist")).to_contain_text("Этап 6: Сделка")
    expect(page.locator(".stage-step.current")).to_contain_text("6. Сделка")

    # An activity logged from the deal page, with the client filled in.
    page.get_by_role("link", name="Записать активность").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Записать активность")
    expect(page.locator("main").get_by_label("Клиент", exact=False)).to_have_value(
        str(Client.objects.get(name="Салон красоты «Лотос»").pk)
    )
    page.get_by_label("Что было").select_option(label="Встреча")
    page.get_by_label("Итог").fill("Показал линейку для парикмахерских")
    page.get_by_role("button", name="Записать").click()
    expect(page.locator(".alert-success")).to_contain_text("Записано: Встреча.")
    page.locator("nav").get_by_role("link", name="Воронка").click()
    page.locator("[data-stage=deal] .board-card").get_by_role("link", name="Салон красоты «Лотос»").click()
    expect(page.locator("#checklist")).to_contain_text("Этап 6: Сделка")
    screenshot(page, "journey-hunter-deal")
    page.get_by_role("heading", level=1).get_by_role("link", name="Салон красоты «Лотос»").click()
    expect(page.locator("main")).to_contain_text("Встреча: Показал линейку для парикмахерских")
    deal = Deal.objects.get(client__name="Салон красоты «Лотос»")
    assert deal.stage == Stage.DEAL
    assert deal.activities.filter(kind=ActivityKind.MEETING).count() == 1

    page.locator("nav").get_by_role("link", name="Мой день").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Мой день")
    page.locator("nav").get_by_role("link", name="Мой расчётный лист").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Расчётный лист")
    expect(page.locator("main")).to_contain_text("Павел Новиков")
    expect(page.locator("main")).to_contain_text("Черновик")
    expect(page.locator("#lines tfoot")).to_contain_text("Итого")
    screenshot(page, "journey-hunter-statement")
    console.assert_clean()


def test_an_activity_logged_from_the_deal_page_returns_to_the_deal(page):
    hunter = UserFactory(role=Role.HUNTER, full_name="Павел Новиков")
    deal = make_deal(acting_user=hunter, client=make_client(acting_user=hunter, name="Кафе «Уют»"))
    sign_in(page, hunter.username)
    page.goto(f"/deals/{deal.pk}/")
    page.get_by_role("link", name="Записать активность").click()
    page.get_by_label("Что было").select_option(label="Встреча")
    page.get_by_role("button", name="Записать").click()
    expect(page.locator(".alert-success")).to_contain_text("Записано: Встреча.")
    expect(page).to_have_url(re.compile(rf"/deals/{deal.pk}/$"), timeout=3_000)


# --- 2. The accountant -----------------------------------------------------------------------------


def deal_awaiting_invoice(*, hunter, production, accountant, client_name: str) -> Deal:
    """A deal at stage 6 with its order approved by production: what is missing is the invoice."""
    pipeline = Pipeline(hunter=hunter, production=production, accountant=accountant)
    deal = pipeline.advance_to(
        make_deal(acting_user=hunter, client=make_client(acting_user=hunter, name=client_name)), Stage.DEAL
    )
    order = order_set_lines(
        acting_user=hunter,
        deal=deal,
        lines=[OrderLineInput(product=pipeline.product, quantity=Decimal("10"))],
    )
    client_update_requisites(acting_user=hunter, client=deal.client, requisites=branch_requisites())
    order_decide(acting_user=production, order=order, approve=True)
    return Deal.objects.get(pk=deal.pk)


def test_accountant_signs_in_with_a_code_invoices_records_a_payment_locks_and_exports_the_month(
    page, settings, screenshot, tmp_path
):
    settings.OTP_REQUIRED_ROLES = SECOND_FACTOR_ROLES
    console = Console()
    console.watch(page)
    hunter = UserFactory(role=Role.HUNTER, full_name="Иван Иванов", email="ivanov@atlanset.example")
    accountant = UserFactory(role=Role.ACCOUNTANT, full_name="Евгения Шибанова")
    production = UserFactory(role=Role.PRODUCTION, full_name="Сергей Кузнецов")
    head = UserFactory(role=Role.SALES_HEAD, full_name="Ольга Петрова")
    deal = deal_awaiting_invoice(
        hunter=hunter, production=production, accountant=accountant, client_name="Кафе «Уют»"
    )
    total = Order.objects.get(deal=deal).total
    last_month = timezone.localdate().replace(day=1) - timedelta(days=1)
    month = f"{last_month:%Y-%m}"

    # First sign-in: the password, then the authenticator app is set up from the QR code.
    sign_in(page, accountant.username)
    expect(page).to_have_url(re.compile(r"/accounts/two-factor/"))
    expect(page.get_by_role("heading", level=1)).to_have_text("Подтверждение входа")
    expect(page.locator("main")).to_contain_text("Отсканируйте QR-код")
    expect(page.locator("#qr-code svg")).to_be_visible()
    secret = page.locator("#totp-secret").inner_text()
    screenshot(page, "journey-accountant-two-factor")
    device = TOTPDevice.objects.get(user=accountant, confirmed=False)
    key = b32decode(secret.replace(" ", ""))
    assert key == device.bin_key
    # Nothing else opens before the code.
    page.goto("/deals/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Подтверждение входа")
    confirm_second_factor(page, code_from_key(key, device))
    # The code opens the page that was asked for.
    expect(page).to_have_url(re.compile(r"/deals/$"))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Сделки")
    assert TOTPDevice.objects.get(user=accountant).confirmed
    page.locator("nav").get_by_role("link", name="Атлансет").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Бухгалтерия: что сделать сегодня")

    # The deal at stage 6: the invoice, then the money.
    page.locator("nav").get_by_role("link", name="Сделки").click()
    page.get_by_role("link", name="Кафе «Уют»").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Кафе «Уют»")
    expect(page.locator(".stage-step.current")).to_contain_text("Сделка")
    document = page.locator("#document")
    document.get_by_label("Документ").select_option(label="Счёт")
    document.get_by_label("Номер").fill("СЧ-17")
    document.get_by_label("Файл").set_input_files(
        files=[{"name": "schet-17.pdf", "mimeType": "application/pdf", "buffer": INVOICE_PDF}]
    )
    document.get_by_role("button", name="Загрузить").click()
    expect(page.locator(".alert-success")).to_contain_text("Документ загружен.")
    expect(page.locator("main")).to_contain_text("schet-17.pdf")

    payment = page.locator("#payment")
    # The money arrived on the last day of last month; the bank statement came in this morning.
    payment.get_by_label("Сумма, ₽").fill(str(total))
    payment.get_by_label("Дата поступления").fill(last_month.isoformat())
    payment.get_by_label("Номер платёжного поручения").fill("п/п 341")
    payment.get_by_role("button", name="Внести").click()
    expect(page.locator(".alert-success")).to_contain_text("Оплата внесена.")
    expect(page.locator("#payment-status")).to_contain_text("оплачено")
    expect(page.locator("#payment-status")).to_contain_text("п/п 341")
    screenshot(page, "journey-accountant-deal")

    # Last month's statements: the head has approved them; the accountant confirms the list and locks it,
    # exports, and the hunter's statement says it is closed.
    statement_approve(acting_user=head, hunter=hunter, month=last_month)
    page.goto(f"/compensation/statements/?month={month}")
    expect(page.get_by_role("heading", level=1)).to_contain_text("Расчётные листы")
    row = page.locator("tbody tr", has_text="Иван Иванов")
    expect(row).to_contain_text("Утверждён руководителем")
    page.get_by_role("link", name="Закрыть месяц…").click()
    page.locator("#lock-confirm").get_by_role("button", name="Закрыть расчётные листы: 1").click()
    expect(page.locator(".alert-success")).to_contain_text("Закрыто расчётных листов: 1.")
    expect(row).to_contain_text("Закрыт бухгалтерией")
    screenshot(page, "journey-accountant-statements-locked")

    with page.expect_download() as xlsx_download:
        page.get_by_role("link", name="XLSX", exact=True).click()
    xlsx = xlsx_download.value
    assert xlsx.suggested_filename == f"raschetnye-listy-{month}.xlsx"
    xlsx_path = tmp_path / xlsx.suggested_filename
    xlsx.save_as(xlsx_path)
    assert xlsx_path.read_bytes().startswith(b"PK\x03\x04")

    with page.expect_download() as csv_download:
        page.get_by_role("link", name="CSV", exact=True).click()
    exported = csv_download.value
    assert exported.suggested_filename == f"raschetnye-listy-{month}.csv"
    csv_path = tmp_path / exported.suggested_filename
    exported.save_as(csv_path)
    text = csv_path.read_bytes().decode("utf-8-sig")
    rows = list(csv.reader(io.StringIO(text), delimiter=";" if text.count(";") > text.count(",") else ","))
    assert any("Иван Иванов" in cell for row_cells in rows for cell in row_cells), text

    page.get_by_role("link", name="Иван Иванов").click()
    month_words = month_year(last_month, "accusative")
    expect(page.get_by_role("heading", level=1)).to_have_text(f"Расчётный лист за {month_words}")
    expect(page.locator("#statement-heading")).to_contain_text("Расчётный лист: Иван Иванов — закрыт")
    expect(page.locator("main")).not_to_contain_text("считается по текущим данным")
    expect(page.locator("#lines")).to_contain_text("Кафе «Уют»")
    expect(page.locator("#lines")).to_contain_text("п/п 341")  # the payment's document by its line
    expect(page.locator("#lines")).to_contain_text("Итого по разделу «Процент с оплат»")
    expect(page.get_by_role("heading", name="Корректировка")).to_have_count(0)
    screenshot(page, "journey-accountant-statement-locked")
    statement_path = page.url.split("?")[0]
    page_total = page.locator("#statement-total").inner_text()

    # The statement is sent to the hunter with its PDF, once.
    page.locator("#statement-send").get_by_role("button", name="Отправить хантеру").click()
    expect(page.locator(".alert-success")).to_contain_text(
        "Расчётный лист отправлен на ivanov@atlanset.example"
    )
    assert [message.to for message in mail.outbox] == [["ivanov@atlanset.example"]]
    expect(page.locator("#statement-emails")).to_contain_text("отправлено")

    # The printable page, and the PDF rendered to a picture for the README.
    page.set_viewport_size({"width": 1280, "height": 720})
    page.goto(statement_path + "print/")
    expect(page.locator("h1")).to_have_text(f"Расчётный лист за {month_words}")
    expect(page.locator("#print-total")).to_have_text(page_total)
    screenshot(page, "statement-print", full_page=False)
    pdf = page.request.get(statement_path + "pdf/")
    assert pdf.headers["content-type"] == "application/pdf"
    pdf_text = PdfReader(io.BytesIO(pdf.body())).pages[0].extract_text()
    assert f"Итого к выплате: {plain(page_total)}" in plain(pdf_text)
    pdf_picture(pdf.body(), screenshot_dir() / "statement-pdf.png")

    # Home: what is left to do today — another hunter's receivable, a statement to lock, an invoice to
    # upload and a bank line that matched no deal.
    anna = UserFactory(role=Role.HUNTER, full_name="Анна Смирнова")
    other = Pipeline(hunter=anna, production=production, accountant=accountant)
    for name, paid, weeks in (
        ("Салон «Шарм»", Decimal("1500.00"), 7),
        ("Автомойка «Блеск»", Decimal("0"), 1),
    ):
        owed = other.advance_to(
            make_deal(acting_user=anna, client=make_client(acting_user=anna, name=name)), Stage.SHIPMENT
        )
        if paid:
            payment_record(acting_user=accountant, deal=owed, amount=paid, received_on=timezone.localdate())
        # The invoice went out weeks ago (a service dates it today: moved back for the picture of the ages).
        DealDocument.objects.filter(deal=owed, kind="invoice").update(
            uploaded_at=timezone.now() - timedelta(weeks=weeks)
        )
    deal_awaiting_invoice(
        hunter=anna, production=production, accountant=accountant, client_name="Кафе «Бриз»"
    )
    statement_approve(acting_user=head, hunter=anna, month=last_month)
    BankLine.objects.create(
        document_number="512",
        document_date=timezone.localdate() - timedelta(days=2),
        amount=Decimal("2750.00"),
        payer_name="ООО «Неизвестный плательщик»",
        payer_inn="5408131553",
        reason="плательщик не найден среди клиентов",
    )
    page.goto("/")
    expect(page.get_by_role("heading", level=1)).to_have_text("Бухгалтерия: что сделать сегодня")
    expect(page.locator("#aging-by-hunter")).to_contain_text("Анна Смирнова")
    expect(page.locator("#aging-by-client")).to_contain_text("Салон «Шарм»")
    expect(page.locator("#awaiting")).to_contain_text("Автомойка «Блеск»")
    expect(page.locator("#invoices")).to_contain_text("Кафе «Бриз»")
    expect(page.locator("#to-lock")).to_contain_text("Анна Смирнова")
    expect(page.locator("#bank-lines")).to_contain_text("ООО «Неизвестный плательщик»")
    screenshot(page, "accountant-home", full_page=False)
    page.locator("#bank-lines").get_by_role("link", name=re.compile("№512")).click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Поступление №512")
    page.locator("#dismiss").get_by_label("Что это за поступление").fill("Возврат от поставщика")
    page.locator("#dismiss").get_by_role("button", name="Отложить строку").click()
    expect(page.locator(".alert-success")).to_contain_text("Строка выписки отложена")
    expect(page.locator("#bank-lines")).to_contain_text("Все поступления разнесены по сделкам.")
    console.assert_clean()


def test_after_a_payment_the_deal_page_keeps_its_two_columns(page):
    hunter = UserFactory(role=Role.HUNTER)
    accountant = UserFactory(role=Role.ACCOUNTANT)
    pipeline = Pipeline(hunter=hunter, production=UserFactory(role=Role.PRODUCTION), accountant=accountant)
    deal = pipeline.advance_to(make_deal(acting_user=hunter), Stage.PAYMENT)
    pipeline.record_payment(deal)
    sign_in(page, accountant.username)
    page.goto(f"/deals/{deal.pk}/")
    expect(page.locator("#refund")).to_be_visible()
    forms_box = page.locator("#payment").bounding_box()
    status_box = page.locator("#payment-status").bounding_box()
    assert status_box["x"] >= forms_box["x"] + forms_box["width"], (forms_box, status_box)


# --- 3. The sales head -----------------------------------------------------------------------------


def test_head_signs_in_with_a_code_sets_plans_reads_the_dashboard_transfers_a_client_and_edits_rules(
    page, settings, screenshot
):
    settings.OTP_REQUIRED_ROLES = SECOND_FACTOR_ROLES
    console = Console()
    console.watch(page)
    head = UserFactory(role=Role.SALES_HEAD, full_name="Ольга Петрова")
    ivanov = UserFactory(role=Role.HUNTER, full_name="Иван Иванов", extension="101")
    smirnova = UserFactory(role=Role.HUNTER, full_name="Анна Смирнова", extension="102")
    accountant = UserFactory(role=Role.ACCOUNTANT, full_name="Евгения Шибанова")
    production = UserFactory(role=Role.PRODUCTION, full_name="Сергей Кузнецов")
    seed_demo_onboarding(author=head)
    # The head has set the app up before: this sign-in asks for the code only.
    device = TOTPDevice.objects.create(user=head, name="Приложение-аутентификатор", confirmed=True)

    # Ivanov's month so far: a paid deal and two meetings; a client of his with a deal at stage 1.
    pipeline = Pipeline(hunter=ivanov, production=production, accountant=accountant)
    paid = pipeline.advance_to(
        make_deal(acting_user=ivanov, client=make_client(acting_user=ivanov, name="Столовая «Вахта»")),
        Stage.PAYMENT,
    )
    pipeline.record_payment(paid)
    northern = make_client(acting_user=ivanov, name="Кафе «Северное»", phones=[unique_phone()])
    make_deal(acting_user=ivanov, client=northern)
    for outcome in ("Провёл презентацию", "Обсудили пробную партию"):
        activity_log(acting_user=ivanov, kind=ActivityKind.MEETING, client=northern, outcome=outcome)

    sign_in(page, head.username)
    expect(page.get_by_role("heading", level=1)).to_have_text("Подтверждение входа")
    expect(page.locator("main")).to_contain_text("Введите шестизначный код")
    expect(page.locator("#qr-code")).to_have_count(0)
    confirm_second_factor(page, code_from_key(device.bin_key, device))
    expect(page.get_by_role("heading", level=1)).to_contain_text("Показатели отдела")

    # Plans for the month.
    page.locator("nav").get_by_role("link", name="Планы").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Планы на")
    for hunter, revenue in ((ivanov, "300000"), (smirnova, "200000")):
        row = page.locator("tr", has_text=hunter.full_name)
        row.get_by_label(f"{hunter.full_name}: Выручка, ₽").fill(revenue)
        row.get_by_label(f"{hunter.full_name}: Сделки").fill("2")
        row.get_by_label(f"{hunter.full_name}: Лиды").fill("10")
        row.get_by_label(f"{hunter.full_name}: Звонки").fill("40")
        row.get_by_label(f"{hunter.full_name}: Встречи").fill("3")
        row.get_by_label(f"{hunter.full_name}: Сообщения").fill("5")
    page.get_by_role("button", name="Сохранить планы").click()
    expect(page.locator(".alert-success")).to_contain_text("сохранены")
    expect(page.get_by_label("Иван Иванов: Встречи")).to_have_value("3")
    screenshot(page, "journey-head-plans")

    # The dashboard: Ivanov's figures against the plan.
    page.locator("nav").get_by_role("link", name="Показатели отдела").click()
    results = page.locator("#results")
    ivanov_row = results.locator("tr", has_text="Иван Иванов")
    expect(ivanov_row.locator("[data-column=meetings]")).to_contain_text("2")
    expect(ivanov_row.locator("[data-column=meetings]")).to_contain_text("/ 3")
    expect(ivanov_row.locator("[data-column=meetings]")).to_have_class(re.compile("cell-best"))
    expect(ivanov_row.locator("[data-column=revenue]")).to_contain_text("5 000")
    expect(ivanov_row.locator("[data-column=revenue]")).to_contain_text("300 000")
    expect(results.locator("tr", has_text="Анна Смирнова").locator("[data-column=meetings]")).to_have_class(
        re.compile("cell-worst")
    )
    screenshot(page, "journey-head-dashboard")
    page.set_viewport_size({"width": 1280, "height": 720})
    screenshot(page, "head-dashboard", full_page=False)

    # Every figure leads to the records it is made of, with the filters shown and changeable there.
    ivanov_row.locator("[data-column=meetings] a.figure-link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Активности")
    expect(page.locator("#list-count")).to_have_text("2")
    form = page.locator("form.filter-form")
    expect(form.get_by_label("Хантер", exact=True)).to_have_value(str(ivanov.pk))
    expect(form.get_by_label("Вид", exact=True)).to_have_value("meeting")
    expect(page.locator("main table")).to_contain_text("Обсудили пробную партию")
    screenshot(page, "head-drilldown", full_page=False)
    form.get_by_label("Вид", exact=True).select_option(label="Звонок")
    form.get_by_role("button", name="Найти").click()
    expect(page.locator("#list-count")).to_have_text("0")
    page.go_back()
    page.go_back()
    results.locator("tr", has_text="Иван Иванов").locator("[data-column=revenue] a.figure-link").click()
    expect(page.get_by_role("heading", level=1)).to_contain_text("Оплаты и возвраты")
    expect(page.locator("#list-count")).to_have_text("1")
    expect(page.locator("main table")).to_contain_text("Столовая «Вахта»")
    page.set_viewport_size({"width": 1280, "height": 900})

    # A client of Ivanov's goes to Smirnova, with its open deal.
    page.locator("nav").get_by_role("link", name="Клиенты").click()
    page.get_by_role("link", name="Кафе «Северное»").click()
    expect(page.locator("main")).to_contain_text("Хантер: Иван Иванов")
    transfer = page.locator("#transfer")
    transfer.get_by_label("Кому").select_option(label="Анна Смирнова")
    transfer.get_by_label("Причина").fill("Иван Иванов в отпуске")
    transfer.get_by_role("button", name="Передать").click()
    expect(page.locator(".alert-success")).to_contain_text("Клиент передан хантеру Анна Смирнова.")
    expect(page.locator("main")).to_contain_text("Хантер: Анна Смирнова")
    screenshot(page, "journey-head-client-transfer")
    assert Client.objects.get(pk=northern.pk).owner == smirnova
    assert Deal.objects.get(client=northern).owner == smirnova

    # The regulation of the deal's stage, edited in Markdown: a new version is what everyone reads.
    page.locator("main").get_by_role("link", name=re.compile("Выборка потенциальных клиентов")).click()
    page.get_by_role("link", name="Как это сделать — регламент этапа").click()
    expect(page.get_by_role("heading", level=1)).to_have_text("Этап 1. Выборка потенциальных клиентов")
    expect(page.locator("main")).to_contain_text("Версия 1")
    page.get_by_role("link", name="Редактировать").click()
    page.get_by_label("Текст (Markdown)").fill(
        "## Где искать клиентов\n\n- **2ГИС** и сайты сетей\n- выставки и рекомендации\n"
    )
    page.get_by_label("Что изменилось").fill("Добавлены источники клиентов")
    page.get_by_role("button", name="Сохранить новую версию").click()
    expect(page.locator(".alert-success")).to_contain_text("Новая версия раздела сохранена")
    expect(page.locator("main")).to_contain_text("Версия 2")
    expect(page.locator("main")).to_contain_text("Добавлены источники клиентов")
    text = page.locator(".regulation-text")
    expect(text.get_by_role("heading", name="Где искать клиентов")).to_be_visible()
    expect(text.locator("strong")).to_have_text("2ГИС")
    screenshot(page, "journey-head-regulation")
    page.get_by_role("link", name="История").click()
    expect(page.locator("main")).to_contain_text("Версия 2")
    expect(page.locator("main")).to_contain_text("Ольга Петрова: Добавлены источники клиентов")
    expect(page.locator(".diff .diff-added").first).to_contain_text("Где искать клиентов")
    console.assert_clean()


MENU_ROWS = """() => new Set([...document.querySelectorAll('#main-nav .navbar-nav > .nav-item')]
    .map(item => Math.round(item.getBoundingClientRect().top))).size"""


def test_the_heads_menu_fits_one_line_at_1280_and_1366_pixels(page):
    head = UserFactory(role=Role.SALES_HEAD, full_name="Ольга Петрова")
    sign_in(page, head.username)
    expect(page.get_by_role("heading", level=1)).to_contain_text("Показатели отдела")
    for width in (1280, 1366):
        page.set_viewport_size({"width": width, "height": 720})
        widths = page.evaluate("[document.documentElement.scrollWidth, document.documentElement.clientWidth]")
        assert widths[0] <= widths[1], f"page {widths[0]} px wide in a {widths[1]} px window"
        assert page.evaluate(MENU_ROWS) == 1, f"the menu wraps at {width} px"


# --- 4. Production ---------------------------------------------------------------------------------


def test_production_prepares_and_hands_over_samples_and_approves_an_order(page, new_page, screenshot):
    console = Console()
    console.watch(page)
    hunter = UserFactory(role=Role.HUNTER, full_name="Иван Иванов")
    production = UserFactory(role=Role.PRODUCTION, full_name="Сергей Кузнецов")
    accountant = UserFactory(role=Role.ACCOUNTANT)
    pipeline = Pipeline(hunter=hunter, production=production, accountant=accountant)
    soap = Product.objects.create(
        name="Мыло жидкое 5 л", unit=Unit.CANISTER, list_price=Decimal("1000"), cost=Decimal("700")
    )
    sampled = pipeline.advance_to(
        make_deal(acting_user=hunter, client=make_client(acting_user=hunter, name="Салон «Лотос»")),
        Stage.SAMPLES,
    )
    sample_request_create(
        acting_user=hunter,
        deal=sampled,
        lines=[(soap, 2)],
        receiver_name="Мария Соколова",
        receiver_phone="+79120001122",
        potential_volume="40 л в месяц",
    )
    ordered = pipeline.advance_to(
        make_deal(acting_user=hunter, client=make_client(acting_user=hunter, name="Гостиница «Обь»")),
        Stage.DEAL,
    )
    order_set_lines(
        acting_user=hunter, deal=ordered, lines=[OrderLineInput(product=soap, quantity=Decimal("12"))]
    )

    sign_in(page, production.username)
    expect(page.get_by_role("heading", level=1)).to_have_text("Очередь производства")
    samples = page.locator("#samples")
    request = samples.locator("article", has_text="Салон «Лотос»")
    expect(request).to_contain_text("Мыло жидкое 5 л × 2")
    expect(request).to_contain_text("Мария Соколова, +7 912 000-11-22")
    expect(request.locator(".badge")).to_have_text("Запрошены")
    orders = page.locator("#orders")
    expect(orders.locator("article", has_text="Гостиница «Обь»")).to_contain_text("Мыло жидкое 5 л × 12")
    screenshot(page, "journey-production-queue")

    request.get_by_role("button", name="Подготовлены").click()
    expect(page.locator(".alert-success")).to_contain_text("Статус заявки обновлён.")
    expect(request.locator(".badge")).to_have_text("Подготовлены")
    expect(request.get_by_role("button", name="Подготовлены")).to_have_count(0)
    screenshot(page, "journey-production-samples-prepared")
    request.get_by_role("button", name="Переданы клиенту").click()
    expect(page.locator(".alert-success")).to_contain_text("Статус заявки обновлён.")
    expect(samples).to_contain_text("Заявок на пробники нет.")

    order = orders.locator("article", has_text="Гостиница «Обь»")
    order.get_by_label("Комментарий").fill("Отгрузим в четверг")
    order.get_by_role("button", name="Согласовать").click()
    expect(page.locator(".alert-success")).to_contain_text("Решение по заказу записано.")
    expect(orders).to_contain_text("Заказов на согласование нет.")
    screenshot(page, "journey-production-done")

    # The hunter sees both answers on the deal pages.
    hunter_page = console.watch(new_page())
    sign_in(hunter_page, hunter.username)
    hunter_page.goto(f"/deals/{sampled.pk}/")
    expect(hunter_page.locator("main")).to_contain_text("Переданы клиенту")
    expect(hunter_page.locator("#checklist li.text-danger")).to_have_count(0)
    hunter_page.goto(f"/deals/{ordered.pk}/")
    expect(hunter_page.locator("main").get_by_text("Согласован", exact=True)).to_be_visible()
    expect(hunter_page.locator("main")).to_contain_text("Производство: Отгрузим в четверг")
    console.assert_clean()
