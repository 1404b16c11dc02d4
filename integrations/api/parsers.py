"""The API's JSON parser: DRF's, with a nesting limit (vpos.inputs.load_json) and a message that
says what is wrong in the client's language."""

from __future__ import annotations

from typing import Any

from django.utils.translation import gettext as _
from rest_framework import parsers
from rest_framework.exceptions import ParseError
from rest_framework.utils import json

from vpos.inputs import JsonTooDeep, load_json


class JSONParser(parsers.JSONParser):
    def parse(self, stream: Any, media_type: str | None = None, parser_context: Any = None) -> Any:
        encoding = parsers.get_encoding(parser_context or {})
        try:
            text = stream.read().decode(encoding) if stream is not None else ""
            parse_constant = json.strict_constant if self.strict else None
            return load_json(text, parse_constant=parse_constant)
        except JsonTooDeep as error:
            raise ParseError(_("The request body nests arrays or objects too deeply.")) from error
        except ValueError as error:  # also UnicodeDecodeError
            raise ParseError(_("The request body is not valid JSON.")) from error
