"""Web pages of the account flows: sign-up, the links mailed to users (verify the email, reset
the password, confirm a new email), and the requests that send them.

Thin: the flows are ``logic.activation`` and ``logic.recovery``. Every form is CSRF-protected;
every request that sends a mail counts against ``ASTAKOS_EMAIL_REQUESTS_PER_ADDRESS``. Bad input
answers the form again with the errors and a 4xx status; a bad link answers a page saying why
(404 unknown, 410 used or expired) and changes nothing.
"""

from __future__ import annotations

from django.contrib.auth.decorators import login_required
from django.contrib.auth.password_validation import password_validators_help_texts
from django.http import Http404
from django.shortcuts import render
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_http_methods, require_POST

from synnefo.astakos.forms import EmailForm, SetPasswordForm, SignupForm
from synnefo.astakos.logic import activation, links, recaptcha, recovery, throttle
from synnefo.astakos.logic.mail import MailError
from synnefo.astakos.logic.users import UserError
from synnefo.astakos.views import profile_context
from synnefo.common.faults import TooManyRequests


def _form(request, template: str, form, status: int = 200):
    """A form page; password forms list the rules of AUTH_PASSWORD_VALIDATORS."""
    context = {"form": form, "password_rules": password_validators_help_texts()}
    return render(request, template, context, status=status)


def _message(request, title: str, text: str, status: int = 200, **context):
    context.update(title=title, text=text)
    return render(request, "astakos/message.html", context, status=status)


def _throttled(request, kind: str):
    """None if this mail-sending request may go on (and counts it), else the 429 page."""
    try:
        throttle.note_request(kind, request.client_address)
    except TooManyRequests as fault:
        response = _message(request, "Too many requests", "Too many requests from your address. Please try again later.", 429)
        for name, value in fault.headers.items():
            response[name] = value
        return response
    return None


def _too_many_links(request, error):
    return _message(request, "Mail already sent", str(error), 429)


def _mail_failed(request):
    return _message(request, "Mail not sent", "We could not send you a mail just now, so nothing was changed. Please try again later.", 503)


def _bad_link(request, error: links.LinkError):
    return _message(request, "Link not valid", str(error), error.code)


@require_http_methods(["GET", "POST"])
def signup_view(request):
    if not activation.local_signup_enabled():
        raise Http404("Sign-up with an email and password is not enabled")
    if request.method == "GET":
        return _form(request, "astakos/signup.html", SignupForm())
    form = SignupForm(request.POST)
    status = 400
    refusal = recaptcha.check(request)  # None when reCAPTCHA is off or the answer is right
    if refusal:
        form.is_valid()  # keep the other fields' errors too
        form.add_error(None, str(refusal))
        return _form(request, "astakos/signup.html", form, refusal.status)
    if form.is_valid():
        if (refused := _throttled(request, "signup")) is not None:
            return refused
        data = form.cleaned_data
        try:
            user = activation.signup(data["email"], data["first_name"], data["last_name"], data["password"], request)
        except activation.DuplicateEmail as exc:
            form.add_error("email", str(exc))
            status = 409
        except links.TooManyLinks as exc:
            return _too_many_links(request, exc)
        except UserError as exc:
            form.add_error(None, str(exc))
        except MailError:
            return _mail_failed(request)
        else:
            return _message(
                request, "Check your mailbox",
                f"We sent a mail to {user.email}. Follow the link in it to verify your address and complete the sign-up.",
            )
    return _form(request, "astakos/signup.html", form, status)


@require_http_methods(["GET", "POST"])
def resend_view(request):
    if not activation.local_signup_enabled():
        raise Http404("Sign-up with an email and password is not enabled")
    if request.method == "GET":
        return _form(request, "astakos/resend.html", EmailForm())
    form = EmailForm(request.POST)
    if not form.is_valid():
        return _form(request, "astakos/resend.html", form, 400)
    if (refused := _throttled(request, "resend")) is not None:
        return refused
    try:
        activation.resend_verification(form.cleaned_data["email"], request)
    except MailError:
        return _mail_failed(request)
    return _message(
        request, "Check your mailbox",
        "If an account with that email waits for verification, we sent it a new mail; the link of any earlier mail no longer works.",
    )


@never_cache  # pages of a link's secret stay out of caches
@require_http_methods(["GET"])
def verify_view(request, secret):
    try:
        user = activation.verify_link(secret, request)
    except links.LinkError as exc:
        return _bad_link(request, exc)
    except MailError:
        return _mail_failed(request)
    if user.is_active:
        return _message(request, "Account activated", "Your email is verified and your account is active. You can log in now.", login_link=True)
    return _message(
        request, "Email verified",
        "Your email is verified. An administrator will review your account; you will get a mail when it is activated.",
    )


@require_http_methods(["GET", "POST"])
def password_reset_view(request):
    if not activation.local_signup_enabled():
        raise Http404("Passwords are not used here")
    if request.method == "GET":
        return _form(request, "astakos/password_reset.html", EmailForm())
    form = EmailForm(request.POST)
    if not form.is_valid():
        return _form(request, "astakos/password_reset.html", form, 400)
    if (refused := _throttled(request, "reset")) is not None:
        return refused
    try:
        recovery.request_password_reset(form.cleaned_data["email"], request)
    except MailError:
        return _mail_failed(request)
    return _message(
        request, "Check your mailbox",
        "If an account with that email exists, we sent it a mail with a link to choose a new password.",
    )


@never_cache  # pages of a link's secret stay out of caches
@require_http_methods(["GET", "POST"])
def password_reset_confirm_view(request, secret):
    try:
        link = links.check(secret, "reset")
    except links.LinkError as exc:
        return _bad_link(request, exc)
    form = SetPasswordForm(link.user, request.POST if request.method == "POST" else None)
    if request.method == "GET":
        return _form(request, "astakos/password_set.html", form)
    if not form.is_valid():
        return _form(request, "astakos/password_set.html", form, 400)
    try:
        recovery.reset_password(secret, form.cleaned_data["password"])
    except links.LinkError as exc:  # used by a concurrent request meanwhile
        return _bad_link(request, exc)
    except UserError as exc:
        form.add_error("password", str(exc))
        return _form(request, "astakos/password_set.html", form, 400)
    return _message(request, "Password changed", "Your new password is set and your old API tokens are revoked. You can log in now.", login_link=True)


@login_required
@require_POST
def email_change_view(request):
    form = EmailForm(request.POST)
    status, error = 400, None
    if form.is_valid():
        if (refused := _throttled(request, "email_change")) is not None:
            return refused
        try:
            new_email = recovery.request_email_change(request.user, form.cleaned_data["email"], request)
        except recovery.AddressTaken as exc:
            status, error = 409, str(exc)
        except links.TooManyLinks as exc:
            return _too_many_links(request, exc)
        except UserError as exc:
            error = str(exc)
        except MailError:
            return _mail_failed(request)
        else:
            return _message(request, "Check your mailbox", f"We sent a mail to {new_email}. Follow the link in it to make it your email.")
    else:
        error = " ".join(form.errors.get("email", ["Enter a valid email address."]))
    context = {**profile_context(request.user), "email_error": error, "new_email": request.POST.get("email", "")[:254]}
    return render(request, "astakos/profile.html", context, status=status)


@never_cache  # pages of a link's secret stay out of caches
@require_http_methods(["GET"])
def email_change_confirm_view(request, secret):
    try:
        user = recovery.confirm_email_change(secret)
    except links.LinkError as exc:
        return _bad_link(request, exc)
    except recovery.AddressTaken as exc:
        return _message(request, "Email not changed", f"{exc}. Your email was not changed.", 409)
    return _message(request, "Email changed", f"Your email is now {user.email}; use it to log in.", login_link=True)
