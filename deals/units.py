"""Units of measure, declined by the number before them through the translation catalogues: «1 канистра»,
«2 канистры», «10 канистр», «1,5 канистры» (and «1 canister», «10 canisters» in English).

A product's unit is one of :class:`Unit`; each unit's forms are a ``npgettext`` entry, so the Russian
catalogue (locale/ru) holds the three forms and the language's plural rule picks one.
"""

from collections.abc import Callable
from decimal import Decimal

from django.db import models
from django.utils.translation import gettext_lazy as _
from django.utils.translation import npgettext

UNIT_CONTEXT = "единица измерения"


class Unit(models.TextChoices):
    PIECE = "piece", _("шт.")
    CANISTER = "canister", _("канистра")
    BOTTLE = "bottle", _("бутылка")
    VIAL = "vial", _("флакон")
    CAN = "can", _("банка")
    BUCKET = "bucket", _("ведро")
    BARREL = "barrel", _("бочка")
    BOX = "box", _("коробка")
    PACK = "pack", _("упаковка")
    PAIR = "pair", _("пара")
    SET = "set", _("набор")
    ROLL = "roll", _("рулон")
    BAG = "bag", _("мешок")
    LITRE = "litre", _("л")
    KILOGRAM = "kilogram", _("кг")


# Each entry is spelled out so that makemessages finds it; the catalogue gives the forms after 1, 2 and 5.
_DECLINED: dict[str, Callable[[int], str]] = {
    Unit.PIECE: lambda n: npgettext(UNIT_CONTEXT, "шт.", "шт.", n),
    Unit.CANISTER: lambda n: npgettext(UNIT_CONTEXT, "канистра", "канистры", n),
    Unit.BOTTLE: lambda n: npgettext(UNIT_CONTEXT, "бутылка", "бутылки", n),
    Unit.VIAL: lambda n: npgettext(UNIT_CONTEXT, "флакон", "флакона", n),
    Unit.CAN: lambda n: npgettext(UNIT_CONTEXT, "банка", "банки", n),
    Unit.BUCKET: lambda n: npgettext(UNIT_CONTEXT, "ведро", "ведра", n),
    Unit.BARREL: lambda n: npgettext(UNIT_CONTEXT, "бочка", "бочки", n),
    Unit.BOX: lambda n: npgettext(UNIT_CONTEXT, "коробка", "коробки", n),
    Unit.PACK: lambda n: npgettext(UNIT_CONTEXT, "упаковка", "упаковки", n),
    Unit.PAIR: lambda n: npgettext(UNIT_CONTEXT, "пара", "пары", n),
    Unit.SET: lambda n: npgettext(UNIT_CONTEXT, "набор", "набора", n),
    Unit.ROLL: lambda n: npgettext(UNIT_CONTEXT, "рулон", "рулона", n),
    Unit.BAG: lambda n: npgettext(UNIT_CONTEXT, "мешок", "мешка", n),
    Unit.LITRE: lambda n: npgettext(UNIT_CONTEXT, "л", "л", n),
    Unit.KILOGRAM: lambda n: npgettext(UNIT_CONTEXT, "кг", "кг", n),
}

# A fraction takes the genitive singular in Russian («1,5 канистры»), spelled as the form after 2, and the
# plural in English: the count 2 picks that form in both. (gettext's plural rules take whole numbers only.)
FRACTION_COUNT = 2


def plural_count(quantity: Decimal | int) -> int:
    """The whole number that picks the form of a unit after ``quantity`` (10.000 → 10, 1.5 → 2)."""
    quantity = abs(Decimal(quantity))
    if quantity != quantity.to_integral_value():
        return FRACTION_COUNT
    return int(quantity)


def unit_for(unit: str, quantity: Decimal | int) -> str:
    """The unit's form that follows ``quantity`` in the active language: unit_for("canister", 5) ==
    "канистр". A unit stored before the list existed (free text) is shown as it was typed."""
    declined = _DECLINED.get(unit)
    return declined(plural_count(quantity)) if declined else unit


# A quantity of each CLDR plural category (what the page's script asks Intl.PluralRules for): the forms
# the script needs to decline a unit as the hunter types, in the page's language.
CATEGORY_EXAMPLES = {"one": 1, "few": 2, "many": 5, "other": Decimal("1.5")}


def unit_forms_by_category(unit: str) -> dict[str, str]:
    return {category: unit_for(unit, example) for category, example in CATEGORY_EXAMPLES.items()}
