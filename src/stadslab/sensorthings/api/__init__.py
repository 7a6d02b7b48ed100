"""The HTTP face of the hub (mounted at /sta/v1.1): routes, the dispatcher from a resource path
to a read or a write, and ``$batch`` (which runs its parts through the dispatcher).

The top room: it may import every other room, and none imports it.
"""
