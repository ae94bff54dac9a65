"""The front page: what the service is, for someone who is not logged in; members go on to their account."""

from django.shortcuts import redirect, render


def home(request):
    if request.user.is_authenticated:
        return redirect("account")
    return render(request, "accounts/home.html")
