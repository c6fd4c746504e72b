"""The log-in and password-reset forms, with their throttles in front."""

from __future__ import annotations

import logging

from django import forms
from django.contrib.admin.forms import AdminAuthenticationForm
from django.contrib.auth.forms import AuthenticationForm, PasswordResetForm

from accounts.services import (
    LOGIN_FAILURE_WINDOW,
    login_failure_record,
    login_failures_clear,
    login_is_throttled,
    password_reset_request_allowed,
)
from core.http import client_address

logger = logging.getLogger(__name__)


class ThrottledLoginMixin:
    """Refuse further tries for an account from one address after too many failures, before
    checking the password (so a guess that happens to be right is refused too while the lock
    lasts). Only a wrong email or password counts: the right password of a user the form
    turns away (not staff, on the admin's log-in) is no guess."""

    throttled_message = (
        "Too many failed log-ins for this account. Wait {minutes} minutes and try again, or "
        "reset your password."
    )

    def clean(self):
        email = self.cleaned_data.get("username") or ""
        address = client_address(self.request) if self.request is not None else "unknown"
        if email and login_is_throttled(email=email, address=address):
            minutes = int(LOGIN_FAILURE_WINDOW.total_seconds() // 60)
            raise forms.ValidationError(
                self.throttled_message.format(minutes=minutes), code="throttled"
            )
        try:
            cleaned = super().clean()
        except forms.ValidationError:
            if email and self.user_cache is None:  # the credentials were wrong
                login_failure_record(email=email, address=address)
            raise
        if email:
            login_failures_clear(email=email, address=address)
        return cleaned


class LoginForm(ThrottledLoginMixin, AuthenticationForm):
    pass


class AdminLoginForm(ThrottledLoginMixin, AdminAuthenticationForm):
    pass


class ThrottledPasswordResetForm(PasswordResetForm):
    """Django's reset form (it sends nothing for an unknown address and the page says the
    same either way), with a per-address and per-client cap on the emails sent."""

    def save(self, *args, request=None, **kwargs) -> None:
        email = self.cleaned_data["email"]
        address = client_address(request) if request is not None else "unknown"
        if not password_reset_request_allowed(email=email, address=address):
            logger.warning("password reset throttled for a request from %s", address)
            return
        super().save(*args, request=request, **kwargs)
