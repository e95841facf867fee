"""Search in Russian on both databases (deals.search): the normalised text, the services that keep it, the
list filters and the header's search box with its scoping and queries.

The module runs on SQLite by default and on PostgreSQL with DATABASE_URL=postgres://… (where the trigram
match is tried as well).
"""

from importlib import import_module

import pytest
from django.apps import apps
from django.db import connection
from django.urls import reverse

from deals.lead_import import ColumnMapping, Table, parse_leads
from deals.models import Client, ClientPhone, Contact, LostReason
from deals.search import matching, normalize_search_text, parse_query
from deals.selectors import portal_search
from deals.services import (
    call_result_record,
    client_update,
    client_update_requisites,
    contact_add,
    deal_mark_lost,
    deal_move,
    leads_import,
)
from deals.stages import CallOutcome, Stage
from tests.deals.factories import VALID_REQUISITES, Pipeline, make_client, make_deal
from tests.deals.test_views import page_text

HTMX = {"HTTP_HX_REQUEST": "true"}


def found(text: str, queryset=None) -> list[str]:
    """Names of the clients the search finds for ``text``."""
    return sorted(matching(queryset or Client.objects.all(), text).values_list("name", flat=True))


# --- normalisation: one function for the stored text and the query -------------------------------------


@pytest.mark.parametrize(
    ("typed", "normalised"),
    [
        ("Салон «ШАРМ»", "салон шарм"),
        ("ЁЛКА, ул. Ёлкина", "елка ул елкина"),
        ("елка", "елка"),
        ("  Салон\u00a0\t«Лотос»\n  ", "салон лотос"),  # no-break space, tabs and newlines collapse
        ("Beauty Салон", "beauty салон"),  # a Latin word stays Latin
        ("Caлoн", "салон"),  # Latin С, а and о in a Cyrillic word are read as Cyrillic
        ("SHARM", "sharm"),
        ("info@sharm.ru", "info sharm ru"),
        ("ИНН 8602123456", "инн 8602123456"),
        ("Straße", "strasse"),  # casefold, not lower
        ("е\u0308лка", "елка"),  # ё typed as е with a combining diaeresis
    ],
)
def test_normalisation_folds_case_yo_punctuation_and_lookalike_letters(typed, normalised):
    assert normalize_search_text(typed) == normalised


@pytest.mark.parametrize(
    ("typed", "terms"),
    [
        ("912 41", ("91241",)),
        ("8 912 41", ("91241",)),
        ("8 (912) 410-22-03", ("9124102203",)),
        ("+7 912 410 22 03", ("9124102203",)),
        ("89124102203", ("9124102203",)),
        ("8912410", ("912410",)),
        ("3462 55-12-34", ("3462551234",)),
        ("8602123456", ("8602123456",)),  # an ИНН of Yugra: the 8 is not a trunk prefix
        ("7707083893", ("7707083893",)),  # an ИНН of Moscow
        ("Шарм Сургут", ("шарм", "сургут")),
        ("шарм шарм", ("шарм",)),
    ],
)
def test_a_query_is_split_into_terms_and_phone_digits_lose_the_trunk_prefix(typed, terms):
    assert parse_query(typed).terms == terms


def test_an_empty_query_matches_everything_in_a_list(hunter):
    make_client(acting_user=hunter, name="Салон «Шарм»")
    assert found("  «» ") == ["Салон «Шарм»"]


# --- the stored text, kept by the services --------------------------------------------------------------


@pytest.mark.django_db
def test_lower_case_russian_finds_capitalised_names_on_this_database(hunter):
    make_client(acting_user=hunter, name="Салон «Шарм»")
    make_client(acting_user=hunter, name="Салон красоты «Лотос»")
    make_client(acting_user=hunter, name="Кафе «Ёлочка»", address="г. Сургут, ул. Мира, 5")
    assert found("шарм") == ["Салон «Шарм»"]
    assert found("лотос") == ["Салон красоты «Лотос»"]
    assert found("салон") == ["Салон «Шарм»", "Салон красоты «Лотос»"]
    assert found("САЛОН шарм") == ["Салон «Шарм»"]
    assert found("елочка") == found("ЁЛОЧКА") == ["Кафе «Ёлочка»"]
    assert found("мира 5") == ["Кафе «Ёлочка»"]  # the address
    assert found("шарм лотос") == []  # every word must be there


@pytest.mark.django_db
def test_a_name_typed_with_latin_lookalikes_is_found_in_cyrillic_and_back(hunter):
    make_client(acting_user=hunter, name="Caлoн «Mapгo»")  # Latin C, a, o, M, p
    make_client(acting_user=hunter, name="Beauty Studio «Ирис»")
    assert found("салон марго") == ["Caлoн «Mapгo»"]
    assert found("beauty ирис") == ["Beauty Studio «Ирис»"]


@pytest.mark.django_db
def test_phones_are_found_by_their_digits_however_typed(hunter):
    make_client(acting_user=hunter, name="Автомойка «Блеск»", phones=["+7 912 410-22-03"])
    make_client(acting_user=hunter, name="Офис «Югра»", phones=["8 (3462) 55-12-34 доб. 123"])
    for typed in ("912 41", "8 912 410", "+7 912 410-22-03", "89124102203", "410-22-03"):
        assert found(typed) == ["Автомойка «Блеск»"], typed
    for typed in ("3462 55", "8 3462 55-12-34", "55-12-34"):
        assert found(typed) == ["Офис «Югра»"], typed


@pytest.mark.django_db
def test_create_stores_name_address_phones_and_card_fields(hunter):
    card = make_client(
        acting_user=hunter,
        name="Салон «Шарм»",
        address="Сургут, пр. Ленина, 7",
        phones=["8 912 410-22-03"],
        email="Info@Sharm.ru",
        decision_maker_name="Ирина Ёжикова",
    )
    text = Client.objects.get(pk=card.pk).search_text
    assert text == card.search_text
    for part in ("салон шарм", "сургут пр ленина 7", "79124102203", "info sharm ru", "ирина ежикова"):
        assert part in text


@pytest.mark.django_db
def test_update_keeps_the_text_current_and_forgets_what_was_removed(hunter):
    card = make_client(acting_user=hunter, name="Салон «Шарм»", phones=["+79124102203"])
    client_update(
        acting_user=hunter,
        client=card,
        name="Студия «Ирис»",
        address="Нефтеюганск, 3 мкр",
        phones=["+7 912 999-00-11", "+7 3462 55-12-34 доб. 45"],
    )
    assert found("шарм") == [] and found("912 410") == []
    assert found("ирис") == found("нефтеюганск") == found("912 999") == found("3462 55") == ["Студия «Ирис»"]
    assert ClientPhone.objects.get(number="+73462551234").extension == "45"


@pytest.mark.django_db
def test_changing_only_a_phones_extension_stores_it(hunter):
    card = make_client(acting_user=hunter, phones=["+7 3462 55-12-34"])
    client_update(acting_user=hunter, client=card, phones=["+7 3462 55-12-34,77"])
    assert list(card.phones.values_list("number", "extension")) == [("+73462551234", "77")]


@pytest.mark.django_db
def test_a_contact_added_is_found_by_name_phone_and_email(hunter):
    card = make_client(acting_user=hunter, name="Салон «Шарм»")
    contact = contact_add(
        acting_user=hunter,
        client=card,
        name="Алёна Петрова",
        position="Администратор",
        phone="8 912 777-66-55 доб. 12",
        email="alena@sharm.ru",
    )
    assert (contact.phone, contact.phone_extension) == ("+79127776655", "12")
    for typed in ("алена", "ПЕТРОВА", "912 777", "alena@sharm"):
        assert found(typed) == ["Салон «Шарм»"], typed
        assert list(matching(Contact.objects.all(), typed)) == [contact], typed
    assert list(matching(Contact.objects.all(), "администратор")) == [contact]


@pytest.mark.django_db
def test_requisites_add_the_legal_name_and_inn(hunter):
    card = make_client(acting_user=hunter, name="Салон «Шарм»")
    client_update_requisites(acting_user=hunter, client=card, requisites=VALID_REQUISITES)
    assert found("ооо лотос") == found(VALID_REQUISITES.inn) == found("7707 083") == ["Салон «Шарм»"]


@pytest.mark.django_db
def test_the_decision_makers_email_from_a_call_reaches_the_search(hunter):
    deal = make_deal(acting_user=hunter, client=make_client(acting_user=hunter, name="Салон «Шарм»"))
    deal = deal_move(acting_user=hunter, deal=deal, to_stage=Stage.CALL)
    call_result_record(
        acting_user=hunter,
        deal=deal,
        outcome=CallOutcome.AGREED_SAMPLES,
        call_description="Договорились",
        client_description="Салон",
        decision_maker_email="director@sharm.ru",
    )
    assert found("director@sharm") == ["Салон «Шарм»"]


@pytest.mark.django_db
def test_imported_leads_are_searchable(hunter):
    table = Table(
        headers=["Название", "Адрес", "Телефон"],
        rows=[
            ["Салон «Шарм»", "Сургут, ул. Мира, 1", "8 912 410-22-03"],
            ["Кафе «Ёж»", "Сургут", "+73462551234"],
        ],
    )
    parsed = parse_leads(table, ColumnMapping(name=0, address=1, phones=[2]))
    leads_import(acting_user=hunter, parsed=parsed, source="2gis")
    assert found("шарм") == found("912 41") == found("мира") == ["Салон «Шарм»"]
    assert found("еж") == found("3462 551") == ["Кафе «Ёж»"]


@pytest.mark.django_db
def test_the_data_migration_fills_the_text_of_existing_clients_and_contacts(hunter):
    card = make_client(acting_user=hunter, name="Салон «Шарм»", phones=["+79124102203"])
    contact = contact_add(acting_user=hunter, client=card, name="Алёна", phone="+79127776655")
    expected = Client.objects.get(pk=card.pk).search_text
    Client.objects.update(search_text="")
    Contact.objects.update(search_text="")

    import_module("deals.migrations.0020_fill_search_text").fill_search_text(apps, schema_editor=None)

    assert Client.objects.get(pk=card.pk).search_text == expected
    assert "алена" in expected and "79127776655" in expected
    assert Contact.objects.get(pk=contact.pk).search_text == "алена 79127776655"


# --- the list filters use the same search --------------------------------------------------------------


def test_client_list_search_finds_lower_case_russian_and_addresses(client, hunter):
    make_client(acting_user=hunter, name="Салон «Шарм»", address="Сургут, ул. Ёлкина, 3")
    make_client(acting_user=hunter, name="Кафе «Северное»")
    client.force_login(hunter)
    for typed in ("шарм", "елкина", "САЛОН"):
        text = page_text(client.get(reverse("clients:list"), {"q": typed}))
        assert "Салон «Шарм»" in text and "Кафе «Северное»" not in text, typed


def test_deal_list_search_finds_deals_by_their_clients_text(client, hunter):
    make_deal(acting_user=hunter, client=make_client(acting_user=hunter, name="Салон «Шарм»"))
    make_deal(acting_user=hunter, client=make_client(acting_user=hunter, name="Кафе «Северное»"))
    client.force_login(hunter)
    text = page_text(client.get(reverse("deals:list"), {"q": "шарм"}))
    assert "Салон «Шарм»" in text and "Кафе «Северное»" not in text


# --- the header's search box -----------------------------------------------------------------------------


@pytest.fixture
def two_hunters_world(hunter, other_hunter, pipeline):
    """Hunter A: «Салон «Шарм»» with a deal at stage 1 and a contact; hunter B: «Шарм-2» with a deal at
    the «Сделка» stage (the accountant's) and a contact."""
    own = make_client(acting_user=hunter, name="Салон «Шарм»", phones=["+79124102203"])
    contact_add(acting_user=hunter, client=own, name="Шарман Ирина", phone="+79127776655")
    own_deal = make_deal(acting_user=hunter, client=own, title="Первый заказ")
    others = make_client(acting_user=other_hunter, name="Салон «Шарм-2»", phones=["+79124109999"])
    contact_add(acting_user=other_hunter, client=others, name="Шарлотта Смирнова")
    others_pipeline = Pipeline(
        hunter=other_hunter, production=pipeline.production, accountant=pipeline.accountant
    )
    others_deal = others_pipeline.advance_to(make_deal(acting_user=other_hunter, client=others), Stage.DEAL)
    return {"own": own, "own_deal": own_deal, "others": others, "others_deal": others_deal}


def _header_search(client, user, text: str):
    client.force_login(user)
    response = client.get(reverse("search"), {"q": text}, **HTMX)
    assert response.status_code == 200
    return response


def test_header_search_shows_a_hunter_only_own_clients_deals_and_contacts(client, hunter, two_hunters_world):
    response = _header_search(client, hunter, "шар")
    html = response.content.decode()
    assert "Салон «Шарм»" in page_text(response) and "Шарман Ирина" in page_text(response)
    assert "Шарм-2" not in html and "Шарлотта" not in html
    assert reverse("clients:detail", args=[two_hunters_world["own"].pk]) in html
    assert reverse("deals:detail", args=[two_hunters_world["own_deal"].pk]) in html
    assert reverse("clients:detail", args=[two_hunters_world["others"].pk]) not in html
    assert reverse("deals:detail", args=[two_hunters_world["others_deal"].pk]) not in html
    # by the other hunter's phone: nothing
    assert "ничего не найдено" in page_text(_header_search(client, hunter, "912 410 99 99"))


def test_header_search_shows_the_accountant_finance_deals_and_their_clients_only(
    client, accountant, two_hunters_world
):
    html = _header_search(client, accountant, "шарм").content.decode()
    assert reverse("deals:detail", args=[two_hunters_world["others_deal"].pk]) in html
    assert reverse("clients:detail", args=[two_hunters_world["others"].pk]) in html
    assert reverse("deals:detail", args=[two_hunters_world["own_deal"].pk]) not in html
    assert reverse("clients:detail", args=[two_hunters_world["own"].pk]) not in html
    assert "Шарман Ирина" not in html  # a contact of a client she does not see


def test_header_search_shows_the_head_everything(client, sales_head, two_hunters_world):
    html = _header_search(client, sales_head, "шар").content.decode()
    for key in ("own", "others"):
        assert reverse("clients:detail", args=[two_hunters_world[key].pk]) in html
    for key in ("own_deal", "others_deal"):
        assert reverse("deals:detail", args=[two_hunters_world[key].pk]) in html
    assert "Шарман Ирина" in html and "Шарлотта Смирнова" in html


def test_header_search_is_refused_to_production(client, production):
    client.force_login(production)
    assert client.get(reverse("search"), {"q": "шарм"}, **HTMX).status_code == 403


def test_header_search_answers_a_fragment_to_htmx_and_a_page_otherwise(client, hunter, two_hunters_world):
    fragment = _header_search(client, hunter, "шарм").content.decode()
    assert "<html" not in fragment and "data-search-results" in fragment
    page = client.get(reverse("search"), {"q": "шарм"})
    assert "<html" in page.content.decode() and "Салон «Шарм»" in page_text(page)
    # one letter finds nothing yet: the box stays closed
    assert _header_search(client, hunter, "ш").content.decode().strip() == ""


def test_header_search_results_call_the_client_in_one_tap(client, hunter, two_hunters_world):
    html = _header_search(client, hunter, "шарм").content.decode()
    assert 'href="tel:+79124102203"' in html and 'href="https://wa.me/79124102203"' in html
    assert 'href="tel:+79127776655"' in html  # the contact's phone


def test_the_header_shows_the_search_box_to_roles_that_work_with_clients(
    client, hunter, accountant, production
):
    for user, shown in ((hunter, True), (accountant, True), (production, False)):
        client.force_login(user)
        html = client.get(reverse("notifications:list")).content.decode()
        assert ('id="header-search-input"' in html) is shown, user.role
    client.force_login(hunter)
    html = client.get(reverse("notifications:list")).content.decode()
    assert f'hx-get="{reverse("search")}"' in html and "delay:300ms" in html


@pytest.mark.parametrize("many", [False, True])
def test_header_search_runs_a_fixed_number_of_queries(
    client, hunter, sales_head, django_assert_max_num_queries, many
):
    for n in range(12 if many else 1):
        card = make_client(acting_user=hunter, name=f"Салон «Шарм» №{n}")
        contact_add(acting_user=hunter, client=card, name=f"Шарлотта {n}", phone=f"+7912000{n:04d}")
        make_deal(acting_user=hunter, client=card)
    for user in (hunter, sales_head):
        client.force_login(user)
        client.get(reverse("search"), {"q": "шарм"}, **HTMX)
        # The frame: the session, the user, their permissions (2) and the session's renewal (3); then the
        # clients, their phones, the deals and the contacts, however many match; on PostgreSQL a list
        # that has nothing as typed looks for close spellings once more (here the contacts).
        with django_assert_max_num_queries(11 if connection.vendor != "postgresql" else 12):
            response = client.get(reverse("search"), {"q": "шарм"}, **HTMX)
        assert "Салон «Шарм»" in page_text(response)


@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram similarity is PostgreSQL's")
@pytest.mark.django_db
def test_postgresql_also_finds_a_word_with_a_letter_missing(hunter):
    make_client(acting_user=hunter, name="Парикмахерская «Локон»")
    make_client(acting_user=hunter, name="Кафе «Северное»")
    assert found("парикмахерска") == ["Парикмахерская «Локон»"]  # a prefix: found by LIKE as well
    assert found("парикмахрская") == ["Парикмахерская «Локон»"]  # a letter missing: by trigrams only


@pytest.mark.skipif(connection.vendor != "postgresql", reason="trigram similarity is PostgreSQL's")
@pytest.mark.django_db
def test_postgresql_header_search_finds_deals_by_a_misspelt_client_name_open_ones_first(hunter):
    salon = make_client(acting_user=hunter, name="Парикмахерская «Локон»")
    old = make_deal(acting_user=hunter, client=salon)
    deal_mark_lost(acting_user=hunter, deal=old, reason=LostReason.objects.get(code="competitor"))
    current = make_deal(acting_user=hunter, client=salon)
    make_deal(acting_user=hunter, client=make_client(acting_user=hunter, name="Кафе «Северное»"))

    results = portal_search(viewer=hunter, text="парикмахрская")  # a letter missing: close spellings

    assert [deal.pk for deal in results.deals] == [current.pk, old.pk]
    assert [client.name for client in results.clients] == ["Парикмахерская «Локон»"]


@pytest.mark.django_db
@pytest.mark.parametrize("few", [1, 2, 200])
def test_a_search_finds_the_same_cards_whether_they_are_few_or_many(hunter, other_hunter, monkeypatch, few):
    """On PostgreSQL up to FEW_MATCHES rows found are handed to the list by key, more stay a filter: the
    cards found, their order and the reader's scope are the same either way."""
    from deals import search

    monkeypatch.setattr(search, "FEW_MATCHES", few)
    for name, phone in (("Кафе «Б»", "+7 912 555-10-01"), ("Кафе «А»", "+7 912 555-10-02")):
        make_client(acting_user=hunter, name=name, phones=[phone])
    make_client(acting_user=other_hunter, name="Кафе «Чужое»", phones=["+7 912 555-10-03"])
    make_client(acting_user=hunter, name="Салон", phones=["+7 912 777-00-00"])

    by_phone = matching(Client.objects.visible_to(hunter).order_by("name"), "555-10")
    by_word = matching(Client.objects.visible_to(hunter).order_by("name"), "кафе")

    assert [client.name for client in by_phone] == ["Кафе «А»", "Кафе «Б»"]
    assert [client.name for client in by_word] == ["Кафе «А»", "Кафе «Б»"]
