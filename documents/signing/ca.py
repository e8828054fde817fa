"""The organisational CA and per-unit seals (picture, certificate, key).

Material lives in the database (office/keyring.py), so that 用印 works from any web server:

    seals/ca/key (secret)  seals/ca/cert  seals/ca/manifest
    seals/<unit_id>/key (secret)  cert  picture  manifest  usage

Keys are ECDSA P-256 (PKCS#8), kept under envelope encryption: a data key per entry, wrapped by
a key derived from YW_SEAL_PASSPHRASE (or YW_SEAL_PASSPHRASE_FILE; default: SECRET_KEY).
`python manage.py rotate_seal_passphrase` re-wraps them under a new passphrase. The manifest
records the unit, its keeper (the unit's secretary keeps the seal), the certificate serial and
fingerprint; `usage` is the 用印 log (one JSON line per use). Seals made by an earlier version
under <VAR_DIR>/seals/ are imported by `python manage.py storage_migrate`.

Note: only a seal issued through the government e-seal authority (GB/T 38540,
SM2) carries legal weight; this CA makes PAdES signatures for integrity and
provenance inside the suite. A licensed service plugs in via signing.remote.
"""
from __future__ import annotations

import contextlib
import datetime as dt
import hashlib
import io
import json
import math
import os
import threading
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

CA_NAME = "一网通组织CA"
_lock = threading.Lock()
_namespace = {"value": "seals"}  # process-wide: a test may switch it (threads sign too)


class SealError(Exception):
    """A seal operation that cannot proceed; the message is for people (Chinese)."""


def _ns() -> str:
    return _namespace["value"]


@contextlib.contextmanager
def namespace(name: str):
    """Work with another set of seals and CA (e.g. a stranger's CA in a test)."""
    old = _ns()
    _namespace["value"] = name
    try:
        yield
    finally:
        _namespace["value"] = old


def _name(*parts) -> str:
    return "/".join([_ns(), *(str(p) for p in parts)])


def legacy_seal_root() -> Path:
    """Where an earlier version kept seals as files (imported by storage_migrate)."""
    override = os.environ.get("YW_SEAL_DIR")
    if override:
        return Path(override)
    from django.conf import settings

    return Path(settings.VAR_DIR) / "seals"


def _keyring():
    from office import keyring

    return keyring


def _put(name: str, data: bytes, *, secret: bool = False, create_only: bool = False) -> None:
    _keyring().put(name, data, secret=secret, create_only=create_only)


def _get(name: str) -> bytes | None:
    keyring = _keyring()
    try:
        return keyring.get(name)
    except keyring.KeyringError as exc:
        raise SealError(str(exc)) from None


def _key_bytes(key) -> bytes:
    return key.private_bytes(serialization.Encoding.DER, serialization.PrivateFormat.PKCS8,
                             serialization.NoEncryption())


def _load_key(name: str):
    data = _get(name)
    if data is None:
        raise SealError("印章密钥缺失")
    try:
        return serialization.load_der_private_key(data, password=None)
    except (ValueError, TypeError) as exc:
        raise SealError("印章密钥无法读取（口令不符或数据损坏）") from exc


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class CA:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def _load_ca() -> CA | None:
    pem = _get(_name("ca", "cert"))
    if pem is None:
        return None
    return CA(_load_key(_name("ca", "key")), x509.load_pem_x509_certificate(pem))


def ensure_ca(org_name: str = CA_NAME, *, years: int = 20) -> CA:
    """Load the organisational CA, creating it on first use (one wins when servers race)."""
    from django.db import IntegrityError, transaction

    with _lock:
        found = _load_ca()
        if found is not None:
            return found
        key = ec.generate_private_key(ec.SECP256R1())
        name = x509.Name([
            x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, org_name),
            x509.NameAttribute(NameOID.COMMON_NAME, org_name),
        ])
        now = _now()
        cert = (
            x509.CertificateBuilder()
            .subject_name(name).issuer_name(name)
            .public_key(key.public_key())
            .serial_number(x509.random_serial_number())
            .not_valid_before(now - dt.timedelta(minutes=5))
            .not_valid_after(now + dt.timedelta(days=365 * years))
            .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
            .add_extension(x509.KeyUsage(digital_signature=False, content_commitment=False,
                                         key_encipherment=False, data_encipherment=False, key_agreement=False,
                                         key_cert_sign=True, crl_sign=True, encipher_only=False,
                                         decipher_only=False), critical=True)
            .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
            .sign(key, hashes.SHA256())
        )
        try:
            with transaction.atomic():
                _put(_name("ca", "cert"), cert.public_bytes(serialization.Encoding.PEM), create_only=True)
                _put(_name("ca", "key"), _key_bytes(key), secret=True)
                _put(_name("ca", "manifest"), json.dumps({
                    "name": org_name, "created_at": now.isoformat(), "serial": format(cert.serial_number, "x"),
                    "sha256": cert.fingerprint(hashes.SHA256()).hex(),
                }, ensure_ascii=False, indent=2).encode())
        except IntegrityError:  # another server made it first: use theirs
            return _load_ca()
        return CA(key, cert)


def ca_certificate() -> x509.Certificate | None:
    pem = _get(_name("ca", "cert"))
    return x509.load_pem_x509_certificate(pem) if pem else None


@dataclass
class SealMaterial:
    unit_id: int
    unit_name: str
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    ca_cert: x509.Certificate
    picture: bytes
    manifest: dict


def create_seal(unit_id: int, unit_name: str, *, keeper_id: int | None = None, code: str | None = None,
                years: int = 5, replace: bool = False) -> SealMaterial:
    """Issue a seal for a unit: key, certificate signed by the CA, picture."""
    from django.db import transaction

    if not unit_name.strip():
        raise SealError("单位名称不能为空")
    uid = int(unit_id)
    if _keyring().exists(_name(uid, "cert")) and not replace:
        raise SealError(f"{unit_name}已有印章；更换印章须先注销原印章")
    ca = ensure_ca()
    key = ec.generate_private_key(ec.SECP256R1())
    attrs = [
        x509.NameAttribute(NameOID.COUNTRY_NAME, "CN"),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, unit_name),
        x509.NameAttribute(NameOID.COMMON_NAME, unit_name),
    ]
    if code:
        attrs.append(x509.NameAttribute(NameOID.SERIAL_NUMBER, code))
    now = _now()
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attrs))
        .issuer_name(ca.cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(min(now + dt.timedelta(days=365 * years), ca.cert.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.KeyUsage(digital_signature=True, content_commitment=True, key_encipherment=False,
                                     data_encipherment=False, key_agreement=False, key_cert_sign=False,
                                     crl_sign=False, encipher_only=False, decipher_only=False), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CODE_SIGNING,
                                              x509.ObjectIdentifier("1.2.840.113583.1.1.5")]), critical=False)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .add_extension(x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False)
        .sign(ca.key, hashes.SHA256())
    )
    picture = seal_picture(unit_name)
    manifest = {
        "unit_id": uid,
        "unit_name": unit_name,
        "code": code,
        "keeper_id": keeper_id,
        "created_at": now.isoformat(),
        "not_after": cert.not_valid_after_utc.isoformat(),
        "serial": format(cert.serial_number, "x"),
        "sha256": cert.fingerprint(hashes.SHA256()).hex(),
        "picture_sha256": hashlib.sha256(picture).hexdigest(),
        "revoked_at": None,
    }
    with transaction.atomic():
        _put(_name(uid, "key"), _key_bytes(key), secret=True)
        _put(_name(uid, "cert"), cert.public_bytes(serialization.Encoding.PEM))
        _put(_name(uid, "picture"), picture)
        _put(_name(uid, "manifest"), json.dumps(manifest, ensure_ascii=False, indent=2).encode())
    return SealMaterial(uid, unit_name, key, cert, ca.cert, picture, manifest)


def manifest(unit_id: int) -> dict | None:
    data = _get(_name(int(unit_id), "manifest"))
    return json.loads(data) if data else None


def picture(unit_id: int) -> bytes | None:
    return _get(_name(int(unit_id), "picture"))


def load_seal(unit_id: int) -> SealMaterial:
    uid = int(unit_id)
    found = manifest(uid)
    if found is None:
        raise SealError("该单位尚未制作电子印章")
    if found.get("revoked_at"):
        raise SealError(f"{found['unit_name']}的印章已注销")
    pic = picture(uid) or b""
    if hashlib.sha256(pic).hexdigest() != found.get("picture_sha256"):
        raise SealError("印章图像与登记不符，已拒绝使用")
    cert = x509.load_pem_x509_certificate(_get(_name(uid, "cert")))
    ca = ca_certificate()
    if ca is None:
        raise SealError("组织CA缺失")
    return SealMaterial(uid, found["unit_name"], _load_key(_name(uid, "key")), cert, ca, pic, found)


def has_seal(unit_id: int) -> bool:
    return _keyring().exists(_name(int(unit_id), "manifest"))


def log_use(unit_id: int, *, person_id: int | None, document_id: int | None, purpose: str,
            digest: str | None = None) -> dict:
    """Append one line to the unit's 用印 log."""
    entry = {"at": _now().isoformat(), "person_id": person_id, "document_id": document_id,
             "purpose": purpose, "sha256": digest}
    _keyring().append_line(_name(int(unit_id), "usage"), json.dumps(entry, ensure_ascii=False).encode())
    return entry


def usage_log(unit_id: int) -> list[dict]:
    data = _get(_name(int(unit_id), "usage")) or b""
    return [json.loads(line) for line in data.decode("utf-8").splitlines() if line.strip()]


def import_legacy(root: Path | None = None, progress=None) -> int:
    """Copy seals kept as files by an earlier version (<root>/ca, <root>/<unit_id>) into the
    database; entries already there are kept. Returns how many units (and the CA) were imported."""
    from django.db import transaction

    root = Path(root or legacy_seal_root())
    if not root.is_dir():
        return 0
    legacy_pass = _keyring().passphrase().encode()

    def key_of(path):
        try:
            return serialization.load_pem_private_key(path.read_bytes(), password=legacy_pass)
        except (ValueError, TypeError) as exc:
            raise SealError(f"{path}: 印章密钥无法读取（口令不符或文件损坏）") from exc

    done = 0
    folders = sorted(p for p in root.iterdir() if p.is_dir())
    for folder in folders:
        with transaction.atomic():
            if folder.name == "ca" and (folder / "ca_cert.pem").exists():
                if not _keyring().exists(_name("ca", "cert")):
                    _put(_name("ca", "key"), _key_bytes(key_of(folder / "ca_key.pem")), secret=True)
                    _put(_name("ca", "cert"), (folder / "ca_cert.pem").read_bytes())
                    if (folder / "manifest.json").exists():
                        _put(_name("ca", "manifest"), (folder / "manifest.json").read_bytes())
                    done += 1
            elif folder.name.isdigit() and (folder / "manifest.json").exists():
                uid = int(folder.name)
                if not has_seal(uid):
                    _put(_name(uid, "key"), _key_bytes(key_of(folder / "key.pem")), secret=True)
                    _put(_name(uid, "cert"), (folder / "cert.pem").read_bytes())
                    _put(_name(uid, "picture"), (folder / "seal.png").read_bytes())
                    if (folder / "usage.jsonl").exists():
                        _put(_name(uid, "usage"), (folder / "usage.jsonl").read_bytes())
                    _put(_name(uid, "manifest"), (folder / "manifest.json").read_bytes())
                    done += 1
        if progress:
            progress()
    return done


# ------------------------------------------------------------------ picture

def _seal_font(size: int):
    from PIL import ImageFont

    from documents.render import fonts

    chosen = fonts.discover()
    for role in ("heiti", "songti", "fangsong"):
        ff = chosen.get(role)
        if ff:
            try:
                return ImageFont.truetype(ff.path, size, index=ff.index)
            except OSError:
                continue
    return ImageFont.load_default()


def seal_picture(name: str, *, px: int = 600, bottom_text: str = "") -> bytes:
    """A red round seal: ring, the unit name arced along the top, a five-pointed
    star in the centre, optional text under it; transparent background, PNG."""
    from PIL import Image, ImageDraw

    scale = 2  # draw big, then downsample for smooth edges
    size = px * scale
    img = Image.new("RGBA", (size, size), (0, 0, 0, 0))
    draw = ImageDraw.Draw(img)
    red = (230, 0, 18, 255)
    c = size / 2
    ring = size * 0.035
    r_out = size / 2 - ring / 2 - 2
    draw.ellipse([c - r_out, c - r_out, c + r_out, c + r_out], outline=red, width=int(ring))
    # star
    r_star = size * 0.16
    pts = []
    for k in range(10):
        r = r_star if k % 2 == 0 else r_star * 0.382
        a = -math.pi / 2 + k * math.pi / 5
        pts.append((c + r * math.cos(a), c + r * math.sin(a)))
    draw.polygon(pts, fill=red)
    # arced name: characters spread over an arc of up to 240°
    chars = list(name)
    n = len(chars)
    glyph = int(min(size * 0.14, size * 0.5 * math.pi * 1.2 / max(n, 1) * 0.75))
    font = _seal_font(glyph)
    r_text = r_out - ring - glyph * 0.62
    span = min(math.radians(240), math.radians(24) * n + math.radians(10))
    for i, ch in enumerate(chars):
        a = -math.pi / 2 - span / 2 + (span * (i + 0.5) / n)
        tile = Image.new("RGBA", (glyph * 2, glyph * 2), (0, 0, 0, 0))
        tdraw = ImageDraw.Draw(tile)
        bbox = tdraw.textbbox((0, 0), ch, font=font)
        w, h = bbox[2] - bbox[0], bbox[3] - bbox[1]
        tdraw.text((glyph - w / 2 - bbox[0], glyph - h / 2 - bbox[1]), ch, font=font, fill=red)
        rot = tile.rotate(-math.degrees(a + math.pi / 2), resample=Image.BICUBIC)
        x = c + r_text * math.cos(a) - glyph
        y = c + r_text * math.sin(a) - glyph
        img.alpha_composite(rot, (int(x), int(y)))
    if bottom_text:
        f2 = _seal_font(int(size * 0.075))
        bbox = draw.textbbox((0, 0), bottom_text, font=f2)
        draw.text((c - (bbox[2] - bbox[0]) / 2, c + size * 0.22), bottom_text, font=f2, fill=red)
    img = img.resize((px, px), Image.LANCZOS)
    # slight transparency lets the 署名 and date show through, as on paper
    alpha = img.getchannel("A").point(lambda v: int(v * 0.85))
    img.putalpha(alpha)
    buf = io.BytesIO()
    img.save(buf, "PNG", optimize=True)
    return buf.getvalue()
