"""Forms of the account pages (sign-up, password reset, email change). They check the shape of
the input; the rules themselves (password strength, duplicates) live in ``logic`` and come
back here as form errors."""

from __future__ import annotations

from django import forms
from django.conf import settings

from synnefo.astakos.logic import users


class NewPasswordMixin:
    """A password typed twice, held to AUTH_PASSWORD_VALIDATORS for the email and names the
    subclass provides (``password_owner``)."""

    def password_owner(self) -> tuple[str, str, str]:
        raise NotImplementedError

    def clean(self):
        data = super().clean()
        password, again = data.get("password"), data.get("password2")
        if password and again and password != again:
            self.add_error("password2", "The two passwords differ.")
        elif password and not self.errors:
            try:
                users.check_new_password(password, *self.password_owner())
            except users.UserError as exc:
                self.add_error("password", str(exc))
        return data


def _password_field(label: str) -> forms.CharField:
    return forms.CharField(label=label, strip=False, max_length=settings.ASTAKOS_MAX_PASSWORD_LENGTH)


class SignupForm(NewPasswordMixin, forms.Form):
    email = forms.EmailField(max_length=254)
    first_name = forms.CharField(max_length=settings.ASTAKOS_MAX_NAME_LENGTH)
    last_name = forms.CharField(max_length=settings.ASTAKOS_MAX_NAME_LENGTH)
    password = _password_field("Password")
    password2 = _password_field("Password (again)")

    def password_owner(self):
        data = self.cleaned_data
        return data.get("email", ""), data.get("first_name", ""), data.get("last_name", "")


class SetPasswordForm(NewPasswordMixin, forms.Form):
    password = _password_field("New password")
    password2 = _password_field("New password (again)")

    def __init__(self, user, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.user = user

    def password_owner(self):
        return self.user.email, self.user.first_name, self.user.last_name


class EmailForm(forms.Form):
    email = forms.EmailField(max_length=254)
