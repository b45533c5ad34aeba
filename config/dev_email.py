"""Email in development (DEBUG with `EMAIL_URL=console:`): each message printed as a
framed block of its sender, recipients, subject and text, for a person to read.

Django's console backend prints the raw MIME message (headers, the HTML part, quoted-
printable line breaks), and from the Celery worker, which turns everything written to
`sys.stdout` into log lines, as one WARNING per line. This one writes to the process's
real standard output, so the worker's emails read like the web server's.
"""

import sys

from django.core.mail.backends.console import EmailBackend as ConsoleEmailBackend

RULE = "=" * 72


class EmailBackend(ConsoleEmailBackend):
    def __init__(self, *args, **kwargs) -> None:
        kwargs.setdefault("stream", sys.__stdout__)  # not the worker's logging stdout
        super().__init__(*args, **kwargs)

    def write_message(self, message) -> None:
        self.stream.write(framed(message) + "\n")


def framed(message) -> str:
    """The block for one message: who, what, then the text body as it will read."""
    lines = [RULE, f"Email from: {message.from_email}", f"To:      {', '.join(message.to)}"]
    for label, addresses in (("Cc", message.cc), ("Bcc", message.bcc)):
        if addresses:
            lines.append(f"{label + ':':<9}{', '.join(addresses)}")
    lines.append(f"Subject: {message.subject}")
    extras = [mimetype for _content, mimetype in getattr(message, "alternatives", [])]
    extras += [
        attachment[0] if isinstance(attachment, tuple) else attachment.get_filename() or "file"
        for attachment in message.attachments
    ]
    if extras:
        lines.append(f"Also:    {', '.join(str(extra) for extra in extras)}")
    lines += ["-" * len(RULE), str(message.body).rstrip(), RULE]
    return "\n".join(lines)
