"""Issue 8: the access matrix — every URL pattern of the portal × every role, GET and an empty POST.

``MATRIX`` states, for each URL name, what each role gets. The patterns are read from the resolver, so a
new page without a row (or a row for a page that is gone) fails ``test_every_url_pattern_has_a_row``.

Answers:
    200, 400, 403, 404, 405  the status code;
    LOGIN                     302 to the sign-in page with ``?next=`` (anonymous visitors);
    Go("name", kw="ref")      302 to that page of the portal (``ref`` names an object of the world);
    LATE                      400: a role that may NOT do this posted an empty form, and the view shows the
                              form errors before the service's permission check; the same role with a
                              valid body gets 403 (``test_forbidden_roles_with_a_valid_body_change_nothing``);
    Bug(403, "why")  the correct answer that the portal does not give yet: a strict xfail.

Object pages are filled from one world of objects owned by hunter A, built once for the module: hunter A
gets the designed answer on them, hunter B (another hunter) 404. Every refused cell (403, 404, 405, sign-in,
LATE) also checks that the main tables and the world's objects are unchanged.

The matrix runs with the production rules the test settings relax: the head and the accountant have
confirmed their second factor in their sessions, and the PBX hook has a token.
"""

from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from urllib.parse import urlencode

import pytest
from django.conf import settings
from django.contrib.auth.models import Permission
from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import connection, transaction
from django.test import Client as HttpClient
from django.test import override_settings
from django.urls import URLResolver, get_resolver, reverse
from django.utils import timezone
from django_otp import DEVICE_ID_SESSION_KEY
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts.roles import Role
from atlanset_portal.settings import base as production_settings
from compensation import models as compensation_models
from compensation.services import expense_claim
from deals import models as deals_models
from deals.models import DealDocument, LostReason, Order, OrderVersion, PaymentTermsRequest, SampleRequest
from deals.services import client_transfer, payment_terms_request_create, sample_request_create
from deals.stages import Stage
from imports import models as imports_models
from imports.models import ImportJob
from kpi import models as kpi_models
from kpi.models import ActivityKind
from kpi.services import activity_log
from notifications import models as notifications_models
from notifications.models import Notification, NotificationKind
from notifications.reminders import Reminder
from notifications.services import notifications_create
from onboarding import models as onboarding_models
from onboarding.demo import seed_demo_onboarding
from onboarding.models import Question, Section
from onboarding.services import attempt_submit
from onboarding.services import test_draw as draw_test
from tests.deals.factories import Pipeline, make_client, make_deal, order_post, samples_post
from tests.factories import UserFactory

# The production rule (the test settings switch it off): these roles confirm a TOTP code after the password.
SECOND_FACTOR_ROLES = list(production_settings.OTP_REQUIRED_ROLES)

ANON, A, B, HEAD, BUH, PROD = "anon", "hunter_a", "hunter_b", "head", "accountant", "production"
ROLES = (ANON, A, B, HEAD, BUH, PROD)


class _Login:
    def __repr__(self):
        return "LOGIN"


LOGIN = _Login()


class Go:
    """302 to another page of the portal; keyword values name entries of ``World.ref``."""

    def __init__(self, name: str, **kwargs: str):
        self.name, self.kwargs = name, kwargs

    def __repr__(self):
        return f"Go({self.name!r})"


@dataclass(frozen=True)
class Late:
    status: int = 400

    def __repr__(self):
        return "LATE"


LATE = Late()


@dataclass(frozen=True)
class Bug:
    """The answer the portal should give; the cell is a strict xfail until the view is fixed."""

    expected: object
    why: str


def every(answer, **roles):
    """The same answer for all six roles, with exceptions by role: ``every(405, ANON=LOGIN)``."""
    row = {role: answer for role in ROLES}
    row.update({globals()[key]: value for key, value in roles.items()})
    return row


@dataclass(frozen=True)
class Row:
    kwargs: dict[str, str]  # URL keyword → the World.ref entry that fills it
    get: dict
    post: dict


# fmt: off
MATRIX: dict[str, Row] = {
    # --- accounts -------------------------------------------------------------------------------------
    "home": Row({},
        get={ANON: LOGIN, A: Go("kpi:my_day"), B: Go("kpi:my_day"), HEAD: Go("kpi:dashboard"),
             BUH: Go("compensation:home"), PROD: Go("deals:production_queue")},
        post={ANON: LOGIN, A: Go("kpi:my_day"), B: Go("kpi:my_day"), HEAD: Go("kpi:dashboard"),
              BUH: Go("compensation:home"), PROD: Go("deals:production_queue")}),
    # Signed-in users are sent home (redirect_authenticated_user); an empty sign-in form is shown again.
    "login": Row({}, get=every(Go("home"), ANON=200), post=every(Go("home"), ANON=200)),
    # Logout is POST only (Django 5+); it is not login_not_required, so anonymous visitors go to sign-in.
    "logout": Row({}, get=every(405, ANON=LOGIN), post=every(Go("login"), ANON=LOGIN)),
    "password_change": Row({}, get=every(200, ANON=LOGIN), post=every(200, ANON=LOGIN)),
    "password_change_done": Row({}, get=every(200, ANON=LOGIN), post=every(405, ANON=LOGIN)),
    # A plain function view: it answers any method with the page.
    "no_role": Row({}, get=every(200, ANON=LOGIN), post=every(200, ANON=LOGIN)),
    # The second factor. The head and the accountant of the matrix have confirmed it in their session and
    # are sent on (home by default); the other roles are not asked for it and get the set-up page.
    # test_unverified_head_and_accountant_reach_only_the_code_page covers the sessions without it.
    # Only the roles that confirm sign-in with a code have anything to do here; the others go home.
    "two_factor": Row({},
        get={ANON: LOGIN, A: Go("kpi:my_day"), B: Go("kpi:my_day"), HEAD: Go("kpi:dashboard"),
             BUH: Go("compensation:home"), PROD: Go("deals:production_queue")},
        post={ANON: LOGIN, A: Go("kpi:my_day"), B: Go("kpi:my_day"), HEAD: 400, BUH: 400,
              PROD: Go("deals:production_queue")}),
    # The head's audit history (changes to deals, payments, plans, schemes, statements; client exports).
    "audit": Row({},
        get={ANON: LOGIN, A: 403, B: 403, HEAD: 200, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: 403, B: 403, HEAD: 405, BUH: 403, PROD: 403}),
    # --- onboarding: hunters and the head read the regulations ----------------------------------------
    "onboarding:overview": Row({},
        get={ANON: LOGIN, A: 200, B: 200, HEAD: 200, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: 405, B: 405, HEAD: 405, BUH: 403, PROD: 403}),
    # An empty POST acknowledges the section (there is nothing else to post).
    "onboarding:section": Row({"slug": "section"},
        get={ANON: LOGIN, A: 200, B: 200, HEAD: 200, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: Go("onboarding:overview"), B: Go("onboarding:overview"),
              HEAD: Go("onboarding:overview"), BUH: 403, PROD: 403}),
    "onboarding:section_edit": Row({"slug": "section"},
        get={ANON: LOGIN, A: 403, B: 403, HEAD: 200, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: 403, B: 403, HEAD: 400, BUH: 403, PROD: 403}),
    "onboarding:section_history": Row({"slug": "section"},
        get={ANON: LOGIN, A: 200, B: 200, HEAD: 200, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: 405, B: 405, HEAD: 405, BUH: 403, PROD: 403}),
    # A stage's regulation: the view has no access check of its own and sends every signed-in user to the
    # stage's section, which the accountant and production may not read (403 there) although the deal page
    # shows them its stage links. Which of the two is meant is a design question, so no Bug() here.
    "onboarding:stage": Row({"stage": "stage"},
        get=every(Go("onboarding:section", slug="section"), ANON=LOGIN),
        post=every(Go("onboarding:section", slug="section"), ANON=LOGIN)),
    # No test drawn in the world (hunter A's was answered): an answer sheet goes back to the test page.
    "onboarding:test": Row({},
        get={ANON: LOGIN, A: 200, B: 200, HEAD: 200, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: Go("onboarding:test"), B: Go("onboarding:test"), HEAD: Go("onboarding:test"),
              BUH: 403, PROD: 403}),
    "onboarding:attempt": Row({"pk": "attempt"},
        get={ANON: LOGIN, A: 200, B: 404, HEAD: 200, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: 405, B: 405, HEAD: 405, BUH: 403, PROD: 403}),
    "onboarding:progress": Row({},
        get={ANON: LOGIN, A: 403, B: 403, HEAD: 200, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: 403, B: 403, HEAD: 405, BUH: 403, PROD: 403}),
    "onboarding:questions": Row({},
        get={ANON: LOGIN, A: 403, B: 403, HEAD: 200, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: 403, B: 403, HEAD: 400, BUH: 403, PROD: 403}),
    "onboarding:question_edit": Row({"pk": "question"},
        get={ANON: LOGIN, A: 403, B: 403, HEAD: 200, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: 403, B: 403, HEAD: 400, BUH: 403, PROD: 403}),
    # --- the header's search box: whoever works with clients or deals; each finds what their lists show --
    "search": Row({},
        get={ANON: LOGIN, A: 200, B: 200, HEAD: 200, BUH: 200, PROD: 403},
        post={ANON: LOGIN, A: 405, B: 405, HEAD: 405, BUH: 405, PROD: 403}),
    # --- clients: hunters own, the head all, the accountant clients with a deal from stage «Сделка» ----
    "clients:list": Row({},
        get={ANON: LOGIN, A: 200, B: 200, HEAD: 200, BUH: 200, PROD: 403},
        post={ANON: LOGIN, A: 405, B: 405, HEAD: 405, BUH: 405, PROD: 403}),
    "clients:create": Row({},
        get={ANON: LOGIN, A: 200, B: 200, HEAD: 200, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: 400, B: 400, HEAD: 400, BUH: 403, PROD: 403}),
    "clients:import": Row({},
        get={ANON: LOGIN, A: 200, B: 200, HEAD: 200, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: 400, B: 400, HEAD: 400, BUH: 403, PROD: 403}),
    # Hunter A's lead import (a background job): hers, and the head's, who imports for hunters; GET only.
    "clients:import_job": Row({"pk": "lead_job"},
        get={ANON: LOGIN, A: 200, B: 404, HEAD: 200, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: 405, B: 405, HEAD: 405, BUH: 403, PROD: 403}),
    # Exporting the client base is given to no role: the admin grants it to a person (see
    # test_a_granted_export_is_scoped_and_logged).
    "clients:export": Row({}, get=every(403, ANON=LOGIN), post=every(403, ANON=LOGIN)),
    "clients:detail": Row({"pk": "client"},
        get={ANON: LOGIN, A: 200, B: 404, HEAD: 200, BUH: 200, PROD: 404},
        post=every(405, ANON=LOGIN)),
    "clients:edit": Row({"pk": "client"},
        get={ANON: LOGIN, A: 200, B: 404, HEAD: 200, PROD: 404,
             BUH: 403},
        post={ANON: LOGIN, A: 400, B: 404, HEAD: 400, PROD: 404,
              BUH: 403}),
    # Every requisites field is optional: an empty form is valid (and clears the requisites).
    "clients:requisites": Row({"pk": "client"},
        get={ANON: LOGIN, A: 200, B: 404, HEAD: 200, PROD: 404,
             BUH: 403},
        post={ANON: LOGIN, A: Go("clients:detail", pk="client"), B: 404,
              HEAD: Go("clients:detail", pk="client"), BUH: 403, PROD: 404}),
    # Payment terms are set by the head and the accountant; the hunter requests them instead.
    "clients:terms": Row({"pk": "client"},
        get=every(405, ANON=LOGIN),
        post={ANON: LOGIN, A: 403, B: 404, HEAD: 400, BUH: 400, PROD: 404}),
    # A request for payment terms comes from whoever works the client (its hunter; the head may too).
    "clients:terms_request": Row({"pk": "client"},
        get=every(405, ANON=LOGIN),
        post={ANON: LOGIN, A: 400, B: 404, HEAD: 400, BUH: 403, PROD: 404}),
    # Only the head decides on a request (the world's: hunter A's, pending); an empty decision is a message
    # on the client's card.
    "clients:terms_request_decide": Row({"pk": "terms_request"},
        get={ANON: LOGIN, A: 403, B: 403, HEAD: 405, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: 403, B: 403, HEAD: Go("clients:detail", pk="client"), BUH: 403, PROD: 403}),
    "clients:contact_add": Row({"pk": "client"},
        get=every(405, ANON=LOGIN),
        post={ANON: LOGIN, A: 400, B: 404, HEAD: 400, BUH: LATE, PROD: 404}),
    "clients:transfer": Row({"pk": "client"},
        get={ANON: LOGIN, A: 403, B: 403, HEAD: 405, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: 403, B: 403, HEAD: 400, BUH: 403, PROD: 403}),
    # --- deals: the world's deal is hunter A's, at stage «Получение оплаты» -----------------------------
    "deals:list": Row({},
        get={ANON: LOGIN, A: 200, B: 200, HEAD: 200, BUH: 200, PROD: 403},
        post={ANON: LOGIN, A: 405, B: 405, HEAD: 405, BUH: 405, PROD: 403}),
    # Payments and refunds: the head and the accountant all, a hunter those credited to them.
    "deals:payments": Row({},
        get={ANON: LOGIN, A: 200, B: 200, HEAD: 200, BUH: 200, PROD: 403},
        post={ANON: LOGIN, A: 405, B: 405, HEAD: 405, BUH: 405, PROD: 403}),
    "deals:board": Row({},
        get={ANON: LOGIN, A: 200, B: 200, HEAD: 200, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: 405, B: 405, HEAD: 405, BUH: 403, PROD: 403}),
    # A column's next cards: without a stage and an offset the address is refused in words.
    "deals:board_more": Row({},
        get={ANON: LOGIN, A: 400, B: 400, HEAD: 400, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: 405, B: 405, HEAD: 405, BUH: 403, PROD: 403}),
    "deals:create": Row({},
        get={ANON: LOGIN, A: 200, B: 200, HEAD: 200, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: 400, B: 400, HEAD: 400, BUH: 403, PROD: 403}),
    "deals:detail": Row({"pk": "deal"},
        get={ANON: LOGIN, A: 200, B: 404, HEAD: 200, BUH: 200, PROD: 404},
        post=every(405, ANON=LOGIN)),
    # A form the deal page draws when opened (moving back): for who works the deal; GET only.
    "deals:form": Row({"pk": "deal", "key": "secondary_form"},
        get={ANON: LOGIN, A: 200, B: 404, HEAD: 200, BUH: 404, PROD: 404},
        post=every(405, ANON=LOGIN)),
    # Unpaid, the deal cannot leave «Получение оплаты»: the refusal goes back to the deal page.
    "deals:advance": Row({"pk": "deal"},
        get=every(405, ANON=LOGIN),
        post={ANON: LOGIN, A: Go("deals:detail", pk="deal"), B: 404, HEAD: Go("deals:detail", pk="deal"),
              BUH: 403, PROD: 404}),
    "deals:move_back": Row({"pk": "deal"}, get=every(405, ANON=LOGIN),
        post={ANON: LOGIN, A: 400, B: 404, HEAD: 400, BUH: LATE, PROD: 404}),
    "deals:lost": Row({"pk": "deal"}, get=every(405, ANON=LOGIN),
        post={ANON: LOGIN, A: 400, B: 404, HEAD: 400, BUH: LATE, PROD: 404}),
    # The deal is open: nothing to restore, the refusal is a message on the deal page.
    "deals:restore": Row({"pk": "deal"},
        get=every(405, ANON=LOGIN),
        post={ANON: LOGIN, A: Go("deals:detail", pk="deal"), B: 404, HEAD: Go("deals:detail", pk="deal"),
              BUH: 403, PROD: 404}),
    "deals:call": Row({"pk": "deal"}, get=every(405, ANON=LOGIN),
        post={ANON: LOGIN, A: 400, B: 404, HEAD: 400, BUH: LATE, PROD: 404}),
    "deals:proposal": Row({"pk": "deal"}, get=every(405, ANON=LOGIN),
        post={ANON: LOGIN, A: 400, B: 404, HEAD: 400, BUH: LATE, PROD: 404}),
    "deals:samples": Row({"pk": "deal"}, get=every(405, ANON=LOGIN),
        post={ANON: LOGIN, A: 400, B: 404, HEAD: 400, BUH: LATE, PROD: 404}),
    "deals:follow_up": Row({"pk": "deal"}, get=every(405, ANON=LOGIN),
        post={ANON: LOGIN, A: 400, B: 404, HEAD: 400, BUH: LATE, PROD: 404}),
    "deals:order": Row({"pk": "deal"}, get=every(405, ANON=LOGIN),
        post={ANON: LOGIN, A: 400, B: 404, HEAD: 400, BUH: LATE, PROD: 404}),
    # The head's word on an order version over the client's deferred limit (the world's version is the
    # approved one: nothing to decide); an empty decision is a message on the deal page.
    "deals:order_version_limit": Row({"pk": "order_version"},
        get={ANON: LOGIN, A: 403, B: 403, HEAD: 405, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: 403, B: 403, HEAD: Go("deals:detail", pk="deal"), BUH: 403, PROD: 403}),
    # Invoices and waybills come from the accountant; proposals and other papers from the deal's hunter.
    "deals:document": Row({"pk": "deal"}, get=every(405, ANON=LOGIN),
        post={ANON: LOGIN, A: 400, B: 404, HEAD: 400, BUH: 400, PROD: 404}),
    "deals:shipment": Row({"pk": "deal"}, get=every(405, ANON=LOGIN),
        post={ANON: LOGIN, A: 400, B: 404, HEAD: 400, BUH: LATE, PROD: 404}),
    # Money is the accountant's: the hunter and the head are refused by the service.
    "deals:payment": Row({"pk": "deal"}, get=every(405, ANON=LOGIN),
        post={ANON: LOGIN, A: LATE, B: 404, HEAD: LATE, BUH: 400, PROD: 404}),
    "deals:refund": Row({"pk": "deal"}, get=every(405, ANON=LOGIN),
        post={ANON: LOGIN, A: LATE, B: 404, HEAD: LATE, BUH: 400, PROD: 404}),
    "deals:feedback": Row({"pk": "deal"}, get=every(405, ANON=LOGIN),
        post={ANON: LOGIN, A: 400, B: 404, HEAD: 400, BUH: LATE, PROD: 404}),
    # Only the head transfers; the view leaves the refusal to the service.
    "deals:transfer": Row({"pk": "deal"}, get=every(405, ANON=LOGIN),
        post={ANON: LOGIN, A: LATE, B: 404, HEAD: 400, BUH: LATE, PROD: 404}),
    # Only the head ends a temporary transfer (the world's: hunter B's client, with hunter A for now).
    "deals:transfer_return": Row({"pk": "transfer"},
        get={ANON: LOGIN, A: 403, B: 403, HEAD: 405, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: 403, B: 403, HEAD: Go("clients:detail", pk="transferred_client"), BUH: 403,
              PROD: 403}),
    "deals:document_download": Row({"pk": "document"},
        get={ANON: LOGIN, A: 200, B: 404, HEAD: 200, BUH: 200, PROD: 404},
        post=every(405, ANON=LOGIN)),
    # --- catalogue: everyone who works the pipeline reads it, the head keeps it -------------------------
    "deals:products": Row({},
        get={ANON: LOGIN, A: 200, B: 200, HEAD: 200, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: 405, B: 405, HEAD: 405, BUH: 403, PROD: 403}),
    # Django's CreateView / UpdateView answer an invalid form with 200.
    "deals:product_create": Row({},
        get={ANON: LOGIN, A: 403, B: 403, HEAD: 200, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: 403, B: 403, HEAD: 200, BUH: 403, PROD: 403}),
    "deals:product_edit": Row({"pk": "product"},
        get={ANON: LOGIN, A: 403, B: 403, HEAD: 200, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: 403, B: 403, HEAD: 200, BUH: 403, PROD: 403}),
    "deals:lost_reasons": Row({},
        get={ANON: LOGIN, A: 403, B: 403, HEAD: 200, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: 403, B: 403, HEAD: 405, BUH: 403, PROD: 403}),
    "deals:lost_reason_create": Row({},
        get={ANON: LOGIN, A: 403, B: 403, HEAD: 200, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: 403, B: 403, HEAD: 200, BUH: 403, PROD: 403}),
    "deals:lost_reason_edit": Row({"pk": "lost_reason"},
        get={ANON: LOGIN, A: 403, B: 403, HEAD: 200, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: 403, B: 403, HEAD: 200, BUH: 403, PROD: 403}),
    # What waits for the head: requests for payment terms and orders over a deferred limit.
    "deals:approvals": Row({},
        get={ANON: LOGIN, A: 403, B: 403, HEAD: 200, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: 403, B: 403, HEAD: 405, BUH: 403, PROD: 403}),
    # --- production's queue ----------------------------------------------------------------------------
    "deals:production_queue": Row({},
        get={ANON: LOGIN, A: 403, B: 403, HEAD: 403, BUH: 403, PROD: 200},
        post={ANON: LOGIN, A: 403, B: 403, HEAD: 403, BUH: 403, PROD: 405}),
    # What production has handled; production reads it, nobody else, and nothing is posted there.
    "deals:production_history": Row({},
        get={ANON: LOGIN, A: 403, B: 403, HEAD: 403, BUH: 403, PROD: 200},
        post={ANON: LOGIN, A: 403, B: 403, HEAD: 403, BUH: 403, PROD: 405}),
    # The summary of a deal with a sample request in the queue: production and the head read it (a deal
    # with nothing in the queue has no summary: tests/deals/test_production_pages.py).
    "deals:production_deal": Row({"pk": "queued_deal"},
        get={ANON: LOGIN, A: 403, B: 403, HEAD: 200, BUH: 403, PROD: 200},
        post={ANON: LOGIN, A: 403, B: 403, HEAD: 405, BUH: 403, PROD: 405}),
    # An empty decision is a message on the queue.
    "deals:sample_status": Row({"pk": "sample"},
        get={ANON: LOGIN, A: 403, B: 403, HEAD: 403, BUH: 403, PROD: 405},
        post={ANON: LOGIN, A: 403, B: 403, HEAD: 403, BUH: 403, PROD: Go("deals:production_queue")}),
    "deals:order_decision": Row({"pk": "order"},
        get={ANON: LOGIN, A: 403, B: 403, HEAD: 403, BUH: 403, PROD: 405},
        post={ANON: LOGIN, A: 403, B: 403, HEAD: 403, BUH: 403, PROD: Go("deals:production_queue")}),
    # --- KPI ---------------------------------------------------------------------------------------------
    "kpi:dashboard": Row({},
        get={ANON: LOGIN, A: 403, B: 403, HEAD: 200, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: 403, B: 403, HEAD: 405, BUH: 403, PROD: 403}),
    "kpi:my_day": Row({},
        get={ANON: LOGIN, A: 200, B: 200, HEAD: 200, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: 405, B: 405, HEAD: 405, BUH: 403, PROD: 403}),
    # Activities as a list: a hunter's own, the head's every hunter's.
    "kpi:activities": Row({},
        get={ANON: LOGIN, A: 200, B: 200, HEAD: 200, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: 405, B: 405, HEAD: 405, BUH: 403, PROD: 403}),
    "kpi:activity_create": Row({},
        get={ANON: LOGIN, A: 200, B: 200, HEAD: 200, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: 400, B: 400, HEAD: 400, BUH: 403, PROD: 403}),
    # Hunter A's task (the next contact agreed at a meeting on the world's deal). Done or moved by whoever
    # works the deal, hunter A or the head; without a date the move is refused with a message on «Мой день».
    "kpi:task_done": Row({"pk": "task"},
        get={ANON: LOGIN, A: 405, B: 405, HEAD: 405, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: Go("kpi:my_day"), B: 404, HEAD: Go("kpi:my_day"), BUH: 403, PROD: 403}),
    # The next page of «Мой день»'s tasks: without the task it starts after, refused in words.
    "kpi:tasks_more": Row({},
        get={ANON: LOGIN, A: 400, B: 400, HEAD: 400, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: 405, B: 405, HEAD: 405, BUH: 403, PROD: 403}),
    "kpi:task_move": Row({"pk": "task"},
        get={ANON: LOGIN, A: 405, B: 405, HEAD: 405, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: Go("kpi:my_day"), B: 404, HEAD: Go("kpi:my_day"), BUH: 403, PROD: 403}),
    # An empty grid is every row left empty: nobody gets a plan, nothing is saved, the grid is shown again.
    "kpi:plans": Row({"month": "month"},
        get={ANON: LOGIN, A: 403, B: 403, HEAD: 200, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: 403, B: 403, HEAD: Go("kpi:plans", month="month"), BUH: 403, PROD: 403}),
    # The PBX call log: the head's (she imports it).
    "kpi:call_log": Row({},
        get={ANON: LOGIN, A: 403, B: 403, HEAD: 200, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: 403, B: 403, HEAD: 405, BUH: 403, PROD: 403}),
    "kpi:call_import": Row({},
        get={ANON: LOGIN, A: 403, B: 403, HEAD: 200, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: 403, B: 403, HEAD: 400, BUH: 403, PROD: 403}),
    # The head's call-log import (a background job): only she who started it sees it; GET only.
    "kpi:call_import_job": Row({"pk": "call_job"},
        get={ANON: LOGIN, A: 403, B: 403, HEAD: 200, BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: 403, B: 403, HEAD: 405, BUH: 403, PROD: 403}),
    # The PBX's hook: login_not_required and csrf_exempt; its token is the only credential, so a session
    # counts for nothing and no token is 403 for everyone (see test_telephony_webhook_takes_only_its_token).
    "kpi:telephony_cdr": Row({}, get=every(405), post=every(403)),
    # --- pay -----------------------------------------------------------------------------------------------
    # The accountant's home (SPEC §8): hers and the head's.
    "compensation:home": Row({},
        get={ANON: LOGIN, A: 403, B: 403, HEAD: 200, BUH: 200, PROD: 403},
        post={ANON: LOGIN, A: 403, B: 403, HEAD: 405, BUH: 405, PROD: 403}),
    # A bank line that recorded no payment: the accountant records it on a deal or sets it aside; an empty
    # POST chooses neither and is shown the page again.
    "compensation:bank_line": Row({"pk": "bank_line"},
        get={ANON: LOGIN, A: 403, B: 403, HEAD: 403, BUH: 200, PROD: 403},
        post={ANON: LOGIN, A: 403, B: 403, HEAD: 403, BUH: 400, PROD: 403}),
    # The printable statement, its PDF and its spreadsheet: whoever reads the statement; GET only.
    "compensation:statement_print": Row({"username": "hunter_a", "month": "month"},
        get={ANON: LOGIN, A: 200, B: 404, HEAD: 200, BUH: 200, PROD: 404}, post=every(405, ANON=LOGIN)),
    "compensation:statement_pdf": Row({"username": "hunter_a", "month": "month"},
        get={ANON: LOGIN, A: 200, B: 404, HEAD: 200, BUH: 200, PROD: 404}, post=every(405, ANON=LOGIN)),
    "compensation:statement_export": Row({"username": "hunter_a", "month": "month"},
        get={ANON: LOGIN, A: 200, B: 404, HEAD: 200, BUH: 200, PROD: 404}, post=every(405, ANON=LOGIN)),
    # Sending the statement to the hunter: the head and the accountant; an empty POST (no key, and a month
    # not locked) is a message on the statement page, nothing sent.
    "compensation:statement_send": Row({"username": "hunter_a", "month": "month"},
        get=every(405, ANON=LOGIN),
        post={ANON: LOGIN, A: 403, B: 404,
              HEAD: Go("compensation:statement", username="hunter_a", month="month"),
              BUH: Go("compensation:statement", username="hunter_a", month="month"), PROD: 404}),
    # The 1C:ЗУП payroll file: the accountant's; with nothing locked in the month, back to the list.
    "compensation:payroll_export": Row({},
        get={ANON: LOGIN, A: 403, B: 403, HEAD: 403, BUH: Go("compensation:statements"), PROD: 403},
        post={ANON: LOGIN, A: 403, B: 403, HEAD: 403, BUH: 405, PROD: 403}),
    "compensation:payments": Row({},
        get={ANON: LOGIN, A: 403, B: 403, HEAD: 403, BUH: 200, PROD: 403},
        post={ANON: LOGIN, A: 403, B: 403, HEAD: 403, BUH: 405, PROD: 403}),
    "compensation:bank_import": Row({},
        get={ANON: LOGIN, A: 403, B: 403, HEAD: 403, BUH: 200, PROD: 403},
        post={ANON: LOGIN, A: 403, B: 403, HEAD: 403, BUH: 400, PROD: 403}),
    # The accountant's confirmed bank statement (a background job): only she who confirmed it sees it.
    "compensation:bank_import_job": Row({"pk": "bank_job"},
        get={ANON: LOGIN, A: 403, B: 403, HEAD: 403, BUH: 200, PROD: 403},
        post={ANON: LOGIN, A: 403, B: 403, HEAD: 403, BUH: 405, PROD: 403}),
    # No action: back to the month's list.
    "compensation:statements": Row({},
        get={ANON: LOGIN, A: 403, B: 403, HEAD: 200, BUH: 200, PROD: 403},
        post={ANON: LOGIN, A: 403, B: 403, HEAD: Go("compensation:statements"),
              BUH: Go("compensation:statements"), PROD: 403}),
    # Each hunter is sent to their own statement of this month. The head works the pipeline too and is
    # sent to a statement that does not exist (404): the navigation never offers her this link.
    "compensation:my_statement": Row({},
        get={ANON: LOGIN, A: Go("compensation:statement", username="hunter_a", month="month"),
             B: Go("compensation:statement", username="hunter_b", month="month"),
             HEAD: Go("compensation:statement", username="head", month="month"), BUH: 403, PROD: 403},
        post={ANON: LOGIN, A: 405, B: 405, HEAD: 405, BUH: 403, PROD: 403}),
    # Hunter A's statement. Another hunter's pay "is not even acknowledged to exist": 404, production too.
    # An empty POST is an adjustment without amount and reason; only the head and the accountant adjust.
    "compensation:statement": Row({"username": "hunter_a", "month": "month"},
        get={ANON: LOGIN, A: 200, B: 404, HEAD: 200, BUH: 200, PROD: 404},
        post={ANON: LOGIN, A: LATE, B: 404, HEAD: 400, BUH: 400, PROD: 404}),
    # Everyone but production reads the scheme; only the head saves a new version.
    "compensation:scheme": Row({},
        get={ANON: LOGIN, A: 200, B: 200, HEAD: 200, BUH: 200, PROD: 403},
        post={ANON: LOGIN, A: 403, B: 403, HEAD: 400, BUH: 403, PROD: 403}),
    # An empty POST is a claim without amount or receipt. Hunters claim; the head decides and files no
    # claims of her own (test_head_cannot_claim…); the accountant claims nothing either.
    "compensation:expenses": Row({},
        get={ANON: LOGIN, A: 200, B: 200, HEAD: 200, BUH: 200, PROD: 403},
        post={ANON: LOGIN, A: 400, B: 400, BUH: 403, PROD: 403, HEAD: 403}),
    "compensation:expense_receipt": Row({"pk": "expense"},
        get={ANON: LOGIN, A: 200, B: 404, HEAD: 200, BUH: 200, PROD: 404},
        post=every(405, ANON=LOGIN)),
    # --- notifications: everyone's own bell ----------------------------------------------------------------
    "notifications:list": Row({}, get=every(200, ANON=LOGIN), post=every(405, ANON=LOGIN)),
    "notifications:read_all": Row({},
        get=every(405, ANON=LOGIN), post=every(Go("notifications:list"), ANON=LOGIN)),
    # Hunter A's notification points at the deal.
    "notifications:open": Row({"pk": "notification"},
        get=every(405, ANON=LOGIN),
        post={ANON: LOGIN, A: Go("deals:detail", pk="deal"), B: 404, HEAD: 404, BUH: 404, PROD: 404}),
    # No kinds chosen is a valid choice: no email at all.
    "notifications:email_preferences": Row({},
        get=every(405, ANON=LOGIN), post=every(Go("notifications:list"), ANON=LOGIN)),
    # --- the health check: login_not_required, GET only; the same small JSON for everyone, signed in or not
    # (test_health.py checks what it says and that it says nothing else) ---------------------------------
    "health": Row({}, get=every(200), post=every(405)),
    # The icon browsers ask for at /favicon.ico: a redirect to the static one, for anyone.
    "favicon": Row({}, get=every(301), post=every(301)),
    # --- the Django admin: its own staff check; nobody in the six roles is staff ----------------------------
    "admin:index": Row({}, get=every(Go("admin:login")), post=every(Go("admin:login"))),
}
# fmt: on

# Left out of the matrix, with the reason:
#   admin:*       the Django admin's ~80 model pages sit behind its own staff check (the "admin:index" row
#                 above checks that non-staff are sent to the admin's sign-in);
#   set_language  Django's language switch, login_not_required by design: it only sets a cookie and
#                 redirects, for anyone, signed in or not.
# Static files have no URL pattern: whitenoise serves them from its middleware.
EXCLUDED_NAMESPACES = ("admin",)
EXCLUDED_NAMES = ("set_language",)
EXTRA_ROWS = ("admin:index",)


def url_pattern_names() -> dict[str, str]:
    """Every URL pattern of the portal, as {"namespace:name": route}, read from the resolver."""
    found: dict[str, str] = {}

    def walk(resolver, namespaces: tuple[str, ...], prefix: str) -> None:
        for pattern in resolver.url_patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                walk(pattern, (*namespaces, pattern.namespace) if pattern.namespace else namespaces, route)
            else:
                name = ":".join((*namespaces, pattern.name or f"<unnamed {route}>"))
                found[name] = route

    walk(get_resolver(), (), "/")
    return {
        name: route
        for name, route in found.items()
        if name.split(":")[0] not in EXCLUDED_NAMESPACES and name not in EXCLUDED_NAMES
    }


# --- the world: hunter A's objects, built once for the module --------------------------------------------


@dataclass
class World:
    users: dict
    sessions: dict[str, str]
    ref: dict[str, object]  # what URL keywords and redirect targets are filled with


def build_world() -> World:
    users = {
        A: UserFactory(username="hunter_a", full_name="Иван Иванов", role=Role.HUNTER, extension="101"),
        B: UserFactory(username="hunter_b", full_name="Анна Смирнова", role=Role.HUNTER, extension="102"),
        HEAD: UserFactory(username="head", full_name="Ольга Петрова", role=Role.SALES_HEAD),
        BUH: UserFactory(username="buh", full_name="Евгения Шибанова", role=Role.ACCOUNTANT),
        PROD: UserFactory(username="prod", full_name="Сергей Кузнецов", role=Role.PRODUCTION),
    }
    hunter = users[A]
    seed_demo_onboarding(author=users[HEAD])
    drawn = draw_test(acting_user=hunter).questions
    attempt = attempt_submit(
        acting_user=hunter, answers={item["question"]: item["choices"][:1] for item in drawn}
    )

    # A deal at «Получение оплаты»: it has a sample request, an approved order, an invoice and a shipment,
    # and the accountant sees it (from stage «Сделка» on).
    pipeline = Pipeline(hunter=hunter, production=users[PROD], accountant=users[BUH])
    client = make_client(acting_user=hunter, name="Салон «Лотос»")
    deal = pipeline.advance_to(make_deal(acting_user=hunter, client=client), Stage.PAYMENT)
    meeting = activity_log(
        acting_user=hunter,
        kind=ActivityKind.MEETING,
        client=client,
        deal=deal,
        outcome="Ждут счёт",
        next_contact_on=timezone.localdate(),
    )
    expense = expense_claim(
        acting_user=hunter,
        amount=Decimal("1200.00"),
        note="Такси до клиента",
        receipt=SimpleUploadedFile("chek.pdf", b"%PDF-1.4 taxi receipt", content_type="application/pdf"),
    )
    notifications_create(
        reminders=[
            Reminder(
                recipient_id=hunter.pk,
                kind=NotificationKind.DEAL_IDLE,
                subject_key=f"deal:{deal.pk}",
                title="Сделка без движения",
                url=reverse("deals:detail", args=[deal.pk]),
            )
        ],
        for_day=timezone.localdate(),
        queue_email=False,
    )
    terms_request = payment_terms_request_create(
        acting_user=hunter,
        client=client,
        payment_terms="consignment",
        consignment_cadence="weekly",
        comment="Сеть салонов: платят по мере продаж",
    )
    stand_in_client = make_client(acting_user=users[B], name="Кафе «На время отпуска»")
    transfer = client_transfer(
        acting_user=users[HEAD],
        client=stand_in_client,
        to_owner=hunter,
        return_on=timezone.localdate() + timedelta(days=14),
        reason="Отпуск",
    )
    section = Section.objects.get(stage=Stage.CALL)
    done = {"status": ImportJob.Status.DONE, "finished_at": timezone.now()}
    lead_job = ImportJob.objects.create(
        kind=ImportJob.Kind.LEADS,
        owner=hunter,
        result={"created": 0, "rejected_count": 0, "rejected": []},
        **done,
    )
    call_job = ImportJob.objects.create(
        kind=ImportJob.Kind.CALLS, owner=users[HEAD], result={"created": 0}, **done
    )
    bank_job = ImportJob.objects.create(
        kind=ImportJob.Kind.BANK, owner=users[BUH], result={"summary": "—"}, **done
    )
    # A deal of hunter A whose sample request waits in production's queue.
    queued_deal = pipeline.advance_to(
        make_deal(acting_user=hunter, client=make_client(acting_user=hunter, name="Кафе «Очередь»")),
        Stage.SAMPLES,
    )
    sample_request_create(
        acting_user=hunter,
        deal=queued_deal,
        lines=[(pipeline.product, 2)],
        receiver_name="Мария",
        receiver_phone="+79120001122",
        potential_volume="20 л в месяц",
    )
    bank_line = compensation_models.BankLine.objects.create(
        document_number="901",
        document_date=timezone.localdate(),
        amount=Decimal("700.00"),
        payer_inn="5408131553",
        reason="плательщик не найден среди клиентов",
    )
    sessions = {role: session_of(user) for role, user in users.items()}
    ref = {
        "queued_deal": queued_deal.pk,
        "client": client.pk,
        "deal": deal.pk,
        "document": DealDocument.objects.get(deal=deal, kind=DealDocument.Kind.INVOICE).pk,
        "sample": SampleRequest.objects.get(deal=deal).pk,
        "order": Order.objects.get(deal=deal).pk,
        "order_version": OrderVersion.objects.get(order__deal=deal).pk,
        "terms_request": terms_request.pk,
        "product": pipeline.product.pk,
        "lost_reason": LostReason.objects.get(code="competitor").pk,
        "expense": expense.pk,
        "task": kpi_models.Task.objects.get(activity=meeting).pk,
        "transfer": transfer.pk,
        "transferred_client": stand_in_client.pk,
        "notification": Notification.objects.get(recipient=hunter).pk,
        "lead_job": lead_job.pk,
        "call_job": call_job.pk,
        "bank_job": bank_job.pk,
        "bank_line": bank_line.pk,
        "attempt": attempt.pk,
        "question": Question.objects.filter(is_active=True).values_list("pk", flat=True)[0],
        "section": section.slug,
        "stage": Stage.CALL.value,
        "secondary_form": "move_back",
        "month": f"{timezone.localdate():%Y-%m}",
        "hunter_a": "hunter_a",
        "hunter_b": "hunter_b",
        "head": "head",
    }
    return World(users=users, sessions=sessions, ref=ref)


def session_of(user, *, verified: bool = True) -> str:
    """A signed-in session; for the roles that must confirm a second factor, confirmed (``verified``)."""
    browser = HttpClient()
    browser.force_login(user)
    if verified and user.role in SECOND_FACTOR_ROLES:
        device = TOTPDevice.objects.get_or_create(user=user, name="app", defaults={"confirmed": True})[0]
        session = browser.session
        session[DEVICE_ID_SESSION_KEY] = device.persistent_id
        session.save()
    return browser.cookies[settings.SESSION_COOKIE_NAME].value


@pytest.fixture(scope="module")
def world(django_db_setup, django_db_blocker, tmp_path_factory):
    """Built in a transaction of its own that is rolled back after the module; each test runs in a
    savepoint inside it (pytest-django's ``db``), so what a request changes is undone after each cell."""
    with override_settings(MEDIA_ROOT=tmp_path_factory.mktemp("access-matrix-media")):
        with django_db_blocker.unblock():
            outer = transaction.atomic()
            outer.__enter__()
            world = build_world()
        yield world
        with django_db_blocker.unblock():
            transaction.set_rollback(True)
            outer.__exit__(None, None, None)


@pytest.fixture(autouse=True)
def _as_in_production(settings):
    """The matrix runs with the production rules that the test settings relax: the head and the accountant
    must confirm a second factor, and the PBX hook has a token (so "no token" is refused by the check
    itself, not by a missing setting)."""
    settings.OTP_REQUIRED_ROLES = SECOND_FACTOR_ROLES
    settings.TELEPHONY_WEBHOOK_TOKEN = "matrix-webhook-token"


def browser_for(world: World, role: str) -> HttpClient:
    browser = HttpClient()
    if role != ANON:
        browser.cookies[settings.SESSION_COOKIE_NAME] = world.sessions[role]
    return browser


def url_of(world: World, name: str) -> str:
    return reverse(name, kwargs={key: world.ref[ref] for key, ref in MATRIX[name].kwargs.items()})


# --- what forbidden requests must leave alone ---------------------------------------------------------------

MAIN_TABLES = [
    getattr(module, name)
    for module, names in (
        (deals_models, "Client ClientPhone Contact Product LostReason Deal StageChange CallResult"),
        (deals_models, "DealDocument Proposal SampleRequest FollowUp Order OrderLine Shipment Payment"),
        (deals_models, "Feedback Transfer ClientExport OrderVersion OrderVersionLine PaymentTermsRequest"),
        (kpi_models, "Activity MonthlyPlan DepartmentQuarterPlan CallRecord Task"),
        (compensation_models, "PaySchemeVersion Statement Adjustment Expense Dispute"),
        (onboarding_models, "SectionVersion Acknowledgement Question TestAttempt TestDraw"),
        (compensation_models, "StatementEmail BankLine"),
        (notifications_models, "Notification EmailOptOut"),
        (deals_models, "LeadImportUpload"),
        (imports_models, "ImportJob"),
    )
    for name in names.split()
]


def snapshot(world: World) -> dict:
    """The row count of every main table and the state of the world's objects, in one query."""
    ref, quote = world.ref, connection.ops.quote_name
    labels = [model.__name__ for model in MAIN_TABLES]
    counts = [f"(SELECT COUNT(*) FROM {quote(model._meta.db_table)})" for model in MAIN_TABLES]
    states = [
        (deals_models.Deal, ref["deal"], ("stage", "status", "owner_id", "next_contact_on", "title")),
        (deals_models.Client, ref["client"], ("owner_id", "name", "inn", "payment_terms", "address")),
        (Order, ref["order"], ("production_status", "total")),
        (OrderVersion, ref["order_version"], ("status", "limit_approved_at")),
        (PaymentTermsRequest, ref["terms_request"], ("status",)),
        (SampleRequest, ref["sample"], ("status",)),
        (compensation_models.Expense, ref["expense"], ("status", "approved_amount")),
        (Notification, ref["notification"], ("read_at",)),
        (kpi_models.Task, ref["task"], ("status", "due_on")),
    ]
    for model, pk, columns in states:
        table = quote(model._meta.db_table)
        labels += [f"{model.__name__}.{column}" for column in columns]
        counts += [f"(SELECT {quote(column)} FROM {table} WHERE id = {int(pk)})" for column in columns]
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {', '.join(counts)}")
        return dict(zip(labels, cursor.fetchone(), strict=True))


# --- the cells ----------------------------------------------------------------------------------------------


def is_refusal(expected) -> bool:
    return expected in (403, 404, 405, LOGIN) or isinstance(expected, Late | Bug)


def check(world: World, response, expected, path: str) -> None:
    answer = f"{response.status_code} {response.get('Location', '')}".strip()
    if isinstance(expected, Bug):
        expected = expected.expected
    if expected is LOGIN:
        assert response.status_code == 302, answer
        assert response["Location"].startswith(f"{reverse('login')}?next="), answer
    elif isinstance(expected, Go):
        target = reverse(expected.name, kwargs={key: world.ref[ref] for key, ref in expected.kwargs.items()})
        assert response.status_code == 302, answer
        assert response["Location"].split("?")[0].split("#")[0] == target, answer
    elif isinstance(expected, Late):
        assert response.status_code == expected.status, answer
    else:
        assert response.status_code == expected, answer


def cells(method: str):
    for name, row in MATRIX.items():
        for role, expected in getattr(row, method).items():
            marks = [pytest.mark.xfail(strict=True, reason=expected.why)] if isinstance(expected, Bug) else []
            yield pytest.param(name, role, expected, id=f"{name}-{role}", marks=marks)


@pytest.mark.parametrize(("name", "role", "expected"), list(cells("get")))
def test_get(world, db, name, role, expected):
    path = url_of(world, name)
    before = snapshot(world) if is_refusal(expected) else None
    response = browser_for(world, role).get(path)
    if response.streaming:  # a download: read it to the end, which closes the file
        response.getvalue()
    check(world, response, expected, path)
    if before is not None:
        assert snapshot(world) == before, "a refused request changed the data"


@pytest.mark.parametrize(("name", "role", "expected"), list(cells("post")))
def test_empty_post(world, db, name, role, expected):
    path = url_of(world, name)
    before = snapshot(world) if is_refusal(expected) else None
    response = browser_for(world, role).post(path, {})
    check(world, response, expected, path)
    if before is not None:
        assert snapshot(world) == before, "a refused request changed the data"


# --- the table itself ---------------------------------------------------------------------------------------


def test_every_url_pattern_has_a_row(capsys):
    patterns = url_pattern_names()
    rows = set(MATRIX) - set(EXTRA_ROWS)
    assert sorted(set(patterns) - rows) == [], "URL patterns without a row in MATRIX"
    assert sorted(rows - set(patterns)) == [], "rows of MATRIX for URL patterns that do not exist"
    for name, row in MATRIX.items():
        assert set(row.get) == set(ROLES) and set(row.post) == set(ROLES), f"{name}: a role is missing"
        if name in patterns:
            for keyword in row.kwargs:
                assert f"<{keyword}>" in patterns[name] or f":{keyword}>" in patterns[name], name
    get_cells = sum(len(row.get) for row in MATRIX.values())
    post_cells = sum(len(row.post) for row in MATRIX.values())
    with capsys.disabled():
        print(
            f"\naccess matrix: {len(patterns)} URL patterns + the admin row = {len(MATRIX)} rows × "
            f"{len(ROLES)} roles = {get_cells} GET + {post_cells} POST = {get_cells + post_cells} cells"
        )


# --- beyond the empty form ----------------------------------------------------------------------------------


def _valid_bodies(world: World) -> list[tuple[str, str, dict]]:
    """(URL name, role, body): bodies the allowed role would get saved, posted by a role that may not."""
    ref = world.ref
    today = timezone.localdate().isoformat()
    receipt = SimpleUploadedFile("chek.pdf", b"%PDF-1.4 taxi receipt", content_type="application/pdf")
    shipment = {"receiver_name": "Мария", "receiver_phone": "+79501234567", "delivery_address": "Сургут"}
    shipment["courier_date"] = today
    call = {"outcome": "agreed_proposal", "call_description": "x", "client_description": "x"}
    return [
        ("deals:call", BUH, call),
        ("deals:lost", BUH, {"reason": ref["lost_reason"], "note": "x"}),
        ("deals:move_back", BUH, {"to_stage": Stage.SHIPMENT.value}),
        ("deals:feedback", BUH, {"has_quality_claims": "0", "repeat_order_expected": "1"}),
        ("deals:transfer", A, {"to_owner": world.users[B].pk}),
        ("deals:transfer", BUH, {"to_owner": world.users[B].pk}),
        ("deals:payment", A, {"amount": "5000.00", "received_on": today, "bank_document": "п/п 1"}),
        ("deals:payment", HEAD, {"amount": "5000.00", "received_on": today, "bank_document": "п/п 1"}),
        ("clients:contact_add", BUH, {"name": "Мария"}),
        ("clients:terms", A, {"payment_terms": "consignment", "consignment_cadence": "weekly"}),
        ("clients:terms_request", BUH, {"payment_terms": "prepayment", "comment": "x"}),
        ("clients:requisites", BUH, {"legal_name": "ООО «Чужое»"}),
        ("compensation:statement", A, {"amount": "100000.00", "reason": "сам себе премия"}),
        ("compensation:expenses", A, {"expense": ref["expense"], "approved_amount": "1200.00"}),
        ("compensation:scheme", A, {"effective_from": today, "fixed_amount": "1"}),
        ("compensation:expenses", BUH, {"amount": "100.00", "note": "Такси", "receipt": receipt}),
        ("deals:follow_up", BUH, {"outcome": "Готов заказать", "client_confirmed": "on"}),
        ("deals:shipment", BUH, shipment),
        ("deals:order", BUH, order_post((ref["product"], "12", "500,00"))),
        ("deals:samples", BUH, samples_post((ref["product"], "2"))),
    ]


def test_forbidden_roles_with_a_valid_body_change_nothing(world, db):
    """The LATE cells above are refused only after validation: with a body that would be saved for the
    role allowed to, the service's check answers 403 and nothing changes."""
    for name, role, body in _valid_bodies(world):
        path = url_of(world, name)
        before = snapshot(world)
        status = browser_for(world, role).post(path, body).status_code
        assert (name, role, status) == (name, role, 403)
        assert snapshot(world) == before, f"{name} as {role} changed the data"


# The world's objects of hunter A, her statement included; sections, stages, products… are nobody's.
OWNED_BY_A = {
    *"client deal document expense notification attempt hunter_a order sample".split(),  # noqa: SIM905
    "order_version",
    "queued_deal",
    "terms_request",
    "task",
    "lead_job",
}


def test_the_table_never_shows_hunter_a_objects_to_hunter_b():
    """Read the other way: no row may let hunter B in on an object of hunter A. B gets 404, or 405 where
    the page takes no such method (before any lookup), or 403 where B lacks the capability outright."""
    for name, row in MATRIX.items():
        if OWNED_BY_A & set(row.kwargs.values()):
            assert row.get[B] in (404, 405, 403) and row.post[B] in (404, 405, 403), name


def test_accountant_sees_no_deal_before_stage_deal(world, db):
    """Hunter A's new deal (stage «Выборка») and its client, which has no deal from «Сделка» on, are 404
    for the accountant and production, and 200 for hunter A and the head."""
    hunter = world.users[A]
    client = make_client(acting_user=hunter)
    deal = make_deal(acting_user=hunter, client=client)
    for name, pk in (("deals:detail", deal.pk), ("clients:detail", client.pk)):
        path = reverse(name, args=[pk])
        got = {role: browser_for(world, role).get(path).status_code for role in (A, B, HEAD, BUH, PROD)}
        assert got == {A: 200, B: 404, HEAD: 200, BUH: 404, PROD: 404}, name


# What a signed-in person reaches before confirming the second factor (accounts.middleware._OPEN_VIEWS).
OPEN_BEFORE_SECOND_FACTOR = {"two_factor": 200, "logout": 405, "health": 200}


@pytest.mark.parametrize("role", [HEAD, BUH])
def test_unverified_head_and_accountant_reach_only_the_code_page(world, db, role):
    """Signed in with the password only, the head and the accountant are sent from every page of the
    matrix to the code page (with ``?next=`` to come back), except the code page itself and logout."""
    assert {"sales_head", "accountant"} <= set(SECOND_FACTOR_ROLES)
    session = session_of(world.users[role], verified=False)
    for name in MATRIX:
        browser = HttpClient()
        browser.cookies[settings.SESSION_COOKIE_NAME] = session
        path = url_of(world, name)
        response = browser.get(path)
        if name in OPEN_BEFORE_SECOND_FACTOR:
            assert response.status_code == OPEN_BEFORE_SECOND_FACTOR[name], name
        else:
            assert response.status_code == 302, name
            assert response["Location"] == f"{reverse('two_factor')}?{urlencode({'next': path})}", name


def test_a_granted_export_is_scoped_and_logged(world, db):
    """The admin may grant the export to a person: it then gives that person's own clients only (hunter B
    has none of hunter A's) and is logged; the head's gives every client."""
    permission = Permission.objects.get(content_type__app_label="accounts", codename="export_client_base")
    for role, expected_rows in ((B, 0), (HEAD, deals_models.Client.objects.count())):
        user = world.users[role]
        user.user_permissions.add(permission)
        response = browser_for(world, role).get(url_of(world, "clients:export"))
        assert response.status_code == 200, role
        export = deals_models.ClientExport.objects.latest("pk")
        assert (export.by, export.rows) == (user, expected_rows)


def test_telephony_webhook_takes_only_its_token(world, db):
    path = reverse("kpi:telephony_cdr")
    anonymous = browser_for(world, ANON)
    assert anonymous.post(path, {}, headers={"X-Portal-Token": "wrong"}).status_code == 403
    assert anonymous.post(f"{path}?token=wrong", {}).status_code == 403
    # The right token gets to the record's own validation: an empty record is 400, not a sign-in page.
    assert anonymous.post(path, {}, headers={"X-Portal-Token": "matrix-webhook-token"}).status_code == 400


def test_superuser_reaches_the_admin(world, db):
    root = UserFactory(username="root", full_name="Администратор", role="", is_superuser=True)
    browser = HttpClient()
    browser.force_login(root)
    assert browser.get("/admin/").status_code == 200
    assert browser.get(reverse("home"))["Location"] == reverse("admin:index")


def test_head_cannot_claim_an_expense_and_approve_it_herself(world, db):
    head, path = world.users[HEAD], url_of(world, "compensation:expenses")
    receipt = SimpleUploadedFile("chek.pdf", b"%PDF-1.4 taxi receipt", content_type="application/pdf")
    browser = browser_for(world, HEAD)
    browser.post(path, {"amount": "5000.00", "note": "Такси", "receipt": receipt})
    claim = compensation_models.Expense.objects.filter(hunter=head).first()
    if claim is not None:
        browser.post(path, {"expense": claim.pk, "approved_amount": "5000.00"})
        claim.refresh_from_db()
    assert claim is None or claim.status == compensation_models.Expense.Status.CLAIMED


def test_advance_does_not_redirect_off_the_portal(world, db):
    response = browser_for(world, A).post(
        url_of(world, "deals:advance"), {"next": "https://evil.example/phish"}
    )
    assert response.status_code == 302
    assert not response["Location"].startswith(("http://", "https://", "//"))


# Minimal bodies naming an object by a malformed id, posted by the role the form is for.
MALFORMED_IDS = [
    ("compensation:expenses", HEAD, {"expense": "x", "approved_amount": "1"}, ()),
    ("compensation:statements", HEAD, {"action": "approve", "hunter": "x"}, ()),
    ("compensation:statement", HEAD, {"action": "answer", "dispute": "x", "answer": "ok"}, ()),
    ("deals:advance", A, {"to_stage": "no-such-stage"}, ()),
    ("onboarding:test", A, {"qx": "y", "q1": "x"}, ()),
    ("kpi:activity_create", A, {"client": "x", "deal": "x", "kind": "call"}, ()),
    ("kpi:task_move", A, {"due_on": "x", "due_time": "25:99"}, ()),
    ("deals:sample_status", PROD, {"status": "x"}, ()),
    ("deals:order_decision", PROD, {"approve": "x"}, ()),
]


@pytest.mark.parametrize(
    ("name", "role", "body"),
    [pytest.param(n, r, body, marks=marks, id=f"{n}-{r}") for n, r, body, marks in MALFORMED_IDS],
)
def test_a_malformed_id_is_never_a_500(world, db, name, role, body):
    browser = browser_for(world, role)
    browser.raise_request_exception = False
    assert browser.post(url_of(world, name), body).status_code < 500
