"""Sign-in and sign-out go to the audit log; files of rolled-back transactions are deleted."""
from django.contrib.auth.signals import user_logged_in, user_logged_out
from django.core.signals import request_finished
from django.dispatch import receiver

from office import audit, storage


@receiver(user_logged_in)
def _logged_in(sender, request, user, **kwargs):
    audit.record("auth.login", person=user, ip=audit.client_ip(request), data={"source": user.source})


@receiver(user_logged_out)
def _logged_out(sender, request, user, **kwargs):
    if user is not None:
        audit.record("auth.logout", person=user, ip=audit.client_ip(request))


@receiver(request_finished)
def _discard_rolled_back_files(sender, **kwargs):
    """A request whose transaction rolled back after writing a file: delete the file nobody names."""
    storage.discard_rolled_back()
