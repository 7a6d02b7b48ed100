"""The open-data catalogue as DCAT-AP-NL 3.0 (rdflib), for data.overheid.nl and any CKAN harvester.

What is in it, in a fixed order (so that pages are stable):

1. one dataset per registry list (living labs, projects, ...) with CSV, Excel and JSON
   distributions (and GeoJSON / OGC API for the spatial ones);
2. one dataset per SensorThings Thing whose data is *open*: its open Datastreams are the
   distributions, served by the SensorThings API (a ``dcat:DataService``) and as CSV.

A project is not a dataset: its record is one row of the projects dataset (1). Where a
sensor dataset comes from a living lab, the lab's projects are described as what they are,
``foaf:Project`` (title, description, homepage, place), and the dataset points at them with
``dct:relation``. ``/api/v1/catalog/datasets/project-{id}`` (a URI of older versions)
redirects to the project's record.

``dct:modified`` is the time the data last changed (the newest ``updated_at`` or deletion of
a list; the newest observation of a Thing), never the time of the request: a harvester
that reads the catalogue twice without a change in between sees nothing modified.

Only what an anonymous caller may read in /sta is listed, by the same rule
(``sensorthings.visibility`` for the anonymous principal): Things of access class
``network`` or ``restricted`` are left out entirely, and so are an open Thing's
Datastreams of those classes, with their ObservedProperties and time spans. Objects of class-constrained properties are
typed (``skos:Concept``, ``foaf:Agent``, ``dct:LicenseDocument``...) because the
DCAT-AP-NL shapes check those classes in the data itself.

Large catalogues are paged with ``hydra:PagedCollection`` (``hydra:next`` and the
older ``hydra:nextPage``, both read by ckanext-dcat's harvester).
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from datetime import datetime, timezone
from collections.abc import Callable
from typing import Any

from rdflib import BNode, Graph, Literal, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS as DCT, FOAF, RDF, SKOS, XSD
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from stadslab.core.auth import ANONYMOUS
from stadslab.core.config import Settings
from stadslab.core.database import utcnow
from stadslab.labs.models import LivingLab, Project
from stadslab.network.models import Municipality, Organisation
from stadslab.sensorthings.access import visibility
from stadslab.sensorthings.model.tables import Datastream, ObservedProperty, Thing

from . import timeutil, vocab

VCARD = Namespace("http://www.w3.org/2006/vcard/ns#")
ADMS = Namespace("http://www.w3.org/ns/adms#")
DCATAP = Namespace("http://data.europa.eu/r5r/")
LOCN = Namespace("http://www.w3.org/ns/locn#")
GSP = Namespace("http://www.opengis.net/ont/geosparql#")
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")

JSONLD = "application/ld+json"
TURTLE = "text/turtle"
REGISTRY_LISTS = [
    ("living-labs", "Living labs", "Proeftuinen (living labs) van het Smart City netwerk: ligging, thema's, "
     "infrastructuur en status.", True),
    ("projects", "Projecten", "Smart city projecten van Nederlandse gemeenten: status, thema's, budget, "
     "partners, KPI's en lessen.", True),
    ("solutions", "Oplossingen", "Herbruikbare oplossingen uit projecten en hoe vaak ze zijn overgenomen.", False),
    ("adoptions", "Adopties", "Welke gemeente welke oplossing heeft overgenomen: de replicatiegraaf.", False),
    ("organisations", "Organisaties", "Gemeenten, bedrijven en kennisinstellingen in het netwerk.", False),
    ("coalitions", "Coalities", "Samenwerkingen van steden rond een gezamenlijke vraag.", False),
    ("events", "Internationale agenda", "Handelsmissies, congressen en EU-infodagen met de Nederlandse "
     "vertegenwoordiging.", False),
    ("funding-calls", "Subsidieoproepen", "Open Europese en nationale subsidieoproepen met deadlines.", False),
]


#: ``dct:modified`` of another capability's list: a function of the session giving its newest change.
LIST_MODIFIED: dict[str, Callable[[Session], datetime | None]] = {}


def register_list(name: str, title: str, description: str, spatial: bool,
                  modified: Callable[[Session], datetime | None] | None = None) -> None:
    """Another capability's registry list in the catalogue (``/api/v1/{name}`` with .csv, .xlsx and,
    when spatial, .geojson and the OGC API collection of the same name); ``modified`` gives the
    list's newest change (its ``dct:modified``)."""
    if all(n != name for n, *_ in REGISTRY_LISTS):
        REGISTRY_LISTS.append((name, title, description, spatial))
    if modified is not None:
        LIST_MODIFIED[name] = modified


FORMATS = {  # suffix: (media type, EU file type, title)
    "csv": ("text/csv", "CSV", "CSV"),
    "xlsx": ("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet", "XLSX", "Excel"),
    "json": ("application/json", "JSON", "JSON (API)"),
    "geojson": ("application/geo+json", "GEOJSON", "GeoJSON"),
}


@dataclass
class Page:
    number: int
    size: int
    total: int

    @property
    def last(self) -> int:
        return max(1, math.ceil(self.total / self.size))


class CatalogBuilder:
    def __init__(self, session: Session, settings: Settings, base_url: str):
        self.s = session
        self.settings = settings
        self.base = base_url.rstrip("/")
        self.g = Graph()
        for prefix, ns in (("dcat", DCAT), ("dct", DCT), ("foaf", FOAF), ("vcard", VCARD), ("adms", ADMS),
                           ("dcatap", DCATAP), ("locn", LOCN), ("gsp", GSP), ("hydra", HYDRA), ("skos", SKOS)):
            self.g.bind(prefix, ns)
        self.catalog = URIRef(f"{self.base}/api/v1/catalog")
        self.license = URIRef(settings.catalog_license)
        self.publisher = URIRef(settings.catalog_publisher_uri or f"{self.base}/api/v1/catalog#publisher")
        self.contact = URIRef(f"{self.base}/api/v1/catalog#contact")
        self.sta_service = URIRef(f"{self.base}/api/v1/catalog#sensorthings-api")
        self.ogc_service = URIRef(f"{self.base}/api/v1/catalog#ogc-api-features")
        self._typed: set[URIRef] = set()

    # --- shared nodes ---------------------------------------------------------------------------

    def add(self, s, p, o) -> None:
        self.g.add((s, p, o))

    def _once(self, node: URIRef, cls, label: str | None = None, extra=()) -> URIRef:
        if node not in self._typed:
            self._typed.add(node)
            self.add(node, RDF.type, cls)
            for c in extra:
                self.add(node, RDF.type, c)
            if label:
                self.add(node, SKOS.prefLabel, Literal(label, lang="nl"))
        return node

    def agent(self, org: Organisation | None, name: str | None = None) -> URIRef:
        if org is None and not name:
            node, label = self.publisher, self.settings.catalog_publisher_name
        elif org is None:
            digest = hashlib.sha256(name.encode()).hexdigest()[:16]
            node, label = URIRef(f"{self.base}/api/v1/catalog#agent-{digest}"), name
        else:
            node, label = URIRef(f"{self.base}/api/v1/organisations/{org.id}"), org.name
        if node not in self._typed:
            self._once(node, FOAF.Agent, extra=(FOAF.Organization,))
            self.add(node, FOAF.name, Literal(label))
        return node

    def shared(self) -> None:
        self.agent(None)
        self._once(self.contact, VCARD.Kind, extra=(VCARD.Organization,))
        self.add(self.contact, VCARD.fn, Literal(self.settings.catalog_publisher_name))
        self.add(self.contact, VCARD.hasEmail, URIRef(f"mailto:{self.settings.catalog_contact_email}"))
        self._once(self.license, DCT.LicenseDocument)
        self._once(URIRef(vocab.EU_LANGUAGE + "NLD"), DCT.LinguisticSystem)
        self._once(URIRef(vocab.EU_ACCESS_RIGHT + "PUBLIC"), DCT.RightsStatement)

    def theme_nodes(self, codes: list[str]) -> list[URIRef]:
        out = []
        for uri in vocab.eu_themes(codes):
            node = URIRef(uri)
            if node not in self._typed:
                self._once(node, SKOS.Concept, vocab.EU_THEME_LABELS.get(uri.rsplit("/", 1)[-1]))
                self.add(node, SKOS.inScheme, URIRef(vocab.EU_THEME_SCHEME))
            out.append(node)
        return out

    def spatial_city(self, m: Municipality | None) -> URIRef | None:
        if m is None:
            return None
        node = URIRef(vocab.TOOI_GEMEENTE + m.code.lower())
        if node not in self._typed:
            self._once(node, DCT.Location)
            self.add(node, SKOS.prefLabel, Literal(m.name, lang="nl"))
            self.add(node, DCAT.centroid, Literal(f"POINT({m.centroid_lon} {m.centroid_lat})",
                                                  datatype=GSP.wktLiteral))
        return node

    def document(self, url: str) -> URIRef:
        return self._once(URIRef(url), FOAF.Document)

    # --- datasets -------------------------------------------------------------------------------

    def dataset(self, key: str, *, title: str, description: str, modified: datetime, themes: list[str],
                keywords: list[str], publisher: URIRef, landing: str | None = None,
                spatial: list[URIRef] = (), temporal: tuple[Any, Any] | None = None,
                frequency: str | None = None) -> URIRef:
        ds = URIRef(f"{self.base}/api/v1/catalog/datasets/{key}")
        self.add(ds, RDF.type, DCAT.Dataset)
        self.add(self.catalog, DCAT.dataset, ds)
        self.add(ds, DCT.title, Literal(title, lang="nl"))
        self.add(ds, DCT.description, Literal(description or title, lang="nl"))
        self.add(ds, DCT.identifier, Literal(str(ds)))
        self.add(ds, DCT.language, URIRef(vocab.EU_LANGUAGE + "NLD"))
        self.add(ds, DCT.modified, Literal(timeutil.aware_utc(modified).replace(microsecond=0),
                                           datatype=XSD.dateTime))
        self.add(ds, DCT.publisher, publisher)
        self.add(ds, DCT.creator, publisher)
        self.add(ds, DCAT.contactPoint, self.contact)
        self.add(ds, DCT.accessRights, URIRef(vocab.EU_ACCESS_RIGHT + "PUBLIC"))
        for node in self.theme_nodes(themes):
            self.add(ds, DCAT.theme, node)
        for uri in vocab.donl_themes(themes):
            self.add(ds, DCT.subject, URIRef(uri))
        for kw in dict.fromkeys(k for k in keywords if k):
            self.add(ds, DCAT.keyword, Literal(kw, lang="nl"))
        if landing:
            self.add(ds, DCAT.landingPage, self.document(landing))
        for node in spatial:
            if node is not None:
                self.add(ds, DCT.spatial, node)
        if temporal and (temporal[0] or temporal[1]):
            period = BNode()
            self.add(period, RDF.type, DCT.PeriodOfTime)
            for prop, value in ((DCAT.startDate, temporal[0]), (DCAT.endDate, temporal[1])):
                if value is not None:
                    dt = XSD.dateTime if isinstance(value, datetime) else XSD.date
                    v = timeutil.aware_utc(value).replace(microsecond=0) if isinstance(value, datetime) else value
                    self.add(period, prop, Literal(v, datatype=dt))
            self.add(ds, DCT.temporal, period)
        if frequency:
            freq = self._once(URIRef(vocab.EU_FREQUENCY + frequency), DCT.Frequency)
            self.add(ds, DCT.accrualPeriodicity, freq)
        return ds

    def distribution(self, ds: URIRef, key: str, url: str, fmt: str, *, title: str, download: bool = True,
                     service: URIRef | None = None) -> None:
        media, file_type, label = FORMATS[fmt]
        dist = URIRef(f"{ds}/distributions/{key}")
        self.add(ds, DCAT.distribution, dist)
        self.add(dist, RDF.type, DCAT.Distribution)
        self.add(dist, DCT.title, Literal(f"{title} ({label})", lang="nl"))
        self.add(dist, DCAT.accessURL, URIRef(url))
        if download:
            self.add(dist, DCAT.downloadURL, URIRef(url))
        self.add(dist, DCAT.mediaType, self._once(URIRef(vocab.IANA_MEDIA + media), DCT.MediaType))
        self.add(dist, DCT.format, self._once(URIRef(vocab.EU_FILE_TYPE + file_type), DCT.MediaTypeOrExtent))
        self.add(dist, DCT.license, self.license)
        if service is not None:
            self.add(dist, DCAT.accessService, service)

    def data_service(self, node: URIRef, *, title: str, description: str, endpoint: str, endpoint_description: str,
                     documentation: str, themes: list[str], served: list[URIRef]) -> None:
        if node not in self._typed:
            self._once(node, DCAT.DataService)
            self.add(self.catalog, DCAT.service, node)
            self.add(node, DCT.title, Literal(title, lang="nl"))
            self.add(node, DCT.description, Literal(description, lang="nl"))
            self.add(node, DCT.identifier, Literal(str(node)))
            self.add(node, DCAT.endpointURL, URIRef(endpoint))
            self.add(node, DCAT.endpointDescription, URIRef(endpoint_description))
            self.add(node, FOAF.page, self.document(documentation))
            self.add(node, DCAT.landingPage, self.document(endpoint))
            self.add(node, DCT.accessRights, URIRef(vocab.EU_ACCESS_RIGHT + "PUBLIC"))
            self.add(node, DCAT.contactPoint, self.contact)
            self.add(node, DCT.publisher, self.publisher)
            self.add(node, DCT.creator, self.publisher)
            self.add(node, DCT.license, self.license)
            self.add(node, DCT.language, URIRef(vocab.EU_LANGUAGE + "NLD"))
            for t in self.theme_nodes(themes):
                self.add(node, DCAT.theme, t)
        for ds in served:
            self.add(node, DCAT.servesDataset, ds)


# --- what goes in ---------------------------------------------------------------------------------


def _open_things(session: Session):
    return select(Thing.id).where(*visibility.where(ANONYMOUS, "Thing", Thing.__table__)).order_by(Thing.id)


def dataset_keys(session: Session) -> list[str]:
    keys = [f"registry-{name}" for name, *_ in REGISTRY_LISTS]
    keys += [f"sensors-thing-{i}" for i in session.scalars(_open_things(session))]
    return keys


def moved_project(session: Session, key: str) -> int | None:
    """The project id of an older ``project-{id}`` dataset key, when that project exists."""
    head, _, tail = key.partition("-")
    if head != "project" or not tail.isdigit() or len(tail) > 9:
        return None
    return session.scalar(select(Project.id).where(Project.id == int(tail)))


#: ``dct:modified`` of a dataset with nothing in it yet (a fixed time: the catalogue's own start).
NEVER_MODIFIED = datetime(2024, 1, 1, tzinfo=timezone.utc)


def _list_modified(session: Session, name: str) -> datetime:
    """The newest change of a registry list: its newest ``updated_at`` or deletion."""
    from stadslab.interop.models import Event, FundingCall
    from stadslab.labs.models import Adoption, Solution
    from stadslab.network.models import Coalition, RegistryTombstone

    if name in LIST_MODIFIED:
        stamp = LIST_MODIFIED[name](session)
        return timeutil.aware_utc(stamp) if stamp is not None else NEVER_MODIFIED
    model, kind = {"living-labs": (LivingLab, "living_lab"), "projects": (Project, "project"),
                   "solutions": (Solution, "solution"), "adoptions": (Adoption, "adoption"),
                   "organisations": (Organisation, "organisation"), "coalitions": (Coalition, "coalition"),
                   "events": (Event, None), "funding-calls": (FundingCall, None)}[name]
    stamps = [session.scalar(select(func.max(model.updated_at)))]
    if kind:
        stamps.append(session.scalar(select(func.max(RegistryTombstone.deleted_at))
                                     .where(RegistryTombstone.entity_type == kind)))
    return max((timeutil.aware_utc(t) for t in stamps if t is not None), default=NEVER_MODIFIED)


def _registry_dataset(b: CatalogBuilder, name: str, title: str, description: str, spatial: bool) -> URIRef:
    last = _list_modified(b.s, name)
    ds = b.dataset(f"registry-{name}", title=f"Stadslab: {title}", description=description, modified=last,
                   themes=[], keywords=["smart city", "gemeenten", title.lower()], publisher=b.publisher,
                   landing=f"{b.base}/api/docs", spatial=[URIRef(vocab.COUNTRY_NL)], frequency="CONT")
    b._once(URIRef(vocab.COUNTRY_NL), DCT.Location)
    for fmt in ("csv", "xlsx"):
        b.distribution(ds, fmt, f"{b.base}/api/v1/{name}.{fmt}", fmt, title=title)
    b.distribution(ds, "json", f"{b.base}/api/v1/{name}", "json", title=title, download=False)
    if spatial:
        b.distribution(ds, "geojson", f"{b.base}/api/v1/{name}.geojson", "geojson", title=title)
        b.distribution(ds, "ogcapi", f"{b.base}/ogcapi/collections/{name}/items?f=json", "geojson",
                       title=f"{title}, OGC API Features", download=False, service=b.ogc_service)
        b.data_service(b.ogc_service, title="Stadslab OGC API Features",
                       description="Living labs, projecten en sensoren als OGC API Features collecties.",
                       endpoint=f"{b.base}/ogcapi", endpoint_description=f"{b.base}/api/openapi.json",
                       documentation=f"{b.base}/ogcapi/conformance", themes=[], served=[ds])
    return ds


def _project(b: CatalogBuilder, p: Project) -> URIRef:
    """A project as what it is (``foaf:Project``), for datasets that come from it to point at."""
    node = URIRef(f"{b.base}/api/v1/projects/{p.id}")
    if node not in b._typed:
        b._once(node, FOAF.Project)
        b.add(node, DCT.title, Literal(p.title, lang="nl"))
        if p.summary:
            b.add(node, DCT.description, Literal(p.summary, lang="nl"))
        b.add(node, FOAF.homepage, b.document(f"{b.base}/projecten/{p.id}"))
        city = b.spatial_city(p.municipality)
        if city is not None:
            b.add(node, DCT.spatial, city)
        b.add(node, DCT.modified, Literal(timeutil.aware_utc(p.updated_at).replace(microsecond=0),
                                          datatype=XSD.dateTime))
    return node


def _thing_dataset(b: CatalogBuilder, t: Thing) -> URIRef | None:
    streams = list(b.s.execute(
        select(Datastream, ObservedProperty.name).join(ObservedProperty,
                                                       ObservedProperty.id == Datastream.observed_property_id)
        .where(Datastream.thing_id == t.id, *visibility.where(ANONYMOUS, "Datastream", Datastream.__table__))
        .order_by(Datastream.id)))
    lab = b.s.get(LivingLab, t.living_lab_id) if t.living_lab_id else None
    owner = b.s.get(Organisation, t.owner_organisation_id) if t.owner_organisation_id else None
    agent = b.agent(owner, t.owner_name)
    starts = [ds.phenomenon_time_start for ds, _ in streams if ds.phenomenon_time_start]
    ends = [ds.phenomenon_time_end or ds.phenomenon_time_start for ds, _ in streams if ds.phenomenon_time_start]
    modified = max((timeutil.aware_utc(e) for e in ends), default=None) or NEVER_MODIFIED
    themes = [th.code for th in lab.themes] if lab else []
    description = " ".join(x for x in (t.description, f"Doel: {t.purpose}" if t.purpose else "") if x)
    ds = b.dataset(f"sensors-thing-{t.id}", title=f"Sensordata: {t.name}", description=description or t.name,
                   modified=modified, themes=themes or ["digital-infrastructure"],
                   keywords=["sensordata", t.sensor_type or "", *(name for _, name in streams)], publisher=agent,
                   landing=f"{b.base}/sta/v1.1/Things({t.id})",
                   spatial=[b.spatial_city(lab.municipality) if lab else None],
                   temporal=(min(starts, default=None), max(ends, default=None)), frequency="CONT")
    for stream, prop in streams:
        b.distribution(ds, f"datastream-{stream.id}", f"{b.base}/sta/v1.1/Datastreams({stream.id})/Observations",
                       "json", title=f"{stream.name} ({prop})", download=False, service=b.sta_service)
        b.distribution(ds, f"datastream-{stream.id}-csv", f"{b.base}/api/v1/datastreams/{stream.id}/observations.csv",
                       "csv", title=f"{stream.name} ({prop})")
    if lab is not None:
        for p in b.s.scalars(select(Project).where(Project.living_lab_id == lab.id).order_by(Project.id)):
            b.add(ds, DCT.relation, _project(b, p))
    b.data_service(b.sta_service, title="Stadslab SensorThings API",
                   description="OGC SensorThings API 1.1 van de stedelijke sensordatahub.",
                   endpoint=f"{b.base}/sta/v1.1", endpoint_description=f"{b.base}/api/openapi.json",
                   documentation=f"{b.base}/api/docs", themes=["digital-infrastructure"], served=[ds])
    return ds


def build_catalog(session: Session, settings: Settings, base_url: str, *, page: int = 1,
                  page_size: int | None = None, paged_url: str | None = None,
                  only: str | None = None) -> Graph:
    """The catalogue graph for one page (page 1 = the first ``page_size`` datasets), or for one dataset."""
    size = page_size or settings.catalog_page_size
    keys = dataset_keys(session)
    if only is not None:
        keys, size, page = [k for k in keys if k == only], 1, 1
    info = Page(page, size, len(keys))
    b = CatalogBuilder(session, settings, base_url)
    b.shared()
    c = b.catalog
    b.add(c, RDF.type, DCAT.Catalog)
    b.add(c, DCT.title, Literal("Stadslab open data catalogus", lang="nl"))
    b.add(c, DCT.title, Literal("Stadslab open data catalogue", lang="en"))
    b.add(c, DCT.description, Literal("Open data van het Nederlandse Smart City netwerk: living labs, projecten, "
                                      "oplossingen, de internationale agenda, subsidieoproepen en open sensordata.",
                                      lang="nl"))
    b.add(c, DCT.publisher, b.publisher)
    b.add(c, DCAT.contactPoint, b.contact)
    b.add(c, DCT.language, URIRef(vocab.EU_LANGUAGE + "NLD"))
    b.add(c, DCT.license, b.license)
    b.add(c, DCT.modified, Literal(utcnow().replace(microsecond=0), datatype=XSD.dateTime))
    b.add(c, FOAF.homepage, b.document(f"{b.base}/"))
    b.add(c, DCAT.themeTaxonomy, URIRef(vocab.EU_THEME_SCHEME))
    b.add(c, DCT.spatial, b._once(URIRef(vocab.COUNTRY_NL), DCT.Location))

    selected = keys[(page - 1) * size: page * size]
    registry = {name: (title, desc, spatial) for name, title, desc, spatial in REGISTRY_LISTS}
    thing_ids = [int(k.rsplit("-", 1)[1]) for k in selected if k.startswith("sensors-thing-")]
    for k in selected:
        if k.startswith("registry-"):
            _registry_dataset(b, k[len("registry-"):], *registry[k[len("registry-"):]])
    for t in session.scalars(select(Thing).where(Thing.id.in_(thing_ids),
                                                 *visibility.where(ANONYMOUS, "Thing", Thing.__table__))
                             .order_by(Thing.id)):
        _thing_dataset(b, t)

    if only is None and (info.total > size or page > 1):
        url = paged_url or str(c)
        sep = "&" if "?" in url else "?"
        view = URIRef(f"{url}{sep}page={page}")
        b.add(view, RDF.type, HYDRA.PagedCollection)
        b.add(view, HYDRA.totalItems, Literal(info.total, datatype=XSD.integer))
        b.add(view, HYDRA.itemsPerPage, Literal(size, datatype=XSD.integer))
        for preds, number in (((HYDRA.first, HYDRA.firstPage), 1), ((HYDRA.last, HYDRA.lastPage), info.last),
                              ((HYDRA.next, HYDRA.nextPage), page + 1 if page < info.last else None),
                              ((HYDRA.previous, HYDRA.previousPage), page - 1 if page > 1 else None)):
            if number is not None:
                for pred in preds:
                    b.add(view, pred, Literal(f"{url}{sep}page={number}"))
    return b.g


def serialize(graph: Graph, media_type: str) -> bytes:
    if media_type == TURTLE:
        return graph.serialize(format="turtle").encode()
    context = {"dcat": str(DCAT), "dct": str(DCT), "foaf": str(FOAF), "vcard": str(VCARD), "adms": str(ADMS),
               "dcatap": str(DCATAP), "locn": str(LOCN), "gsp": str(GSP), "hydra": str(HYDRA), "skos": str(SKOS),
               "xsd": str(XSD)}
    return graph.serialize(format="json-ld", context=context, auto_compact=True).encode()


def negotiate(accept: str | None) -> str:
    """Turtle or JSON-LD from an Accept header (JSON-LD by default)."""
    best, best_q = JSONLD, 0.0
    for part in (accept or "").split(","):
        fields = [f.strip() for f in part.split(";")]
        media = fields[0].lower()
        q = 1.0
        for f in fields[1:]:
            if f.startswith("q="):
                try:
                    q = float(f[2:])
                except ValueError:
                    q = 0.0
        if media in (TURTLE, "application/x-turtle") and q > best_q:
            best, best_q = TURTLE, q
        elif media in (JSONLD, "application/json") and q > best_q:
            best, best_q = JSONLD, q
    return best
