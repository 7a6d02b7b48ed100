"""What governance adds to the app: the account, token and audit routes, and the authenticator.

Core resolves every request's principal through the authenticator installed here, so that
core never imports governance (which keeps the accounts, tokens and sessions).
"""

from fastapi import FastAPI

from stadslab.core.assembly import Contribution, Routes
from stadslab.core.auth import install_authenticator

from .authn import authenticate_request
from .routes import router


def _setup(app: FastAPI) -> None:
    install_authenticator(app, authenticate_request)


CONTRIBUTION = Contribution("governance", routes=(Routes(router, "/api/v1"),), setup=_setup)
