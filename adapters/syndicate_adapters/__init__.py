"""Built-in channel adapters for syndicate.

They register through the `syndicate.adapters` entry-point group exactly like a third
party's adapters would; the core never imports this package. The adapters themselves land
with the delivery engine and the outlet issues.
"""

__all__: list[str] = []
