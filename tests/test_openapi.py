"""The OpenAPI document describes the contract from the marshmallow schemas."""

from __future__ import annotations


def test_document_is_openapi_3_with_the_routes(client) -> None:
    document = client.get("/openapi.json").get_json()
    assert document["openapi"].startswith("3.")
    assert {"/predict", "/health", "/ready", "/model", "/metrics"} <= set(document["paths"])


def test_features_schema_has_the_fields_types_and_range(client) -> None:
    features = client.get("/openapi.json").get_json()["components"]["schemas"]["Features"]
    assert set(features["required"]) == {"sepal_length", "sepal_width", "petal_length", "petal_width"}
    assert features["additionalProperties"] is False
    length = features["properties"]["sepal_length"]
    assert length["type"] == "number" and length["maximum"] == 30
    assert length["minimum"] == 0 and length["exclusiveMinimum"] is True


def test_batch_limit_follows_the_configuration(client, app) -> None:
    batch = client.get("/openapi.json").get_json()["components"]["schemas"]["Batch"]
    assert batch["properties"]["instances"]["maxItems"] == app.config["MAX_BATCH_SIZE"]
    assert batch["properties"]["instances"]["minItems"] == 1


def test_the_inference_description_names_the_output_tensors_of_the_v2_metadata(client) -> None:
    infer = client.get("/openapi.json").get_json()["paths"]["/v2/models/{model_name}/infer"]["post"]
    outputs = client.get("/v2/models/iris").get_json()["outputs"]
    assert [(o["name"], o["datatype"], o["shape"]) for o in outputs] == [
        ("label", "BYTES", [-1]), ("class_id", "INT64", [-1]), ("probabilities", "FP64", [-1, 3])]
    assert infer["description"].endswith(
        "Outputs: label (BYTES [N]), class_id (INT64 [N]), probabilities (FP64 or FP32 [N, number of classes]).")
