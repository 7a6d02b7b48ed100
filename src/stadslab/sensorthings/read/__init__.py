"""Reading the hub: query options (``options``), reads, ``$expand`` and resolution (``reader``),
``$count`` (``counting``), ``$aggregate`` (``aggregate``) and the JSON of entities (``serialize``).

Imports ``model``, ``access`` and ``filter``; never ``write`` (reads change nothing).
"""
