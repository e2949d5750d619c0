"""The pure domain model: disclosure items, their content, the catalogue vocabularies.

Nothing here does I/O; everything is tested with plain values.
"""
