"""公文 as files: one GB/T 9704-2012 layout (layout.py) drawn by the PDF writer (pdf.py) and the OFD
writer (ofd.py); PDF/A-2b (pdfa.py), Word export/import (docx.py).

Renderers work from the plain RenderDoc of model.py; adapter.py builds one from a stored document.
Fonts: fonts.py (licensed TrueType in YW_FONT_DIR win over the stand-ins of scripts/prepare_fonts.py).
"""
