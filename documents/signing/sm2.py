"""SM2 signatures with SM3 (GB/T 32918, GB/T 32905, GB/T 35276) and SM2 keys and certificates.

`cryptography` has no SM2 signing and the pure-Python gmssl packages are unmaintained, so this
is a small, direct implementation over the SM2 curve (Jacobian coordinates); SM3 comes from
hashlib (OpenSSL). Signatures are DER SEQUENCE { r, s } over SM3(Z_A || M) with the standard
default user ID 1234567812345678, the form `openssl pkeyutl -verify -rawin -digest sm3` checks
(tests/test_sm2_seals.py verifies them with OpenSSL's command line). Keys are written as PKCS#8
and SubjectPublicKeyInfo (id-ecPublicKey on the SM2 curve), certificates as X.509 v3 signed
SM2-with-SM3 (asn1crypto builds the DER).
"""
from __future__ import annotations

import datetime as dt
import hashlib
import hmac
import secrets
from dataclasses import dataclass

from asn1crypto import algos, keys, x509

P = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFF
A = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFFF00000000FFFFFFFFFFFFFFFC
B = 0x28E9FA9E9D9F5E344D5A9E4BCF6509A7F39789F515AB8F92DDBCBD414D940E93
N = 0xFFFFFFFEFFFFFFFFFFFFFFFFFFFFFFFF7203DF6B21C6052B53BBF40939D54123
GX = 0x32C4AE2C1F1981195F9904466A39C9948FE30BBFF2660BE1715A4589334C74C7
GY = 0xBC3736A2F4F6779C59BDCEE36B692153D0A9877CC62A474002DF32E52139F0A0

OID_SM2_CURVE = "1.2.156.10197.1.301"
OID_SM3 = "1.2.156.10197.1.401"
OID_SM2_SM3 = "1.2.156.10197.1.501"
OID_EC_PUBLIC_KEY = "1.2.840.10045.2.1"
DEFAULT_ID = b"1234567812345678"

keys.NamedCurve.register("sm2p256v1", OID_SM2_CURVE, 32)


class SM2Error(Exception):
    pass


def sm3(data: bytes) -> bytes:
    return hashlib.new("sm3", data).digest()


# ---------------------------------------------------------------- curve arithmetic

def _inv(x: int, m: int) -> int:
    return pow(x, -1, m)


def _double(pt):
    x, y, z = pt
    if y == 0 or z == 0:
        return (0, 1, 0)
    yy = y * y % P
    s = 4 * x * yy % P
    zz = z * z % P
    m = (3 * x * x + A * zz * zz) % P
    x3 = (m * m - 2 * s) % P
    y3 = (m * (s - x3) - 8 * yy * yy) % P
    z3 = 2 * y * z % P
    return (x3, y3, z3)


def _add(p1, p2):
    if p1[2] == 0:
        return p2
    if p2[2] == 0:
        return p1
    x1, y1, z1 = p1
    x2, y2, z2 = p2
    z1z1, z2z2 = z1 * z1 % P, z2 * z2 % P
    u1, u2 = x1 * z2z2 % P, x2 * z1z1 % P
    s1, s2 = y1 * z2 * z2z2 % P, y2 * z1 * z1z1 % P
    if u1 == u2:
        return _double(p1) if s1 == s2 else (0, 1, 0)
    h = (u2 - u1) % P
    r = (s2 - s1) % P
    hh = h * h % P
    hhh = h * hh % P
    v = u1 * hh % P
    x3 = (r * r - hhh - 2 * v) % P
    y3 = (r * (v - x3) - s1 * hhh) % P
    z3 = h * z1 * z2 % P
    return (x3, y3, z3)


def _mul(k: int, point: tuple[int, int]):
    result = (0, 1, 0)
    addend = (point[0], point[1], 1)
    while k:
        if k & 1:
            result = _add(result, addend)
        addend = _double(addend)
        k >>= 1
    return result


def _affine(pt) -> tuple[int, int]:
    x, y, z = pt
    if z == 0:
        raise SM2Error("point at infinity")
    zi = _inv(z, P)
    zi2 = zi * zi % P
    return x * zi2 % P, y * zi2 * zi % P


def on_curve(x: int, y: int) -> bool:
    return 0 <= x < P and 0 <= y < P and (y * y - x * x * x - A * x - B) % P == 0


# ---------------------------------------------------------------- keys

@dataclass(frozen=True)
class PublicKey:
    x: int
    y: int

    @property
    def point(self) -> bytes:
        return b"\x04" + self.x.to_bytes(32, "big") + self.y.to_bytes(32, "big")

    @classmethod
    def from_point(cls, data: bytes) -> "PublicKey":
        if len(data) != 65 or data[0] != 4:
            raise SM2Error("SM2 public key must be an uncompressed point")
        key = cls(int.from_bytes(data[1:33], "big"), int.from_bytes(data[33:], "big"))
        if not on_curve(key.x, key.y):
            raise SM2Error("the point is not on the SM2 curve")
        return key

    def spki(self) -> keys.PublicKeyInfo:
        return keys.PublicKeyInfo({
            "algorithm": {"algorithm": OID_EC_PUBLIC_KEY,
                          "parameters": keys.ECDomainParameters(name="named", value="sm2p256v1")},
            "public_key": self.point,
        })

    def der(self) -> bytes:
        return self.spki().dump()

    def pem(self) -> bytes:
        return _pem("PUBLIC KEY", self.der())

    @classmethod
    def from_spki(cls, info: keys.PublicKeyInfo) -> "PublicKey":
        params = info["algorithm"]["parameters"]
        curve = params.chosen.dotted if params.name == "named" else None  # noqa: the registered sm2p256v1
        if info["algorithm"]["algorithm"].dotted != OID_EC_PUBLIC_KEY or curve != OID_SM2_CURVE:
            raise SM2Error("not an SM2 public key")
        return cls.from_point(info["public_key"].native if isinstance(info["public_key"].native, bytes)
                              else bytes(info["public_key"]))


@dataclass(frozen=True)
class PrivateKey:
    d: int

    @classmethod
    def generate(cls) -> "PrivateKey":
        return cls(secrets.randbelow(N - 2) + 1)

    @property
    def public(self) -> PublicKey:
        x, y = _affine(_mul(self.d, (GX, GY)))
        return PublicKey(x, y)

    def der(self) -> bytes:
        """PKCS#8 (id-ecPublicKey on the SM2 curve), as OpenSSL writes SM2 keys."""
        inner = keys.ECPrivateKey({"version": "ecPrivkeyVer1", "private_key": self.d,
                                   "public_key": self.public.point})
        return keys.PrivateKeyInfo({
            "version": 0,
            "private_key_algorithm": {"algorithm": OID_EC_PUBLIC_KEY,
                                      "parameters": keys.ECDomainParameters(name="named", value="sm2p256v1")},
            "private_key": inner,
        }).dump()

    def pem(self) -> bytes:
        return _pem("PRIVATE KEY", self.der())

    @classmethod
    def from_der(cls, data: bytes) -> "PrivateKey":
        info = keys.PrivateKeyInfo.load(data)
        params = info["private_key_algorithm"]["parameters"]
        if params.name != "named" or params.chosen.dotted != OID_SM2_CURVE:
            raise SM2Error("not an SM2 private key")
        inner = info["private_key"].parsed
        d = inner["private_key"].native
        if not 0 < d < N - 1:
            raise SM2Error("SM2 private key out of range")
        return cls(d)

    def sign(self, message: bytes, *, uid: bytes = DEFAULT_ID) -> bytes:
        """DER SEQUENCE {r, s} over SM3(Z_A || message)."""
        return self.sign_digest(message_digest(self.public, message, uid=uid))

    def sign_digest(self, digest: bytes) -> bytes:
        """The SM2 signature of e = SM3(Z_A || M) computed by the caller (a remote signer sends e)."""
        if len(digest) != 32:
            raise SM2Error("SM2 signs a 32-byte SM3 digest")
        e = int.from_bytes(digest, "big")
        d = self.d
        while True:
            k = _nonce(d, e)
            x1, _y1 = _affine(_mul(k, (GX, GY)))
            r = (e + x1) % N
            if r == 0 or r + k == N:
                continue
            s = _inv(1 + d, N) * (k - r * d) % N
            if s:
                return algos.DSASignature({"r": r, "s": s}).dump()


def _nonce(d: int, e: int) -> int:
    """A fresh random k, mixed with the key and digest (a broken RNG alone cannot repeat k)."""
    seed = secrets.token_bytes(32)
    k = int.from_bytes(hmac.new(d.to_bytes(32, "big"), seed + e.to_bytes(32, "big"), hashlib.sha256).digest(), "big")
    return k % (N - 1) + 1


def message_digest(pub: PublicKey, message: bytes, *, uid: bytes = DEFAULT_ID) -> bytes:
    """e = SM3(Z_A || M), what an SM2 signature signs."""
    return sm3(za(pub, uid) + message)


def za(pub: PublicKey, uid: bytes = DEFAULT_ID) -> bytes:
    entl = (len(uid) * 8).to_bytes(2, "big")
    parts = [A, B, GX, GY, pub.x, pub.y]
    return sm3(entl + uid + b"".join(v.to_bytes(32, "big") for v in parts))


def verify(pub: PublicKey, message: bytes, signature: bytes, *, uid: bytes = DEFAULT_ID) -> bool:
    try:
        sig = algos.DSASignature.load(signature)
        r, s = sig["r"].native, sig["s"].native
        if sig.dump() != signature:
            return False  # not canonical DER
    except (ValueError, TypeError):
        return False
    if not (1 <= r < N and 1 <= s < N):
        return False
    e = int.from_bytes(sm3(za(pub, uid) + message), "big")
    t = (r + s) % N
    if t == 0:
        return False
    pt = _add(_mul(s, (GX, GY)), _mul(t, (pub.x, pub.y)))
    if pt[2] == 0:
        return False
    x1, _ = _affine(pt)
    return (e + x1) % N == r


def _pem(label: str, der: bytes) -> bytes:
    import base64

    b64 = base64.encodebytes(der).decode().replace("\n", "")
    lines = [b64[i:i + 64] for i in range(0, len(b64), 64)]
    return (f"-----BEGIN {label}-----\n" + "\n".join(lines) + f"\n-----END {label}-----\n").encode()


def pem_der(pem: bytes) -> bytes:
    import base64

    body = b"".join(line for line in pem.strip().splitlines() if not line.startswith(b"-----"))
    return base64.b64decode(body)


# ---------------------------------------------------------------- certificates

def _name(common: str, org: str, code: str | None = None) -> x509.Name:
    attrs = {"country_name": "CN", "organization_name": org, "common_name": common}
    if code:
        attrs["serial_number"] = code
    return x509.Name.build(attrs, use_printable=False)


def _time(t: dt.datetime) -> x509.Time:
    t = t.astimezone(dt.timezone.utc).replace(microsecond=0)
    return x509.Time({"utc_time": t} if t.year < 2050 else {"general_time": t})


def make_certificate(*, subject_key: PublicKey, subject: x509.Name, issuer: x509.Name, issuer_key: PrivateKey,
                     not_before: dt.datetime, not_after: dt.datetime, ca: bool, serial: int | None = None,
                     issuer_key_id: bytes | None = None) -> x509.Certificate:
    """An X.509 v3 certificate signed SM2-with-SM3 by `issuer_key`."""
    key_id = hashlib.sha1(subject_key.point).digest()
    exts = [
        {"extn_id": "basic_constraints", "critical": True, "extn_value": {"ca": ca}},
        {"extn_id": "key_usage", "critical": True,
         "extn_value": {"key_cert_sign", "crl_sign"} if ca else {"digital_signature", "non_repudiation"}},
        {"extn_id": "key_identifier", "critical": False, "extn_value": key_id},
        {"extn_id": "authority_key_identifier", "critical": False,
         "extn_value": {"key_identifier": issuer_key_id or key_id}},
    ]
    tbs = x509.TbsCertificate({
        "version": "v3",
        "serial_number": serial or secrets.randbits(63) + 1,
        "signature": {"algorithm": OID_SM2_SM3},
        "issuer": issuer,
        "validity": {"not_before": _time(not_before), "not_after": _time(not_after)},
        "subject": subject,
        "subject_public_key_info": subject_key.spki(),
        "extensions": exts,
    })
    signature = issuer_key.sign(tbs.dump())
    return x509.Certificate({"tbs_certificate": tbs, "signature_algorithm": {"algorithm": OID_SM2_SM3},
                             "signature_value": signature})


def certificate_key(cert: x509.Certificate) -> PublicKey:
    return PublicKey.from_spki(cert["tbs_certificate"]["subject_public_key_info"])


def certificate_pem(cert: x509.Certificate) -> bytes:
    return _pem("CERTIFICATE", cert.dump())


def check_issued_by(cert: x509.Certificate, issuer: x509.Certificate, *, at: dt.datetime | None = None) -> str | None:
    """None when `cert` was signed by `issuer`'s key (SM2-with-SM3), is within its validity and
    the issuer is a CA; otherwise the reason (Chinese)."""
    if cert["signature_algorithm"]["algorithm"].dotted != OID_SM2_SM3:
        return "证书签名算法不是SM2-SM3"
    if cert.issuer != issuer.subject:
        return "证书不是由本系统的组织CA签发"
    if not issuer.ca:
        return "签发者不是CA证书"
    if not verify(certificate_key(issuer), cert["tbs_certificate"].dump(), cert["signature_value"].native):
        return "证书签名无效"
    now = at or dt.datetime.now(dt.timezone.utc)
    validity = cert["tbs_certificate"]["validity"]
    if not validity["not_before"].native <= now <= validity["not_after"].native:
        return "证书不在有效期内"
    return None
