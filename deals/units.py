"""Units of measure declined by the number before them: «1 канистра», «2 канистры», «5 канистр»,
«1,5 канистры».

A product keeps its unit in three forms (``Product.unit``, ``unit_few``, ``unit_many``); the form for a
quantity follows the Russian plural categories of Unicode CLDR, the rules gettext's Russian catalogue
uses for whole numbers, extended to fractions: a fractional quantity takes the genitive singular, which is
spelled as the «few» form (1,5 канистры, 0,5 литра).
"""

from decimal import Decimal

ONE, FEW, MANY = "one", "few", "many"

# Units the catalogue has or is likely to have: singular → (2–4 and fractions, 5 and more). Abbreviations
# («шт.», «л», «кг») do not decline and need no entry.
KNOWN_UNITS: dict[str, tuple[str, str]] = {
    "банка": ("банки", "банок"),
    "бочка": ("бочки", "бочек"),
    "бутылка": ("бутылки", "бутылок"),
    "ведро": ("ведра", "вёдер"),
    "евроканистра": ("евроканистры", "евроканистр"),
    "канистра": ("канистры", "канистр"),
    "картридж": ("картриджа", "картриджей"),
    "килограмм": ("килограмма", "килограммов"),
    "комплект": ("комплекта", "комплектов"),
    "коробка": ("коробки", "коробок"),
    "литр": ("литра", "литров"),
    "мешок": ("мешка", "мешков"),
    "набор": ("набора", "наборов"),
    "пакет": ("пакета", "пакетов"),
    "пара": ("пары", "пар"),
    "пачка": ("пачки", "пачек"),
    "рулон": ("рулона", "рулонов"),
    "тюбик": ("тюбика", "тюбиков"),
    "упаковка": ("упаковки", "упаковок"),
    "флакон": ("флакона", "флаконов"),
    "штука": ("штуки", "штук"),
    "ящик": ("ящика", "ящиков"),
}


def plural_category(quantity: Decimal | int) -> str:
    """``one``, ``few`` or ``many``: which form of a unit follows this quantity in Russian."""
    quantity = abs(Decimal(quantity))
    if quantity != quantity.to_integral_value():
        return FEW
    number = int(quantity)
    if number % 10 == 1 and number % 100 != 11:
        return ONE
    if 2 <= number % 10 <= 4 and not 12 <= number % 100 <= 14:
        return FEW
    return MANY


def known_forms(unit: str) -> tuple[str, str] | None:
    """The few and many forms of a unit in :data:`KNOWN_UNITS` (``None`` for one it does not know)."""
    return KNOWN_UNITS.get(unit.strip().lower())


def unit_forms(unit: str, few: str = "", many: str = "") -> tuple[str, str, str]:
    """The three forms of a unit: those given, else the known ones, else the unit itself."""
    known = known_forms(unit) or (unit, unit)
    return unit, few or known[0], many or known[1]


def unit_for(quantity: Decimal | int, *, unit: str, few: str = "", many: str = "") -> str:
    """The unit's form that follows ``quantity``: unit_for(5, unit="канистра") == "канистр"."""
    forms = dict(zip((ONE, FEW, MANY), unit_forms(unit, few, many), strict=True))
    return forms[plural_category(quantity)]
