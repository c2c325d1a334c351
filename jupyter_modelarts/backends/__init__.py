"""Backends: the local embedded one and the ModelArts cloud one, behind :class:`base.Backend`."""
