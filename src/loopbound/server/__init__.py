"""`loopbound server`: the checks and fixes of `loopbound check` in an editor, over the Language Server Protocol.

protocol.py wires messages to checks, documents.py holds buffers and the debounce, projects.py
decides settings and runs the project rules, convert.py and actions.py speak LSP's data types.
"""

from loopbound.server.handlers import serve

__all__ = ["serve"]
