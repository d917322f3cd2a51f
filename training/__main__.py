"""Command line: ``python -m training [--estimator NAME] [--model-dir DIR]``."""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from training.artifact import save_artifact, model_dir_from_env
from training.data import load_dataset
from training.estimators import DEFAULT_ESTIMATOR, ESTIMATORS
from training.train import DEFAULT_CV_FOLDS, DEFAULT_SEED, DEFAULT_TEST_SIZE, TrainingParams, train


def directory(text: str) -> Path:
    """An argparse ``type=`` for a directory path; refuses an empty one, which would mean the current directory."""
    if not text.strip():
        raise argparse.ArgumentTypeError("is empty; name a directory (default: $MODEL_DIR or models/iris)")
    return Path(text)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m training", description="Train the Iris classifier and write its artifact.")
    parser.add_argument("--estimator", choices=sorted(ESTIMATORS), default=DEFAULT_ESTIMATOR)
    parser.add_argument("--model-dir", type=directory, default=None, help="output directory (default: $MODEL_DIR or models/iris)")
    parser.add_argument("--seed", type=int, default=DEFAULT_SEED)
    parser.add_argument("--test-size", type=float, default=DEFAULT_TEST_SIZE, help="held-out share in (0, 1)")
    parser.add_argument("--cv-folds", type=int, default=DEFAULT_CV_FOLDS)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    model_dir = args.model_dir or model_dir_from_env()
    try:  # now, not after training: an unusable directory is said at once
        model_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        print(f"error: cannot write the model into {model_dir}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    started = time.perf_counter()

    def progress(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.2f}s] {message}", flush=True)

    progress("loading Iris from scikit-learn's bundled copy")
    dataset = load_dataset()
    progress(f"training {args.estimator}")
    try:
        result = train(dataset, TrainingParams(args.estimator, args.seed, args.test_size, args.cv_folds), progress)
    except ValueError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    try:
        metadata = save_artifact(result.model, result.metadata, model_dir)
    except OSError as exc:
        print(f"error: cannot write the model into {model_dir}: {exc.strerror or exc}", file=sys.stderr)
        return 1
    progress(f"wrote {model_dir}/ (model version {metadata['version']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
