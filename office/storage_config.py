"""The STORAGES setting from the environment (used by office/settings.py; no model imports here).

Without S3_ENDPOINT_URL files stay on the local disk under MEDIA_ROOT (the embedded default).
With it, every file goes to an S3-compatible bucket (SeaweedFS, MinIO, Ceph RGW, a cloud) through
django-storages, and nothing is written under MEDIA_ROOT.
"""
import re
from urllib.parse import urlparse

from django.core.exceptions import ImproperlyConfigured

BUCKET_RE = re.compile(r"^[a-z0-9][a-z0-9.\-]{1,61}[a-z0-9]$")
ADDRESSING_STYLES = ("path", "virtual", "auto")
LOCAL_BACKEND = "office.storage.LocalStorage"
S3_BACKEND = "office.storage.S3Storage"
STATICFILES = {"BACKEND": "office.staticfiles.VersionedStaticFilesStorage"}  # ?v=<hash> URLs


def s3_options(*, endpoint_url, bucket, access_key, secret_key, region="us-east-1", addressing_style="path"):
    """The OPTIONS of office.storage.S3Storage, checked; raises ImproperlyConfigured with one line."""
    parsed = urlparse(endpoint_url or "")
    if parsed.scheme not in ("http", "https") or not parsed.hostname:
        raise ImproperlyConfigured(f"S3_ENDPOINT_URL={endpoint_url!r} must be an http:// or https:// URL")
    if not bucket:
        raise ImproperlyConfigured("S3_BUCKET must be set when S3_ENDPOINT_URL is set")
    if not BUCKET_RE.match(bucket) or ".." in bucket:
        raise ImproperlyConfigured(f"S3_BUCKET={bucket!r} is not a valid bucket name (3-63 of a-z 0-9 . -)")
    if not access_key:
        raise ImproperlyConfigured("S3_ACCESS_KEY_ID must be set when S3_ENDPOINT_URL is set")
    if not secret_key:
        raise ImproperlyConfigured("S3_SECRET_ACCESS_KEY (or S3_SECRET_ACCESS_KEY_FILE) must be set "
                                   "when S3_ENDPOINT_URL is set")
    if not re.match(r"^[a-z0-9-]{2,40}$", region or ""):
        raise ImproperlyConfigured(f"S3_REGION={region!r} is not a region name (e.g. us-east-1)")
    if addressing_style not in ADDRESSING_STYLES:
        raise ImproperlyConfigured(f"S3_ADDRESSING_STYLE={addressing_style!r} must be one of "
                                   f"{', '.join(ADDRESSING_STYLES)}")
    return {
        "endpoint_url": endpoint_url.rstrip("/"),
        "bucket_name": bucket,
        "access_key": access_key,
        "secret_key": secret_key,
        "region_name": region,
        "addressing_style": addressing_style,
        "signature_version": "s3v4",
        "use_ssl": parsed.scheme == "https",
        "file_overwrite": False,  # like the local disk: a taken name gets a suffix
        "querystring_auth": True,
        "querystring_expire": 300,
        "default_acl": None,
    }


def storages_setting(s3=None):
    """STORAGES for Django: the default (files) and staticfiles backends."""
    if s3 is None:
        default = {"BACKEND": LOCAL_BACKEND}
    else:
        default = {"BACKEND": S3_BACKEND, "OPTIONS": s3_options(**s3)}
    return {"default": default, "staticfiles": dict(STATICFILES)}
