from django.urls import path

from documents import views_files, views_seals

app_name = "documents_files"
urlpatterns = [
    path("verify/", views_files.verify_page, name="verify"),
    path("seals/", views_seals.seals_page, name="seals"),
]
