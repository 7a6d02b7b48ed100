"""Writing the hub: one writer with several entrances.

* ``writer`` -- the general writer (any entity, deep inserts, PATCH, DELETE), via ``service``;
* ``observation_post`` -- the single Observation POST fast path;
* ``group_commit`` (+ ``group_commit_pg``) -- single POSTs arriving together in one transaction;
* ``bulk`` and ``dataarray`` -- many Observations at once;

all sharing the steps in ``rules`` (integrity rules, stream bounds) and ``auditing`` (the audit
event). Imports ``model``, ``access``, ``filter`` and ``read``; nothing below imports ``write``.
"""
