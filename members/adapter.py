from allauth.account.adapter import DefaultAccountAdapter
from allauth.core import context as allauth_context
from django.contrib.sites.shortcuts import get_current_site

from members.services.accounts import queue_email


class AccountAdapter(DefaultAccountAdapter):
    """allauth, with its emails delivered by a Celery task after the request commits.

    The message is rendered here (it needs the request); only the sending,
    which may wait on a slow mail server, leaves the request.
    """

    def send_mail(self, template_prefix: str, email: str, context: dict) -> None:
        request = allauth_context.request
        ctx = {"request": request, "email": email, "current_site": get_current_site(request)}
        ctx.update(context)
        queue_email(self.render_mail(template_prefix, email, ctx))
