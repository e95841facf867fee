"""The board's deal cards, rendered in Python.

A hunter's board can hold 500 cards; through the template engine each card costs a dozen variable
lookups with autoescaping (about 0.15 ms), which made the board miss its 150 ms target. Built here
with ``format_html`` (which escapes every value), a card costs a few microseconds. The markup is the
same as the rest of the board's template (deals/templates/deals/board.html).

Each card moves its deal in place: «Дальше» and the menu's «Вперёд» post to ``deals:advance`` and the
answer replaces the card (deals/views/pipeline.py, ``board_moved``); «Вернуть на прежний этап…» opens
the board's back form in the card (board.js), which asks for the comment a move back needs. Without
JavaScript the buttons post the page and the link leads to the deal page's form.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal
from functools import lru_cache
from urllib.parse import quote

from django.urls import reverse
from django.utils.html import format_html_join
from django.utils.safestring import SafeString, mark_safe
from django.utils.translation import gettext as _

from atlanset_portal.icons import icon_html
from atlanset_portal.links import link_pattern
from atlanset_portal.markup import fill
from atlanset_portal.templatetags.formatting import rub

from . import stages
from .models import Deal
from .reach import quick_links_html

# hx-target="this" on the card is inherited by its buttons and form: each answer replaces the card
# (hx-swap="outerHTML" is set once, on the board).
_CARD = (
    '<article class="board-card card card-body p-2{overdue_class}" id="card-{pk}" draggable="true"'
    ' data-deal-url="{advance}" data-card-stage="{stage}" hx-target="this">'
    '<a href="{detail}" class="fw-semibold text-decoration-none">{client}</a>'
    "{title}"
    '<div class="small d-flex justify-content-between gap-2">'
    '<span class="money">{amount}</span>{next_contact}</div>'
    "{owner}{error}"
    '<div class="card-actions">'
    '<button type="submit" form="board-advance" formaction="{advance}" hx-post="{advance}"'
    ' class="btn btn-sm btn-outline-success py-0">{button}</button>'
    '<a class="btn btn-sm btn-outline-secondary py-0" href="{activity}" title="{activity_label}">'
    "{activity_icon}"
    '<span class="visually-hidden">{activity_label}</span></a>'
    '<details class="card-menu"{menu_open}>'
    '<summary class="btn btn-sm btn-outline-secondary py-0" title="{menu_label}" aria-label="{menu_label}">'
    "{menu_icon}</summary>"
    '<div class="card-menu-body">'
    '<button type="submit" form="board-advance" formaction="{advance}" hx-post="{advance}"'
    ' class="btn btn-sm btn-link">{forward}</button>'
    "{back}</div></details>"
    '<span class="card-reach">{reach}</span>'
    "</div></article>"
)

# Most cards are never moved back: their menu holds a link to the deal's move-back form (without JavaScript),
# which board.js turns into the board's one back form, filled in for the card (#card-back-form).
_BACK_LINK = '<a href="{back_form}" class="btn btn-sm btn-link" data-back>{label}</a>'

# The back form in the card itself: when the server answers a refused move back, with the reason.
_BACK = (
    '<form method="post" action="{advance}" hx-post="{advance}" class="card-back mt-1">'
    '<input type="hidden" name="csrfmiddlewaretoken" value="{csrf}">'
    '<input type="hidden" name="next" value="{board_path}">'
    '<label class="form-label small mb-0" for="back-{pk}">{back_label}</label>'
    '<select class="form-select form-select-sm" id="back-{pk}" name="to_stage">{options}</select>'
    '<label class="form-label small mb-0 mt-1" for="comment-{pk}">{comment_label}</label>'
    '<textarea class="form-control form-control-sm" id="comment-{pk}" name="comment" rows="2" required>'
    "{comment}</textarea>"
    '<button type="submit" class="btn btn-sm btn-outline-primary py-0 mt-1">{back_button}</button>'
    "</form>"
)


class CardRenderer:
    """Renders the cards of one board page; links and labels are worked out once per page."""

    def __init__(self, *, today: date, board_path: str, show_owner: bool, csrf_token: str):
        self.detail = link_pattern("deals:detail")
        self.advance = link_pattern("deals:advance")
        self.back_form = link_pattern("deals:form", "move_back")
        self.activity = reverse("kpi:activity_create") + "?deal={}&next=" + quote(board_path, safe="")
        self.board_path = board_path
        self.csrf_token = csrf_token
        self.today = today
        self.show_owner = show_owner
        # Drawn once per page: each card repeats the same few icons of the sprite.
        self.icons = {name: icon_html(name) for name in ("pen", "ellipsis")}
        self.labels = {
            "next": _("Дальше") + " →",
            "close": _("Закрыть"),
            "activity": _("Записать активность"),
            "next_contact": _("Следующий контакт"),
            "menu": _("Переместить"),
            "back": _("Вернуть на этап"),
            "comment": _("Почему возвращаете (обязательно)"),
            "back_button": _("Вернуть"),
            "back_link": "← " + _("Вернуть на прежний этап…"),
        }
        self.forward_labels = {
            stage: (_("Вперёд: «%(stage)s»") % {"stage": following.label})
            if (following := stages.next_stage(stage))
            else _("Закрыть сделку успешно")
            for stage in stages.ORDER
        }
        self._options: dict[tuple[str, str], SafeString] = {}

    def back_options(self, stage: str, chosen: str | None = None) -> SafeString:
        """The earlier stages, the one before ``stage`` chosen unless ``chosen`` names another."""
        earlier = stages.ORDER[: stages.ORDER.index(stage)]
        chosen = chosen if chosen in earlier else (earlier[-1] if earlier else "")
        key = (stage, chosen)
        if key not in self._options:
            self._options[key] = format_html_join(
                "",
                '<option value="{}"{}>{}. {}</option>',
                (
                    (
                        code,
                        mark_safe(" selected") if code == chosen else "",
                        number,
                        stages.definition(code).label,
                    )
                    for number, code in enumerate(earlier, start=1)
                ),
            )
        return self._options[key]

    def card(
        self,
        deal: Deal,
        *,
        last_stage: bool,
        errors: list[str] | None = None,
        back_to: str | None = None,
        comment: str = "",
    ) -> SafeString:
        """A deal's card; ``errors`` (a refused move) are shown in it, and ``back_to`` opens its menu on a
        move back to that stage with the ``comment`` typed so far."""
        shown = CardFacts(
            pk=deal.pk,
            stage=deal.stage,
            client=deal.client.name,
            title=deal.title,
            amount=deal.amount,
            next_contact_on=deal.next_contact_on,
            overdue=deal.next_contact_on is not None and deal.next_contact_on < self.today,
            owner=str(deal.owner) if self.show_owner else None,
            last_stage=last_stage,
            reach=quick_links_html(deal.client, compact=True),
        )
        if errors or back_to:
            return self._draw(shown, errors=errors, back_to=back_to, comment=comment)
        return _drawn_card(self, shown)

    def _draw(
        self,
        shown: "CardFacts",
        *,
        errors: list[str] | None = None,
        back_to: str | None = None,
        comment: str = "",
    ) -> SafeString:
        next_contact = ""
        if shown.next_contact_on:
            next_contact = fill(
                '<span class="{}" title="{}">{}</span>',
                "text-danger fw-semibold" if shown.overdue else "",
                self.labels["next_contact"],
                f"{shown.next_contact_on:%d.%m}",
            )
        advance = self.advance.format(shown.pk)
        detail = self.detail.format(shown.pk)
        back = ""
        if shown.stage != stages.ORDER[0] and not back_to:
            back = fill(_BACK_LINK, back_form=self.back_form.format(shown.pk), label=self.labels["back_link"])
        elif shown.stage != stages.ORDER[0]:
            back = fill(
                _BACK,
                advance=advance,
                pk=shown.pk,
                csrf=self.csrf_token,
                board_path=self.board_path,
                back_label=self.labels["back"],
                options=self.back_options(shown.stage, back_to),
                comment_label=self.labels["comment"],
                comment=comment,
                back_button=self.labels["back_button"],
            )
        error = ""
        if errors:
            error = fill(
                '<div class="alert alert-danger small p-1 my-1" role="alert">{}</div>',
                "; ".join(errors),
            )
        return fill(
            _CARD,
            overdue_class=" overdue" if shown.overdue else "",
            pk=shown.pk,
            advance=advance,
            stage=shown.stage,
            detail=detail,
            client=shown.client,
            title=fill('<div class="small">{}</div>', shown.title) if shown.title else "",
            amount=rub(shown.amount) if shown.amount else "—",
            next_contact=next_contact,
            owner=fill('<div class="small text-body-secondary">{}</div>', shown.owner)
            if shown.owner is not None
            else "",
            error=error,
            button=self.labels["close"] if shown.last_stage else self.labels["next"],
            activity=self.activity.format(shown.pk),
            activity_label=self.labels["activity"],
            menu_open=" open" if back_to else "",
            menu_label=self.labels["menu"],
            forward=self.forward_labels[shown.stage],
            back=back,
            activity_icon=self.icons["pen"],
            menu_icon=self.icons["ellipsis"],
            reach=shown.reach,
        )

    # Cards are drawn once per process for the same facts and the same page (its links, labels, icons): a
    # hunter's board shows the same cards visit after visit. Two renderers of equal pages draw a card alike
    # (the CSRF token and today's date only enter the uncached back form and ``CardFacts``).
    def _page(self) -> tuple:
        return (
            self.detail,
            self.advance,
            self.back_form,
            self.activity,
            tuple(self.labels.items()),
            tuple(self.forward_labels.items()),
            tuple(self.icons.items()),
        )

    def __eq__(self, other) -> bool:
        return isinstance(other, CardRenderer) and self._page() == other._page()

    def __hash__(self) -> int:
        return hash(self._page())


@dataclass(frozen=True)
class CardFacts:
    """Everything a card shows of its deal."""

    pk: int
    stage: str
    client: str
    title: str
    amount: Decimal | None
    next_contact_on: date | None
    overdue: bool
    owner: str | None
    last_stage: bool
    reach: str


@lru_cache(maxsize=20_000)
def _drawn_card(renderer: CardRenderer, shown: CardFacts) -> SafeString:
    # Renderers of equal pages are equal (CardRenderer.__eq__), so a later page finds the card drawn.
    return renderer._draw(shown)
