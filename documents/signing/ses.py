"""GB/T 38540-2020 electronic seal structures (V4): SES_Seal and SES_Signature, in DER.

    SESeal        ::= SEQUENCE { eSealInfo SES_SealInfo, cert OCTET STRING, signAlgID OID, signedValue BIT STRING }
    SES_SealInfo  ::= SEQUENCE { header SES_Header, esID IA5String, property SES_ESPropertyInfo,
                                 picture SES_ESPictrueInfo, extDatas ExtensionDatas OPTIONAL }
    TBS_Sign      ::= SEQUENCE { version INTEGER, eseal SESeal, timeInfo GeneralizedTime, dataHash BIT STRING,
                                 propertyInfo IA5String, extDatas ExtensionDatas OPTIONAL }
    SES_Signature ::= SEQUENCE { toSign TBS_Sign, cert OCTET STRING, signatureAlgID OID, signature BIT STRING,
                                 timeStamp [0] BIT STRING OPTIONAL }

The seal's maker (the suite's SM2 organisational CA) signs the DER of eSealInfo; a signature
signs the DER of toSign with the unit's SM2 key. Both signatures are DER SEQUENCE { r, s }.
"""
from __future__ import annotations

import datetime as dt

from asn1crypto import core

from . import sm2

VERSION = 4


class SESHeader(core.Sequence):
    _fields = [("id", core.IA5String), ("version", core.Integer), ("vid", core.IA5String)]


class CertList(core.SequenceOf):
    _child_spec = core.OctetString


class SESPropertyInfo(core.Sequence):
    _fields = [("type", core.Integer), ("name", core.UTF8String), ("cert_list_type", core.Integer),
               ("cert_list", CertList), ("create_date", core.GeneralizedTime),
               ("valid_start", core.GeneralizedTime), ("valid_end", core.GeneralizedTime)]


class SESPictureInfo(core.Sequence):
    _fields = [("type", core.IA5String), ("data", core.OctetString), ("width", core.Integer),
               ("height", core.Integer)]


class SESSealInfo(core.Sequence):
    _fields = [("header", SESHeader), ("es_id", core.IA5String), ("property", SESPropertyInfo),
               ("picture", SESPictureInfo)]


class SESeal(core.Sequence):
    _fields = [("seal_info", SESSealInfo), ("cert", core.OctetString), ("sign_alg_id", core.ObjectIdentifier),
               ("signed_value", core.OctetBitString)]


class TBSSign(core.Sequence):
    _fields = [("version", core.Integer), ("eseal", SESeal), ("time_info", core.GeneralizedTime),
               ("data_hash", core.OctetBitString), ("property_info", core.IA5String)]


class SESSignature(core.Sequence):
    _fields = [("to_sign", TBSSign), ("cert", core.OctetString), ("signature_alg_id", core.ObjectIdentifier),
               ("signature", core.OctetBitString),
               ("time_stamp", core.OctetBitString, {"explicit": 0, "optional": True})]


def _utc(t: dt.datetime) -> dt.datetime:
    return t.astimezone(dt.timezone.utc).replace(microsecond=0)


def make_seal(*, es_id: str, name: str, unit_cert_der: bytes, maker_cert_der: bytes, maker_key: sm2.PrivateKey,
              picture_png: bytes, width_mm: int, height_mm: int, valid_start: dt.datetime,
              valid_end: dt.datetime) -> bytes:
    """An SES_Seal (type 1 = official seal) naming the unit's certificate, signed by the maker."""
    now = _utc(dt.datetime.now(dt.timezone.utc))
    info = SESSealInfo({
        "header": {"id": "ES", "version": VERSION, "vid": "Yiwangtong"},
        "es_id": es_id,
        "property": {"type": 1, "name": name, "cert_list_type": 1, "cert_list": [unit_cert_der],
                     "create_date": now, "valid_start": _utc(valid_start), "valid_end": _utc(valid_end)},
        "picture": {"type": "PNG", "data": picture_png, "width": width_mm, "height": height_mm},
    })
    signed = maker_key.sign(info.dump())
    return SESeal({"seal_info": info, "cert": maker_cert_der, "sign_alg_id": sm2.OID_SM2_SM3,
                   "signed_value": signed}).dump()


def make_signature(*, seal_der: bytes, data_hash: bytes, property_info: str, signer_cert_der: bytes,
                   sign, at: dt.datetime | None = None) -> bytes:
    """An SES_Signature over `data_hash` (the SM3 digest of the signed file); `sign(data)` returns
    the unit's SM2 signature (DER) of data (a local key or a remote e-seal service)."""
    tbs = TBSSign({"version": VERSION, "eseal": SESeal.load(seal_der),
                   "time_info": _utc(at or dt.datetime.now(dt.timezone.utc)),
                   "data_hash": data_hash, "property_info": property_info})
    signature = sign(tbs.dump())
    return SESSignature({"to_sign": tbs, "cert": signer_cert_der, "signature_alg_id": sm2.OID_SM2_SM3,
                         "signature": signature}).dump()


def load_signature(data: bytes) -> SESSignature:
    sig = SESSignature.load(data)
    sig.native  # parse every field now: malformed input fails here, not later
    return sig
