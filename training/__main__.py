"""Command line: ``python -m training [--estimator NAME] [--model-dir DIR]`` trains Iris;
``python -m training package --model PIPELINE.joblib --data DATA.csv --target COLUMN --model-dir DIR``
packages a model fitted elsewhere (``training.package``), into a directory that holds no artifact
yet unless ``--overwrite`` is given. Refused input exits 2, a write that fails 1."""

from __future__ import annotations

import argparse
import math
import sys
import time
from pathlib import Path

from training.artifact import METADATA_FILE, MODEL_FILE, model_dir_from_env, save_artifact
from training.contract import DEFAULT_RANGE_MARGIN
from training.data import load_dataset
from training.estimators import DEFAULT_ESTIMATOR, ESTIMATORS
from training.fields import DEFAULT_ROW_NAME
from training.package import PackagingError, PackagingParams, package, parse_range
from training.train import DEFAULT_CV_FOLDS, DEFAULT_SEED, DEFAULT_TEST_SIZE, TrainingParams, train

REFUSED_EXIT_CODE = 2  # as argparse exits on a bad option
WRITE_FAILED_EXIT_CODE = 1


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


def declared_range(text: str) -> tuple[str, tuple[float, float]]:
    """An argparse ``type=`` for ``NAME=LOW:HIGH``."""
    try:
        return parse_range(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def parse_package_args(argv: list[str]) -> argparse.Namespace:
    """The options of ``python -m training package`` (``argv`` after the word ``package``);
    argparse exits 2 with a usage line on a missing or malformed one."""
    parser = argparse.ArgumentParser(
        prog="python -m training package",
        description="Package a fitted scikit-learn estimator or pipeline and a sample of its data as an artifact.",
    )
    parser.add_argument("--model", type=Path, required=True, help="the fitted model, saved with joblib.dump")
    parser.add_argument("--data", type=Path, required=True,
                        help="CSV with a header row: the target column and the features, in the model's order")
    parser.add_argument("--target", required=True, help="the CSV column the model predicts")
    parser.add_argument("--model-dir", type=directory, required=True, help="output directory")
    parser.add_argument("--name", help="the model's name in /v2 URLs (default: the output directory's name)")
    parser.add_argument("--range", dest="ranges", type=declared_range, action="append", default=[],
                        metavar="NAME=LOW:HIGH", help="a feature's valid range, instead of the data's (repeatable)")
    parser.add_argument("--range-margin", type=float, default=DEFAULT_RANGE_MARGIN,
                        help="share of the data's span added on each side of a range taken from the data")
    parser.add_argument("--row-name", default=DEFAULT_ROW_NAME,
                        help=f"what one input row is, in the singular, for the service's texts (default: {DEFAULT_ROW_NAME})")
    parser.add_argument("--overwrite", action="store_true",
                        help="replace the artifact already in --model-dir (refused without it)")
    return parser.parse_args(argv)


def _error(message: str, exit_code: int) -> int:
    """Print ``error: <message>`` as one line on stderr; return ``exit_code`` for ``sys.exit``."""
    print(f"error: {message}", file=sys.stderr)
    return exit_code


def _cannot_write(model_dir: Path, exc: OSError) -> int:
    return _error(f"cannot write the model into {model_dir}: {exc.strerror or exc}", WRITE_FAILED_EXIT_CODE)


def _package_refusal(args: argparse.Namespace) -> str | None:
    """What is wrong with ``python -m training package``'s arguments beyond what argparse checks, or ``None``."""
    if not (math.isfinite(args.range_margin) and args.range_margin >= 0):
        return "--range-margin must be a finite number, 0 or more"
    if args.model_dir.exists() and not args.model_dir.is_dir():
        return f"--model-dir {args.model_dir} is a file, not a directory"
    held = [name for name in (MODEL_FILE, METADATA_FILE) if (args.model_dir / name).exists()]
    if held and not args.overwrite:
        return f"--model-dir {args.model_dir} already holds an artifact ({', '.join(held)}); give --overwrite to replace it"
    if not args.row_name.strip():
        return "--row-name must not be empty"
    return None


def main_package(argv: list[str]) -> int:
    """Run ``python -m training package``: check the options, package the model (``training.package``),
    write the artifact into ``--model-dir`` and say what was written. Returns the exit status: 0 written,
    2 refused input, 1 the artifact cannot be written; a refusal or failure prints one ``error:`` line on stderr."""
    args = parse_package_args(argv)
    if (refusal := _package_refusal(args)) is not None:
        return _error(refusal, REFUSED_EXIT_CODE)
    params = PackagingParams(
        model_path=args.model, data_path=args.data, target=args.target,
        name=args.name or args.model_dir.resolve().name, declared_ranges=dict(args.ranges),
        range_margin=args.range_margin, row_name=args.row_name,
    )
    try:
        model, metadata = package(params)
    except PackagingError as exc:
        return _error(str(exc), REFUSED_EXIT_CODE)
    try:
        written = save_artifact(model, metadata, args.model_dir)
    except OSError as exc:
        return _cannot_write(args.model_dir, exc)
    score = ", ".join(f"{key} {value:.3f}" for key, value in metadata["metrics"].items() if isinstance(value, float))
    print(f"{metadata['task']} of {metadata['target']!r} from {len(metadata['features'])} features; "
          f"{score} on {metadata['metrics']['rows']} rows")
    print(f"wrote {args.model_dir}/ (model {written['name']!r} version {written['version']}, "
          f"scikit-learn {written['versions']['scikit-learn']})")
    return 0


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["package"]:
        return main_package(argv[1:])
    args = parse_args(argv)
    model_dir = args.model_dir or model_dir_from_env()
    try:  # now, not after training: an unusable directory is said at once
        model_dir.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        return _cannot_write(model_dir, exc)
    started = time.perf_counter()

    def progress(message: str) -> None:
        print(f"[{time.perf_counter() - started:6.2f}s] {message}", flush=True)

    progress("loading Iris from scikit-learn's bundled copy")
    dataset = load_dataset()
    progress(f"training {args.estimator}")
    try:
        result = train(dataset, TrainingParams(args.estimator, args.seed, args.test_size, args.cv_folds), progress)
    except ValueError as exc:
        return _error(str(exc), REFUSED_EXIT_CODE)
    try:
        metadata = save_artifact(result.model, result.metadata, model_dir)
    except OSError as exc:
        return _cannot_write(model_dir, exc)
    progress(f"wrote {model_dir}/ (model version {metadata['version']})")
    return 0


if __name__ == "__main__":
    sys.exit(main())
