"""`stadslab demo` creates one account per role and owns the demo content, so each editor edits their own."""

from __future__ import annotations

from sqlalchemy import select

from stadslab.governance.demo import ACCOUNTS, DEMO_PASSWORD, load_demo_accounts, load_demo_loket
from stadslab.governance.service import find_user_by_email
from stadslab.labs.demo_loader import load_demo, own_demo_content
from stadslab.labs.models import LivingLab, Project

from .factories import auth_headers, make_token


def test_demo_accounts_one_per_role_and_owned_content(db, client):
    with db.session() as s:
        load_demo(s)
        assert own_demo_content(s) > 0 and own_demo_content(s) == 0  # idempotent
        accounts = load_demo_accounts(s)
        assert [a.label for a in accounts] == ["admin", "editor", "editor", "desk (ienw)", "member"]
        assert load_demo_accounts(s) == accounts
        assert load_demo_loket(s) == 2 and load_demo_loket(s) == 0
        from stadslab.network.models import Organisation

        gemeente_utrecht = s.scalar(select(Organisation.id).where(Organisation.name == "Gemeente Utrecht"))
        owners = set(s.scalars(select(Project.owner_organisation_id).where(Project.municipality_code == "GM0344")))
        assert owners == {gemeente_utrecht}  # every Utrecht demo project is Utrecht's
        utrecht_project = s.scalar(select(Project.id).where(Project.municipality_code == "GM0344"))
        leidsche_rijn = s.scalar(select(LivingLab.id).where(LivingLab.name.like("%Leidsche Rijn%")))
        headers = {a.label + a.email: auth_headers(make_token(s, find_user_by_email(s, a.email))) for a in ACCOUNTS}
    utrecht, company, desk = (headers["editor" + ACCOUNTS[1].email], headers["editor" + ACCOUNTS[2].email],
                              headers["desk (ienw)" + ACCOUNTS[3].email])
    # the Utrecht editor edits Utrecht's demo project; the company editor may not
    r = client.patch(f"/api/v1/projects/{utrecht_project}", json={"summary": "Bijgewerkt door Utrecht"},
                     headers=utrecht)
    assert r.status_code == 200, r.text
    assert client.patch(f"/api/v1/projects/{utrecht_project}", json={"summary": "Nee"},
                        headers=company).status_code == 403
    # the IenW desk has Utrecht's mobility request in its queue; the granted one ends within 60 days
    queue = client.get("/api/v1/loket/queue", headers=desk).json()
    assert [i["status"] for i in queue["items"]] == ["submitted", "decided"]
    current = client.get("/api/v1/loket/exemptions", params={"living_lab_id": leidsche_rijn}).json()
    assert current["total"] == 1 and current["items"][0]["valid_until"]
    # the development password logs in
    r = client.post("/api/v1/auth/login", json={"email": ACCOUNTS[3].email, "password": DEMO_PASSWORD})
    assert r.status_code == 200 and r.json()["role"] == "desk"
