"""Checking a FatturaPA file against the official schema vendored beside this module."""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import xmlschema

HERE = Path(__file__).resolve().parent
SCHEMA = HERE / "Schema_del_file_xml_FatturaPA_v1.2.2.xsd"
SIGNATURE_SCHEMA = HERE / "xmldsig-core-schema.xsd"


class InvalidInvoice(ValueError):
    """The file breaks the schema; the message names the element and the reason."""


@lru_cache(maxsize=1)
def fatturapa_schema() -> xmlschema.XMLSchema:
    """Loaded once per process (about half a second). The schema imports XML-Signature from a
    remote address: it is mapped to the local copy, and nothing is ever fetched.

    xmlschema (12 MiB resident) is loaded here, on the first invoice a process checks, not when
    the module is imported: the documents worker that only renders receipts stays lean
    (docs/performance.md, "Receipts")."""
    import xmlschema

    return xmlschema.XMLSchema(
        str(SCHEMA),
        locations={"http://www.w3.org/2000/09/xmldsig#": str(SIGNATURE_SCHEMA)},
        allow="local",
    )


def validate(xml: bytes | str) -> None:
    """Raise InvalidInvoice unless `xml` is a valid FatturaPA document."""
    text = xml.decode("utf-8") if isinstance(xml, bytes) else xml
    error = next(fatturapa_schema().iter_errors(text), None)
    if error is not None:
        path = error.path or ""
        raise InvalidInvoice(f"{path}: {error.reason or error.message}"[:1000])
