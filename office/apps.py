from django.apps import AppConfig
from django.utils.translation import gettext_lazy as _


class OfficeConfig(AppConfig):
    name = "office"
    verbose_name = _("协同办公")

    def ready(self):
        from django.utils.module_loading import autodiscover_modules

        from office import signals  # noqa: F401

        # Each app's <app>/todo.py registers its 待办 provider (office names no app).
        autodiscover_modules("todo")

        from django.conf import settings

        if getattr(settings, "LDAP_URL", None):
            # ldap3 is imported where it is used (a suite without a directory never loads it). With a
            # directory, load it now: the first sign-ins after a start arrive together, and a package
            # imported for the first time by two threads at once can fail with Python's import
            # _DeadlockError (seen: a 500 on /login/ under 50 concurrent sign-ins).
            import ldap3  # noqa: F401
            import ldap3.core.exceptions  # noqa: F401
            import ldap3.protocol.sasl.sasl  # noqa: F401
            import ldap3.utils.conv  # noqa: F401
            import ldap3.utils.dn  # noqa: F401
