"""Template tags of the identity service's pages: ``{% load astakos_ui %}``, then

- ``{% terms_footer %}``: a link to the terms of use, when any were added (base.html has it);
- ``{% recaptcha_widget %}``: the reCAPTCHA box, when enabled (a form shows it where it asks
  for a captcha, and calls ``synnefo.astakos.logic.recaptcha.check`` on submit).
"""

from __future__ import annotations

import re

from django import template
from django.conf import settings
from django.urls import reverse

from synnefo.astakos.logic import recaptcha, terms

register = template.Library()

_OPTION_NAME = re.compile(r"^[a-z][a-z0-9-]{0,40}$")


@register.inclusion_tag("astakos/terms_footer.html")
def terms_footer():
    if terms.newest_id() is None:
        return {"terms_url": None}
    return {"terms_url": reverse("astakos-terms")}


@register.inclusion_tag("astakos/recaptcha.html")
def recaptcha_widget():
    if not recaptcha.enabled():
        return {"enabled": False}
    options = [
        (name, str(value))
        for name, value in sorted(settings.ASTAKOS_RECAPTCHA_OPTIONS.items())
        if _OPTION_NAME.match(str(name)) and name != "sitekey"
    ]
    return {
        "enabled": True,
        "site_key": settings.ASTAKOS_RECAPTCHA_PUBLIC_KEY,
        "script_url": settings.ASTAKOS_RECAPTCHA_SCRIPT_URL,
        "options": options,
    }
