import pytest

from merchants.validators import codice_fiscale_is_valid, partita_iva_is_valid


@pytest.mark.parametrize("value", ["12345670017", "01234560017", "00743110157"])
def test_valid_partita_iva(value):
    assert partita_iva_is_valid(value)


@pytest.mark.parametrize("value", ["12345678901", "1234567890", "123456700171", "1234567890A", ""])
def test_invalid_partita_iva(value):
    assert not partita_iva_is_valid(value)


@pytest.mark.parametrize("value", ["RSSMRA85T10A562S", "rssmra85t10a562s", "12345670017"])
def test_valid_codice_fiscale(value):
    assert codice_fiscale_is_valid(value)


@pytest.mark.parametrize(
    "value", ["RSSMRA85T10A562T", "RSSMRA85T10A562", "12345678901", "XXXXXXXXXXXXXXXX"]
)
def test_invalid_codice_fiscale(value):
    assert not codice_fiscale_is_valid(value)
