"""Demo catalogue, clients and deals at every stage, built through the real services."""

from datetime import timedelta
from decimal import Decimal

from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone

from accounts.models import User
from kpi.services import task_schedule

from . import services
from .models import Client, Deal, Product
from .services import OrderLineInput, Requisites
from .stages import CallOutcome, Stage
from .units import Unit

PRODUCTS = [
    ("Мыло жидкое 5 л", Unit.CANISTER, "1000.00", "700.00"),
    ("Обезжириватель 1 л", Unit.BOTTLE, "200.00", "120.00"),
    ("Средство для мытья полов 5 л", Unit.CANISTER, "850.00", "540.00"),
    ("Антисептик для рук 1 л", Unit.BOTTLE, "390.00", "210.00"),
    ("Средство для стёкол 0,5 л", Unit.VIAL, "160.00", "85.00"),
    ("Чистящее средство для сантехники 1 л", Unit.BOTTLE, "240.00", "140.00"),
    ("Дезинфицирующее средство 5 л", Unit.CANISTER, "1450.00", "900.00"),
    ("Гель для стирки 5 л", Unit.CANISTER, "1200.00", "780.00"),
]

# (hunter, name, address, phone, segment, source, how far the deal goes)
CLIENTS = [
    (
        "ivanov",
        "ООО «Чистый дом»",
        "Сургут, ул. Ленина, 41",
        "+7 3462 55-10-01",
        "клининговые компании",
        "2gis",
        Stage.LEAD,
    ),
    (
        "ivanov",
        "Салон красоты «Лотос»",
        "Сургут, пр. Мира, 7",
        "+7 912 410-22-03",
        "салоны красоты",
        "yandex_maps",
        Stage.CALL,
    ),
    (
        "ivanov",
        "Кафе «Северное»",
        "Сургут, ул. Энгельса, 11",
        "+7 922 650-33-12",
        "общепит",
        "2gis",
        Stage.PROPOSAL,
    ),
    (
        "ivanov",
        "Автомойка «Блеск»",
        "Сургут, Югорский тракт, 38",
        "+7 904 880-45-67",
        "автомойки",
        "google_maps",
        Stage.SAMPLES,
    ),
    (
        "ivanov",
        "Фитнес-клуб «Атлет»",
        "Сургут, ул. 30 лет Победы, 19",
        "+7 912 515-77-40",
        "фитнес-клубы",
        "referral",
        Stage.DEAL,
    ),
    (
        "smirnova",
        "Гостиница «Обь»",
        "Сургут, ул. Университетская, 3",
        "+7 3462 52-40-40",
        "гостиницы",
        "2gis",
        Stage.FOLLOW_UP,
    ),
    (
        "smirnova",
        "ИП Сидоров (магазин «Хозтовары»)",
        "Сургут, ул. Мира, 5",
        "+7 950 512-00-02",
        "розница",
        "inbound",
        Stage.SHIPMENT,
    ),
    (
        "smirnova",
        "Детский сад «Солнышко»",
        "Нефтеюганск, мкр. 11, д. 2",
        "+7 3463 23-11-05",
        "образование",
        "2gis",
        Stage.CALL,
    ),
    (
        "sokolov",
        "Столовая «Вахта»",
        "Нижневартовск, ул. Ленина, 15",
        "+7 3466 41-22-10",
        "общепит",
        "yandex_maps",
        Stage.PAYMENT,
    ),
    (
        "sokolov",
        "ООО «СеверКлин»",
        "Сургут, ул. Профсоюзов, 12",
        "+7 929 247-18-90",
        "клининговые компании",
        "referral",
        Stage.CLOSED,
    ),
]

REQUISITES = Requisites(
    legal_name="Общество с ограниченной ответственностью «Пример»",
    inn="7707083893",
    kpp="773601001",
    ogrn="1027700132195",
    legal_address="Москва, ул. Вавилова, 19",
    bank_name="ПАО Сбербанк",
    bik="044525225",
    settlement_account="40702810938000012345",
    correspondent_account="30101810400000000225",
)


def seed_demo_pipeline() -> bool:
    """Creates the catalogue and the demo clients with their deals, once. Returns whether it did."""
    for name, unit, price, cost in PRODUCTS:
        Product.objects.get_or_create(
            name=name, defaults={"unit": unit, "list_price": Decimal(price), "cost": Decimal(cost)}
        )
    if Client.objects.filter(name=CLIENTS[0][1]).exists():
        return False
    users = {
        user.username: user
        for user in User.objects.filter(username__in=["head", "buh", "prod", "ivanov", "smirnova", "sokolov"])
    }
    products = {product.name: product for product in Product.objects.all()}
    for index, (username, name, address, phone, segment, source, target) in enumerate(CLIENTS, start=1):
        hunter = users[username]
        client = services.client_create(
            acting_user=hunter,
            name=name,
            address=address,
            phones=[phone],
            segment=segment,
            source=source,
            decision_maker_name="Ирина Викторовна",
        )
        deal = services.deal_create(acting_user=hunter, client=client)
        _drive(deal, target, hunter=hunter, users=users, products=products, client=client, branch=index)
    return True


def _drive(
    deal: Deal, target: Stage, *, hunter: User, users: dict, products: dict, client: Client, branch: int
) -> None:
    """Moves a deal to ``target`` by doing what each stage asks, as a hunter would."""
    today = timezone.localdate()
    now = timezone.now()
    order = [
        Stage.LEAD,
        Stage.CALL,
        Stage.PROPOSAL,
        Stage.SAMPLES,
        Stage.FOLLOW_UP,
        Stage.DEAL,
        Stage.SHIPMENT,
        Stage.PAYMENT,
        Stage.CLOSED,
    ]
    for stage in order[: order.index(target)]:
        if stage == Stage.CALL:
            services.call_result_record(
                acting_user=hunter,
                deal=deal,
                outcome=CallOutcome.AGREED_SAMPLES,
                call_description="Рассказал о линейке для профессиональной уборки, интересуются пробниками.",
                client_description="Закупают химию раз в месяц у дистрибьютора, недовольны ценой.",
                decision_maker_email=f"zakupki{deal.pk}@example.ru",
            )
        elif stage == Stage.PROPOSAL:
            services.proposal_record(
                acting_user=hunter,
                deal=deal,
                template_name="КП для HoReCa",
                sent_to_email=f"zakupki{deal.pk}@example.ru",
                sent_at=now - timedelta(days=3),
                callback_on=today + timedelta(days=1),
            )
        elif stage == Stage.SAMPLES:
            request = services.sample_request_create(
                acting_user=hunter,
                deal=deal,
                lines=[(products["Мыло жидкое 5 л"], 1), (products["Обезжириватель 1 л"], 2)],
                receiver_name="Ирина Викторовна",
                receiver_phone="+7 912 000-11-22",
                potential_volume="40 л в месяц",
            )
            services.sample_request_set_status(acting_user=users["prod"], request=request, status="prepared")
            services.sample_request_set_status(
                acting_user=users["prod"], request=request, status="handed_over"
            )
        elif stage == Stage.FOLLOW_UP:
            services.follow_up_record(
                acting_user=hunter,
                deal=deal,
                outcome="Пробники понравились, готовы заказать пробную партию.",
                client_confirmed=True,
            )
        elif stage == Stage.DEAL:
            services.client_update_requisites(
                acting_user=hunter,
                client=client,
                requisites=Requisites(**{**REQUISITES.__dict__, "kpp": f"7736010{branch:02d}"}),
            )
            services.order_set_lines(
                acting_user=hunter,
                deal=deal,
                lines=[
                    OrderLineInput(product=products["Мыло жидкое 5 л"], quantity=Decimal(20)),
                    OrderLineInput(product=products["Средство для мытья полов 5 л"], quantity=Decimal(10)),
                ],
            )
            services.order_decide(acting_user=users["prod"], order=deal.order, approve=True)
            services.document_upload(
                acting_user=users["buh"],
                deal=deal,
                kind="invoice",
                number=f"{100 + branch}",
                file=SimpleUploadedFile(
                    f"schet-{deal.pk}.pdf", b"%PDF-1.4\n% demo invoice\n", "application/pdf"
                ),
            )
        elif stage == Stage.SHIPMENT:
            services.shipment_record(
                acting_user=hunter,
                deal=deal,
                receiver_name="Ирина Викторовна",
                receiver_phone="+7 912 000-11-22",
                delivery_address=client.address,
                courier_date=today - timedelta(days=2),
                received_on=today - timedelta(days=1),
            )
        elif stage == Stage.PAYMENT:
            deal.refresh_from_db()
            # The closed deal was paid last month, so last month's statements have money to approve.
            last_month = today.replace(day=1) - timedelta(days=3)
            services.payment_record(
                acting_user=users["buh"],
                deal=deal,
                amount=deal.order.total,
                received_on=last_month if target == Stage.CLOSED else today,
                bank_document=f"{1000 + deal.pk}",
            )
        deal = services.deal_move(acting_user=hunter, deal=deal, to_stage=order[order.index(stage) + 1])
    if target == Stage.CALL and branch % 2:
        # One overdue callback, as in real life: agreed on an earlier call and not made yesterday.
        task_schedule(
            agreed_by=hunter,
            client=client,
            deal=deal,
            due_on=today - timedelta(days=1),
            what="Перезвонить ЛПР: обещал посмотреть прайс",
        )
