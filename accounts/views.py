from django.contrib.auth.decorators import login_required
from django.shortcuts import redirect, render

from .access import home_url


@login_required
def home(request):
    return redirect(home_url(request.user))


@login_required
def no_role(request):
    return render(request, "accounts/no_role.html")
