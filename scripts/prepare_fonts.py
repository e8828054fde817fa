#!/usr/bin/env python
"""Prepare the free stand-in fonts for 公文 PDFs, once, into var/fonts/prepared/.

reportlab embeds TrueType (glyf) fonts only. Two of the stand-ins of
shared/reference/fonts.md ship with CFF outlines and are converted here:

- 仿宋  FandolFang-Regular (inside Debian's texlive-lang-chinese; the .deb is
        fetched with `apt-get download` and only that one file is extracted with
        dpkg-deb, TeX Live is NOT installed);
- 小标宋 Noto Serif CJK SC Bold (fonts-noto-cjk), subset to the simplified
        Chinese repertoire (CJK Unified Ideographs, punctuation, Latin) first.

The others (wqy-zenhei 黑体, LXGW WenKai 楷体, AR PL SungtiL GB 宋体) are TrueType
already and are used from /usr/share/fonts directly.

Idempotent: a font already converted (with its .ok stamp) is not converted
again. Measured on the 2-core dev machine: ≈ 20 s for FandolFang and ≈ 55 s
for Noto Serif CJK SC Bold (≈ 29,000 glyphs), ≈ 80 s in all, once.
When a stand-in cannot be prepared (no package registry), it says so in one
line and the renderer falls back to an installed Song face; --strict makes
that an error (non-zero exit) instead.

Usage: python scripts/prepare_fonts.py [--dest DIR] [--force] [--strict]
"""
from __future__ import annotations

import argparse
import glob
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DEST = ROOT / "var" / "fonts" / "prepared"

NOTO_SERIF_BOLD = "/usr/share/fonts/opentype/noto/NotoSerifCJK-Bold.ttc"
FANDOL_IN_DEB = "usr/share/texlive/texmf-dist/fonts/opentype/public/fandol/FandolFang-Regular.otf"
FANDOL_SYSTEM = glob.glob("/usr/share/texlive/texmf-dist/fonts/opentype/public/fandol/FandolFang-Regular.otf")

# Unicode ranges kept in the 小标宋 subset (titles and the red header).
XBS_RANGES = [
    (0x0020, 0x007E), (0x00A0, 0x00FF), (0x2000, 0x206F), (0x2150, 0x218F),
    (0x2460, 0x24FF), (0x2500, 0x257F), (0x25A0, 0x25FF), (0x2600, 0x26FF),
    (0x3000, 0x303F), (0x3200, 0x32FF), (0x3400, 0x4DBF), (0x4E00, 0x9FFF),
    (0xF900, 0xFAFF), (0xFE30, 0xFE4F), (0xFF00, 0xFFEF),
]


def say(msg: str) -> None:
    print(f"[prepare_fonts] {msg}", flush=True)


_progress = None  # a shared multiprocessing.Value (per-mille done) when run in a worker process


def otf_to_ttf(font) -> None:
    """Convert a CFF-outline fontTools TTFont to TrueType outlines in place."""
    from fontTools.pens.cu2quPen import Cu2QuPen
    from fontTools.pens.ttGlyphPen import TTGlyphPen
    from fontTools.ttLib import newTable

    glyph_order = font.getGlyphOrder()
    glyph_set = font.getGlyphSet()
    glyphs = {}
    total = len(glyph_order)
    step = max(1, total // 10)
    for i, name in enumerate(glyph_order):
        tt_pen = TTGlyphPen(glyph_set)
        glyph_set[name].draw(Cu2QuPen(tt_pen, max_err=1.0, reverse_direction=True))
        glyphs[name] = tt_pen.glyph()
        if i % step == 0 and _progress is not None:
            _progress.value = i * 1000 // total
    if _progress is not None:
        _progress.value = 1000

    font["loca"] = newTable("loca")
    glyf = font["glyf"] = newTable("glyf")
    glyf.glyphOrder = glyph_order
    glyf.glyphs = glyphs
    for tag in ("CFF ", "CFF2", "VORG"):
        if tag in font:
            del font[tag]
    glyf.compile(font)
    hmtx = font["hmtx"]
    for name, glyph in glyphs.items():
        width, _lsb = hmtx.metrics[name]
        hmtx.metrics[name] = (width, getattr(glyph, "xMin", 0) if glyph.numberOfContours else 0)
    maxp = font["maxp"] = newTable("maxp")
    maxp.tableVersion = 0x00010000
    maxp.maxZones = 1
    maxp.maxTwilightPoints = 0
    maxp.maxStorage = 0
    maxp.maxFunctionDefs = 0
    maxp.maxInstructionDefs = 0
    maxp.maxStackElements = 0
    maxp.maxSizeOfInstructions = 0
    maxp.maxComponentElements = 0
    post = font["post"]
    post.formatType = 3.0  # no glyph names: smaller, and reportlab needs none
    post.extraNames = []
    post.mapping = {}
    font.sfntVersion = "\x00\x01\x00\x00"
    for tag in ("GPOS", "GSUB", "BASE", "JSTF", "GDEF", "MATH", "DSIG"):
        if tag in font:
            del font[tag]


def fetch_fandol(workdir: Path) -> Path:
    if FANDOL_SYSTEM:
        return Path(FANDOL_SYSTEM[0])
    say("downloading texlive-lang-chinese (.deb only, not installed) for FandolFang")
    os.chmod(workdir, 0o755)  # lets apt's _apt user write into it (no sandbox warning)
    done = subprocess.run(["apt-get", "download", "texlive-lang-chinese"], cwd=workdir,
                          capture_output=True, text=True, timeout=600)
    if done.returncode != 0 and os.geteuid() == 0:
        say("package lists missing or stale: apt-get update, then retry")
        subprocess.run(["apt-get", "update", "-qq"], capture_output=True, timeout=600)
        done = subprocess.run(["apt-get", "download", "texlive-lang-chinese"], cwd=workdir,
                              capture_output=True, text=True, timeout=600)
    if done.returncode != 0:
        raise RuntimeError("apt-get download texlive-lang-chinese: " + done.stderr.strip()[-200:])
    debs = sorted(workdir.glob("texlive-lang-chinese_*.deb"))
    if not debs:
        raise RuntimeError("apt-get download texlive-lang-chinese produced no .deb")
    out = workdir / "x"
    out.mkdir()
    tar = subprocess.Popen(["dpkg-deb", "--fsys-tarfile", str(debs[0])], stdout=subprocess.PIPE)
    subprocess.run(["tar", "-x", "-C", str(out), "./" + FANDOL_IN_DEB], stdin=tar.stdout, check=True)
    tar.wait()
    path = out / FANDOL_IN_DEB
    if not path.exists():
        raise RuntimeError("FandolFang-Regular.otf not found inside texlive-lang-chinese")
    return path


def prepare_fangsong(dest: Path, workdir: Path) -> None:
    from fontTools.ttLib import TTFont

    target = dest / "FandolFang-Regular.ttf"
    src = fetch_fandol(workdir)
    say(f"仿宋 stand-in: converting {src.name} (CFF → TrueType)")
    font = TTFont(str(src))
    otf_to_ttf(font)
    font.save(str(target) + ".tmp")
    os.replace(str(target) + ".tmp", target)


def prepare_xiaobiaosong(dest: Path) -> None:
    from fontTools import subset
    from fontTools.ttLib import TTCollection

    target = dest / "NotoSerifCJKsc-Bold.ttf"
    if not os.path.exists(NOTO_SERIF_BOLD):
        raise RuntimeError(f"{NOTO_SERIF_BOLD} missing: apt-get install fonts-noto-cjk")
    say("小标宋 stand-in: subsetting Noto Serif CJK SC Bold")
    coll = TTCollection(NOTO_SERIF_BOLD, lazy=True)
    font = None
    for face in coll.fonts:
        names = {str(n) for n in face["name"].names if n.nameID in (1, 4)}
        if any("Noto Serif CJK SC" in n for n in names):
            font = face
            break
    if font is None:
        raise RuntimeError("Noto Serif CJK SC face not found in NotoSerifCJK-Bold.ttc")
    cmap = font.getBestCmap()
    keep = [cp for cp in cmap if any(a <= cp <= b for a, b in XBS_RANGES)]
    opts = subset.Options()
    opts.layout_features = []
    opts.name_IDs = ["*"]
    opts.notdef_outline = True
    opts.hinting = False
    opts.desubroutinize = True
    sub = subset.Subsetter(opts)
    sub.populate(unicodes=keep)
    sub.subset(font)
    say(f"小标宋 stand-in: converting {len(font.getGlyphOrder())} glyphs (CFF → TrueType)")
    otf_to_ttf(font)
    font.save(str(target) + ".tmp")
    os.replace(str(target) + ".tmp", target)


def stamp_ok(dest: Path, name: str) -> bool:
    return (dest / name).exists() and (dest / (name + ".ok")).exists()


def write_stamp(dest: Path, name: str) -> None:
    (dest / (name + ".ok")).write_text(time.strftime("%Y-%m-%dT%H:%M:%S") + "\n")


_counters = []  # one shared per-mille counter per job, inherited by the forked workers


def _run_job(index, name, role, dest):
    """One font in a worker process: (name, role, error or None, seconds)."""
    global _progress
    _progress = _counters[index]
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory() as wd:
        try:
            if name.startswith("Fandol"):
                prepare_fangsong(dest, Path(wd))
            else:
                prepare_xiaobiaosong(dest)
        except Exception as exc:  # one readable line
            return name, role, str(exc), time.monotonic() - t0
    return name, role, None, time.monotonic() - t0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description="Prepare free stand-in fonts for 公文 PDFs")
    parser.add_argument("--dest", default=os.environ.get("YW_PREPARED_FONT_DIR", str(DEFAULT_DEST)))
    parser.add_argument("--force", action="store_true")
    parser.add_argument("--strict", action="store_true", help="exit non-zero when a font cannot be prepared")
    args = parser.parse_args(argv)
    dest = Path(args.dest)
    dest.mkdir(parents=True, exist_ok=True)
    jobs = [("FandolFang-Regular.ttf", "仿宋"), ("NotoSerifCJKsc-Bold.ttf", "小标宋")]
    started = time.monotonic()
    failed = False
    todo = []
    for name, role in jobs:
        if stamp_ok(dest, name) and not args.force:
            say(f"{role}: {name} already prepared (cached)")
        else:
            todo.append((name, role))
    if todo:
        # The conversions are independent and CPU-bound: one process each, side by side, under one bar.
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        sys.path.insert(0, str(ROOT))
        from office.progress import ProgressBar

        say("converting " + "、".join(role for _n, role in todo) + " (once; cached in " + str(dest) + ")")
        ctx = multiprocessing.get_context("fork")
        counters = [ctx.Value("i", 0) for _ in todo]
        _counters[:] = counters
        bar = ProgressBar(1000 * len(todo), label="[prepare_fonts] fonts", stream=sys.stdout)
        with ProcessPoolExecutor(max_workers=min(len(todo), os.cpu_count() or 1), mp_context=ctx) as pool:
            futures = [pool.submit(_run_job, i, name, role, dest) for i, (name, role) in enumerate(todo)]
            while not all(f.done() for f in futures):
                bar.update(sum(c.value for c in counters))
                time.sleep(0.5)
            bar.finish()
            results = [f.result() for f in futures]
        for name, role, error, seconds in results:
            if error is not None:
                print(f"[prepare_fonts] 字体准备失败（{role}）：{error}", file=sys.stderr)
                if args.strict:
                    return 1
                say(f"{role}: continuing with the installed fallback face (documents.render.fonts.FALLBACK)")
                failed = True
                continue
            write_stamp(dest, name)
            size = (dest / name).stat().st_size / 1e6
            say(f"{role}: {name} ready, {size:.1f} MB in {seconds:.1f} s")
    for path in ("/usr/share/fonts/truetype/wqy/wqy-zenhei.ttc",
                 "/usr/share/fonts/truetype/lxgw-wenkai/LXGWWenKai-Regular.ttf",
                 "/usr/share/fonts/truetype/arphic-gbsn00lp/gbsn00lp.ttf"):
        if not os.path.exists(path):
            say(f"warning: {path} missing (see scripts/system-deps.txt)")
    say(f"done in {time.monotonic() - started:.1f} s → {dest}" + (" (with fallbacks)" if failed else ""))
    return 0


if __name__ == "__main__":
    sys.exit(main())
