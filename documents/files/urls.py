from django.urls import path

from documents.files import seals, views

app_name = "documents_files"
urlpatterns = [
    path("verify/", views.verify_page, name="verify"),
    path("seals/", seals.seals_page, name="seals"),
    path("seals/<int:unit_id>/keepers/", seals.keepers_page, name="seal-keepers"),
]
