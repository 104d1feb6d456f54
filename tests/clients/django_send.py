"""Django's mail API as a Django app uses it (settings.EMAIL_HOST/PORT pointing at Gatekeeper).

usage: python django_send.py PORT send_mail|alternatives [ATTACHMENT_FILE]
"""

import sys
from pathlib import Path

from django.conf import settings

settings.configure(EMAIL_HOST="127.0.0.1", EMAIL_PORT=int(sys.argv[1]))

from django.core.mail import EmailMultiAlternatives, send_mail  # noqa: E402 (needs settings)

if sys.argv[2] == "send_mail":
    # DEFAULT_FROM_EMAIL is left at Django's default, webmaster@localhost; no headers here,
    # so the test config declares that sender transactional with a [[streams]] entry
    send_mail("Password reset", "Your code is 123456.", None, ["you@example.org"])
else:
    message = EmailMultiAlternatives(
        "Your invoice",
        "Invoice attached.",
        "billing@example.com",
        ["you@example.org"],
        cc=["accounts@example.org"],
        headers={"X-Gatekeeper-Purpose": "transactional"},
    )
    message.attach_alternative("<p>Invoice attached.</p>", "text/html")
    message.attach("invoice.pdf", Path(sys.argv[3]).read_bytes(), "application/pdf")
    message.send()
