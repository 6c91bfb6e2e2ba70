"""ScenarioError: a scenario that cannot be used, said in one line."""

from __future__ import annotations


class ScenarioError(Exception):
    """A scenario that cannot be used; ``str()`` is one line: file, field, what was expected."""

    def __init__(self, source: str, field: str | None, message: str):
        self.source, self.field, self.message = source, field, message
        where = f"{source}: {field}" if field else source
        super().__init__(f"{where}: {message}")
