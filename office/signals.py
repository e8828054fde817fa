"""Sign-in and sign-out go to the audit log."""
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.dispatch import receiver

from office import audit


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    audit.record("auth.login", person=user, ip=audit.client_ip(request), data={"source": user.source})


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit.record("auth.logout", person=user, ip=audit.client_ip(request))
