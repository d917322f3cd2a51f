"""Loading with unknown fields found first: the same loads and refusals as marshmallow, named in a fixed order."""

from __future__ import annotations

import pytest
from marshmallow import RAISE, Schema, ValidationError, fields, post_load

from service.errors import ValidationFailed
from service.unknown_fields import load_known


class Inner(Schema):
    class Meta:
        unknown = RAISE

    a = fields.Integer(required=True)
    b = fields.Integer(required=True)


class Outer(Schema):
    class Meta:
        unknown = RAISE

    one = fields.Nested(Inner, required=True)
    many = fields.List(fields.Nested(Inner), required=True)

    @post_load
    def _no_empty_many(self, loaded, **kwargs):
        if not loaded["many"]:
            raise ValidationError("Must not be empty.", "many")
        return loaded


def refusal(data, well_formed=None) -> ValidationFailed:
    with pytest.raises(ValidationFailed) as caught:
        load_known(Outer(), data, well_formed)
    return caught.value


def test_a_body_without_unknown_fields_loads_as_marshmallow_loads_it() -> None:
    data = {"one": {"a": 1, "b": 2}, "many": [{"b": 4, "a": 3}]}
    assert load_known(Outer(), data, lambda known: pytest.fail("asked without unknown fields")) == Outer().load(data)


def test_problems_come_object_by_object_fields_first_then_unknown_keys_in_body_order() -> None:
    data = {"z": 0, "many": [{"a": 1, "b": 2}, {"y": 1, "b": "x", "x": 1, "a": 1}], "one": {"q": 1, "a": 1}, "c": 0}
    error = refusal(data)
    assert list(error.fields) == ["one.b", "one.q", "many[1].b", "many[1].y", "many[1].x", "z", "c"]
    assert error.message.startswith("one.b: Missing data for required field.; one.q: Unknown field.;")


def test_only_the_first_twenty_are_built_and_every_one_is_counted() -> None:
    rows = [{"a": 1, "b": 2, **{f"k{index}": 0 for index in range(9)}}] * 5
    error = refusal({"one": {"a": 1, "b": "x"}, "many": rows})
    assert list(error.fields)[:3] == ["one.b", "many[0].k0", "many[0].k1"]
    assert len(error.fields) == 20
    assert error.message.endswith("; and 26 more field(s)")


def test_a_well_formed_rest_is_not_loaded_again() -> None:
    error = refusal({"one": {"a": 1, "b": "x", "k": 0}, "many": [{"a": 1, "b": 2}]}, well_formed=lambda known: True)
    assert error.fields == {"one.k": ["Unknown field."]}


def test_checks_after_loading_wait_for_the_unknown_fields_to_go_as_marshmallow_s_own_do() -> None:
    assert refusal({"one": {"a": 1, "b": 2, "k": 0}, "many": []}).fields == {"one.k": ["Unknown field."]}
    assert refusal({"one": {"a": 1, "b": 2}, "many": []}).fields == {"many": ["Must not be empty."]}
