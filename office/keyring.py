"""Key material in the database, secrets under envelope encryption (so every web server can seal).

    keyring.put("seals/12/key", der_bytes, secret=True)    # AES-256-GCM under a fresh data key
    keyring.put("seals/12/cert", pem_bytes)                 # public: kept as it is
    keyring.get("seals/12/key")                             # → bytes, or None when absent
    keyring.rotate(old_passphrase, new_passphrase)          # re-wraps every data key

Each secret entry has its own random 256-bit data key (DEK); the DEK is wrapped (AES-256-GCM) by
the key-encryption key (KEK), derived with scrypt from the passphrase YW_SEAL_PASSPHRASE (or the
file named by YW_SEAL_PASSPHRASE_FILE; default: SECRET_KEY) and a salt kept in the database
(`KeyEncryptionKey`, with a check value, so a wrong passphrase is reported as such). The entry's
name is bound into both ciphertexts (associated data): an entry copied under another name does
not decrypt. Rotating the passphrase re-wraps the data keys in one transaction; nothing else is
re-encrypted, and a failure leaves the old passphrase working. Generic: CA and seal keys (ECDSA
or SM2) use it alike.
"""
from __future__ import annotations

import hashlib
import os
import threading

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from cryptography.hazmat.primitives.kdf.scrypt import Scrypt
from django.db import IntegrityError, transaction
from django.utils import timezone
from django.utils.translation import gettext as _

CHECK_PLAINTEXT = b"yiwangtong-kek-check"
SCRYPT_N = 2 ** 15
_derived: dict[tuple[bytes, bytes], bytes] = {}
_lock = threading.Lock()


class KeyringError(Exception):
    """The key material cannot be read (wrong passphrase, damaged entry); the message is for people."""


def passphrase() -> str:
    """YW_SEAL_PASSPHRASE, or the file named by YW_SEAL_PASSPHRASE_FILE, else SECRET_KEY.
    Read at each call, so a command can run with another passphrase than the server's."""
    from django.conf import settings

    from office.env import env_secret

    value = env_secret("YW_SEAL_PASSPHRASE") or getattr(settings, "SECRET_KEY", "")
    if not value:
        raise KeyringError(_("未配置印章密钥口令（YW_SEAL_PASSPHRASE）。"))
    return value


def _derive(secret: str, salt: bytes) -> bytes:
    fingerprint = (hashlib.sha256(secret.encode()).digest(), bytes(salt))
    with _lock:
        key = _derived.get(fingerprint)
    if key is None:
        key = Scrypt(salt=bytes(salt), length=32, n=SCRYPT_N, r=8, p=1).derive(secret.encode())
        with _lock:
            _derived[fingerprint] = key
    return key


def _seal(key: bytes, data: bytes, aad: bytes) -> bytes:
    nonce = os.urandom(12)
    return nonce + AESGCM(key).encrypt(nonce, data, aad)


def _open(key: bytes, blob: bytes, aad: bytes) -> bytes:
    blob = bytes(blob)
    return AESGCM(key).decrypt(blob[:12], blob[12:], aad)


def _new_kek(secret: str, generation: int):
    from office.models import KeyEncryptionKey

    salt = os.urandom(16)
    key = _derive(secret, salt)
    row = KeyEncryptionKey.objects.create(kek_id=str(generation), salt=salt,
                                          check_value=_seal(key, CHECK_PLAINTEXT, b"check"), current=True)
    return row, key


def _unlock(row, secret: str) -> bytes:
    key = _derive(secret, bytes(row.salt))
    try:
        if _open(key, row.check_value, b"check") != CHECK_PLAINTEXT:
            raise InvalidTag
    except InvalidTag:
        raise KeyringError(_("印章密钥口令不符，无法读取密钥。")) from None
    return key


def current_kek(secret: str | None = None):
    """(row, key) of the current KEK, creating the first one on first use."""
    from office.models import KeyEncryptionKey

    secret = secret or passphrase()
    row = KeyEncryptionKey.objects.filter(current=True).order_by("-id").first()
    if row is None:
        try:
            with transaction.atomic():
                return _new_kek(secret, 1)
        except IntegrityError:  # another process made it first
            row = KeyEncryptionKey.objects.get(kek_id="1")
    return row, _unlock(row, secret)


def put(name: str, data: bytes, *, secret: bool = False, create_only: bool = False) -> None:
    """Store (or replace) an entry. With create_only an existing entry raises IntegrityError."""
    from office.models import KeyMaterial

    fields = {"data": bytes(data), "encrypted": False, "nonce": b"", "wrapped_key": b"", "kek_id": "",
              "updated_at": timezone.now()}
    if secret:
        row, kek = current_kek()
        dek = AESGCM.generate_key(256)
        fields.update(data=_seal(dek, bytes(data), name.encode()), encrypted=True,
                      wrapped_key=_seal(kek, dek, f"{name}|{row.kek_id}".encode()), kek_id=row.kek_id)
    with transaction.atomic():
        if create_only:
            KeyMaterial.objects.create(name=name, **fields)
        else:
            KeyMaterial.objects.update_or_create(name=name, defaults=fields)


def get(name: str) -> bytes | None:
    from office.models import KeyEncryptionKey, KeyMaterial

    entry = KeyMaterial.objects.filter(name=name).first()
    if entry is None:
        return None
    if not entry.encrypted:
        return bytes(entry.data)
    row = KeyEncryptionKey.objects.filter(kek_id=entry.kek_id).first()
    if row is None:
        raise KeyringError(_("密钥“%(name)s”的加密密钥缺失。") % {"name": name})
    kek = _unlock(row, passphrase())
    try:
        dek = _open(kek, entry.wrapped_key, f"{name}|{row.kek_id}".encode())
        return _open(dek, entry.data, name.encode())
    except InvalidTag:
        raise KeyringError(_("密钥“%(name)s”已损坏或被篡改。") % {"name": name}) from None


def exists(name: str) -> bool:
    from office.models import KeyMaterial

    return KeyMaterial.objects.filter(name=name).exists()


def delete_prefix(prefix: str) -> int:
    from office.models import KeyMaterial

    return KeyMaterial.objects.filter(name__startswith=prefix).delete()[0]


def append_line(name: str, line: bytes) -> None:
    """Append one line to a public entry (a log), serialised by a row lock."""
    from office.models import KeyMaterial

    with transaction.atomic():
        entry, _created = KeyMaterial.objects.get_or_create(name=name, defaults={"data": b""})
        entry = KeyMaterial.objects.select_for_update().get(id=entry.id)
        entry.data = bytes(entry.data) + line.rstrip(b"\n") + b"\n"
        entry.updated_at = timezone.now()
        entry.save(update_fields=["data", "updated_at"])


def rotate(old: str, new: str, progress=None) -> int:
    """Re-wrap every data key under a KEK derived from `new`; returns how many entries. All or
    nothing: a wrong `old` or any unreadable entry changes nothing."""
    from office.models import KeyEncryptionKey, KeyMaterial

    if not new or new == old:
        raise KeyringError(_("新口令不能为空，也不能与原口令相同。"))
    with transaction.atomic():
        rows = {r.kek_id: r for r in KeyEncryptionKey.objects.select_for_update()}
        current = max((r for r in rows.values() if r.current), key=lambda r: int(r.kek_id), default=None)
        keys = {kek_id: _unlock(r, old) for kek_id, r in rows.items()
                if KeyMaterial.objects.filter(kek_id=kek_id, encrypted=True).exists() or r.current}
        generation = max((int(k) for k in rows), default=0) + 1
        KeyEncryptionKey.objects.filter(current=True).update(current=False)
        new_row, new_key = _new_kek(new, generation)
        entries = list(KeyMaterial.objects.select_for_update().filter(encrypted=True))
        for entry in entries:
            try:
                dek = _open(keys[entry.kek_id], entry.wrapped_key, f"{entry.name}|{entry.kek_id}".encode())
            except (InvalidTag, KeyError):
                raise KeyringError(_("密钥“%(name)s”已损坏或被篡改。") % {"name": entry.name}) from None
            entry.wrapped_key = _seal(new_key, dek, f"{entry.name}|{new_row.kek_id}".encode())
            entry.kek_id = new_row.kek_id
            entry.updated_at = timezone.now()
            entry.save(update_fields=["wrapped_key", "kek_id", "updated_at"])
            if progress:
                progress()
        KeyEncryptionKey.objects.exclude(id=new_row.id).delete()
        del current
    return len(entries)
