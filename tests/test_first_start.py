"""`make run` answers before the 公文 fonts are converted (they finish in the background), so a render
in between uses the fallback face and the first render after takes the prepared one; and what it
prints to a log shows each progress bar once. (How fast it answers: bench/bench_first_start.py.)"""
import io
import os

from documents.render import fonts
from office.progress import ProgressBar


def test_it_writes_a_progress_bar_once_when_the_output_is_not_a_terminal():
    out = io.StringIO()
    bar = ProgressBar(500, label="建立组织机构", stream=out)
    for i in range(501):
        bar.update(i)
    bar.finish()
    lines = [line for line in out.getvalue().splitlines() if line.strip()]
    assert len(lines) == 1 and "100.0%" in lines[0] and "建立组织机构" in lines[0], lines


def test_it_takes_the_prepared_font_once_the_background_conversion_has_finished(tmp_path, monkeypatch):
    prepared = fonts.prepared_dir()
    source = prepared / fonts.PREPARED["fangsong"]
    assert source.exists(), "scripts/prepare_fonts.py has not run (make test runs it)"
    monkeypatch.setenv("YW_PREPARED_FONT_DIR", str(tmp_path))
    fonts.reset()
    try:
        assert fonts.register()["fangsong"].source == "fallback"  # still converting
        os.symlink(source, tmp_path / fonts.PREPARED["fangsong"])  # the conversion's atomic rename
        chosen = fonts.register()
        assert chosen["fangsong"].source == "prepared" and chosen["fangsong"].path.startswith(str(tmp_path))
    finally:
        monkeypatch.delenv("YW_PREPARED_FONT_DIR")
        fonts.reset()
        fonts.register()
