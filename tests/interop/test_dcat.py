"""DCAT-AP-NL catalogue: SHACL-valid (official DCAT-AP-NL 3.0 shapes + our DCAT-AP core shapes),
open data only, content negotiation, hydra paging that a harvester can follow."""

from __future__ import annotations

from pathlib import Path

import pytest
from pyshacl import validate
from rdflib import Graph, Namespace, URIRef
from rdflib.namespace import DCAT, DCTERMS, FOAF, RDF

from tests.factories import create, lab_payload, project_payload
from tests.interop.conftest import make_thing

SHAPES = Path(__file__).parent / "shapes"
HYDRA = Namespace("http://www.w3.org/ns/hydra/core#")


@pytest.fixture(scope="module")
def shapes() -> Graph:
    g = Graph()
    g.parse(SHAPES / "dcat-ap-nl-SHACL.ttl", format="turtle")
    g.parse(SHAPES / "stadslab-dcat-ap-core.ttl", format="turtle")
    return g


@pytest.fixture
def content(admin_client, db):
    lab = create(admin_client, "living-labs", lab_payload(themes=["mobility", "data-ai"]))
    create(admin_client, "projects", project_payload(living_lab_id=lab["id"]))
    create(admin_client, "projects", project_payload(themes=[], title="Project zonder thema"))
    with db.session() as s:
        open_thing = make_thing(s, name="Open sensor", lab_id=lab["id"], observations=2)
        network_thing = make_thing(s, name="Netwerk sensor", access_class="network")
        restricted_thing = make_thing(s, name="Besloten sensor", access_class="restricted")
    return {"open": open_thing, "network": network_thing, "restricted": restricted_thing}


def _graph(client, path: str, fmt: str, accept: str | None = None) -> Graph:
    r = client.get(path, headers={"accept": accept} if accept else {})
    assert r.status_code == 200, r.text
    g = Graph()
    g.parse(data=r.content, format=fmt)
    return g


def _conforms(graph: Graph, shapes: Graph) -> None:
    ok, _, text = validate(graph, shacl_graph=shapes, inference="none", advanced=True)
    assert ok, text


def test_catalogue_is_valid_dcat_ap_nl(client, content, shapes):
    g = _graph(client, "/api/v1/catalog.ttl", "turtle")
    _conforms(g, shapes)
    datasets = set(g.subjects(RDF.type, DCAT.Dataset))
    assert len(datasets) == 9 + 1  # registry lists (infrastructure included) + the open Thing; a project is not a dataset
    for ds in datasets:  # mandatory and recommended properties are all there
        for prop in (DCTERMS.title, DCTERMS.description, DCTERMS.identifier, DCTERMS.language,
                     DCTERMS.modified, DCTERMS.publisher, DCAT.theme, DCAT.contactPoint, DCAT.distribution):
            assert g.value(ds, prop) is not None, (ds, prop)
    assert len(set(g.subjects(RDF.type, DCAT.DataService))) == 2  # SensorThings API + OGC API


def test_shapes_catch_a_broken_dataset(client, content, shapes):
    """The validation is not vacuous: remove a mandatory property and it fails."""
    g = _graph(client, "/api/v1/catalog.ttl", "turtle")
    ds = next(iter(g.subjects(RDF.type, DCAT.Dataset)))
    g.remove((ds, DCTERMS.publisher, None))
    g.remove((ds, DCAT.theme, None))
    ok, _, text = validate(g, shacl_graph=shapes, inference="none")
    assert not ok and "publisher" in text and "theme" in text


def test_only_open_sensor_data(client, content):
    g = _graph(client, "/api/v1/catalog.ttl", "turtle")
    text = g.serialize(format="turtle")
    assert f"sensors-thing-{content['open']}" in text
    assert f"sensors-thing-{content['network']}" not in text and "Netwerk sensor" not in text
    assert "Besloten sensor" not in text
    thing_ds = URIRef(f"http://testserver/api/v1/catalog/datasets/sensors-thing-{content['open']}")
    urls = {str(g.value(d, DCAT.accessURL)) for d in g.objects(thing_ds, DCAT.distribution)}
    assert any(u.endswith("/Observations") and "/sta/v1.1/Datastreams(" in u for u in urls)
    assert any(u.endswith("/observations.csv") for u in urls)
    themes = {str(t) for t in g.objects(thing_ds, DCAT.theme)}
    assert "http://publications.europa.eu/resource/authority/data-theme/TRAN" in themes  # from its lab


def test_theme_mapping(client, content):
    g = _graph(client, "/api/v1/catalog.ttl", "turtle")
    thing_ds = [d for d in g.subjects(RDF.type, DCAT.Dataset) if "/sensors-thing-" in str(d)]
    themes = {str(t) for d in thing_ds for t in g.objects(d, DCAT.theme)}
    assert "http://publications.europa.eu/resource/authority/data-theme/TRAN" in themes
    subjects = {str(t) for d in thing_ds for t in g.objects(d, DCTERMS.subject)}
    assert "http://standaarden.overheid.nl/owms/terms/Verkeer_(thema)" in subjects


def test_projects_are_projects_not_datasets(client, content, shapes):
    """A project is a record of the projects dataset and a foaf:Project that sensor data of its lab
    relates to; never a dcat:Dataset. Its old dataset URI redirects to the record."""
    g = _graph(client, "/api/v1/catalog.ttl", "turtle")
    assert not [d for d in g.subjects(RDF.type, DCAT.Dataset) if "/project-" in str(d)]
    projects = set(g.subjects(RDF.type, FOAF.Project))
    thing_ds = URIRef(f"http://testserver/api/v1/catalog/datasets/sensors-thing-{content['open']}")
    assert set(g.objects(thing_ds, DCTERMS.relation)) == projects and len(projects) == 1
    project = next(iter(projects))
    assert str(project).startswith("http://testserver/api/v1/projects/")
    assert g.value(project, DCTERMS.title) is not None
    assert str(g.value(project, FOAF.homepage)).startswith("http://testserver/projecten/")
    assert (project, RDF.type, DCAT.Dataset) not in g
    moved = client.get(f"/api/v1/catalog/datasets/project-{str(project).rsplit('/', 1)[1]}", follow_redirects=False)
    assert moved.status_code == 301 and moved.headers["location"] == str(project)
    assert client.get("/api/v1/catalog/datasets/project-999999").status_code == 404


def test_an_unchanged_catalogue_is_not_modified(client, content):
    """dct:modified is when the data changed, not when it was asked for: two reads agree."""
    def stamps():
        g = _graph(client, "/api/v1/catalog.ttl", "turtle")
        return {str(d): str(g.value(d, DCTERMS.modified)) for d in g.subjects(RDF.type, DCAT.Dataset)}
    first = stamps()
    import time
    time.sleep(1.1)  # a second boundary: the stamps have second precision
    assert stamps() == first


def test_content_negotiation(client, content, shapes):
    r = client.get("/api/v1/catalog", headers={"accept": "text/turtle"})
    assert r.headers["content-type"].startswith("text/turtle") and "Accept" in r.headers["vary"]
    r = client.get("/api/v1/catalog", headers={"accept": "application/ld+json"})
    assert r.headers["content-type"].startswith("application/ld+json")
    jsonld = _graph(client, "/api/v1/catalog.jsonld", "json-ld")
    turtle = _graph(client, "/api/v1/catalog", "turtle", accept="text/turtle;q=0.9, application/ld+json;q=0.5")
    assert len(set(jsonld.subjects(RDF.type, DCAT.Dataset))) == len(set(turtle.subjects(RDF.type, DCAT.Dataset)))
    _conforms(jsonld, shapes)
    assert client.get("/api/v1/catalog").headers["content-type"].startswith("application/ld+json")


def test_hydra_paging_can_be_harvested(client, content, app, shapes):
    """A harvester (like ckanext-dcat) follows hydra:next until there is none and gets every dataset once."""
    app.state.settings.catalog_page_size = 4
    seen: list[str] = []
    url, pages = "/api/v1/catalog.ttl", 0
    while url:
        g = _graph(client, url, "turtle")
        _conforms(g, shapes)
        seen += [str(d) for d in g.subjects(RDF.type, DCAT.Dataset)]
        view = next(iter(g.subjects(RDF.type, HYDRA.PagedCollection)))
        assert int(g.value(view, HYDRA.totalItems)) == 10
        nxt = g.value(view, HYDRA.next)
        assert nxt == g.value(view, HYDRA.nextPage)
        url = str(nxt).replace("http://testserver", "") if nxt else None
        pages += 1
    assert pages == 3 and len(seen) == len(set(seen)) == 10
    assert client.get("/api/v1/catalog.ttl?page=9").status_code == 404
    assert client.get("/api/v1/catalog.ttl?page=0").status_code == 422


def test_dataset_uris_dereference(client, content, shapes):
    g = _graph(client, "/api/v1/catalog.ttl", "turtle")
    ds = next(d for d in g.subjects(RDF.type, DCAT.Dataset) if "/sensors-thing-" in str(d))
    one = _graph(client, str(ds).replace("http://testserver", ""), "turtle", accept="text/turtle")
    assert set(one.subjects(RDF.type, DCAT.Dataset)) == {ds}
    _conforms(one, shapes)
    assert client.get(f"/api/v1/catalog/datasets/sensors-thing-{content['network']}").status_code == 404
    assert client.get("/api/v1/catalog/datasets/nope").status_code == 404
