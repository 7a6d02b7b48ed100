"""The KPI library as data and through /api/v1/kpis."""

from stadslab.evidence import kpi_library


def test_every_kpi_is_complete_bilingual_and_cited():
    lib = kpi_library.library()
    assert len(lib) >= 15
    codes = [k["code"] for k in lib]
    assert len(codes) == len(set(codes))
    srcs = kpi_library.sources()
    for k in lib:
        assert k["name"]["nl"] and k["name"]["en"] and k["definition"]["nl"] and k["definition"]["en"], k["code"]
        assert k["direction"] in ("lower", "higher")
        assert k["dimension"] in kpi_library.dimensions()
        assert k["references"] and all(r["source"] in srcs for r in k["references"]), k["code"]
    assert {k["dimension"] for k in lib} == {"people", "planet", "prosperity", "governance", "propagation"}
    assert {"citykeys", "iso37120", "iso37122"} <= set(srcs)


def test_required_quantities_link_to_observed_properties():
    by = kpi_library.by_code()
    for code, unit in [("no2_concentration", "µg/m³"), ("pm25_concentration", "µg/m³"), ("noise_level", "dB(A)"),
                       ("traffic_intensity", "vehicles/h"), ("cyclist_count", "cyclists/h"),
                       ("energy_consumption", "kWh"), ("air_temperature", "°C")]:
        assert by[code]["unit"] == unit
        assert by[code]["observed_property"]["names"], code


def test_unit_spellings_are_normalised():
    no2 = kpi_library.get("no2_concentration")
    for spelled in ("µg/m³", "μg/m³", "ug/m3", "µg/m3", " µg / m³ "):
        assert kpi_library.unit_matches(no2, spelled), spelled
    assert not kpi_library.unit_matches(no2, "ppb")
    assert kpi_library.unit_matches(kpi_library.get("air_temperature"), "℃")


def test_kpi_api_lists_filters_and_localises(client):
    r = client.get("/api/v1/kpis?lang=en")
    assert r.status_code == 200
    body = r.json()
    assert body["count"] == len(body["value"]) >= 15
    no2 = next(k for k in body["value"] if k["code"] == "no2_concentration")
    assert no2["name"] == "Ambient NO2 concentration" and no2["measurable_with_sensors"]
    assert any(ref["url"] and "iso.org" in ref["url"] for ref in no2["references"])
    nl = client.get("/api/v1/kpis/no2_concentration?lang=nl").json()
    assert nl["name"].startswith("NO2-concentratie")
    gov = client.get("/api/v1/kpis?dimension=governance").json()["value"]
    assert gov and all(k["dimension"] == "governance" for k in gov)
    assert all(not k["measurable_with_sensors"] for k in client.get("/api/v1/kpis?measurable=false").json()["value"])
    assert client.get("/api/v1/kpis/nope").status_code == 404
    r = client.get("/api/v1/kpis?dimension=weather")
    assert r.status_code == 422 and "dimension" in r.json()["detail"]
