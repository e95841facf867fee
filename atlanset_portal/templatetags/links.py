"""``{{ task.pk|link:"kpi:task_done" }}``: the address of an object's page (atlanset_portal/links.py), for
rows a page repeats; built in for every template."""

from django import template

from atlanset_portal.links import link as page_link

register = template.Library()


@register.filter
def link(key, name: str) -> str:
    return page_link(name, key)
