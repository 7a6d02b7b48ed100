"""The hub's data model: entity types (``entities``), tables (``tables``), values and times
(``values``) and resource paths (``urls``).

Owns what a SensorThings entity *is*. Imports nothing of the hub: every other room stands on it.
"""
