"""The head's dashboard as a state machine: random sequences of what hunters, the head, the accountant and
the background jobs do, with the page checked after every step.

The dashboard keeps its parts drawn in the cache under the versions of what they show
(``kpi.views.DashboardView``, ``atlanset_portal.fragments``). Invariant: after any step, the page as the
head gets it (parts taken from the cache where their versions match) is the page drawn from scratch with
no cache at all. A version that missed a change would show the head the figures from before it.
"""

import itertools
import re
from datetime import timedelta
from decimal import Decimal

from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone
from hypothesis import HealthCheck
from hypothesis import settings as machine_settings
from hypothesis import strategies as st
from hypothesis.stateful import initialize, invariant, rule, run_state_machine_as_test

from accounts.roles import Role
from deals.models import Deal, Shipment
from deals.services import client_set_payment_terms, deal_outstanding, feedback_record, payment_record
from deals.stages import Stage
from kpi.figures import dashboard_figures_refresh
from kpi.models import ActivityKind
from kpi.months import previous_month
from kpi.progress import progress_recalculate
from onboarding import models as onboarding
from onboarding.services import section_acknowledge, section_save
from tests.deals.factories import Pipeline, make_client, make_deal
from tests.factories import UserFactory
from tests.kpi.factories import log_activity, make_hunter, set_plan
from tests.properties.support import RolledBackMachine

HUNTERS = 2
NO_CACHE = {"default": {"BACKEND": "django.core.cache.backends.dummy.DummyCache"}}
_numbers = itertools.count(1)

hunter_index = st.integers(0, HUNTERS - 1)


def main(html: str) -> str:
    return re.search(r"<main.*?</main>", html, re.S).group(0)


class Dashboard(RolledBackMachine):
    """One example is one department's day; everything it writes is rolled back after it."""

    @initialize()
    def department(self):
        number = next(_numbers)
        self.today = timezone.localdate()
        self.month = self.today.replace(day=1)
        self.head = UserFactory(role=Role.SALES_HEAD, username=f"dp_head_{number}")
        self.accountant = UserFactory(role=Role.ACCOUNTANT, username=f"dp_buh_{number}")
        production = UserFactory(role=Role.PRODUCTION, username=f"dp_prod_{number}")
        self.hunters = [make_hunter() for _ in range(HUNTERS)]
        self.pipelines = [
            Pipeline(hunter=hunter, production=production, accountant=self.accountant)
            for hunter in self.hunters
        ]
        self.section = onboarding.Section.objects.create(slug=f"dp-{number}", title="Регламент", position=1)
        section_save(acting_user=self.head, section=self.section, body="Первая редакция")
        # A deferred client whose goods arrived three weeks ago and are not paid yet: an overdue payment.
        client = make_client(acting_user=self.hunters[0], name=f"Столовая «Вахта {number}»")
        first = self.pipelines[0].advance_to(
            make_deal(acting_user=self.hunters[0], client=client), Stage.PAYMENT
        )
        payment_record(
            acting_user=self.accountant, deal=first, amount=first.order.total, received_on=self.today
        )
        client_set_payment_terms(
            acting_user=self.head,
            client=client,
            payment_terms="deferred",
            deferred_days=14,
            deferred_limit=50000,
        )
        self.deferred = self.pipelines[0].advance_to(
            make_deal(acting_user=self.hunters[0], client=client), Stage.PAYMENT
        )
        Shipment.objects.filter(deal=self.deferred).update(received_on=self.today - timedelta(days=21))
        self.deals = [self.deferred, make_deal(acting_user=self.hunters[1])]
        self.browser = Client()
        self.browser.force_login(self.head)

    # --- hunters ----------------------------------------------------------------------------------

    @rule(index=hunter_index, kind=st.sampled_from([ActivityKind.MEETING, ActivityKind.MESSAGE]))
    def log_an_activity(self, index, kind):
        log_activity(self.hunters[index], kind, at=timezone.now())

    @rule(index=st.integers(0, 1), days=st.integers(-5, 5))
    def agree_the_next_contact(self, index, days):
        Deal.objects.filter(pk=self.deals[index].pk).update(next_contact_on=self.today + timedelta(days=days))

    @rule(index=hunter_index)
    def acknowledge_the_regulations(self, index):
        section_acknowledge(acting_user=self.hunters[index], section=self.section)

    @rule(index=hunter_index, passed=st.booleans())
    def take_the_test(self, index, passed):
        onboarding.TestAttempt.objects.create(
            user=self.hunters[index], score=100 if passed else 40, pass_mark=80, passed=passed
        )

    @rule()
    def hear_a_quality_claim(self):
        feedback_record(
            acting_user=self.hunters[0],
            deal=Deal.objects.get(pk=self.deferred.pk),
            has_quality_claims=True,
            repeat_order_expected=False,
            claims_text=f"Разводы на стекле {next(_numbers)}",
        )

    # --- the head, the accountant ---------------------------------------------------------------

    @rule(index=hunter_index, meetings=st.integers(0, 30))
    def set_a_plan(self, index, meetings):
        set_plan(self.head, self.hunters[index], self.month, meetings_target=meetings)

    @rule(index=hunter_index)
    def rename_a_hunter(self, index):
        hunter = self.hunters[index]
        hunter.full_name = f"Переименован {next(_numbers)}"
        hunter.save(update_fields=["full_name"])

    @rule(index=hunter_index)
    def publish_a_new_edition(self, index):
        section_save(acting_user=self.head, section=self.section, body=f"Редакция {next(_numbers)}")

    @rule(part=st.sampled_from([Decimal("0.3"), Decimal("1")]))
    def record_a_payment(self, part):
        deal = Deal.objects.get(pk=self.deferred.pk)
        amount = (deal_outstanding(deal) * part).quantize(Decimal("0.01"))
        if amount > 0:
            payment_record(acting_user=self.accountant, deal=deal, amount=amount, received_on=self.today)

    # --- the background jobs ----------------------------------------------------------------------

    @rule()
    def recalculate_the_plan_progress(self):
        progress_recalculate(month=self.month)
        progress_recalculate(month=previous_month(self.month))

    @rule()
    def refresh_the_stored_figures(self):
        dashboard_figures_refresh(self.month)

    # --- what the head sees -------------------------------------------------------------------------

    @invariant()
    def the_page_is_the_page_drawn_from_scratch(self):
        if not hasattr(self, "browser"):
            return
        url = reverse("kpi:dashboard")
        kept = main(self.browser.get(url).content.decode())
        with override_settings(CACHES=NO_CACHE):
            fresh = main(self.browser.get(url).content.decode())
        assert kept == fresh


def test_the_dashboard_never_shows_a_part_kept_from_before_a_change(db, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    run_state_machine_as_test(
        Dashboard,
        settings=machine_settings(
            max_examples=15,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large],
        ),
    )
