from django import forms
from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render
from django.utils.http import url_has_allowed_host_and_scheme
from django.utils.safestring import mark_safe
from django.utils.translation import gettext_lazy as _
from django.views import View

from . import two_factor
from .access import home_url


@login_required
def home(request):
    return redirect(home_url(request.user))


@login_required
def no_role(request):
    return render(request, "accounts/no_role.html")


class TwoFactorForm(forms.Form):
    token = forms.CharField(
        label=_("Код из приложения"),
        max_length=8,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )


class TwoFactorView(View):
    """After the password: confirm a TOTP code; on the first sign-in, set the authenticator app up."""

    template_name = "accounts/two_factor.html"

    def context(self, request, form):
        device = two_factor.confirmed_device(request.user)
        context = {"form": form, "setting_up": device is None, "next": self.next_url(request)}
        if device is None:
            pending = two_factor.pending_device(request.user)
            context["qr_svg"] = mark_safe(two_factor.qr_svg(pending))
            context["secret"] = two_factor.secret_for_manual_entry(pending)
        return context

    def next_url(self, request) -> str:
        target = request.POST.get("next") or request.GET.get("next") or ""
        if url_has_allowed_host_and_scheme(target, allowed_hosts={request.get_host()}):
            return target
        return home_url(request.user)

    def dispatch(self, request, *args, **kwargs):
        # Only those who sign in with a code have anything to do here.
        if not two_factor.second_factor_required(request.user):
            return redirect(home_url(request.user))
        return super().dispatch(request, *args, **kwargs)

    def get(self, request):
        if request.user.is_verified():
            return redirect(self.next_url(request))
        return render(request, self.template_name, self.context(request, TwoFactorForm()))

    def post(self, request):
        form = TwoFactorForm(request.POST)
        if form.is_valid():
            if two_factor.second_factor_confirm(request=request, token=form.cleaned_data["token"]):
                return redirect(self.next_url(request))
            form.add_error("token", _("Код не подошёл. Введите код, который приложение показывает сейчас."))
        return render(request, self.template_name, self.context(request, form), status=400)
