"""OFD as an archive component (GB/T 33190 with GB/T 38540 seals): a 件 filed from a document
sealed as OFD holds its OFD byte for byte, and the 四性 checks cover it — fixity (SHA-256 and
SM3), the SM2 seals, our own reader's structure check, no executables or scripts — at filing,
on the holdings and in a received bag."""
import io

import pytest
from django.core.management import call_command

from documents.archive import checks, exports, store
from documents.archive.models import ComponentRole
from tests.archive_support import (  # noqa: F401
    accepted_sealed,
    flip_stored_byte,
    isolated_files,
    rewrite_ofd_member,
)

TITLE = "关于做好国密签章归档工作的通知"


@pytest.fixture
def item(units, city_secretary, city_leader, archivist):
    return accepted_sealed(city_secretary, city_leader, archivist, [units["秦都区"]], title=TITLE)


def _failed(item):
    ok, results = checks.check_item(item, deep=False)
    return ok, {(r["check"], r["component"]): r["reason"] for r in results if not r["ok"]}


def _check_all():
    out = io.StringIO()
    with pytest.raises(SystemExit) as exc:
        call_command("archive_check", "--all", "--quick", stdout=out, stderr=io.StringIO())
    return exc.value.code, out.getvalue()


def _swap(comp, data):
    store.delete(comp.storage_name)
    assert store.put(comp.storage_name, data) == comp.storage_name


def test_it_files_the_sealed_ofd_beside_the_pdf_and_it_passes_every_check(item):
    from documents.files.actions import issued_ofd_path
    from office import storage

    ofd = item.components.get(role=ComponentRole.OFD)
    assert ofd.name == "正本.ofd" and ofd.signed and ofd.mime == "application/ofd" and ofd.pages >= 1
    assert store.read(ofd.storage_name) == storage.read(issued_ofd_path(item.document))  # byte for byte
    names = [c.name for c in item.components.order_by("order")]
    assert names.index("正本.ofd") == names.index("正本.pdf") + 1
    ok, results = checks.check_item(item, deep=False)
    mine = {r["check"] for r in results if r["component"] == "正本.ofd" and r["ok"]}
    assert ok, [r for r in results if not r["ok"]]
    assert {"fixity", "signature", "ofd", "fonts", "active", "content"} <= mine


def test_it_reports_a_changed_byte_in_the_ofd_with_the_archival_code_and_component(item):
    ofd = item.components.get(role=ComponentRole.OFD)
    flip_stored_byte(ofd.storage_name)
    ok, failed = _failed(item)
    assert not ok and ("fixity", "正本.ofd") in failed
    code, out = _check_all()
    assert code == 1 and f"{item.archival_code} 正本.ofd: fixity" in out


def test_it_reports_a_broken_ofd_signature(item):
    ofd = item.components.get(role=ComponentRole.OFD)
    page = "Doc_0/Pages/Page_0/Content.xml"
    broken = rewrite_ofd_member(store.read(ofd.storage_name), page, lambda b: b.replace("关于".encode(), "有关".encode(), 1))
    _swap(ofd, broken)
    ok, failed = _failed(item)
    assert not ok and ("signature", "正本.ofd") in failed
    assert "改动" in failed[("signature", "正本.ofd")]
    code, out = _check_all()
    assert code == 1 and f"{item.archival_code} 正本.ofd: signature" in out


def test_it_reports_a_missing_ofd(item):
    ofd = item.components.get(role=ComponentRole.OFD)
    store.delete(ofd.storage_name)
    ok, failed = _failed(item)
    assert not ok and failed.get(("components", "正本.ofd")) == "组件文件缺失"
    code, out = _check_all()
    assert code == 1 and f"{item.archival_code} 正本.ofd: components" in out


def test_the_export_bag_holds_the_ofd_and_archive_check_verifies_its_seal(item, tmp_path):
    call_command("archive_export", "--year", str(item.year), "--out", str(tmp_path), stdout=io.StringIO(),
                 stderr=io.StringIO())
    bag = tmp_path / f"Z001-{item.year}"
    folder = bag / "data" / item.archival_code
    target = next(folder.glob("*-正本.ofd"))
    meta = exports.parse_metadata_xml((folder / "metadata.xml").read_bytes())
    entry = next(c for c in meta["components"] if c["name"] == "正本.ofd")
    assert entry["signed"] and entry["mime"] == "application/ofd"
    assert "SM2" in (folder / "metadata.xml").read_text()
    rep = exports.check_bag_report(bag, deep=False)
    assert not rep.failures(), rep.failures()
    results = {r["check"] for r in rep.items[item.archival_code]["results"] if r["component"].endswith("正本.ofd")}
    assert {"fixity", "signature", "ofd", "content"} <= results
    # a changed OFD in the received bag: its seal no longer verifies (and its fixity differs)
    page = "Doc_0/Pages/Page_0/Content.xml"
    target.write_bytes(rewrite_ofd_member(target.read_bytes(), page, lambda b: b.replace(b"</ofd:Layer>", b"</ofd:Layer>\n", 1)))
    failures = exports.check_bag(bag, deep=False)
    rel = f"data/{item.archival_code}/{target.name}"
    assert (rel, "signature") in {(f, c) for f, c, _r in failures}
    assert (rel, "fixity") in {(f, c) for f, c, _r in failures}


def test_our_reader_refuses_an_ofd_with_an_embedded_program_or_a_missing_page(item):
    data = store.read(item.components.get(role=ComponentRole.OFD).storage_name)
    import zipfile

    buf = io.BytesIO(data)
    with zipfile.ZipFile(buf, "a") as z:
        z.writestr("Doc_0/Res/setup.exe", b"MZ\x90\x00" + b"\0" * 60)
    evil = {(r["check"], r["ok"]) for r in checks.check_blob("x.ofd", buf.getvalue(), mime="application/ofd")}
    assert ("active", False) in evil
    gutted = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as src, zipfile.ZipFile(gutted, "w") as dst:
        for info in src.infolist():
            if info.filename != "Doc_0/Pages/Page_0/Content.xml":
                dst.writestr(info, src.read(info))
    results = {r["check"]: r for r in checks.check_blob("y.ofd", gutted.getvalue(), mime="application/ofd")}
    assert not results["ofd"]["ok"] and "第1页" in results["ofd"]["reason"]
