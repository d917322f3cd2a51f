"""The request schemas built from a model's contract: one row's fields, in the model's input order."""

from __future__ import annotations

from service.schemas import features_schema
from training.fields import INTEGER, NUMBER, Feature

# Names whose sorted order is not their input order.
FEATURES = (Feature("zeta", NUMBER, 0.0, 1.0), Feature("alpha", INTEGER, 0.0, 9.0), Feature("mid", NUMBER, -1.0, 1.0))


def test_a_row_schema_keeps_the_features_in_the_models_input_order() -> None:
    schema = features_schema(FEATURES)()
    assert tuple(schema.fields) == ("zeta", "alpha", "mid")
    assert list(schema.load({"mid": 0.5, "alpha": 3, "zeta": 0.25})) == ["zeta", "alpha", "mid"]
