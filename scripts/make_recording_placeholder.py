"""Build meetings/sfu/placeholder.vp8: the one VP8 keyframe a recording shows while nobody
shows video (音频录制中，暂无视频画面). Made once, here, and committed: the SFU itself never
encodes. Run: .venv/bin/python scripts/make_recording_placeholder.py (needs the prepared fonts)."""
import fractions
import sys
from pathlib import Path

import av
from PIL import Image, ImageDraw, ImageFont

ROOT = Path(__file__).resolve().parent.parent
WIDTH, HEIGHT = 640, 360


def main() -> int:
    font_path = ROOT / "var" / "fonts" / "prepared" / "NotoSerifCJKsc-Bold.ttf"
    image = Image.new("RGB", (WIDTH, HEIGHT), (38, 50, 56))
    draw = ImageDraw.Draw(image)
    # a microphone: head, stem, base
    cx, cy = WIDTH // 2, 120
    draw.rounded_rectangle((cx - 22, cy - 55, cx + 22, cy + 15), radius=22, fill=(176, 190, 197))
    draw.arc((cx - 38, cy - 30, cx + 38, cy + 35), start=0, end=180, fill=(176, 190, 197), width=6)
    draw.line((cx, cy + 35, cx, cy + 55), fill=(176, 190, 197), width=6)
    draw.line((cx - 22, cy + 57, cx + 22, cy + 57), fill=(176, 190, 197), width=6)
    font = ImageFont.truetype(str(font_path), 30)
    text = "音频录制中，暂无视频画面"
    w = draw.textlength(text, font=font)
    draw.text(((WIDTH - w) / 2, 230), text, font=font, fill=(236, 239, 241))
    small = ImageFont.truetype(str(font_path), 18)
    note = "Audio only: nobody is showing video"
    w = draw.textlength(note, font=small)
    draw.text(((WIDTH - w) / 2, 280), note, font=small, fill=(176, 190, 197))

    codec = av.CodecContext.create("libvpx", "w")
    codec.width, codec.height, codec.pix_fmt = WIDTH, HEIGHT, "yuv420p"
    codec.time_base = fractions.Fraction(1, 30)
    codec.bit_rate = 400_000
    codec.options = {"deadline": "good", "lag-in-frames": "0", "g": "1"}
    frame = av.VideoFrame.from_image(image).reformat(format="yuv420p")
    frame.pts = 0
    frame.pict_type = av.video.frame.PictureType.I
    packets = list(codec.encode(frame)) + list(codec.encode(None))
    data = bytes(packets[0])
    assert packets[0].is_keyframe and (data[0] & 1) == 0, "not a keyframe"
    out = ROOT / "meetings" / "sfu" / "placeholder.vp8"
    out.write_bytes(data)
    print(f"{out.relative_to(ROOT)}: {len(data)} bytes, {WIDTH}x{HEIGHT} VP8 keyframe")
    return 0


if __name__ == "__main__":
    sys.exit(main())
