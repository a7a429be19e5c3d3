"""Limits that keep hostile documents from exhausting the stack or the memory."""

from __future__ import annotations

#: Deepest nesting of mappings and sequences accepted. Real workflows stay far below it;
#: the recursive builder and validator stay far below Python's recursion limit under it.
MAX_DEPTH = 128

#: Most nodes in one document, counting every expansion of a YAML alias (billion laughs).
MAX_NODES = 250_000
