"""国密 seals: the SM2 organisational CA and per-unit SM2 seals (GB/T 38540 SES_Seal).

Kept like the P-256 seals of ca.py, through the same key storage (office.keyring via ca._put /
ca._get, encrypted; the same namespace), beside them:

    seals/sm2ca/key (secret)  seals/sm2ca/cert
    seals/<unit_id>/sm2/key (secret)  cert  seal (the SES_Seal DER)  manifest

The unit keeps one seal: custody, 用印 approval and the 用印 log are those of ca.py's seal
(documents.files.actions); the SM2 seal is issued with it (or on the first 用印 of a seal
made before). Only a seal issued through the national e-seal system carries legal weight;
signing.remote is where a licensed service takes over.
"""
from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from dataclasses import dataclass

from asn1crypto import x509

from . import ca, ses, sm2

SM2_CA_NAME = "一网通组织CA（国密SM2）"
_lock = threading.Lock()


@dataclass
class GmSeal:
    unit_id: int
    unit_name: str
    key: sm2.PrivateKey
    cert: x509.Certificate
    ca_cert: x509.Certificate
    seal: bytes  # SES_Seal DER
    picture: bytes

    @property
    def cert_der(self) -> bytes:
        return self.cert.dump()


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


def _key_id(cert: x509.Certificate) -> bytes:
    return hashlib.sha1(sm2.certificate_key(cert).point).digest()


def ca_certificate() -> x509.Certificate | None:
    der = ca._get(ca._name("sm2ca", "cert"))
    return x509.Certificate.load(der) if der else None


def ensure_ca(*, years: int = 20) -> tuple[sm2.PrivateKey, x509.Certificate]:
    """The SM2 organisational CA, created on first use (one wins when servers race)."""
    from django.db import IntegrityError, transaction

    with _lock:
        cert = ca_certificate()
        if cert is not None:
            return _load_key(ca._name("sm2ca", "key")), cert
        key = sm2.PrivateKey.generate()
        name = sm2._name(SM2_CA_NAME, SM2_CA_NAME)
        now = _now()
        cert = sm2.make_certificate(subject_key=key.public, subject=name, issuer=name, issuer_key=key,
                                    not_before=now - dt.timedelta(minutes=5),
                                    not_after=now + dt.timedelta(days=365 * years), ca=True)
        try:
            with transaction.atomic():
                ca._put(ca._name("sm2ca", "cert"), cert.dump(), create_only=True)
                ca._put(ca._name("sm2ca", "key"), key.der(), secret=True)
        except IntegrityError:
            return _load_key(ca._name("sm2ca", "key")), ca_certificate()
        return key, cert


def _load_key(name: str) -> sm2.PrivateKey:
    data = ca._get(name)
    if data is None:
        raise ca.SealError("国密印章密钥缺失")
    try:
        return sm2.PrivateKey.from_der(data)
    except (ValueError, sm2.SM2Error) as exc:
        raise ca.SealError("国密印章密钥无法读取（口令不符或数据损坏）") from exc


def serial(unit_id: int) -> str | None:
    """The serial of the unit's SM2 certificate, or None when it has no SM2 seal yet."""
    data = ca._get(ca._name(int(unit_id), "sm2", "manifest"))
    return json.loads(data).get("serial") if data else None


def has_seal(unit_id: int) -> bool:
    return ca._keyring().exists(ca._name(int(unit_id), "sm2", "seal"))


def create_seal(unit_id: int, unit_name: str, *, code: str | None = None, years: int = 5,
                picture: bytes | None = None) -> GmSeal:
    """Issue the unit's SM2 key, its certificate from the SM2 CA and its SES_Seal."""
    from django.db import transaction

    uid = int(unit_id)
    ca_key, ca_cert = ensure_ca()
    key = sm2.PrivateKey.generate()
    now = _now()
    not_after = min(now + dt.timedelta(days=365 * years),
                    ca_cert["tbs_certificate"]["validity"]["not_after"].native)
    cert = sm2.make_certificate(subject_key=key.public, subject=sm2._name(unit_name, unit_name, code),
                                issuer=ca_cert.subject, issuer_key=ca_key, not_before=now - dt.timedelta(minutes=5),
                                not_after=not_after, ca=False, issuer_key_id=_key_id(ca_cert))
    picture = picture or ca.picture(uid) or ca.seal_picture(unit_name)
    seal = ses.make_seal(es_id=f"YW{uid:08d}{now:%Y%m%d%H%M%S}", name=unit_name, unit_cert_der=cert.dump(),
                         maker_cert_der=ca_cert.dump(), maker_key=ca_key, picture_png=picture, width_mm=42,
                         height_mm=42, valid_start=now, valid_end=not_after)
    manifest = {"unit_id": uid, "unit_name": unit_name, "created_at": now.isoformat(),
                "serial": format(cert.serial_number, "x"), "sha256": hashlib.sha256(cert.dump()).hexdigest(),
                "seal_sha256": hashlib.sha256(seal).hexdigest(), "not_after": not_after.isoformat()}
    with transaction.atomic():
        ca._put(ca._name(uid, "sm2", "key"), key.der(), secret=True)
        ca._put(ca._name(uid, "sm2", "cert"), cert.dump())
        ca._put(ca._name(uid, "sm2", "seal"), seal)
        ca._put(ca._name(uid, "sm2", "manifest"), json.dumps(manifest, ensure_ascii=False).encode())
    return GmSeal(uid, unit_name, key, cert, ca_cert, seal, picture)


def load_seal(unit_id: int) -> GmSeal:
    uid = int(unit_id)
    seal = ca._get(ca._name(uid, "sm2", "seal"))
    if seal is None:
        raise ca.SealError("该单位尚未制作国密电子印章")
    manifest = json.loads(ca._get(ca._name(uid, "sm2", "manifest")) or b"{}")
    if hashlib.sha256(seal).hexdigest() != manifest.get("seal_sha256"):
        raise ca.SealError("国密印章数据与登记不符，已拒绝使用")
    cert = x509.Certificate.load(ca._get(ca._name(uid, "sm2", "cert")))
    ca_cert = ca_certificate()
    if ca_cert is None:
        raise ca.SealError("国密组织CA缺失")
    picture = ses.SESeal.load(seal)["seal_info"]["picture"]["data"].native
    return GmSeal(uid, manifest.get("unit_name", ""), _load_key(ca._name(uid, "sm2", "key")), cert, ca_cert, seal,
                  picture)


def ensure_seal(unit_id: int, unit_name: str, *, code: str | None = None) -> GmSeal:
    """The unit's SM2 seal; a unit whose seal predates 国密 seals gets its SM2 seal now."""
    if has_seal(unit_id):
        return load_seal(unit_id)
    return create_seal(unit_id, unit_name, code=code)
