"""The OGC SensorThings API hub, in rooms whose imports point one way (pyproject.toml
[tool.importlinter] checks it; tests/test_import_contracts.py runs it)::

    api       routes, dispatcher, $batch                      (imports everything below)
    write     writer, single-POST fast path, group commit, bulk, dataArray, rules, auditing
    read      options, reads, $expand, $count, $aggregate, serialisation
    filter    the $filter pipeline
    access    authorization, visibility, location precision, claims
    model     entity types, tables, values, resource paths   (imports nothing of the hub)

``storage`` (partitions, retention) stands on ``model`` only. ``mqtt``, ``lorawan`` and the
public sensor ``register`` sit beside the rooms and use them; ``mqtt.changes`` is the one part of
``mqtt`` the writers use (it collects the changes to publish after a commit).
"""
