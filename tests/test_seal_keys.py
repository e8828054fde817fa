"""Seal and CA keys in the database under envelope encryption, readable from any server; the passphrase rotates."""
import pytest
from django.core.management import CommandError, call_command

from documents.signing import ca
from office import keyring
from office.models import KeyEncryptionKey, KeyMaterial

pytestmark = pytest.mark.django_db


@pytest.fixture
def sealed(monkeypatch):
    monkeypatch.setenv("YW_SEAL_PASSPHRASE", "old-passphrase-123")
    return ca.create_seal(41, "秦都区人民政府")


def test_it_keeps_keys_sealed_in_the_database_not_on_the_servers_disk(sealed, settings, tmp_path):
    settings.VAR_DIR = tmp_path
    row = KeyMaterial.objects.get(name="seals/41/key")
    assert row.encrypted and row.kek_id and len(bytes(row.wrapped_key)) == 12 + 32 + 16
    assert not (tmp_path / "seals").exists()
    assert ca.load_seal(41).key.private_numbers() == sealed.key.private_numbers()


def test_it_reports_a_wrong_passphrase_instead_of_garbage(sealed, monkeypatch):
    monkeypatch.setenv("YW_SEAL_PASSPHRASE", "not-the-passphrase")
    with pytest.raises(ca.SealError, match="口令不符"):
        ca.load_seal(41)


def test_it_refuses_an_entry_moved_under_another_name(sealed):
    row = KeyMaterial.objects.get(name="seals/41/key")
    KeyMaterial.objects.create(name="seals/42/key", data=row.data, encrypted=True, nonce=b"",
                               wrapped_key=row.wrapped_key, kek_id=row.kek_id)
    with pytest.raises(keyring.KeyringError, match="seals/42/key"):
        keyring.get("seals/42/key")


def test_it_rotates_the_passphrase_by_rewrapping_and_the_old_one_stops_working(sealed, monkeypatch, tmp_path,
                                                                               capsys):
    before = bytes(KeyMaterial.objects.get(name="seals/41/key").data)
    new_file = tmp_path / "new"
    new_file.write_text("new-passphrase-456\n")
    call_command("rotate_seal_passphrase", "--new-file", str(new_file))
    assert "重新加密 2 个密钥" in capsys.readouterr().out  # the CA's key and the unit's
    row = KeyMaterial.objects.get(name="seals/41/key")
    assert bytes(row.data) == before  # the data itself is not re-encrypted, only its key re-wrapped
    assert KeyEncryptionKey.objects.count() == 1 and KeyEncryptionKey.objects.get().kek_id == row.kek_id
    with pytest.raises(ca.SealError, match="口令不符"):
        ca.load_seal(41)
    monkeypatch.setenv("YW_SEAL_PASSPHRASE", "new-passphrase-456")
    assert ca.load_seal(41).key.private_numbers() == sealed.key.private_numbers()


def test_it_changes_nothing_when_the_old_passphrase_is_wrong(sealed, monkeypatch, tmp_path):
    new_file = tmp_path / "new"
    new_file.write_text("new-passphrase-456")
    monkeypatch.setenv("YW_SEAL_PASSPHRASE", "a-wrong-old-one")
    with pytest.raises(CommandError, match="口令不符"):
        call_command("rotate_seal_passphrase", "--new-file", str(new_file))
    monkeypatch.setenv("YW_SEAL_PASSPHRASE", "old-passphrase-123")
    assert ca.load_seal(41).unit_name == "秦都区人民政府"
    with pytest.raises(CommandError, match="12"):
        short = tmp_path / "short"
        short.write_text("short")
        call_command("rotate_seal_passphrase", "--new-file", str(short))


def test_it_imports_seals_an_earlier_version_kept_as_files(monkeypatch, tmp_path):
    """var/seals/<unit>/key.pem (PEM encrypted with the passphrase), cert.pem, seal.png, manifest.json."""
    import json

    from cryptography.hazmat.primitives import serialization

    monkeypatch.setenv("YW_SEAL_PASSPHRASE", "legacy-pass-123")
    with ca.namespace("legacy-made"):
        made = ca.create_seal(77, "咸阳市教育局")
        authority = ca.ensure_ca()
    root = tmp_path / "seals"

    def pem(key):
        return key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                                 serialization.BestAvailableEncryption(b"legacy-pass-123"))

    (root / "ca").mkdir(parents=True)
    (root / "ca" / "ca_key.pem").write_bytes(pem(authority.key))
    (root / "ca" / "ca_cert.pem").write_bytes(authority.cert_pem)
    (root / "77").mkdir()
    (root / "77" / "key.pem").write_bytes(pem(made.key))
    (root / "77" / "cert.pem").write_bytes(made.cert.public_bytes(serialization.Encoding.PEM))
    (root / "77" / "seal.png").write_bytes(made.picture)
    (root / "77" / "manifest.json").write_text(json.dumps(made.manifest, ensure_ascii=False))
    assert ca.import_legacy(root) == 2
    loaded = ca.load_seal(77)
    assert loaded.key.private_numbers() == made.key.private_numbers() and loaded.ca_cert == authority.cert
    assert ca.import_legacy(root) == 0  # once
