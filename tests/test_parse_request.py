"""The fast paths accept exactly what the schemas and range checks accept, with the same numbers.

Every body goes through ``parse_with`` twice, for the default Iris model's ``Inputs``: as
served, and with the fast path switched off so the marshmallow schemas judge it alone. The outcomes,
a matrix or an error with its status, code, message and fields, must be equal.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from service.errors import ApiError
from service.predict import inputs_for, parse_with
from tests.conftest import SEED_REQUEST
from training.data import FEATURES

MAX_BATCH_SIZE = 50
INPUTS = inputs_for(FEATURES)
# Values a JSON decoder can hand over for one measurement, good and bad.
VALUES = [5.1, 5, 0.1, 30, 30.0, 30.000001, 0, -1.5, 10**30, 10**400, True, None, "5.1", [5.1], {"cm": 5.1},
          float("nan"), float("inf")]


def row(**changes):
    return {**SEED_REQUEST, **changes}


def bodies():
    names = list(SEED_REQUEST)
    for name, value in itertools.product(names, VALUES):
        yield row(**{name: value})
        yield {"instances": [row(), row(**{name: value}), row()]}
    yield {name: value for name, value in SEED_REQUEST.items() if name != "petal_width"}
    yield row(stem_length=1.0)
    yield {"instances": [row(), [5.1, 3.5, 1.4, 0.2]]}
    yield {"instances": [row(), {k: v for k, v in SEED_REQUEST.items() if k != "sepal_width"}]}
    yield {"instances": [row(), row(extra=1)]}
    yield {"instances": [row()], "model": "iris"}
    yield {"instances": []}
    yield {"instances": {"a": 1}}
    yield {"instances": None}
    yield {"instances": [row(sepal_length=True), row(petal_width="x"), row(sepal_width=31)]}
    yield {"instances": [row() for _ in range(MAX_BATCH_SIZE)]}
    yield {"instances": [row(sepal_length=0.2 * i + 0.1) for i in range(40)]}


def schemas_only(rows):
    """A ``well_typed`` that takes no body, so the schemas judge every one."""
    return None


def outcome(body, well_typed=INPUTS.well_typed_matrix):
    try:
        X, batch = parse_with(body, MAX_BATCH_SIZE, INPUTS, well_typed)
    except ApiError as exc:
        return ("error", type(exc).__name__, exc.status_code, exc.code, exc.message, exc.fields)
    return ("matrix", X.dtype, X.tolist(), batch)


@pytest.mark.parametrize("body", list(bodies()), ids=lambda body: repr(body)[:60])
def test_the_fast_path_changes_no_outcome(body) -> None:
    assert outcome(body) == outcome(body, schemas_only)


@pytest.mark.parametrize("body", [b for b in bodies() if "instances" not in b], ids=lambda body: repr(body)[:60])
def test_the_single_row_path_takes_exactly_the_valid_bodies(body) -> None:
    served = outcome(body)
    row = INPUTS.valid_row(body)
    if served[0] == "matrix":
        assert row == served[2][0]
    else:
        assert row is None


def test_a_well_typed_batch_never_reaches_marshmallow(monkeypatch) -> None:
    def refuse(body):
        raise AssertionError("the schema was asked about a well-typed batch")

    inputs = inputs_for(FEATURES)
    monkeypatch.setattr(inputs.batch_schema, "load", refuse)
    X, batch = parse_with({"instances": [row(sepal_length=5), row()]}, MAX_BATCH_SIZE, inputs, inputs.well_typed_matrix)
    assert batch and X.dtype == np.float64 and X.tolist() == [[5.0, 3.5, 1.4, 0.2], [5.1, 3.5, 1.4, 0.2]]
