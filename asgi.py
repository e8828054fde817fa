"""ASGI entry point: HTTP → Django; websockets → origin check → session auth → URL router."""
import os

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "office.settings")

import sys  # noqa: E402

from django.core.asgi import get_asgi_application  # noqa: E402
from django.core.exceptions import ImproperlyConfigured  # noqa: E402

try:
    django_asgi_app = get_asgi_application()  # before anything that imports models
except ImproperlyConfigured as exc:  # one readable line instead of a traceback
    sys.stderr.write(f"配置错误 (configuration error): {exc}\n")
    raise SystemExit(2) from None

from channels.auth import AuthMiddlewareStack  # noqa: E402
from channels.routing import ProtocolTypeRouter, URLRouter  # noqa: E402
from channels.security.websocket import AllowedHostsOriginValidator  # noqa: E402
from django.urls import path  # noqa: E402

from meetings.routing import websocket_urlpatterns as meeting_websockets  # noqa: E402
from office import websocket_limits  # noqa: E402
from office.consumers import EventsConsumer  # noqa: E402

websocket_urlpatterns = [path("ws/", EventsConsumer.as_asgi()), *meeting_websockets]
websocket_limits.install()  # an oversized frame: close 1009 with a reason, not a dropped socket

from django.conf import settings  # noqa: E402

http_app = django_asgi_app
if settings.YW_SERVE_STATIC:
    # The embedded default serves its own assets (no CDN, no separate web server needed).
    from office.static import SafeStaticFilesHandler

    http_app = SafeStaticFilesHandler(django_asgi_app)

from office.uploads import BodyLimit, install_daphne_limits  # noqa: E402

install_daphne_limits()  # daphne keeps nothing of a body past the limit
http_app = BodyLimit(http_app)  # an over-limit upload is refused without its body being read

from office.backpressure import Backpressure  # noqa: E402

http_app = Backpressure(http_app)  # a streamed download waits for the network, not for daphne's memory

if settings.YW_JOBS_IN_PROCESS:
    from office.scheduler import start_in_process

    start_in_process()

application = ProtocolTypeRouter(
    {
        "http": http_app,
        "websocket": AllowedHostsOriginValidator(AuthMiddlewareStack(URLRouter(websocket_urlpatterns))),
    }
)
