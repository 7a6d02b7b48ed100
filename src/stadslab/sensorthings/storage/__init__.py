"""Where Observations live over time: monthly partitions on PostgreSQL (``partitions``) and
the retention job (``retention``). Imports only ``model``.
"""
