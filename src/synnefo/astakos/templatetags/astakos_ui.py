"""Template tags of the identity service's pages: ``{% load astakos_ui %}``, then

- ``{% terms_footer %}``: a link to the terms of use, when any were added (base.html has it);
- ``{% recaptcha_widget %}``: the reCAPTCHA box, when enabled (a form shows it where it asks
  for a captcha, and calls ``synnefo.astakos.logic.recaptcha.check`` on submit).
"""

from __future__ import annotations

import logging
import re

from django import template
from django.conf import settings
from django.urls import reverse

from synnefo.astakos.logic import recaptcha, terms

register = template.Library()
log = logging.getLogger("synnefo.astakos.recaptcha")

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
    configured = settings.ASTAKOS_RECAPTCHA_OPTIONS
    if not isinstance(configured, dict):
        log.error("ASTAKOS_RECAPTCHA_OPTIONS must be a dict, not %s; ignored", type(configured).__name__)
        configured = {}
    # Only plain attribute names: an option never adds markup or replaces the site key.
    options = [
        (name, str(value))
        for name, value in sorted(configured.items(), key=lambda item: str(item[0]))
        if _OPTION_NAME.match(str(name)) and name != "sitekey"
    ]
    return {
        "enabled": True,
        "site_key": settings.ASTAKOS_RECAPTCHA_PUBLIC_KEY,
        "script_url": settings.ASTAKOS_RECAPTCHA_SCRIPT_URL,
        "options": options,
    }
