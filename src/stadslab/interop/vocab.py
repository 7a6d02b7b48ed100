"""Controlled vocabularies used in the DCAT-AP-NL catalogue.

DCAT-AP-NL 3.0 requires ``dcat:theme`` values from the EU Data Theme vocabulary
and recommends domain themes next to them; data.overheid.nl (DCAT-AP-DONL) files
datasets under the OWMS "TaxonomieBeleidsagenda". Our theme codes map to both.
"""

from __future__ import annotations

EU_THEME = "http://publications.europa.eu/resource/authority/data-theme/"
EU_THEME_SCHEME = "http://publications.europa.eu/resource/authority/data-theme"
DONL_THEME = "http://standaarden.overheid.nl/owms/terms/"
EU_LANGUAGE = "http://publications.europa.eu/resource/authority/language/"
EU_FILE_TYPE = "http://publications.europa.eu/resource/authority/file-type/"
EU_ACCESS_RIGHT = "http://publications.europa.eu/resource/authority/access-right/"
EU_FREQUENCY = "http://publications.europa.eu/resource/authority/frequency/"
IANA_MEDIA = "https://www.iana.org/assignments/media-types/"
TOOI_GEMEENTE = "https://identifier.overheid.nl/tooi/id/gemeente/"
COUNTRY_NL = "http://publications.europa.eu/resource/authority/country/NLD"

EU_THEME_LABELS = {
    "AGRI": "Landbouw, visserij, bosbouw en voeding", "ECON": "Economie en financiën",
    "EDUC": "Onderwijs, cultuur en sport", "ENER": "Energie", "ENVI": "Milieu",
    "GOVE": "Overheid en publieke sector", "HEAL": "Gezondheid", "INTR": "Internationale vraagstukken",
    "JUST": "Justitie, rechtsstelsel en openbare veiligheid", "REGI": "Regio's en steden",
    "SOCI": "Bevolking en samenleving", "TECH": "Wetenschap en technologie", "TRAN": "Vervoer",
}

#: Our theme code → (EU data themes, OWMS themes of data.overheid.nl).
THEMES: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "mobility": (("TRAN",), ("Verkeer_(thema)",)),
    "energy-transition": (("ENER",), ("Energie",)),
    "healthy-urban-living": (("HEAL", "ENVI"), ("Zorg_en_gezondheid", "Natuur_en_milieu")),
    "safety-cyber-security": (("JUST",), ("Openbare_orde_en_veiligheid",)),
    "privacy-digital-rights": (("JUST",), ("Recht_(thema)",)),
    "resilience-climate-adaptation": (("ENVI",), ("Natuur_en_milieu",)),
    "logistics-ports": (("TRAN", "ECON"), ("Verkeer_(thema)", "Economie")),
    "circular-economy-cleantech": (("ENVI", "ECON"), ("Afval_(thema)", "Economie")),
    "digital-infrastructure": (("TECH",), ("Ruimte_en_infrastructuur",)),
    "governance-participation": (("GOVE",), ("Bestuur",)),
    "data-ai": (("TECH", "GOVE"), ("Bestuur",)),
}
#: Every dataset is about cities: used when a dataset has no theme of its own.
DEFAULT_EU = ("REGI",)
DEFAULT_DONL = ("Ruimte_en_infrastructuur",)


def eu_themes(codes: list[str]) -> list[str]:
    out = [t for c in codes for t in THEMES.get(c, ((), ()))[0]]
    return [EU_THEME + t for t in dict.fromkeys(out or DEFAULT_EU)]


def donl_themes(codes: list[str]) -> list[str]:
    out = [t for c in codes for t in THEMES.get(c, ((), ()))[1]]
    return [DONL_THEME + t for t in dict.fromkeys(out or DEFAULT_DONL)]
