"""Load a decoded body with a marshmallow schema that refuses unknown fields, at about the cost of a valid body.

Marshmallow (``unknown = RAISE``) builds one error per unknown key, and
``flatten_messages`` one entry per error, only for ``summarise`` to name the
first ``MAX_FIELDS_REPORTED``: one object of 70,000 unknown keys took about
0.5 s of CPU. Marshmallow also walks unknown keys in set order, which differs
between processes (string hashes are salted per process), so the fields named
changed from one replica to the next. Here each object's unknown keys are found
by one pass over its keys, marshmallow loads the known ones (and at most one
unknown key per object, so that it refuses the same objects as before), and the
problems are listed in one fixed order, building entries only for those shown:

- object by object, as the body nests them (``instances[0]`` before ``instances[1]``);
- within an object, its fields' problems in the schema's field order, then its
  unknown fields in the order the body gives them.

The answer names at most ``MAX_FIELDS_REPORTED`` fields and counts all of them.
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Iterator, Mapping
from typing import Any

from marshmallow import Schema, ValidationError, fields

from service.errors import MAX_FIELDS_REPORTED, ValidationFailed, field_path, flatten_messages, summarise

UNKNOWN_FIELD = "Unknown field."  # marshmallow's own message for it


def _declared(schema: Schema) -> dict[str, fields.Field]:
    """The schema's fields by the key they take in the body."""
    return {field.data_key or name: field for name, field in schema.load_fields.items()}


def _nested(field: fields.Field) -> tuple[Schema | None, bool]:
    """The schema of the objects ``field`` holds and whether it holds a list of them; ``(None, False)`` for a plain field."""
    if isinstance(field, fields.Nested):
        return field.schema, False
    if isinstance(field, fields.List) and isinstance(field.inner, fields.Nested):
        return field.inner.schema, True
    return None, False


def _known(schema: Schema, data: Any, keep: bool) -> tuple[Any, int]:
    """``data`` with every object holding only the fields its schema declares, and how many keys were dropped.

    With ``keep``, an object that had unknown keys keeps its first one: marshmallow then refuses
    that object as it would the whole, with one error instead of one per key, and skips the
    ``post_load`` checks of the object and of those holding it, as it would on the whole body.
    """
    if not isinstance(data, Mapping):
        return data, 0
    declared = _declared(schema)
    known: dict[str, Any] = {}
    dropped = 0
    for key, field in declared.items():
        if key not in data:
            continue
        value = data[key]
        nested, many = _nested(field)
        if nested is not None and many and isinstance(value, list):
            items = [_known(nested, item, keep) for item in value]
            value = [item for item, _ in items]
            dropped += sum(count for _, count in items)
        elif nested is not None and not many:
            value, count = _known(nested, value, keep)
            dropped += count
        known[key] = value
    if keep and len(data) > len(known):
        first = next(key for key in data if key not in declared)
        known[first] = data[first]
    return known, dropped + len(data) - len(known)


def _problems(schema: Schema, data: Any, messages: Any, path: str) -> Iterator[tuple[str, list[str]]]:
    """Each bad field of ``data`` with its problems, in the order the module's docstring gives;
    ``messages`` are marshmallow's for ``data`` as ``_known`` kept it (``None`` for an object without any);
    the unknown keys it kept are named with the others, in body order."""
    if not isinstance(data, Mapping):
        if messages:
            yield from flatten_messages(messages, path).items()
        return
    messages = messages if isinstance(messages, dict) else {}
    declared = _declared(schema)
    for key, field in declared.items():
        child, problems = field_path(path, key), messages.get(key)
        nested, many = _nested(field)
        value = data.get(key)
        if nested is not None and many and isinstance(value, list) and not isinstance(problems, list):
            by_index = problems or {}
            for index, item in enumerate(value):
                yield from _problems(nested, item, by_index.get(index), f"{child}[{index}]")
        elif nested is not None and not many and key in data:
            yield from _problems(nested, value, problems, child)
        elif problems is not None:
            yield from flatten_messages(problems, child).items()
    for key, problems in messages.items():
        if key not in declared and key not in data:
            yield from flatten_messages(problems, field_path(path, key)).items()
    for key in data:
        if key not in declared:
            yield field_path(path, key), [UNKNOWN_FIELD]


def load_known(schema: Schema, data: Any, well_formed: Callable[[Any], bool] | None = None) -> Any:
    """``schema.load(data)``, with unknown fields found before marshmallow sees the body.

    ``well_formed(known)``, when given, says cheaply that ``data`` without its unknown
    fields would load without problems, so that marshmallow need not load it (a caller's
    fast path, e.g. ``service.predict``'s well-typed matrix); it is asked only when
    ``data`` has unknown fields, which are then its only problems.

    Raises ``ValidationFailed`` (400) naming the first ``MAX_FIELDS_REPORTED`` bad
    fields (unknown ones as ``Unknown field.``) and counting the rest in its message.
    """
    known, dropped = _known(schema, data, keep=False)
    if dropped:
        if well_formed is not None and well_formed(known):
            raise _refusal(schema, data, {}, dropped)
        known, dropped = _known(schema, data, keep=True)
    try:
        # Succeeds only without unknown keys: an object that had any kept one.
        return schema.load(known)
    except ValidationError as exc:
        raise _refusal(schema, data, exc.messages, dropped) from None


def _refusal(schema: Schema, data: Any, messages: Any, dropped: int) -> ValidationFailed:
    """The refusal of ``data``: marshmallow's ``messages`` for what it loaded, and ``dropped`` unknown keys it did not see."""
    shown = dict(itertools.islice(_problems(schema, data, messages, ""), MAX_FIELDS_REPORTED))
    return ValidationFailed(summarise(shown, len(flatten_messages(messages)) + dropped), shown)
