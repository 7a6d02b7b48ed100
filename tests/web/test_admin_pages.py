"""Management pages: who may see them, accounts, API tokens, content, and the project edit form."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from stadslab.governance.models import ApiToken, AuditEvent, User
from stadslab.labs.models import Project
from tests.web.conftest import web_login
from tests.web.seed import seed_accounts, seed_registry

ADMIN_PAGES = ["/beheer", "/beheer/gebruikers", "/beheer/tokens", "/beheer/inhoud",
               "/beheer/inhoud?soort=labs", "/beheer/inhoud?soort=oplossingen"]


def _field(html: str, field_id: str, tag: str = "input") -> str:
    return re.search(rf'<{tag}[^>]*id="{field_id}"[^>]*>', html).group(0)


@pytest.mark.parametrize("path", ADMIN_PAGES)
def test_anonymous_visitors_are_sent_to_login(web_client, path):
    r = web_client.get(path, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/inloggen?volgende=%2Fbeheer")


def test_editors_and_members_get_a_403_page(web_client, session):
    accounts = seed_accounts(session)
    for email in (accounts.editor_email, accounts.member_email):
        web_client.cookies.clear()
        web_login(web_client, email)
        for path in ADMIN_PAGES:
            r = web_client.get(path)
            assert r.status_code == 403, path
            assert "Geen toegang" in r.text and r.headers["content-type"].startswith("text/html")
        assert 'href="/beheer"' not in web_client.get("/").text  # no menu item without the role


def test_admin_sees_management_in_the_menu_and_the_figures(web_client, session):
    accounts = seed_accounts(session)
    seed_registry(session)
    web_login(web_client, accounts.admin_email)
    home = web_client.get("/").text
    assert '<a class="utrecht-nav-list__link stadslab-nav__link" href="/beheer">Beheer</a>' in home
    r = web_client.get("/beheer")
    assert r.status_code == 200 and "4 accounts, waarvan 4 actief" in r.text and "2 projecten" in r.text and "2 proeftuinen" in r.text


def test_admin_lists_adds_changes_and_disables_accounts(web_client, session):
    accounts = seed_accounts(session)
    csrf = web_login(web_client, accounts.admin_email)
    page = web_client.get("/beheer/gebruikers").text
    for email in (accounts.admin_email, accounts.editor_email, accounts.member_email):
        assert email in page
    assert f'action="/beheer/gebruikers/{accounts.admin_id}"' not in page  # no demoting oneself
    # add
    r = web_client.post("/beheer/gebruikers", data={
        "csrf_token": csrf, "email": "Nieuw@Example.org", "display_name": "Nina Nieuw", "role": "editor",
        "organisation_id": str(accounts.organisation_id), "password": "een lang genoeg wachtwoord"},
        follow_redirects=False)
    assert r.status_code == 303
    assert "Het account is aangemaakt." in web_client.get(r.headers["location"]).text
    new = session.scalar(select(User).where(User.email == "nieuw@example.org"))
    assert new.role == "editor" and new.organisation_id == accounts.organisation_id
    # change role
    r = web_client.post(f"/beheer/gebruikers/{new.id}", data={"csrf_token": csrf, "actie": "role", "role": "member"},
                        follow_redirects=False)
    assert r.status_code == 303
    session.expire_all()
    assert session.get(User, new.id).role == "member"
    # disable: the account can no longer log in
    r = web_client.post(f"/beheer/gebruikers/{new.id}", data={"csrf_token": csrf, "actie": "disable"},
                        follow_redirects=False)
    assert "uitgeschakeld en de sessies" in web_client.get(r.headers["location"]).text
    session.expire_all()
    assert session.get(User, new.id).active is False
    actions = session.scalars(select(AuditEvent.action).where(AuditEvent.entity_id == str(new.id))).all()
    assert actions == ["user.create", "user.update", "user.update"]
    # the same forms without the CSRF token are refused
    r = web_client.post(f"/beheer/gebruikers/{new.id}", data={"actie": "enable"}, follow_redirects=False)
    assert r.status_code == 403
    session.expire_all()
    assert session.get(User, new.id).active is False


def test_add_account_errors_next_to_the_fields_keep_input_but_not_the_password(web_client, session):
    accounts = seed_accounts(session)
    csrf = web_login(web_client, accounts.admin_email)
    r = web_client.post("/beheer/gebruikers", data={
        "csrf_token": csrf, "email": "nina@example.org", "display_name": "Nina", "role": "editor",
        "organisation_id": "", "password": "kort"})
    assert r.status_code == 422
    assert re.search(r'id="nieuw-password-error"[^>]*>.*?Kies een wachtwoord van 12 tot 256 tekens', r.text, re.S)
    assert 'value="nina@example.org"' in _field(r.text, "nieuw-email")
    assert "kort" not in _field(r.text, "nieuw-password")
    assert 'aria-invalid="true"' in _field(r.text, "nieuw-password") and "autofocus" in _field(r.text, "nieuw-password")
    r = web_client.post("/beheer/gebruikers?lang=en", data={
        "csrf_token": csrf, "email": accounts.editor_email, "role": "member", "organisation_id": ""})
    assert r.status_code == 422
    assert re.search(r'id="nieuw-email-error"[^>]*>.*?An account with this e-mail address already exists', r.text, re.S)
    r = web_client.post("/beheer/gebruikers?lang=nl", data={"csrf_token": csrf, "email": "", "role": "boss"})
    assert r.status_code == 422
    assert re.search(r'id="nieuw-role-error"[^>]*>.*?Kies een van de mogelijkheden', r.text, re.S)
    assert session.scalar(select(User).where(User.email == "nina@example.org")) is None


def test_tokens_are_made_shown_once_listed_without_secret_and_revoked(web_client, session):
    accounts = seed_accounts(session)
    csrf = web_login(web_client, accounts.admin_email)
    r = web_client.post("/beheer/tokens", data={"csrf_token": csrf, "name": "gateway Strijp-S",
                                                "scopes": ["sta:read", "sta:write"], "expires_in_days": "30",
                                                "organisation_id": str(accounts.organisation_id)})
    assert r.status_code == 201 and r.headers["cache-control"] == "no-store"
    secret = re.search(r'id="new-secret" type="text" value="(stl_[A-Za-z0-9_-]+)"', r.text).group(1)
    token = session.scalar(select(ApiToken).where(ApiToken.name == "gateway Strijp-S"))
    assert token.organisation_id == accounts.organisation_id and token.scopes == ["sta:read", "sta:write"]
    # the secret works as a Bearer token, and it is never shown again
    assert web_client.get("/sta/v1.1/Things", headers={"Authorization": f"Bearer {secret}"}).status_code == 200
    listing = web_client.get("/beheer/tokens").text
    assert secret not in listing and "gateway Strijp-S" in listing and token.prefix in listing
    r = web_client.post(f"/beheer/tokens/{token.id}/intrekken", data={"csrf_token": csrf}, follow_redirects=False)
    assert r.status_code == 303
    assert "Het token is ingetrokken." in web_client.get(r.headers["location"]).text
    session.expire_all()
    assert session.get(ApiToken, token.id).revoked_at is not None
    probe = web_client.get("/sta/v1.1/Things", headers={"Authorization": f"Bearer {secret}"})
    assert probe.status_code == 401


def test_token_form_errors_are_placed_at_their_fields(web_client, session):
    accounts = seed_accounts(session)
    csrf = web_login(web_client, accounts.admin_email)
    r = web_client.post("/beheer/tokens", data={"csrf_token": csrf, "name": "", "expires_in_days": "abc"})
    assert r.status_code == 422
    assert re.search(r'id="token-name-error"[^>]*>.*?Vul dit veld in', r.text, re.S)
    assert re.search(r'id="token-scopes-error"[^>]*>.*?Kies er minstens één', r.text, re.S)
    assert re.search(r'id="token-expires_in_days-error"[^>]*>.*?Vul een geheel getal in', r.text, re.S)
    # an organisation token may not carry administration rights (the service says so)
    r = web_client.post("/beheer/tokens", data={"csrf_token": csrf, "name": "te machtig", "scopes": ["admin"],
                                                "expires_in_days": "30",
                                                "organisation_id": str(accounts.organisation_id)})
    assert r.status_code == 422
    assert re.search(r'id="token-scopes-error"[^>]*>.*?alleen rechten die de eigenaar', r.text, re.S)
    r = web_client.post("/beheer/tokens", data={"csrf_token": csrf, "name": "te lang", "scopes": ["sta:read"],
                                                "expires_in_days": "400"})
    assert re.search(r'id="token-expires_in_days-error"[^>]*>.*?van 1 tot en met 366', r.text, re.S)
    assert session.scalars(select(ApiToken)).all() == []


def test_content_page_lists_items_with_edit_links(web_client, session):
    accounts = seed_accounts(session)
    reg = seed_registry(session)
    web_login(web_client, accounts.admin_email)
    r = web_client.get("/beheer/inhoud")
    for pid in reg.project_ids:
        assert f'href="/projecten/{pid}/bewerken"' in r.text
    r = web_client.get("/beheer/inhoud?soort=labs&q=marineterrein")
    assert "Marineterrein Amsterdam" in r.text and "Strijp-S Living Lab" not in r.text
    r = web_client.get("/beheer/inhoud?soort=oplossingen")
    assert "Adaptieve straatverlichting" in r.text and 'aria-current="page">Oplossingen' in r.text


def _own_project(session, accounts) -> int:
    from stadslab.labs import service as labs
    from stadslab.labs.schemas import ProjectIn
    from tests.factories import EINDHOVEN, project_payload

    return labs.create_project(session, ProjectIn(**project_payload(
        title="Slimme lantaarnpalen Woensel", city=EINDHOVEN, status="pilot",
        owner_organisation_id=accounts.organisation_id, start_date="2024-01-01"))).id


def test_editor_of_the_owner_edits_a_project_with_errors_then_fixed(web_client, session):
    accounts = seed_accounts(session)
    project_id = _own_project(session, accounts)
    csrf = web_login(web_client, accounts.editor_email)
    page = web_client.get(f"/projecten/{project_id}").text
    assert f'href="/projecten/{project_id}/bewerken"' in page  # the edit button shows for the owner's editor
    form = web_client.get(f"/projecten/{project_id}/bewerken").text
    options = re.findall(r'<option value="([a-z]+)"', form)
    assert options == ["pilot", "evaluated", "stopped"]  # only moves the registry allows
    r = web_client.post(f"/projecten/{project_id}/bewerken", data={
        "csrf_token": csrf, "title": "ab", "summary": "Nieuwe samenvatting", "status": "evaluated",
        "start_date": "2024-06-01", "end_date": "2024-01-31"})
    assert r.status_code == 422
    assert re.search(r'id="f-title-error"[^>]*>.*?Gebruik minstens 3 tekens', r.text, re.S)
    assert 'value="ab"' in _field(r.text, "f-title") and "autofocus" in _field(r.text, "f-title")
    assert "Nieuwe samenvatting</textarea>" in r.text
    assert re.search(r'<option value="evaluated" selected>', r.text)
    session.expire_all()
    assert session.get(Project, project_id).title == "Slimme lantaarnpalen Woensel"  # nothing half-saved
    r = web_client.post(f"/projecten/{project_id}/bewerken", data={
        "csrf_token": csrf, "title": "Slimme lantaarnpalen Woensel-Noord", "summary": "Nieuwe samenvatting",
        "status": "evaluated", "start_date": "2024-06-01", "end_date": "2024-01-31"})
    assert r.status_code == 422
    assert re.search(r'id="f-end_date-error"[^>]*>.*?De einddatum kan niet voor de begindatum liggen', r.text, re.S)
    r = web_client.post(f"/projecten/{project_id}/bewerken", data={
        "csrf_token": csrf, "title": "Slimme lantaarnpalen Woensel-Noord", "summary": "Nieuwe samenvatting",
        "status": "evaluated", "start_date": "2024-06-01", "end_date": "2025-01-31"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == f"/projecten/{project_id}?melding=opgeslagen"
    shown = web_client.get(r.headers["location"]).text
    assert "Uw wijzigingen zijn opgeslagen." in shown and "Slimme lantaarnpalen Woensel-Noord" in shown
    session.expire_all()
    p = session.get(Project, project_id)
    assert (p.title, p.status, p.end_date.isoformat()) == ("Slimme lantaarnpalen Woensel-Noord", "evaluated", "2025-01-31")
    assert session.scalar(select(AuditEvent.action).where(AuditEvent.entity_type == "project")
                          .order_by(AuditEvent.seq.desc()).limit(1)) == "update"


def test_a_status_move_the_registry_forbids_is_an_error_at_the_field(web_client, session):
    accounts = seed_accounts(session)
    project_id = _own_project(session, accounts)
    csrf = web_login(web_client, accounts.editor_email)
    r = web_client.post(f"/projecten/{project_id}/bewerken?lang=en", data={
        "csrf_token": csrf, "title": "Slimme lantaarnpalen Woensel", "status": "scaled"})
    assert r.status_code == 422
    assert re.search(r'id="f-status-error"[^>]*>.*?cannot move to the chosen status', r.text, re.S)


def test_other_organisations_and_members_cannot_edit(web_client, session):
    accounts = seed_accounts(session)
    project_id = _own_project(session, accounts)
    for email in (accounts.other_editor_email, accounts.member_email):
        web_client.cookies.clear()
        csrf = web_login(web_client, email)
        assert f"/projecten/{project_id}/bewerken" not in web_client.get(f"/projecten/{project_id}").text
        assert web_client.get(f"/projecten/{project_id}/bewerken").status_code == 403
        r = web_client.post(f"/projecten/{project_id}/bewerken", data={"csrf_token": csrf, "title": "Gekaapt"})
        assert r.status_code == 403
    web_client.cookies.clear()
    assert web_client.get(f"/projecten/{project_id}/bewerken", follow_redirects=False).status_code == 303
    session.expire_all()
    assert session.get(Project, project_id).title == "Slimme lantaarnpalen Woensel"
