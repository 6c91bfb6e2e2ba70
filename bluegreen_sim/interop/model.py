"""The importers' common ground: AWS resources as plain records whose values know their origin.

Every reader (CloudFormation, Terraform, AppSpec and CLI inputs, a live account) fills the same
:class:`Definitions`, so the mapping to a scenario is written once. Field names are the API's,
in snake_case, whatever the source spelled them; each value is a :class:`V` naming the file
and the path it came from, because the report and the written YAML cite it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Unresolved:
    """A value the files do not determine (a reference to a resource, a variable without
    default, an intrinsic we do not evaluate); ``reason`` says which."""

    reason: str

    def __str__(self) -> str:
        return f"<unresolved: {self.reason}>"


@dataclass(frozen=True)
class Ref:
    """A reference to another resource of the same definitions (logical id, Terraform
    address, name or ARN); the mapping links it to the resource it names."""

    target: str

    def __str__(self) -> str:
        return self.target


@dataclass
class V:
    """A value and where it came from (``file: path``)."""

    value: Any
    origin: str


@dataclass
class Resource:
    """One resource: its kind (our names: ``deployment_group``, ``deployment_config``,
    ``service``, ``target_group``, ``listener``, ``listener_rule``, ``load_balancer``,
    ``alarm``, ``task_definition``, ``appspec``, ``bluegreen_hook``), the keys it can be
    referred to by, and its fields."""

    kind: str
    id: str
    origin: str
    keys: set[str] = field(default_factory=set)
    fields: dict[str, V] = field(default_factory=dict)

    def set(self, name: str, value: Any, origin: str) -> None:
        if value is not None:
            self.fields[name] = V(value, origin)

    def get(self, name: str, default: Any = None) -> Any:
        v = self.fields.get(name)
        return default if v is None else v.value

    def has(self, name: str) -> bool:
        return name in self.fields


@dataclass
class Note:
    """Something a reader saw that the report must tell: ``kind`` is ``ignored``,
    ``wrong`` (looks wrong) or ``defaulted``."""

    kind: str
    where: str
    text: str


@dataclass
class Definitions:
    """Everything read from the user's files, before mapping."""

    resources: list[Resource] = field(default_factory=list)
    notes: list[Note] = field(default_factory=list)
    files: list[str] = field(default_factory=list)

    def add(self, res: Resource) -> Resource:
        res.keys.add(res.id)
        self.resources.append(res)
        return res

    def of(self, kind: str) -> list[Resource]:
        return [r for r in self.resources if r.kind == kind]

    def find(self, kind: str, ref: Any) -> Resource | None:
        """The resource of ``kind`` that ``ref`` names (a Ref, a name, an ARN), if any."""
        if isinstance(ref, V):
            ref = ref.value
        key = ref.target if isinstance(ref, Ref) else ref
        if not isinstance(key, str):
            return None
        for res in self.of(kind):
            if key in res.keys:
                return res
        for res in self.of(kind):  # an ARN whose name part is a key: .../targetgroup/NAME/hash
            if any(f"/{k}/" in key or key.endswith(f"/{k}") for k in res.keys if k):
                return res
        return None

    def note(self, kind: str, where: str, text: str) -> None:
        self.notes.append(Note(kind, where, text))
