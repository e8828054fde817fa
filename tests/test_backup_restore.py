"""The restore drill: backup (a consistent pg_dump + the files with their hashes) of an installation on
PostgreSQL and SeaweedFS, restored into an EMPTY database and an EMPTY bucket; then the audit chain
verifies, every file hash matches, the archive's accepted 件 passes archive_check --all with its
components hashing as recorded, and the sealed 公文 and the recording come back byte for byte."""
import json
import os
import subprocess
import sys
import uuid
from pathlib import Path

import pytest

BASE_DIR = Path(__file__).resolve().parent.parent
PG = "postgres://postgres@127.0.0.1:5432"


def _psql(sql):
    subprocess.run(["psql", "-h", "127.0.0.1", "-U", "postgres", "-d", "postgres", "-qAtc", sql],
                   check=True, capture_output=True, text=True, timeout=60)


@pytest.fixture
def databases():
    """Two databases of this helper's own on the machine's PostgreSQL (names unique per run)."""
    tag = uuid.uuid4().hex[:8]
    names = [f"yw_hosts_bk_{tag}_src", f"yw_hosts_bk_{tag}_dst"]
    for name in names:
        _psql(f"CREATE DATABASE {name}")
    yield [f"{PG}/{n}" for n in names]
    for name in names:
        _psql(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


def manage(env, *args, check=True):
    done = subprocess.run([sys.executable, "manage.py", *args], cwd=BASE_DIR, env=env, capture_output=True,
                          text=True, timeout=600)
    if check and done.returncode:
        raise AssertionError(f"manage.py {' '.join(args)} failed:\n{done.stdout}\n{done.stderr}")
    return done


def test_it_restores_a_backup_into_an_empty_database_and_bucket_with_every_hash_matching(
        seaweed, databases, tmp_path):
    src_db, dst_db = databases
    buckets = [seaweed.create_bucket(f"yw-bk-{uuid.uuid4().hex[:8]}-{n}") for n in ("src", "dst")]
    base = {**os.environ, "DJANGO_SETTINGS_MODULE": "office.settings", "YW_VAR_DIR": str(tmp_path / "var"),
            "MEDIA_ROOT": str(tmp_path / "media-stays-empty"), "YW_SEAL_PASSPHRASE": "drill-passphrase-1",
            "YW_JOBS_IN_PROCESS": "0"}
    base.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
    src = {**base, "DATABASE_URL": src_db, **seaweed.settings(buckets[0])}
    dst = {**base, "DATABASE_URL": dst_db, **seaweed.settings(buckets[1])}

    manage(src, "migrate", "--noinput", "-v0")
    made = subprocess.run([sys.executable, "tests/backup_scenario.py"], cwd=BASE_DIR, env=src, check=True,
                          capture_output=True, text=True, timeout=600)
    made = json.loads(made.stdout.strip().splitlines()[-1])

    out = tmp_path / "backup"
    done = manage(src, "backup", "--out", str(out))
    assert "备份完成" in done.stdout
    manifest = json.loads((out / "files.json").read_text())
    names = {f["name"] for f in manifest["files"]}
    assert {made["attachment"], f"documents/{made['document']}/issued.pdf", made["recording"]} <= names
    assert {c["name"] for c in made["components"]} <= names and len(made["components"]) >= 2
    assert (out / "database.dump").stat().st_size > 10_000

    # empty database, empty bucket
    client = seaweed.client()
    assert client.list_objects_v2(Bucket=buckets[1]).get("KeyCount", 0) == 0
    done = manage(dst, "restore", "--from", str(out))
    assert "哈希全部一致" in done.stdout
    restored = {o["Key"] for o in client.list_objects_v2(Bucket=buckets[1])["Contents"]}
    assert names <= restored and not any("/.v/" in key for key in restored)

    assert "哈希链校验通过" in manage(dst, "audit_verify").stdout
    assert f"全部 {len(names)} 个文件校验通过" in manage(dst, "storage_verify").stdout
    # the archive's own 四性 check of the restored holdings (the accepted 件 among them)
    assert "全部通过" in manage(dst, "archive_check", "--all").stdout
    # each component of the 件 hashes (SHA-256 and SM3, read from the restored bucket) as it was
    # recorded at 接收, and the recording is the one made before
    check = subprocess.run(
        [sys.executable, "-c",
         "import django,json;django.setup();"
         "from documents.archive import store;from documents.archive.models import Item;"
         "from office import storage;"
         f"item=Item.objects.get(id={made['item']});"
         "print(json.dumps({'state':item.state,'code':item.archival_code,"
         "'components':[{'name':c.storage_name,'sha256':c.sha256,'sm3':c.sm3,'size':c.size,"
         "'stored':list(store.hash_stored(c.storage_name))} for c in item.components.order_by('order')],"
         f"'recording':storage.read({made['recording']!r}).hex()[:8],"
         f"'recording_sha256':storage.record({made['recording']!r}).sha256,"
         f"'recording_ok':storage.verify({made['recording']!r})}}))"],
        cwd=BASE_DIR, env=dst, check=True, capture_output=True, text=True, timeout=300)
    after = json.loads(check.stdout.strip().splitlines()[-1])
    assert after["state"] == "accepted" and after["code"] == made["archival_code"]
    assert [{k: c[k] for k in ("name", "sha256", "sm3", "size")} for c in after["components"]] == made["components"]
    for c in after["components"]:
        assert c["stored"] == [c["sha256"], c["sm3"], c["size"]], c["name"]
    assert after["recording"] == "1a45dfa3" and after["recording_ok"]  # a WebM, hash checked whole
    assert after["recording_sha256"] == made["recording_sha256"]
    # the sealed PDF is byte for byte the one issued before, and still verifies against the restored CA
    check = subprocess.run(
        [sys.executable, "-c",
         "import django,os,sys,hashlib;django.setup();"
         "from office import storage;from documents.signing.pades import verify_pdf;"
         f"data=storage.read('documents/{made['document']}/issued.pdf');"
         "r=verify_pdf(data);print(len(data), r.valid)"],
        cwd=BASE_DIR, env=dst, check=True, capture_output=True, text=True, timeout=300)
    assert check.stdout.split() == [str(made["pdf_len"]), "True"]
    assert not (tmp_path / "media-stays-empty").exists()

    # a restore never writes over a database that has data
    again = manage(dst, "restore", "--from", str(out), check=False)
    assert again.returncode != 0 and "只能恢复到空数据库" in again.stderr
