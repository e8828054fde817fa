#!/usr/bin/env python
import os
import sys

if __name__ == "__main__":
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "office.settings")
    from django.core.exceptions import ImproperlyConfigured
    from django.core.management import execute_from_command_line

    try:
        from django.conf import settings

        settings.INSTALLED_APPS  # read the settings now, so a bad value stops here in one line
    except ImproperlyConfigured as exc:
        sys.stderr.write(f"配置错误 (configuration error): {exc}\n")
        sys.exit(2)
    execute_from_command_line(sys.argv)
