"""What the suite knows about each stored file and each stored key (office/storage.py, office/keyring.py)."""
from django.db import models
from django.utils import timezone
from django.utils.translation import gettext_lazy as _


class StoredFile(models.Model):
    """One file in the storage backend (local disk or S3 bucket) and its SHA-256, recorded when it
    was written; a read whose bytes do not match is refused (office.storage.StoredFileCorrupt)."""

    name = models.CharField(max_length=500, unique=True)  # the storage name, e.g. documents/12/issued.pdf
    sha256 = models.CharField(max_length=64)
    size = models.BigIntegerField(default=0)
    created_at = models.DateTimeField(default=timezone.now)
    # The backend's version tag (S3 ETag, or size and mtime on disk) when the whole file last
    # hashed right: ranged downloads of large files re-hash only when it changes.
    verified_tag = models.CharField(max_length=200, blank=True)
    # Where the bytes are when they are not under `name` itself: a write inside a transaction
    # goes to a fresh object (<dir>/.v/<leaf>.<hash>…) and this column switches to it in the same
    # transaction, so a rollback leaves the old bytes and the old hash together
    # (office.storage.save).
    blob = models.CharField(max_length=500, blank=True, db_index=True)

    class Meta:
        ordering = ["name"]
        verbose_name = _("存储文件")
        verbose_name_plural = _("存储文件")

    def __str__(self):
        return self.name


class KeyMaterial(models.Model):
    """A named piece of key material (a CA or seal key, a certificate, a picture). Secrets are
    sealed with envelope encryption: `data` is AES-256-GCM under a per-entry data key, and
    `wrapped_key` is that data key under the key-encryption key derived from YW_SEAL_PASSPHRASE
    (rotate_seal_passphrase re-wraps the data keys). Public items are kept as they are."""

    name = models.CharField(max_length=200, unique=True)  # e.g. seals/ca/key, seals/12/cert
    data = models.BinaryField()
    encrypted = models.BooleanField(default=False)
    nonce = models.BinaryField(default=b"", blank=True)
    wrapped_key = models.BinaryField(default=b"", blank=True)  # nonce (12 bytes) + AES-GCM(KEK, data key)
    kek_id = models.CharField(max_length=64, blank=True)  # which KEK wrapped it (salt fingerprint)
    created_at = models.DateTimeField(default=timezone.now)
    updated_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["name"]
        verbose_name = _("密钥材料")
        verbose_name_plural = _("密钥材料")

    def __str__(self):
        return self.name


class KeyEncryptionKey(models.Model):
    """The salt and check value of the key-encryption key derived from the passphrase (scrypt).
    One row is current; a wrong passphrase fails the check instead of producing garbage."""

    kek_id = models.CharField(max_length=64, unique=True)
    salt = models.BinaryField()
    check_value = models.BinaryField()  # nonce + AES-GCM(KEK, b"yiwangtong-kek-check")
    current = models.BooleanField(default=True)
    created_at = models.DateTimeField(default=timezone.now)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name = _("密钥加密密钥")
        verbose_name_plural = _("密钥加密密钥")
