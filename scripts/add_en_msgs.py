"""Append English entries (msgid<TAB>msgstr lines of a .tsv) missing from locale/en/LC_MESSAGES/django.po."""
import sys
from pathlib import Path

PO = Path(__file__).resolve().parent.parent / "locale" / "en" / "LC_MESSAGES" / "django.po"


def quote(s):
    return '"' + s.replace("\\", "\\\\").replace('"', '\\"') + '"'


def main(tsv):
    text = PO.read_text(encoding="utf-8")
    have = set()
    for line in text.splitlines():
        if line.startswith('msgid "'):
            have.add(line[7:-1].replace('\\"', '"').replace("\\\\", "\\"))
    add = []
    for line in Path(tsv).read_text(encoding="utf-8").splitlines():
        if "\t" not in line:
            continue
        msgid, msgstr = line.split("\t", 1)
        if msgid not in have:
            flag = "#, python-format\n" if "%(" in msgid else ""
            add.append(f"\n{flag}msgid {quote(msgid)}\nmsgstr {quote(msgstr)}\n")
            have.add(msgid)
    PO.write_text(text.rstrip("\n") + "\n" + "".join(add), encoding="utf-8")
    print(f"{len(add)} entries added")


if __name__ == "__main__":
    main(sys.argv[1])
