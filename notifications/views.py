"""The bell's pages: the list of notifications, marking them read, and email preferences."""

from django import forms
from django.contrib import messages
from django.core.paginator import Paginator
from django.shortcuts import get_object_or_404, redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.translation import gettext as _
from django.utils.translation import gettext_lazy as _lazy
from django.views import View

from . import services
from .models import EmailOptOut, Notification, NotificationKind


class EmailPreferencesForm(forms.Form):
    email_kinds = forms.MultipleChoiceField(
        label=_lazy("Присылать на почту"),
        choices=NotificationKind.choices,
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )


class NotificationListView(View):
    def get(self, request):
        notifications = Notification.objects.filter(recipient=request.user)
        unread_only = request.GET.get("unread") == "1"
        if unread_only:
            notifications = notifications.unread()
        page = Paginator(notifications, 50).get_page(request.GET.get("page"))
        opted_out = set(EmailOptOut.objects.filter(user=request.user).values_list("kind", flat=True))
        form = EmailPreferencesForm(
            initial={"email_kinds": [kind for kind in NotificationKind.values if kind not in opted_out]}
        )
        return render(
            request,
            "notifications/list.html",
            {"page_obj": page, "unread_only": unread_only, "preferences": form},
        )


class MarkAllReadView(View):
    def post(self, request):
        count = services.notifications_mark_read(acting_user=request.user)
        messages.success(request, _("Отмечено прочитанными: %(count)s.") % {"count": count})
        return redirect("notifications:list")


class OpenNotificationView(View):
    """Marks the notification read and goes where it points."""

    def post(self, request, pk: int):
        notification = get_object_or_404(Notification, pk=pk, recipient=request.user)
        services.notifications_mark_read(acting_user=request.user, ids=[notification.pk])
        target = notification.url
        if not target or not url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            target = "notifications:list"
        return redirect(target)


class EmailPreferencesView(View):
    def post(self, request):
        form = EmailPreferencesForm(request.POST)
        if not form.is_valid():
            messages.error(request, _("Не удалось сохранить настройки: выберите виды из списка."))
            return redirect("notifications:list")
        services.email_preferences_save(
            acting_user=request.user, email_kinds=form.cleaned_data["email_kinds"]
        )
        messages.success(request, _("Настройки почты сохранены."))
        return redirect("notifications:list")
