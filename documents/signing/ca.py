"""The organisational CA and per-unit seals (picture, certificate, key).

Material lives as files under <VAR_DIR>/seals/ (var/ is git-ignored):

    seals/ca/ca_key.pem  ca_cert.pem  manifest.json
    seals/<unit_id>/key.pem  cert.pem  seal.png  manifest.json  usage.jsonl

Keys are ECDSA P-256, PEM, encrypted with a passphrase from the secret
YW_SEAL_PASSPHRASE (or YW_SEAL_PASSPHRASE_FILE), else Django's SECRET_KEY;
files are mode 0600. The manifest records the unit, its keeper (the unit's
secretary keeps the seal), the certificate serial and fingerprint.
usage.jsonl is the 用印 log (one JSON line per use). A database model for
seals can come later; these files are the source of truth until then.

Note: only a seal issued through the government e-seal authority (GB/T 38540,
SM2) carries legal weight; this CA makes PAdES signatures for integrity and
provenance inside the suite. A licensed service plugs in via signing.remote.
"""
from __future__ import annotations

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


class SealError(Exception):
    """A seal operation that cannot proceed; the message is for people (Chinese)."""


def seal_root() -> Path:
    override = os.environ.get("YW_SEAL_DIR")
    if override:
        return Path(override)
    try:
        from django.conf import settings

        if settings.configured:
            return Path(settings.VAR_DIR) / "seals"
    except Exception:  # pragma: no cover
        pass
    return Path(__file__).resolve().parent.parent.parent / "var" / "seals"


def _passphrase() -> bytes:
    value = os.environ.get("YW_SEAL_PASSPHRASE")
    path = os.environ.get("YW_SEAL_PASSPHRASE_FILE")
    if not value and path:
        value = Path(path).read_text().strip()
    if not value:
        try:
            from django.conf import settings

            value = settings.SECRET_KEY
        except Exception:  # pragma: no cover
            value = None
    if not value:
        raise SealError("未配置印章密钥口令（YW_SEAL_PASSPHRASE）")
    return value.encode()


def _write(path: Path, data: bytes, private: bool = False) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _key_pem(key) -> bytes:
    return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                             serialization.BestAvailableEncryption(_passphrase()))


def _load_key(path: Path):
    try:
        return serialization.load_pem_private_key(path.read_bytes(), password=_passphrase())
    except (ValueError, TypeError) as exc:
        raise SealError("印章密钥无法读取（口令不符或文件损坏）") from exc


def _now() -> dt.datetime:
    return dt.datetime.now(dt.timezone.utc)


@dataclass
class CA:
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate

    @property
    def cert_pem(self) -> bytes:
        return self.cert.public_bytes(serialization.Encoding.PEM)


def ensure_ca(org_name: str = CA_NAME, *, years: int = 20) -> CA:
    """Load the organisational CA, creating it on first use."""
    root = seal_root() / "ca"
    with _lock:
        if (root / "ca_cert.pem").exists():
            cert = x509.load_pem_x509_certificate((root / "ca_cert.pem").read_bytes())
            return CA(_load_key(root / "ca_key.pem"), cert)
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
        _write(root / "ca_key.pem", _key_pem(key), private=True)
        _write(root / "ca_cert.pem", cert.public_bytes(serialization.Encoding.PEM))
        _write(root / "manifest.json", json.dumps({
            "name": org_name, "created_at": now.isoformat(), "serial": format(cert.serial_number, "x"),
            "sha256": cert.fingerprint(hashes.SHA256()).hex(),
        }, ensure_ascii=False, indent=2).encode())
        return CA(key, cert)


def ca_certificate() -> x509.Certificate | None:
    path = seal_root() / "ca" / "ca_cert.pem"
    return x509.load_pem_x509_certificate(path.read_bytes()) if path.exists() else None


@dataclass
class SealMaterial:
    unit_id: int
    unit_name: str
    key: ec.EllipticCurvePrivateKey
    cert: x509.Certificate
    ca_cert: x509.Certificate
    picture: bytes
    manifest: dict

    @property
    def directory(self) -> Path:
        return seal_root() / str(self.unit_id)


def seal_dir(unit_id: int) -> Path:
    return seal_root() / str(int(unit_id))


def create_seal(unit_id: int, unit_name: str, *, keeper_id: int | None = None, code: str | None = None,
                years: int = 5, replace: bool = False) -> SealMaterial:
    """Issue a seal for a unit: key, certificate signed by the CA, picture."""
    if not unit_name.strip():
        raise SealError("单位名称不能为空")
    d = seal_dir(unit_id)
    if (d / "cert.pem").exists() and not replace:
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
        "unit_id": int(unit_id),
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
    _write(d / "key.pem", _key_pem(key), private=True)
    _write(d / "cert.pem", cert.public_bytes(serialization.Encoding.PEM))
    _write(d / "seal.png", picture)
    _write(d / "manifest.json", json.dumps(manifest, ensure_ascii=False, indent=2).encode())
    return SealMaterial(int(unit_id), unit_name, key, cert, ca.cert, picture, manifest)


def load_seal(unit_id: int) -> SealMaterial:
    d = seal_dir(unit_id)
    if not (d / "manifest.json").exists():
        raise SealError("该单位尚未制作电子印章")
    manifest = json.loads((d / "manifest.json").read_text())
    if manifest.get("revoked_at"):
        raise SealError(f"{manifest['unit_name']}的印章已注销")
    picture = (d / "seal.png").read_bytes()
    if hashlib.sha256(picture).hexdigest() != manifest.get("picture_sha256"):
        raise SealError("印章图像与登记不符，已拒绝使用")
    cert = x509.load_pem_x509_certificate((d / "cert.pem").read_bytes())
    ca = ca_certificate()
    if ca is None:
        raise SealError("组织CA缺失")
    return SealMaterial(int(unit_id), manifest["unit_name"], _load_key(d / "key.pem"), cert, ca, picture, manifest)


def has_seal(unit_id: int) -> bool:
    return (seal_dir(unit_id) / "manifest.json").exists()


def log_use(unit_id: int, *, person_id: int | None, document_id: int | None, purpose: str,
            digest: str | None = None) -> dict:
    """Append one line to the unit's 用印 log."""
    entry = {"at": _now().isoformat(), "person_id": person_id, "document_id": document_id,
             "purpose": purpose, "sha256": digest}
    path = seal_dir(unit_id) / "usage.jsonl"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a", encoding="utf-8") as fh:
        fh.write(json.dumps(entry, ensure_ascii=False) + "\n")
    return entry


def usage_log(unit_id: int) -> list[dict]:
    path = seal_dir(unit_id) / "usage.jsonl"
    if not path.exists():
        return []
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]


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
