"""CSV for spreadsheets without formula injection.

A cell that starts with =, +, -, @, a tab or a carriage return is read as a formula by Excel,
WPS and LibreOffice (a title like `=HYPERLINK("http://…")` would run when the export is opened).
Such a cell (also after leading spaces) gets a leading apostrophe, which the spreadsheet shows as text. Numbers stay numbers.
"""
import csv
import re

FORMULA_PREFIXES = ("=", "+", "-", "@", "\t", "\r")
_NUMBER = re.compile(r"^-?\d+(?:\.\d+)?$")


def safe_cell(value):
    if isinstance(value, (int, float)) or value is None:
        return value
    text = str(value)
    # leading spaces do not stop every spreadsheet from reading a formula
    if text.lstrip(" ").startswith(FORMULA_PREFIXES) and not _NUMBER.match(text.strip(" ")):
        return "'" + text
    return text


class _SafeWriter:
    def __init__(self, writer):
        self._writer = writer

    def writerow(self, row):
        return self._writer.writerow([safe_cell(v) for v in row])

    def writerows(self, rows):
        for row in rows:
            self.writerow(row)


def writer(buf, *args, **kwargs):
    """csv.writer whose every cell goes through safe_cell()."""
    return _SafeWriter(csv.writer(buf, *args, **kwargs))
