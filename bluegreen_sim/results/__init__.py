"""What one run gives back: the :class:`Result` tables, its figures and its narration.

``result`` is a plain container (the engine fills it); ``plots`` and ``narrate`` read it.
"""

from .result import Result

__all__ = ["Result"]
