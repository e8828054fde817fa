"""Who signs: a small Signer interface, the local seal signer, and a remote one.

A licensed e-seal service (government seal authority) keeps the keys itself and
signs digests on request; RemoteESealSigner talks to such a service through the
RemoteESealService protocol. FakeRemoteESealService is a FAKE of that service
for tests: it keeps keys in memory, checks a token, and logs calls.

The 国密 variant (GB/T 38540 seals on OFD): SM2Signer gives the unit's SES_Seal and SM2
certificate and signs; LocalSM2Signer uses the suite's SM2 seal (signing.gm_seals),
RemoteSM2Signer sends e = SM3(Z_A || M) to the service (sign_sm2_digest), whose key never
leaves it.
"""
from __future__ import annotations

import hashlib
import secrets
from abc import ABC, abstractmethod
from dataclasses import dataclass, field
from typing import Protocol

from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import ec, utils

_HASHES = {"sha256": hashes.SHA256, "sha384": hashes.SHA384, "sha512": hashes.SHA512}


class SigningRefused(Exception):
    """The signer (or the remote service) refused; message in Chinese."""


class Signer(ABC):
    """Produces raw ECDSA signatures for one seal."""

    #: the 署名 this signer stands for (the unit name)
    organ: str
    #: picture of the seal (PNG) used as the visible stamp
    picture: bytes

    @property
    @abstractmethod
    def certificate(self) -> x509.Certificate: ...

    @property
    def chain(self) -> list[x509.Certificate]:
        """Issuer certificates (without the signer's own)."""
        return []

    @abstractmethod
    def sign_raw(self, data: bytes, digest_algorithm: str = "sha256") -> bytes:
        """DER-encoded ECDSA signature over `data` hashed with digest_algorithm."""


class LocalSealSigner(Signer):
    """Signs with a seal whose key is kept by the suite (signing.ca)."""

    def __init__(self, material):
        self.material = material
        self.organ = material.unit_name
        self.picture = material.picture

    @property
    def certificate(self) -> x509.Certificate:
        return self.material.cert

    @property
    def chain(self) -> list[x509.Certificate]:
        return [self.material.ca_cert]

    def sign_raw(self, data: bytes, digest_algorithm: str = "sha256") -> bytes:
        algo = _HASHES[digest_algorithm.lower()]()
        return self.material.key.sign(data, ec.ECDSA(algo))


class SM2Signer(ABC):
    """Produces SM2 signatures (DER r, s over SM3(Z_A || M), default user ID) for one 国密 seal."""

    organ: str
    picture: bytes
    #: the unit's SES_Seal (DER)
    seal: bytes
    #: the signer's SM2 certificate (DER)
    certificate_der: bytes

    @abstractmethod
    def sign_sm2(self, data: bytes) -> bytes: ...


class LocalSM2Signer(SM2Signer):
    """Signs with an SM2 seal kept by the suite (signing.gm_seals)."""

    def __init__(self, gm_seal):
        self.gm_seal = gm_seal
        self.organ = gm_seal.unit_name
        self.picture = gm_seal.picture
        self.seal = gm_seal.seal
        self.certificate_der = gm_seal.cert_der

    def sign_sm2(self, data: bytes) -> bytes:
        return self.gm_seal.key.sign(data)


class RemoteSM2Signer(SM2Signer):
    """Delegates the SM2 signature to a remote e-seal service (it holds the key)."""

    def __init__(self, service, seal_id: str, *, token: str, organ: str):
        from . import sm2

        self.service = service
        self.seal_id = seal_id
        self.token = token
        self.organ = organ
        self.seal = service.sm2_seal(seal_id)
        self.certificate_der = service.sm2_certificate(seal_id)
        self.picture = service.seal_picture(seal_id)
        from asn1crypto import x509 as ax509

        self._public = sm2.certificate_key(ax509.Certificate.load(self.certificate_der))

    def sign_sm2(self, data: bytes) -> bytes:
        from . import sm2

        digest = sm2.message_digest(self._public, data)
        return self.service.sign_sm2_digest(self.seal_id, digest, token=self.token)


class RemoteESealService(Protocol):
    """What a licensed remote e-seal service offers (by HTTP in real life)."""

    def certificate_chain(self, seal_id: str) -> list[bytes]: ...  # DER, signer first

    def seal_picture(self, seal_id: str) -> bytes: ...

    def sign_digest(self, seal_id: str, digest: bytes, algorithm: str, *, token: str) -> bytes: ...

    # the 国密 variant
    def sm2_seal(self, seal_id: str) -> bytes: ...  # the SES_Seal (DER)

    def sm2_certificate(self, seal_id: str) -> bytes: ...  # DER

    def sign_sm2_digest(self, seal_id: str, digest: bytes, *, token: str) -> bytes: ...  # e = SM3(Z_A || M)


class RemoteESealSigner(Signer):
    """Delegates the signature to a remote e-seal service; the key never leaves it."""

    def __init__(self, service: RemoteESealService, seal_id: str, *, token: str, organ: str):
        self.service = service
        self.seal_id = seal_id
        self.token = token
        self.organ = organ
        ders = service.certificate_chain(seal_id)
        self._certs = [x509.load_der_x509_certificate(d) for d in ders]
        self.picture = service.seal_picture(seal_id)

    @property
    def certificate(self) -> x509.Certificate:
        return self._certs[0]

    @property
    def chain(self) -> list[x509.Certificate]:
        return self._certs[1:]

    def sign_raw(self, data: bytes, digest_algorithm: str = "sha256") -> bytes:
        digest = hashlib.new(digest_algorithm.lower(), data).digest()
        return self.service.sign_digest(self.seal_id, digest, digest_algorithm.lower(), token=self.token)


@dataclass
class FakeRemoteESealService:
    """A FAKE remote e-seal service for tests. Not a seal authority: it keeps the
    keys of seals made by signing.ca in memory and signs digests for a token."""

    seals: dict = field(default_factory=dict)  # seal_id → (material, token)
    calls: list = field(default_factory=list)

    def enrol(self, material) -> tuple[str, str]:
        seal_id = f"fake-{material.unit_id}-{secrets.token_hex(4)}"
        token = secrets.token_urlsafe(16)
        self.seals[seal_id] = (material, token)
        return seal_id, token

    def certificate_chain(self, seal_id: str) -> list[bytes]:
        from cryptography.hazmat.primitives.serialization import Encoding

        material, _ = self._get(seal_id)
        return [material.cert.public_bytes(Encoding.DER), material.ca_cert.public_bytes(Encoding.DER)]

    def seal_picture(self, seal_id: str) -> bytes:
        return self._get(seal_id)[0].picture

    def sign_digest(self, seal_id: str, digest: bytes, algorithm: str, *, token: str) -> bytes:
        material, expected = self._get(seal_id)
        self.calls.append({"seal_id": seal_id, "algorithm": algorithm, "digest": digest.hex()})
        if not secrets.compare_digest(token, expected):
            raise SigningRefused("电子印章服务拒绝签章：授权令牌无效")
        algo = _HASHES[algorithm]()
        if len(digest) != algo.digest_size:
            raise SigningRefused("电子印章服务拒绝签章：摘要长度不符")
        return material.key.sign(digest, ec.ECDSA(utils.Prehashed(algo)))

    def enrol_sm2(self, gm_seal) -> tuple[str, str]:
        """Take an SM2 seal (signing.gm_seals.GmSeal) into the fake service."""
        seal_id = f"fake-sm2-{gm_seal.unit_id}-{secrets.token_hex(4)}"
        token = secrets.token_urlsafe(16)
        self.seals[seal_id] = (gm_seal, token)
        return seal_id, token

    def sm2_seal(self, seal_id: str) -> bytes:
        return self._get(seal_id)[0].seal

    def sm2_certificate(self, seal_id: str) -> bytes:
        return self._get(seal_id)[0].cert_der

    def sign_sm2_digest(self, seal_id: str, digest: bytes, *, token: str) -> bytes:
        gm_seal, expected = self._get(seal_id)
        self.calls.append({"seal_id": seal_id, "algorithm": "sm2-sm3", "digest": digest.hex()})
        if not secrets.compare_digest(token, expected):
            raise SigningRefused("电子印章服务拒绝签章：授权令牌无效")
        if len(digest) != 32:
            raise SigningRefused("电子印章服务拒绝签章：摘要长度不符")
        return gm_seal.key.sign_digest(digest)

    def _get(self, seal_id: str):
        if seal_id not in self.seals:
            raise SigningRefused("电子印章服务中没有该印章")
        return self.seals[seal_id]
