"""Reference data of the listed stocks: CUSIPs (from which ISINs follow) and listing days.

The CUSIPs are the issuers' published ones; the ISIN of a US security is ``US``, its CUSIP
and a check digit (ISO 6166), computed here rather than typed in. Listing days are the first
day a stock traded on its exchange, or 1980-01-02 for older ones: IB's daily history of US
stocks starts around 1980, so that is where their head timestamp is.
"""

from __future__ import annotations

#: symbol -> (CUSIP, first trading day YYYYMMDD)
STOCK_REFERENCE: dict[str, tuple[str, str]] = {
    "AAPL": ("037833100", "19801212"),
    "MSFT": ("594918104", "19860313"),
    "NVDA": ("67066G104", "19990122"),
    "TSLA": ("88160R101", "20100629"),
    "SPY": ("78462F103", "19930129"),
    "QQQ": ("46090E103", "19990310"),
    "AMZN": ("023135106", "19970515"),
    "GOOGL": ("02079K305", "20040819"),
    "META": ("30303M102", "20120518"),
    "AMD": ("007903107", "19800102"),
    "INTC": ("458140100", "19800102"),
    "NFLX": ("64110L106", "20020523"),
    "AVGO": ("11135F101", "20090806"),
    "QCOM": ("747525103", "19911213"),
    "CSCO": ("17275R102", "19900216"),
    "ADBE": ("00724F101", "19860813"),
    "COST": ("22160K105", "19851205"),
    "PEP": ("713448108", "19800102"),
    "SBUX": ("855244109", "19920626"),
    "TXN": ("882508104", "19800102"),
    "JPM": ("46625H100", "19800102"),
    "BAC": ("060505104", "19800102"),
    "GS": ("38141G104", "19990504"),
    "MS": ("617446448", "19860321"),
    "V": ("92826C839", "20080319"),
    "MA": ("57636Q104", "20060525"),
    "XOM": ("30231G102", "19800102"),
    "CVX": ("166764100", "19800102"),
    "WMT": ("931142103", "19800102"),
    "KO": ("191216100", "19800102"),
    "DIS": ("254687106", "19800102"),
    "BA": ("097023105", "19800102"),
    "ORCL": ("68389X105", "19860312"),
    "CRM": ("79466L302", "20040623"),
    "IBM": ("459200101", "19800102"),
    "UNH": ("91324P102", "19841017"),
    "JNJ": ("478160104", "19800102"),
    "PFE": ("717081103", "19800102"),
    "MRK": ("58933Y105", "19800102"),
    "ABBV": ("00287Y109", "20130102"),
    "T": ("00206R102", "19800102"),
    "VZ": ("92343V104", "19831121"),
    "NKE": ("654106103", "19801202"),
    "MCD": ("580135101", "19800102"),
    "HD": ("437076102", "19810922"),
    "IWM": ("464287655", "20000526"),
    "DIA": ("78467X109", "19980120"),
    "GLD": ("78463V107", "20041118"),
    "TLT": ("464287432", "20020730"),
    "XLF": ("81369Y605", "19981222"),
}

#: Where IB's IDEALPRO history of EUR.USD begins.
FX_LISTED = "20050103"


def _char_value(ch: str) -> int:
    """CUSIP/ISIN character value: digits as themselves, letters A=10 … Z=35."""
    return int(ch, 36)


def cusip_check_ok(cusip: str) -> bool:
    """Whether the ninth character of a CUSIP is the check digit of the first eight."""
    total = 0
    for i, ch in enumerate(cusip[:8]):
        v = _char_value(ch) * (2 if i % 2 else 1)
        total += v // 10 + v % 10
    return len(cusip) == 9 and str((10 - total % 10) % 10) == cusip[8]


def isin_from_cusip(cusip: str, country: str = "US") -> str:
    """The ISIN of a security with this CUSIP: country, CUSIP, Luhn check digit."""
    body = country + cusip
    digits = "".join(str(_char_value(ch)) for ch in body)
    total = 0
    for i, ch in enumerate(reversed(digits)):
        v = int(ch) * (1 if i % 2 else 2)
        total += v // 10 + v % 10
    return body + str((10 - total % 10) % 10)
