"""Who may see and change what: write authorization (``authz``), read visibility (``visibility``),
location precision (``precision``, ``public_geometry``), ownership claims (``claims``) and the
registration fields that drive them (``registry``).

Kept together so the access rules read in one place. Imports only ``model`` (and ``core``).
"""
