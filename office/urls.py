from django.urls import include, path
from django.views.i18n import JavaScriptCatalog

from office import views
from office.api import api

urlpatterns = [
    path("login/", views.login_view, name="login"),
    path("logout/", views.logout_view, name="logout"),
    path("", views.home, name="home"),
    path("post/switch/", views.switch_post, name="switch-post"),
    path("me/", views.my_account, name="my-account"),
    path("language/", views.set_language, name="set-language"),
    path("directory/", views.directory, name="directory"),
    path("directory/unit/<int:unit_id>/", views.unit_detail, name="unit-detail"),
    path("api/", api.urls),
    path("jsi18n/", JavaScriptCatalog.as_view(), name="javascript-catalog"),
]

# Each app's URLconf by dotted path, so the core imports none of them.
urlpatterns += [
    path("documents/archive/", include("documents.archive.urls")),
    path("documents/", include("documents.urls")),
    path("documents/files/", include("documents.files.urls")),
    path("meetings/", include("meetings.urls")),
    path("office/ldap/", include("office.urls_ldap")),
    path("office/admin/", include("office.urls_admin")),
]

# Errors answer inside the shell (or as JSON under /api/): office/errors.py.
handler400 = "office.errors.bad_request"
handler403 = "office.errors.permission_denied"
handler404 = "office.errors.page_not_found"
handler500 = "office.errors.server_error"
