"""A consistent backup of the suite (database + files) and its restore (`manage.py backup`, `restore`).

    DIR/database.dump      PostgreSQL custom-format dump (pg_dump --snapshot), or database.sqlite3
    DIR/files.json         the manifest: every stored file's name, size and SHA-256, read in the
                           same snapshot as the dump, so the dump and the manifest agree
    DIR/objects/<name>     the files themselves (unless --no-files: the bucket is replicated)

Restore loads the dump into an empty database and puts each file back into the configured
storage (an empty bucket, or MEDIA_ROOT), checking every hash against the manifest.
"""
from __future__ import annotations

import hashlib
import json
import os
import shutil
import sqlite3
import subprocess
from pathlib import Path

from django.db import connection, transaction
from django.utils.translation import gettext as _

from office import storage

FORMAT = 1


class BackupError(Exception):
    pass


def _pg_env(settings_dict):
    env = dict(os.environ)
    if settings_dict.get("PASSWORD"):
        env["PGPASSWORD"] = settings_dict["PASSWORD"]
    return env


def _pg_args(settings_dict):
    args = ["-h", settings_dict.get("HOST") or "127.0.0.1", "-U", settings_dict.get("USER") or "postgres"]
    if settings_dict.get("PORT"):
        args += ["-p", str(settings_dict["PORT"])]
    return args


def _manifest_rows():
    from office.models import StoredFile

    return [{"name": r.name, "size": r.size, "sha256": r.sha256}
            for r in StoredFile.objects.order_by("name")]


def dump(out: Path, *, files=True, progress=None) -> dict:
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    if any(out.iterdir()):
        raise BackupError(_("目录 %(d)s 不是空的。") % {"d": out})
    sd = connection.settings_dict
    if connection.vendor == "postgresql":
        # One snapshot for the dump and the manifest: pg_dump --snapshot reuses this transaction's.
        with transaction.atomic():
            with connection.cursor() as cur:
                cur.execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ")
                cur.execute("SELECT pg_export_snapshot()")
                snapshot = cur.fetchone()[0]
            done = subprocess.run(["pg_dump", *_pg_args(sd), "-Fc", "--no-owner", f"--snapshot={snapshot}",
                                   "-f", str(out / "database.dump"), sd["NAME"]],
                                  env=_pg_env(sd), capture_output=True, text=True)
            if done.returncode:
                raise BackupError(f"pg_dump: {done.stderr.strip()}")
            rows = _manifest_rows()
        database = "database.dump"
    else:
        with transaction.atomic():
            rows = _manifest_rows()
            connection.ensure_connection()
            target = sqlite3.connect(out / "database.sqlite3")
            connection.connection.backup(target)
            target.close()
        database = "database.sqlite3"
    manifest = {"format": FORMAT, "database": database, "vendor": connection.vendor,
                "storage": "s3" if storage.is_object_storage() else "local", "files": rows}
    if files:
        for row in rows:
            target = out / "objects" / row["name"]
            target.parent.mkdir(parents=True, exist_ok=True)
            h = hashlib.sha256()
            with open(target, "wb") as fh:
                for chunk in storage.iter_range(row["name"], 0, row["size"] + 1):
                    h.update(chunk)
                    fh.write(chunk)
            if h.hexdigest() != row["sha256"]:
                raise BackupError(_("文件“%(name)s”与登记的SHA-256不符。") % {"name": row["name"]})
            if progress:
                progress()
    (out / "files.json").write_text(json.dumps(manifest, ensure_ascii=False, indent=1), encoding="utf-8")
    return manifest


def restore(src: Path, *, progress=None) -> dict:
    src = Path(src)
    try:
        manifest = json.loads((src / "files.json").read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise BackupError(_("无法读取备份清单 %(d)s/files.json。") % {"d": src}) from exc
    sd = connection.settings_dict
    from django.db import connection as conn

    if manifest["vendor"] != conn.vendor:
        raise BackupError(_("备份来自 %(a)s 数据库，当前为 %(b)s。") % {"a": manifest["vendor"], "b": conn.vendor})
    with conn.cursor() as cur:
        tables = conn.introspection.table_names(cur)
    if tables:
        raise BackupError(_("数据库不是空的：只能恢复到空数据库。"))
    if conn.vendor == "postgresql":
        conn.close()
        done = subprocess.run(["pg_restore", *_pg_args(sd), "--no-owner", "--exit-on-error", "-d", sd["NAME"],
                               str(src / manifest["database"])], env=_pg_env(sd), capture_output=True, text=True)
        if done.returncode:
            raise BackupError(f"pg_restore: {done.stderr.strip()}")
    else:
        conn.close()
        shutil.copyfile(src / manifest["database"], sd["NAME"])
    for row in manifest["files"]:
        path = src / "objects" / row["name"]
        if not path.exists():
            raise BackupError(_("备份中缺少文件“%(name)s”。") % {"name": row["name"]})
        if storage.file_sha256(path) != row["sha256"]:
            raise BackupError(_("备份中的文件“%(name)s”与登记的SHA-256不符。") % {"name": row["name"]})
        saved = storage.save_local_file(row["name"], path, overwrite=True)
        if saved != row["name"] or not storage.verify(row["name"]):
            raise BackupError(_("恢复后的文件“%(name)s”与登记的SHA-256不符。") % {"name": row["name"]})
        if progress:
            progress()
    return manifest
