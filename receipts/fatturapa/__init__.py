"""FatturaPA 1.2.2 (`FPR12`): the XML of an Italian electronic invoice, from a frozen snapshot.

`build_xml(fiscal)` turns the `fiscal` part of an invoice's snapshot (made by receipts.invoicing
when the invoice is numbered) into the file the SDI receives. It reads nothing else: the same
snapshot always gives the same bytes. Element order follows the official schema, vendored beside
this module with its origin (README.md); `schema.validate()` checks a file against it.

Amounts in the snapshot are integer minor units; the file writes them with two decimals.
"""

from __future__ import annotations

import string
from collections.abc import Mapping
from decimal import Decimal
from typing import Any
from xml.etree import ElementTree as ET

from vpos.money import exponent

NAMESPACE = "http://ivaservizi.agenziaentrate.gov.it/docs/xsd/fatture/v1.2"
FORMAT = "FPR12"  # invoices to businesses and private persons (FPA12: public administrations)
NO_RECIPIENT_CODE = "0000000"  # the SDI files it in the customer's area (or sends it by PEC)
FOREIGN_RECIPIENT_CODE = "XXXXXXX"
FOREIGN_POSTAL_CODE = "00000"
FOREIGN_PRIVATE_ID = "99999999999"  # a foreign private customer with no tax number of theirs
PAYMENT_METHODS = {"card": "MP08", "sepa_debit": "MP19"}  # wallets and the rest pay as cards
PAYMENT_COMPLETE = "TP02"

XML_DECLARATION = '<?xml version="1.0" encoding="UTF-8"?>\n'
_BASE36 = string.digits + string.ascii_uppercase


def progressive(number: int) -> str:
    """A file's progressive (up to 5 alphanumerics, unique per transmitter): base 36, padded."""
    if not 0 < number < 36**5:
        raise ValueError("the file progressive is out of range")
    digits = ""
    while number:
        number, rest = divmod(number, 36)
        digits = _BASE36[rest] + digits
    return digits.rjust(5, "0")


def file_name(country: str, code: str, number: int) -> str:
    """`IT01234567890_0000A.xml`: the transmitter's country and tax code, then the progressive."""
    return f"{country}{code}_{progressive(number)}.xml"


def payment_method_code(method: str) -> str:
    return PAYMENT_METHODS.get(method or "card", "MP08")


def decimal_text(amount: int, currency: str) -> str:
    """Minor units as FatturaPA writes amounts: `19.99`, always two decimals."""
    value = Decimal(amount).scaleb(-exponent(currency))
    return f"{value:.2f}"


def _rate(rate: int) -> str:
    return f"{Decimal(rate):.2f}"


def _add(parent: ET.Element, tag: str, text: str | None = None) -> ET.Element:
    element = ET.SubElement(parent, tag)
    if text is not None:
        element.text = text
    return element


def _fiscal_id(parent: ET.Element, tag: str, country: str, code: str) -> None:
    fiscal_id = _add(parent, tag)
    _add(fiscal_id, "IdPaese", country)
    _add(fiscal_id, "IdCodice", code)


def _address(parent: ET.Element, party: Mapping[str, str]) -> None:
    sede = _add(parent, "Sede")
    _add(sede, "Indirizzo", party["address"])
    italian = party["country"] == "IT"
    _add(sede, "CAP", party["postal_code"] if italian else FOREIGN_POSTAL_CODE)
    _add(sede, "Comune", party["city"])
    if italian and party.get("province"):
        _add(sede, "Provincia", party["province"])
    _add(sede, "Nazione", party["country"])


def _header(root: ET.Element, fiscal: Mapping[str, Any]) -> None:
    header = _add(root, "FatturaElettronicaHeader")
    transmission = _add(header, "DatiTrasmissione")
    transmitter = fiscal["transmitter"]
    _fiscal_id(transmission, "IdTrasmittente", transmitter["country"], transmitter["code"])
    _add(transmission, "ProgressivoInvio", fiscal["progressive"])
    _add(transmission, "FormatoTrasmissione", FORMAT)
    _add(transmission, "CodiceDestinatario", fiscal["recipient_code"])
    if fiscal.get("recipient_pec"):
        _add(transmission, "PECDestinatario", fiscal["recipient_pec"])

    seller = fiscal["seller"]
    supplier = _add(header, "CedentePrestatore")
    data = _add(supplier, "DatiAnagrafici")
    _fiscal_id(data, "IdFiscaleIVA", seller["vat_country"], seller["vat_number"])
    if seller.get("tax_code"):
        _add(data, "CodiceFiscale", seller["tax_code"])
    _add(_add(data, "Anagrafica"), "Denominazione", seller["name"])
    _add(data, "RegimeFiscale", seller["regime"])
    _address(supplier, seller)
    if seller.get("email") or seller.get("phone"):
        contacts = _add(supplier, "Contatti")
        if seller.get("phone"):
            _add(contacts, "Telefono", seller["phone"])
        if seller.get("email"):
            _add(contacts, "Email", seller["email"])

    buyer = fiscal["buyer"]
    customer = _add(header, "CessionarioCommittente")
    data = _add(customer, "DatiAnagrafici")
    if buyer.get("vat_number"):
        _fiscal_id(data, "IdFiscaleIVA", buyer["country"], buyer["vat_number"])
    if buyer.get("tax_code"):
        _add(data, "CodiceFiscale", buyer["tax_code"])
    if not buyer.get("vat_number") and not buyer.get("tax_code"):
        _fiscal_id(data, "IdFiscaleIVA", buyer["country"], FOREIGN_PRIVATE_ID)
    registry = _add(data, "Anagrafica")
    if buyer["kind"] == "business":
        _add(registry, "Denominazione", buyer["company"])
    else:
        _add(registry, "Nome", buyer["first_name"])
        _add(registry, "Cognome", buyer["last_name"])
    _address(customer, buyer)


def _body(root: ET.Element, fiscal: Mapping[str, Any]) -> None:
    currency = fiscal["currency"]
    body = _add(root, "FatturaElettronicaBody")
    general = _add(body, "DatiGenerali")
    document = _add(general, "DatiGeneraliDocumento")
    _add(document, "TipoDocumento", fiscal["kind"])
    _add(document, "Divisa", currency)
    _add(document, "Data", fiscal["date"])
    _add(document, "Numero", fiscal["number"])
    if fiscal.get("stamp_duty"):
        stamp = _add(document, "DatiBollo")
        _add(stamp, "BolloVirtuale", "SI")
        _add(stamp, "ImportoBollo", decimal_text(fiscal["stamp_duty"], "EUR"))
    _add(document, "ImportoTotaleDocumento", decimal_text(fiscal["totals"]["total"], currency))
    for reason in fiscal.get("reasons", []):
        _add(document, "Causale", reason)
    related = fiscal.get("related")
    if related:
        linked = _add(general, "DatiFattureCollegate")
        _add(linked, "IdDocumento", related["number"])
        _add(linked, "Data", related["date"])

    goods = _add(body, "DatiBeniServizi")
    for position, line in enumerate(fiscal["lines"], start=1):
        row = _add(goods, "DettaglioLinee")
        _add(row, "NumeroLinea", str(position))
        _add(row, "Descrizione", line["description"])
        _add(row, "PrezzoUnitario", decimal_text(line["unit_price"], currency))
        _add(row, "PrezzoTotale", decimal_text(line["total"], currency))
        _add(row, "AliquotaIVA", _rate(line["rate"]))
        if line.get("nature"):
            _add(row, "Natura", line["nature"])
    for summary in fiscal["summary"]:
        row = _add(goods, "DatiRiepilogo")
        _add(row, "AliquotaIVA", _rate(summary["rate"]))
        if summary.get("nature"):
            _add(row, "Natura", summary["nature"])
        _add(row, "ImponibileImporto", decimal_text(summary["taxable"], currency))
        _add(row, "Imposta", decimal_text(summary["vat"], currency))
        if not summary.get("nature"):
            _add(row, "EsigibilitaIVA", "I")  # VAT due at once
        if summary.get("reference"):
            _add(row, "RiferimentoNormativo", summary["reference"])

    paid = fiscal.get("payment")
    if paid:
        payment = _add(body, "DatiPagamento")
        _add(payment, "CondizioniPagamento", PAYMENT_COMPLETE)
        detail = _add(payment, "DettaglioPagamento")
        _add(detail, "ModalitaPagamento", paid["code"])
        _add(detail, "DataRiferimentoTerminiPagamento", paid["date"])
        _add(detail, "DataScadenzaPagamento", paid["date"])
        _add(detail, "ImportoPagamento", decimal_text(paid["amount"], currency))
        if paid.get("reference"):
            _add(detail, "CodicePagamento", paid["reference"])


def build_xml(fiscal: Mapping[str, Any]) -> bytes:
    """The FatturaPA file of one document, UTF-8 with its XML declaration."""
    ET.register_namespace("p", NAMESPACE)
    root = ET.Element(f"{{{NAMESPACE}}}FatturaElettronica", {"versione": FORMAT})
    _header(root, fiscal)
    _body(root, fiscal)
    ET.indent(root)
    return (XML_DECLARATION + ET.tostring(root, encoding="unicode") + "\n").encode("utf-8")
