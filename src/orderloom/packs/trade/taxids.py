"""Tax identifiers an invoice depends on, checked down to their check digits.

CNPJ (Brazilian companies, 14 digits) and CPF (Brazilian persons, 11 digits)
carry two modulo-11 check digits; a French VAT id carries a key computed from
the SIREN. Other EU VAT ids are checked for their country's shape only.
"""

from __future__ import annotations

import re

EU = frozenset(
    "AT BE BG CY CZ DE DK EE ES FI FR GR HR HU IE IT LT LU LV MT NL PL PT RO SE SI SK".split()  # noqa: SIM905
)
BR_STATES = frozenset(
    "AC AL AP AM BA CE DF ES GO MA MT MS MG PA PB PR PE PI RJ RN RS RO RR SC SP SE TO".split()  # noqa: SIM905
)
# Interstate ICMS is 7% from these states to the rest (except Espírito Santo), 12% otherwise.
BR_SOUTH_SOUTHEAST = frozenset({"PR", "RS", "SC", "MG", "RJ", "SP"})
_VAT_SHAPES = {
    "AT": r"U\d{8}",
    "BE": r"[01]\d{9}",
    "DE": r"\d{9}",
    "ES": r"[0-9A-Z]\d{7}[0-9A-Z]",
    "FR": r"[0-9A-Z]{2}\d{9}",
    "IT": r"\d{11}",
    "NL": r"\d{9}B\d{2}",
    "PT": r"\d{9}",
}


def digits(text: str) -> str:
    """The digits of an id written with dots, slashes or dashes."""
    return re.sub(r"[.\-/\s]", "", text)


def _mod11(numbers: str, weights: list[int]) -> int:
    rest = sum(int(n) * w for n, w in zip(numbers, weights, strict=True)) % 11
    return 0 if rest < 2 else 11 - rest


def cnpj_problem(text: str) -> str | None:
    """Why `text` is not a valid CNPJ, or None."""
    d = digits(text)
    if not re.fullmatch(r"\d{14}", d):
        return "a CNPJ has 14 digits, e.g. 11.222.333/0001-81"
    if len(set(d)) == 1:
        return "a CNPJ cannot repeat one digit"
    first = _mod11(d[:12], [5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2])
    second = _mod11(d[:12] + str(first), [6, 5, 4, 3, 2, 9, 8, 7, 6, 5, 4, 3, 2])
    if d[12:] != f"{first}{second}":
        return f"the check digits of CNPJ {text} are wrong (expected {first}{second}); check the number"
    return None


def cpf_problem(text: str) -> str | None:
    """Why `text` is not a valid CPF, or None."""
    d = digits(text)
    if not re.fullmatch(r"\d{11}", d):
        return "a CPF has 11 digits, e.g. 529.982.247-25"
    if len(set(d)) == 1:
        return "a CPF cannot repeat one digit"
    first = _mod11(d[:9], list(range(10, 1, -1)))
    second = _mod11(d[:9] + str(first), list(range(11, 1, -1)))
    if d[9:] != f"{first}{second}":
        return f"the check digits of CPF {text} are wrong (expected {first}{second}); check the number"
    return None


def br_tax_id_problem(text: str) -> str | None:
    """A Brazilian buyer or seller is identified by a CNPJ (company) or a CPF (person)."""
    n = len(digits(text))
    if n == 14:
        return cnpj_problem(text)
    if n == 11:
        return cpf_problem(text)
    return "a Brazilian tax id is a CNPJ (14 digits) or a CPF (11 digits)"


def vat_problem(text: str, country: str) -> str | None:
    """Why `text` is not a VAT id of `country` (an EU member), or None."""
    vat = re.sub(r"[\s.\-]", "", text).upper()
    prefix = "EL" if country == "GR" else country
    if not vat.startswith(prefix):
        return f"a VAT id of {country} starts with {prefix}, e.g. {prefix}{'44732829320' if country == 'FR' else '…'}"
    body = vat[len(prefix) :]
    shape = _VAT_SHAPES.get(country, r"[0-9A-Z]{2,13}")
    if not re.fullmatch(shape, body):
        return f"{text} does not have the shape of a VAT id of {country}"
    if country == "FR" and body[:2].isdigit():
        key = (12 + 3 * (int(body[2:]) % 97)) % 97
        if int(body[:2]) != key:
            return f"the key of French VAT id {text} is wrong (expected {key:02d} for SIREN {body[2:]})"
    return None
