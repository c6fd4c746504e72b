"""The log-in forms, with the throttle in front of the password check."""

from __future__ import annotations

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm

from accounts.services import (
    LOGIN_FAILURE_WINDOW,
    login_failure_record,
    login_failures_clear,
    login_is_throttled,
)


class ThrottledLoginMixin:
    """Refuse further tries for an account after too many failures, before checking the
    password (so a guess that happens to be right is refused too while the lock lasts)."""

    throttled_message = (
        "Too many failed log-ins for this account. Wait {minutes} minutes and try again, or "
        "ask an admin to reset your password."
    )

    def clean(self):
        email = self.cleaned_data.get("username") or ""
        if email and login_is_throttled(email=email):
            minutes = int(LOGIN_FAILURE_WINDOW.total_seconds() // 60)
            raise forms.ValidationError(
                self.throttled_message.format(minutes=minutes), code="throttled"
            )
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            if email:
                login_failure_record(email=email)
            raise
        if email:
            login_failures_clear(email=email)
        return cleaned


class LoginForm(ThrottledLoginMixin, AuthenticationForm):
    pass


class AdminLoginForm(ThrottledLoginMixin, AdminAuthenticationForm):
    pass
