"""Mounted by office/urls.py at /office/ldap/."""
from django.urls import path

from office import views_ldap

urlpatterns = [
    path("sync/", views_ldap.sync_status, name="ldap-sync"),
]
