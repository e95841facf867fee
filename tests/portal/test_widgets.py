"""``FastSelect`` draws in Python what ``forms.Select`` draws through its templates: the same select, the
same options and groups, the same selected one, everything escaped."""

import re

from django import forms
from hypothesis import given
from hypothesis import strategies as st

from atlanset_portal.widgets import FastSelect

text = st.text(alphabet=st.sampled_from("аб<>&\"' x1"), max_size=6)
choices = st.lists(st.tuples(st.integers(0, 9).map(str), text), max_size=6)


def between_tags(html: str) -> str:
    """The markup without the whitespace the templates put between tags."""
    return re.sub(r">\s+<", "><", str(html)).strip()


@given(
    flat=choices,
    group=st.one_of(st.none(), st.tuples(text, choices)),
    chosen=st.one_of(st.none(), st.integers(0, 9).map(str)),
    css=text,
)
def test_a_fast_select_is_the_select_django_draws(flat, group, chosen, css):
    options = [("", "— выберите —"), *flat, *([group] if group else [])]
    attrs = {"class": css, "required": True, "disabled": False}

    fast = FastSelect(attrs=attrs, choices=options).render("client", chosen)
    django = forms.Select(attrs=attrs, choices=options).render("client", chosen)

    assert between_tags(fast) == between_tags(django)


def test_a_subclass_adds_attributes_to_its_options():
    class PricedSelect(FastSelect):
        def option_attrs(self, value):
            return {"data-price": f"{value}0"} if value else {}

    html = PricedSelect(choices=[("", "—"), ("1", "Средство «Блеск»")]).render("product", "1")

    assert '<option value="">—</option>' in html
    assert '<option value="1" data-price="10" selected>Средство «Блеск»</option>' in html
