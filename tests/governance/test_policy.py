"""The policy helpers of core.auth, which every capability calls."""

from __future__ import annotations

import pytest
from sqlalchemy import select

from stadslab.core.auth import (ROLE_SCOPES, Principal, authorize_write, can_read_access_class, may_write,
                                readable_access_classes_clause, require_role)
from stadslab.core.errors import Forbidden, Unauthorized
from stadslab.sensorthings.model.tables import Thing

OWN, OTHER = 1, 2


def person(role: str, org: int | None = OWN, scopes=None, via="token") -> Principal:
    return Principal(user_id=10, organisation_id=org, role=role,
                     scopes=frozenset(ROLE_SCOPES[role] if scopes is None else scopes), via=via)


ANON = Principal(user_id=None, organisation_id=None, role="public", via="anonymous")


@pytest.mark.parametrize("principal,owner,scope,outcome", [
    (ANON, OWN, "registry:write", Unauthorized),
    (person("member"), OWN, "registry:write", Forbidden),
    (person("editor"), OWN, "registry:write", None),
    (person("editor"), OTHER, "registry:write", Forbidden),
    (person("editor"), None, "registry:write", Forbidden),       # unowned content: admins only
    (person("editor", scopes={"sta:write"}), OWN, "registry:write", Forbidden),  # token without the scope
    (person("editor", scopes={"sta:write"}), OWN, "sta:write", None),
    (person("admin", org=None), OTHER, "registry:write", None),
    (person("admin", org=None), None, "sta:write", None),
    (person("admin", scopes={"sta:read"}), OTHER, "registry:write", Forbidden),  # narrow admin token
    (person("editor", org=None), None, "registry:write", Forbidden),
])
def test_authorize_write(principal, owner, scope, outcome):
    if outcome is None:
        assert authorize_write(principal, owner, scope) is principal and may_write(principal, owner, scope)
    else:
        with pytest.raises(outcome):
            authorize_write(principal, owner, scope)
        assert not may_write(principal, owner, scope)


def test_unknown_scope_is_a_programming_error():
    with pytest.raises(ValueError):
        authorize_write(person("admin"), OWN, "registry:wirte")


def test_require_role():
    with pytest.raises(Unauthorized):
        require_role(ANON, "member")
    with pytest.raises(Forbidden):
        require_role(person("editor"), "admin")
    with pytest.raises(Forbidden):
        require_role(person("admin", scopes={"registry:write"}), "admin")
    assert require_role(person("admin"), "admin")
    assert require_role(person("member"), "member")
    assert require_role(ANON, "public")


@pytest.mark.parametrize("principal,access,allowed,expected", [
    (ANON, "open", (), True),
    (ANON, "network", (), False),
    (ANON, "restricted", (OWN,), False),
    (person("member"), "network", (), True),
    (person("member", scopes=set()), "network", (), False),
    (person("member"), "restricted", (OWN,), True),
    (person("member"), "restricted", (OTHER,), False),
    (person("editor", org=None), "restricted", (OWN,), False),
    (person("admin", org=None), "restricted", (OTHER,), True),
    (person("admin"), "secret", (OWN,), False),
])
def test_can_read_access_class(principal, access, allowed, expected):
    assert can_read_access_class(principal, access, allowed) is expected


def test_readable_clause_matches_the_python_rule(session):
    for i, (access, owner) in enumerate([("open", OTHER), ("network", OTHER), ("restricted", None),
                                         ("restricted", None)]):
        session.add(Thing(name=f"t{i}", description="", access_class=access))
    session.commit()
    from stadslab.network.models import Organisation

    own = Organisation(name="Eigen", kind="municipality")
    other = Organisation(name="Ander", kind="company")
    session.add_all([own, other])
    session.flush()
    things = session.scalars(select(Thing).order_by(Thing.id)).all()
    things[0].owner_organisation_id = other.id
    things[2].owner_organisation_id = own.id
    things[3].owner_organisation_id = other.id
    session.commit()
    for p in (ANON, person("member", org=own.id), person("editor", org=other.id), person("admin", org=None),
              person("member", org=own.id, scopes=set())):
        clause = readable_access_classes_clause(p, Thing.access_class, Thing.owner_organisation_id)
        got = set(session.scalars(select(Thing.name).where(clause)))
        want = {t.name for t in things if can_read_access_class(p, t.access_class, [t.owner_organisation_id])}
        assert got == want, p
