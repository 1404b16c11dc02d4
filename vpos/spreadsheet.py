"""CSV files a shop opens in a spreadsheet: streamed row by row, customer text never a formula."""

from __future__ import annotations

# A cell starting with one of these is a formula (or becomes one) in Excel, LibreOffice, Sheets.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_text(value: str) -> str:
    """A cell a spreadsheet shows as text: a leading = + - @ would make it a formula (CSV
    injection: a customer's name such as =HYPERLINK(...) runs in the accountant's spreadsheet)."""
    return f"'{value}" if value[:1] in FORMULA_STARTS else value


class Echo:
    """csv.writer writes into this and gets the line back, so rows can be streamed."""

    def write(self, value: str) -> str:
        return value
