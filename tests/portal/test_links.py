"""Links to an object's page, filled into a pattern worked out once."""

import pytest
from django.template import Context, Template
from django.urls import reverse

from atlanset_portal.links import link, link_pattern, page_path


@pytest.mark.parametrize(
    ("name", "extra"),
    [("deals:detail", ()), ("clients:detail", ()), ("kpi:task_done", ()), ("deals:form", ("move_back",))],
)
@pytest.mark.parametrize("key", [1, 42, 2147483646])
def test_a_link_is_the_address_reverse_gives(name, extra, key):
    assert link(name, key, *extra) == reverse(name, args=[key, *extra])
    assert link_pattern(name, *extra).format(key) == reverse(name, args=[key, *extra])


def test_templates_have_the_link_filter():
    html = Template("{{ pk|link:'deals:detail' }}").render(Context({"pk": 7}))
    assert html == reverse("deals:detail", args=[7])


@pytest.mark.parametrize("name", ["deals:list", "clients:list", "kpi:activities", "deals:payments"])
def test_a_pages_path_is_the_address_reverse_gives(name):
    assert page_path(name) == reverse(name)
