"""A small evaluator for the Terraform expressions deployment settings are written with.

python-hcl2 hands expressions back as text (``"${var.n > 2 ? 10 : 1}"``) and string literals
with their quotes (``'"prod"'``). This evaluates literals, ``var.*``, ``local.*``, arithmetic,
comparisons, ``&&``/``||``/``!``, the conditional ``c ? a : b``, indexing, string interpolation and
a few pure functions. A reference to a resource (``aws_lb_target_group.blue.arn``) becomes a
:class:`~.model.Ref` to its address; anything only known at plan time (``data.*``, unknown
functions, ``each``/``count``) becomes an :class:`~.model.Unresolved` saying so.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

from .model import Ref, Unresolved

_TOKEN = re.compile(
    r"""\s*(?:(?P<num>\d+(?:\.\d+)?(?:[eE][+-]?\d+)?)|(?P<str>"(?:[^"\\]|\\.)*")|"""
    r"""(?P<op>==|!=|<=|>=|&&|\|\||[-+*/%<>!?:()\[\]{},.=])|(?P<name>[A-Za-z_][\w-]*))"""
)
_BINARY = {
    "||": 1,
    "&&": 2,
    "==": 3,
    "!=": 3,
    "<": 4,
    ">": 4,
    "<=": 4,
    ">=": 4,
    "+": 5,
    "-": 5,
    "*": 6,
    "/": 6,
    "%": 6,
}


class HclError(ValueError):
    """An expression this evaluator cannot parse."""


def tokenize(text: str) -> list[tuple[str, str]]:
    out, pos = [], 0
    text = text.rstrip()
    while pos < len(text):
        m = _TOKEN.match(text, pos)
        if not m or m.end() == pos:
            raise HclError(f"cannot read {text[pos : pos + 20]!r}")
        kind = m.lastgroup
        out.append((kind, m.group(kind)))
        pos = m.end()
    return out


class Evaluator:
    """Evaluates hcl2 values with the given variables and locals."""

    def __init__(self, variables: dict[str, Any], locals_: dict[str, Any] | None = None):
        self.variables = variables
        self.local_exprs = locals_ or {}
        self.locals: dict[str, Any] = {}
        self._busy: set[str] = set()

    # -- values as python-hcl2 gives them -----------------------------------------------------

    def value(self, v: Any) -> Any:
        if isinstance(v, dict):
            return {_unquote(k): self.value(x) for k, x in v.items() if not str(k).startswith("__")}
        if isinstance(v, list):
            return [self.value(x) for x in v]
        if isinstance(v, str):
            s = v.strip()
            if s.startswith("${") and s.endswith("}") and _balanced(s[2:-1]):
                return self.expression(s[2:-1])
            if len(s) >= 2 and s[0] == '"' and s[-1] == '"':
                return self.template(s[1:-1])
            if s.startswith("<<"):
                return s
            return self.expression(s)
        return v

    def template(self, body: str) -> Any:
        """A quoted string with ``${...}`` interpolations."""
        parts: list[Any] = []
        i = 0
        while i < len(body):
            j = body.find("${", i)
            if j < 0 or (j > 0 and body[j - 1] == "$"):
                parts.append(_unescape(body[i:]) if j < 0 else _unescape(body[i : j + 2]))
                i = len(body) if j < 0 else j + 2
                continue
            depth, k = 0, j + 2
            while k < len(body):
                if body[k] == "{":
                    depth += 1
                elif body[k] == "}":
                    if depth == 0:
                        break
                    depth -= 1
                k += 1
            parts.append(_unescape(body[i:j]))
            parts.append(self.expression(body[j + 2 : k]))
            i = k + 1
        parts = [p for p in parts if p != ""]
        if len(parts) == 1 and not isinstance(parts[0], str):
            return parts[0]
        bad = next((p for p in parts if isinstance(p, Unresolved | Ref)), None)
        if bad is not None:
            return (
                bad
                if isinstance(bad, Unresolved)
                else Unresolved("a string built from a resource attribute")
            )
        return "".join(_text(p) for p in parts)

    def expression(self, text: str) -> Any:
        try:
            parser = _Parser(tokenize(text), self)
            value = parser.ternary()
            if parser.pos != len(parser.tokens):
                raise HclError(f"unexpected {parser.tokens[parser.pos][1]!r}")
            return value
        except HclError as exc:
            return Unresolved(f"expression {text.strip()[:60]!r} not evaluated ({exc})")

    # -- names --------------------------------------------------------------------------------

    def reference(self, parts: list[str]) -> Any:
        head = parts[0]
        if head == "var":
            if len(parts) < 2:
                raise HclError("var needs a name")
            if parts[1] not in self.variables:
                return Unresolved(f"variable {parts[1]} has no default and no value was given")
            return _walk(self.variables[parts[1]], parts[2:])
        if head == "local":
            return _walk(self.local(parts[1]), parts[2:])
        if head in ("true", "false"):
            return head == "true"
        if head == "null":
            return None
        if head == "module" and len(parts) >= 4 and parts[2] == "target_groups":
            return Ref(f"module.{parts[1]}.tg.{parts[3]}")
        if head.startswith(("aws_", "awscc_")) and len(parts) >= 2:
            return Ref(f"{head}.{parts[1]}")
        if head in ("data", "module", "each", "count", "path", "terraform", "self"):
            return Unresolved(f"{'.'.join(parts[:3])} is known only at plan time")
        return Unresolved(f"unknown name {'.'.join(parts)}")

    def local(self, name: str) -> Any:
        if name in self.locals:
            return self.locals[name]
        if name not in self.local_exprs:
            return Unresolved(f"local.{name} is not defined")
        if name in self._busy:
            return Unresolved(f"local.{name} refers to itself")
        self._busy.add(name)
        self.locals[name] = self.value(self.local_exprs[name])
        self._busy.discard(name)
        return self.locals[name]


def _balanced(inner: str) -> bool:
    depth = 0
    for ch in inner:
        depth += ch == "{"
        depth -= ch == "}"
        if depth < 0:
            return False
    return depth == 0


def _unquote(key: Any) -> str:
    k = str(key)
    return k[1:-1] if len(k) >= 2 and k[0] == '"' and k[-1] == '"' else k


def _unescape(s: str) -> str:
    return s.replace('\\"', '"').replace("\\n", "\n").replace("\\\\", "\\").replace("$${", "${")


def _text(v: Any) -> str:
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, float) and v.is_integer():
        return str(int(v))
    return str(v)


def _walk(value: Any, parts: list[Any]) -> Any:
    for p in parts:
        if isinstance(value, Unresolved | Ref):
            return value
        try:
            value = value[int(p)] if isinstance(value, list) else value[p]
        except (KeyError, IndexError, TypeError, ValueError):
            return Unresolved(f"no element {p!r}")
    return value


def _num(v: Any) -> float | int:
    if isinstance(v, bool):
        raise HclError("a boolean in arithmetic")
    if isinstance(v, int | float):
        return v
    if isinstance(v, str):
        try:
            f = float(v)
        except ValueError:
            raise HclError(f"{v!r} is not a number") from None
        return int(f) if f.is_integer() else f
    raise HclError("arithmetic on a non-number")


def _tonumber(v: Any) -> Any:
    return _num(v)


FUNCTIONS: dict[str, Callable[..., Any]] = {
    "tonumber": _tonumber,
    "tostring": _text,
    "tobool": lambda v: v if isinstance(v, bool) else str(v) == "true",
    "lookup": lambda m, k, *d: (
        m.get(k, d[0])
        if isinstance(m, dict)
        else (d[0] if d else Unresolved("lookup in a value not known"))
    ),
    "coalesce": lambda *a: next((x for x in a if x not in (None, "")), None),
    "max": lambda *a: max(_num(x) for x in a),
    "min": lambda *a: min(_num(x) for x in a),
    "merge": lambda *a: {k: v for d in a if isinstance(d, dict) for k, v in d.items()},
    "length": lambda x: (
        len(x) if isinstance(x, list | dict | str) else Unresolved("length() of a value not known")
    ),
    "upper": lambda s: str(s).upper(),
    "lower": lambda s: str(s).lower(),
    "floor": lambda x: int(_num(x) // 1),
    "ceil": lambda x: -int(-_num(x) // 1),
    "format": lambda f, *a: Unresolved("format() is not evaluated"),
    # The encoded value is kept as a structure: the readers look inside (container definitions).
    "jsonencode": lambda v: v,
}


class _Parser:
    def __init__(self, tokens: list[tuple[str, str]], ev: Evaluator):
        self.tokens, self.pos, self.ev = tokens, 0, ev

    def peek(self) -> str | None:
        return self.tokens[self.pos][1] if self.pos < len(self.tokens) else None

    def take(self, expected: str | None = None) -> tuple[str, str]:
        if self.pos >= len(self.tokens):
            raise HclError("unexpected end")
        tok = self.tokens[self.pos]
        if expected is not None and tok[1] != expected:
            raise HclError(f"expected {expected!r}, got {tok[1]!r}")
        self.pos += 1
        return tok

    def ternary(self) -> Any:
        cond = self.binary(0)
        if self.peek() != "?":
            return cond
        self.take("?")
        a = self.ternary()
        self.take(":")
        b = self.ternary()
        if isinstance(cond, Unresolved):
            return cond
        return a if bool(cond) else b

    def binary(self, level: int) -> Any:
        left = self.unary()
        while (op := self.peek()) in _BINARY and _BINARY[op] > level:
            self.take()
            right = self.binary(_BINARY[op])
            left = _apply(op, left, right)
        return left

    def unary(self) -> Any:
        if self.peek() == "!":
            self.take()
            v = self.unary()
            return v if isinstance(v, Unresolved) else not v
        if self.peek() == "-":
            self.take()
            v = self.unary()
            return v if isinstance(v, Unresolved) else -_num(v)
        return self.postfix(self.primary())

    def primary(self) -> Any:
        kind, text = self.take()
        if kind == "num":
            f = float(text)
            return int(f) if f.is_integer() and "." not in text and "e" not in text.lower() else f
        if kind == "str":
            return self.ev.template(text[1:-1])
        if text == "(":
            v = self.ternary()
            self.take(")")
            return v
        if text == "[":
            items = []
            while self.peek() != "]":
                items.append(self.ternary())
                if self.peek() == ",":
                    self.take()
            self.take("]")
            return items
        if text == "{":
            obj = {}
            while self.peek() != "}":
                k = self.take()[1]
                k = k[1:-1] if k.startswith('"') else k
                if self.peek() not in ("=", ":"):
                    raise HclError("expected = in an object")
                self.take()
                obj[k] = self.ternary()
                if self.peek() == ",":
                    self.take()
            self.take("}")
            return obj
        if kind == "name":
            if self.peek() == "(":
                return self.call(text)
            parts = [text]
            while self.peek() == "." and self.pos + 1 < len(self.tokens):
                self.take()
                parts.append(self.take()[1])
            while self.peek() == "[":
                self.take()
                idx = self.ternary()
                self.take("]")
                parts.append(idx)
                while self.peek() == ".":
                    self.take()
                    parts.append(self.take()[1])
            return self.ev.reference([str(p) if not isinstance(p, int) else p for p in parts])
        raise HclError(f"unexpected {text!r}")

    def postfix(self, value: Any) -> Any:
        while self.peek() in ("[", "."):
            if self.take()[1] == "[":
                idx = self.ternary()
                self.take("]")
                value = _walk(value, [idx])
            else:
                value = _walk(value, [self.take()[1]])
        return value

    def call(self, name: str) -> Any:
        self.take("(")
        args = []
        while self.peek() != ")":
            args.append(self.ternary())
            if self.peek() == ",":
                self.take()
        self.take(")")
        if name == "try":
            return next(
                (a for a in args if not isinstance(a, Unresolved)), args[-1] if args else None
            )
        fn = FUNCTIONS.get(name)
        if fn is None:
            return Unresolved(f"function {name}() is not evaluated")
        if any(isinstance(a, Unresolved) for a in args):
            return next(a for a in args if isinstance(a, Unresolved))
        try:
            return fn(*args)
        except (TypeError, ValueError) as exc:
            raise HclError(f"{name}(): {exc}") from None


def _apply(op: str, a: Any, b: Any) -> Any:
    for v in (a, b):
        if isinstance(v, Unresolved):
            return v
    if op == "&&":
        return bool(a) and bool(b)
    if op == "||":
        return bool(a) or bool(b)
    if isinstance(a, Ref) or isinstance(b, Ref):
        return Unresolved("an expression on a resource attribute")
    if op == "==":
        return a == b or _text(a) == _text(b)
    if op == "!=":
        return not (a == b or _text(a) == _text(b))
    x, y = _num(a), _num(b)
    if op in ("<", ">", "<=", ">="):
        return {"<": x < y, ">": x > y, "<=": x <= y, ">=": x >= y}[op]
    if op in ("/", "%") and y == 0:
        raise HclError("division by zero")
    result = {"+": x + y, "-": x - y, "*": x * y, "/": x / y, "%": x % y}[op]
    return int(result) if isinstance(result, float) and result.is_integer() else result
