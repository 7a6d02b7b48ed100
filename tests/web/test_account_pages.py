"""Logging in and out through the web pages: sessions, cookies, errors, redirects, CSRF."""

from __future__ import annotations

import re

import pytest
from sqlalchemy import select

from stadslab.core.credentials import CSRF_COOKIE, SESSION_COOKIE
from stadslab.governance.models import AuditEvent, UserSession
from tests.governance.factories import DEFAULT_PASSWORD
from tests.web.conftest import web_login
from tests.web.seed import seed_accounts


def _field(html: str, field_id: str) -> str:
    return re.search(rf'<input[^>]*id="{field_id}"[^>]*>', html).group(0)


def test_login_form_is_a_plain_form_with_labels(web_client):
    r = web_client.get("/inloggen")
    assert r.status_code == 200
    assert '<form class="stadslab-form" action="/inloggen" method="post"' in r.text
    assert '<label class="utrecht-form-label" for="f-email">E-mailadres' in r.text
    assert 'autocomplete="current-password"' in _field(r.text, "f-password")
    assert r.headers["cache-control"] == "no-store"
    assert "Inloggen met single sign-on" not in r.text  # no OIDC issuer configured


def test_login_sets_hardened_cookies_shows_the_account_and_logs_out(web_client, session):
    accounts = seed_accounts(session)
    r = web_client.post("/inloggen", data={"email": accounts.editor_email.upper(), "password": DEFAULT_PASSWORD,
                                           "volgende": "/labs"}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/labs"
    cookies = {c.split("=", 1)[0]: c.lower() for c in r.headers.get_list("set-cookie")}
    assert {"httponly", "secure", "samesite=lax"} <= set(re.split(r";\s*", cookies[SESSION_COOKIE]))
    assert "httponly" not in cookies[CSRF_COOKIE] and "secure" in cookies[CSRF_COOKIE]
    page = web_client.get("/labs").text
    assert "Eva Redacteur" in page and "Redacteur · Gemeente Eindhoven" in page
    token = web_client.cookies.get(CSRF_COOKIE)
    assert f'name="csrf_token" value="{token}"' in page  # the logout form carries the token
    assert web_client.get("/labs").headers["cache-control"] == "no-store"
    # Logging out without the token is refused by the CSRF protection; with it, the session ends.
    assert web_client.post("/uitloggen", follow_redirects=False).status_code == 403
    r = web_client.post("/uitloggen", data={"csrf_token": token}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"].startswith("/?uitgelogd=1")
    assert session.scalars(select(UserSession)).all() == []
    home = web_client.get("/?uitgelogd=1").text
    assert "U bent uitgelogd." in home and "Eva Redacteur" not in home
    actions = session.scalars(select(AuditEvent.action).order_by(AuditEvent.seq)).all()
    assert actions[-2:] == ["auth.login", "auth.logout"]


@pytest.mark.parametrize("lang,message", [
    ("nl", "Het e-mailadres of wachtwoord klopt niet, of het account is geblokkeerd of uitgeschakeld."),
    ("en", "The e-mail address or password is not correct, or the account is locked or disabled.")])
def test_failed_login_gives_one_message_keeps_the_email_but_not_the_password(web_client, session, lang, message):
    accounts = seed_accounts(session)
    wrong = web_client.post(f"/inloggen?lang={lang}", data={"email": accounts.editor_email, "password": "wrong password"})
    unknown = web_client.post(f"/inloggen?lang={lang}", data={"email": "ghost@example.org", "password": "wrong password"})
    for r, email in ((wrong, accounts.editor_email), (unknown, "ghost@example.org")):
        assert r.status_code == 422
        assert message in r.text
        assert f'value="{email}"' in _field(r.text, "f-email")
        assert "value=" not in _field(r.text, "f-password")
        assert "wrong password" not in r.text
    assert SESSION_COOKIE not in web_client.cookies


def test_empty_fields_are_named_next_to_the_field(web_client):
    r = web_client.post("/inloggen", data={"email": "", "password": ""})
    assert r.status_code == 422
    email = _field(r.text, "f-email")
    assert 'aria-invalid="true"' in email and "f-email-error" in email and "autofocus" in email
    assert r.text.count("Vul dit veld in.") >= 2  # next to both fields (and in the summary)
    assert re.search(r'id="f-password-error"[^>]*>.*?Vul dit veld in\.', r.text, re.S)


def test_lockout_after_repeated_failures_shows_the_same_message(make_web_client, session):
    client = make_web_client(login_max_failures=2)
    accounts = seed_accounts(session)
    for _ in range(2):
        client.post("/inloggen", data={"email": accounts.member_email, "password": "not the password"})
    r = client.post("/inloggen", data={"email": accounts.member_email, "password": DEFAULT_PASSWORD})
    assert r.status_code == 422 and "Het e-mailadres of wachtwoord klopt niet" in r.text


def test_login_rate_limit_is_a_friendly_429(make_web_client, session):
    client = make_web_client(login_rate_per_account_per_minute=1, login_max_failures=50)
    seed_accounts(session)
    client.post("/inloggen", data={"email": "x@example.org", "password": "not the password"})
    r = client.post("/inloggen", data={"email": "x@example.org", "password": "not the password"})
    assert r.status_code == 429 and "Te veel inlogpogingen" in r.text
    assert int(r.headers["retry-after"]) >= 1


@pytest.mark.parametrize("target", ["https://evil.example/", "//evil.example/", "/\\evil.example", "javascript:x"])
def test_login_never_redirects_off_site(web_client, session, target):
    accounts = seed_accounts(session)
    r = web_client.post("/inloggen", data={"email": accounts.member_email, "password": DEFAULT_PASSWORD,
                                           "volgende": target}, follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/"


def test_stale_session_cookie_does_not_lock_anyone_out(web_client, session):
    accounts = seed_accounts(session)
    web_login(web_client, accounts.member_email)
    session.execute(UserSession.__table__.delete())  # the session ends on the server (e.g. expired)
    session.commit()
    r = web_client.get("/labs")
    assert r.status_code == 200 and "Mo Lid" not in r.text
    assert any(c.startswith(f"{SESSION_COOKIE}=") for c in r.headers.get_list("set-cookie"))  # told to drop it
    # ...and logging in again works even though the browser still sent the old cookie once.
    web_client.cookies.set(SESSION_COOKIE, "forged.value", domain="testserver")
    form = web_client.get("/inloggen")
    assert form.status_code == 200
    web_client.cookies.clear()
    web_login(web_client, accounts.member_email)
    assert "Mo Lid" in web_client.get("/labs").text


def test_protected_page_sends_visitors_to_login_and_back(web_client, session):
    accounts = seed_accounts(session)
    r = web_client.get("/beheer/gebruikers?q=eva", follow_redirects=False)
    assert r.status_code == 303 and r.headers["location"] == "/inloggen?volgende=%2Fbeheer%2Fgebruikers%3Fq%3Deva"
    form = web_client.get(r.headers["location"]).text
    assert 'name="volgende" value="/beheer/gebruikers?q=eva"' in form
    r = web_client.post("/inloggen", data={"email": accounts.admin_email, "password": DEFAULT_PASSWORD,
                                           "volgende": "/beheer/gebruikers?q=eva"}, follow_redirects=False)
    assert r.headers["location"] == "/beheer/gebruikers?q=eva"
    assert web_client.get(r.headers["location"]).status_code == 200


def test_oidc_button_when_an_issuer_is_configured(make_web_client):
    client = make_web_client(oidc_issuer="https://login.example.org", oidc_client_id="stadslab")
    r = client.get("/inloggen?lang=en")
    assert 'href="/api/v1/auth/oidc/login"' in r.text and "Log in with single sign-on" in r.text


def test_cross_site_login_form_posts_are_refused(web_client):
    r = web_client.post("/inloggen", data={"email": "a@example.org", "password": "x" * 12},
                        headers={"Origin": "https://evil.example"})
    assert r.status_code == 403


def test_typing_the_logout_address_asks_for_a_button_press(web_client, session):
    assert web_client.get("/uitloggen", follow_redirects=False).headers["location"] == "/"
    accounts = seed_accounts(session)
    csrf = web_login(web_client, accounts.member_email)
    r = web_client.get("/uitloggen")
    assert r.status_code == 200 and "Wilt u uitloggen?" in r.text
    assert session.scalars(select(UserSession)).all() != []  # a GET changes nothing
    assert f'name="csrf_token" value="{csrf}"' in r.text
