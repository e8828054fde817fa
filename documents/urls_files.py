from django.urls import path

from documents import views_files

app_name = "documents_files"
urlpatterns = [
    path("verify/", views_files.verify_page, name="verify"),
]
