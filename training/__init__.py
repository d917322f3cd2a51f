"""Train, evaluate and package the Iris classifier.

Run ``python -m training`` to write ``model.joblib`` and ``metadata.json``
into ``MODEL_DIR`` (default ``models/iris``).
"""
