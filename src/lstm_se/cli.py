"""Command line: `lstm-se <command> --config PATH [key=value ...]`.

Each command turns the config into plain arguments and calls one stage's entry function; no
pipeline logic lives here.
"""

from __future__ import annotations

import argparse
import importlib
import importlib.util
import logging
import os
import sys
from collections.abc import Callable, Sequence
from typing import Any

from . import LstmSeError, __version__
from . import config as config_mod

log = logging.getLogger("lstm_se")


def setup_logging(debug: bool = False) -> None:
    """stdlib logging to stderr; debug also lets TensorFlow's C++ messages through."""
    level = logging.DEBUG if debug else logging.INFO
    logging.basicConfig(
        level=level,
        format="%(asctime)s %(levelname)s %(name)s: %(message)s",
        datefmt="%H:%M:%S",
        force=True,
    )
    if debug:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = "0"
    for noisy in ("matplotlib", "numba", "PIL", "h5py", "absl"):
        logging.getLogger(noisy).setLevel(logging.WARNING)


# Lines TensorFlow's C++ side prints while it is imported, before absl logging is set up (so
# TF_CPP_MIN_LOG_LEVEL, set in __init__.py, does not reach them): they look like errors
# (`E0000 ...`, `I0000 ...`) and are not. Filtered out of stderr during the import; every other
# line passes. `--debug` keeps them all.
TF_STARTUP_NOISE = (
    "All log messages before absl::InitializeLog() is called",
    "oneDNN custom operations are on",
    "cpu_feature_guard",
    "To enable the following instructions:",
    "Unable to register cuDNN factory",
    "Unable to register cuFFT factory",
    "Unable to register cuBLAS factory",
    "computation_placer.cc",
)

# Commands that import TensorFlow in this process (prepare forks workers first: not it).
TF_COMMANDS = ("train", "enhance", "evaluate", "export")


def drop_tf_startup_noise(text: str) -> str:
    """`text` without the lines of TF_STARTUP_NOISE."""
    lines = text.splitlines(keepends=True)
    return "".join(line for line in lines if not any(n in line for n in TF_STARTUP_NOISE))


def import_tensorflow_quietly() -> None:
    """Import TensorFlow with its start-up lines filtered out of stderr (file descriptor 2,
    where the C++ code writes); what else it prints, and any import error, still shows."""
    if "tensorflow" in sys.modules:
        return
    import tempfile

    sys.stderr.flush()
    saved = os.dup(2)
    with tempfile.TemporaryFile() as captured:
        os.dup2(captured.fileno(), 2)
        try:
            import tensorflow  # noqa: F401
        finally:
            sys.stderr.flush()
            os.dup2(saved, 2)
            os.close(saved)
            captured.seek(0)
            sys.stderr.write(drop_tf_startup_noise(captured.read().decode(errors="replace")))
            sys.stderr.flush()


def add_config_args(parser: argparse.ArgumentParser) -> None:
    """--config and the trailing key=value overrides, shared by every config-driven command."""
    parser.add_argument(
        "--config", "-c", default=None, help="YAML config file (default: the built-in defaults)"
    )
    parser.add_argument(
        "overrides",
        nargs="*",
        metavar="key.sub=value",
        help="override config keys, e.g. dset.segment=1.0 model.units=64",
    )


def load_config(args: argparse.Namespace) -> config_mod.Config:
    """The config named by --config with the overrides applied (errors name the key)."""
    return config_mod.load(args.config, args.overrides)


# ---------------------------------------------------------------------------------------------
# commands


def cmd_config(args: argparse.Namespace) -> int:
    if args.table:
        sys.stdout.write(config_mod.markdown_table())
        return 0
    cfg = load_config(args)
    sys.stdout.write(config_mod.dump(cfg))
    return 0


def _register_config(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "config",
        help="print the resolved config (file + overrides, validated)",
        description="Print the resolved config: defaults, the --config file and "
        "the overrides, validated against the schema.",
    )
    add_config_args(p)
    p.add_argument(
        "--table",
        action="store_true",
        help="print every key with its type, default and doc as a markdown table",
    )
    p.set_defaults(func=cmd_config)


def _stage(module: str):
    """Import a stage module only when its command runs (keeps `--help` and `config` fast)."""
    return importlib.import_module(f"lstm_se.{module}")


def _register_demo_data(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "demo-data",
        help="generate the demo corpus (no download)",
        description="Generate a small corpus of synthetic speech in generated "
        "noise, in the VoiceBank-DEMAND folder layout.",
    )
    add_config_args(p)
    p.add_argument("--out", required=True, help="output folder (must not exist, or use --force)")
    p.add_argument("--minutes", type=float, default=2.0, help="minutes of clean speech in all")
    p.add_argument("--speakers", type=int, default=10, help="number of synthetic speakers")
    p.add_argument("--force", action="store_true", help="replace an existing output folder")
    p.set_defaults(func=lambda args: _stage("demo").command(args, load_config(args)))


def _register_mix(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "mix",
        help="mix clean speech and noise folders into a corpus",
        description="Mix folders of clean speech and noise (wav/flac, any rate, "
        "recursive) into a corpus in the VoiceBank-DEMAND layout. Mixer settings "
        "are the config's `mix` section.",
    )
    add_config_args(p)
    p.add_argument(
        "--speech", required=True, help="folder of clean speech, one subfolder per speaker"
    )
    p.add_argument("--noise", required=True, help="folder of noise recordings")
    p.add_argument("--out", required=True, help="output folder (must not exist, or use --force)")
    p.add_argument("--force", action="store_true", help="replace an existing output folder")
    p.set_defaults(func=lambda args: _stage("mix").command(args, load_config(args)))


def _register_prepare(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "prepare",
        help="corpus -> validated, sharded STFT TFRecords",
        description="Find, validate and process the corpus at dset.wav into "
        "sharded TFRecords at dset.save_path (same as create_dataset.py).",
    )
    add_config_args(p)
    p.add_argument("--workers", type=int, default=None, help="processes (default: dset.workers)")
    p.add_argument(
        "--num-shards",
        type=int,
        default=1,
        help="split the work into N parts by file index (one per machine)",
    )
    p.add_argument("--shard-index", type=int, default=0, help="which part this run does (0..N-1)")
    p.add_argument(
        "--merge",
        action="store_true",
        help="merge the part manifests of a split run into manifest.json",
    )
    p.add_argument("--force", action="store_true", help="rebuild, even with another config")
    p.add_argument(
        "--verify",
        action="store_true",
        help="check every shard's CRC-32 against the manifest and rebuild the damaged ones",
    )
    p.set_defaults(func=lambda args: _stage("prepare").command(args, load_config(args)))


def _register_train(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "train",
        help="train the LSTM mask model (re-running resumes)",
        description="Train on the records at dset.save_path into "
        "<folder>/<train.name>/ (same as train.py). Running it again resumes.",
    )
    add_config_args(p)
    p.add_argument("--restart", action="store_true", help="start the run over from scratch")
    p.set_defaults(func=lambda args: _stage("train").command(args, load_config(args)))


def _register_enhance(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "enhance",
        help="enhance wav/flac files with a trained run (default: the pretrained model)",
        description="Enhance audio files or folders with a trained run, or without --run "
        "with the pretrained model shipped in pretrained/.",
    )
    p.add_argument(
        "--run",
        default=None,
        help="run folder, e.g. result/demo (default: the pretrained model, pretrained/)",
    )
    p.add_argument("inputs", nargs="+", metavar="INPUT", help="wav/flac files or folders")
    p.add_argument("--out", required=True, help="folder for the enhanced 16-bit wavs")
    p.add_argument(
        "--overwrite",
        action="store_true",
        help="allow outputs that replace input files (refused without it)",
    )
    p.add_argument(
        "--keep-rate",
        action="store_true",
        help="write each output at its input's sample rate (default: the model's, 16 kHz); "
        "outputs are mono either way",
    )
    p.add_argument(
        "--streaming",
        action="store_true",
        help="run frame by frame with carried state, as the microcontroller does",
    )
    p.add_argument(
        "--tflite",
        action="store_true",
        help="use the exported device model, frame by frame in TFLite Micro (what the device "
        "will output)",
    )
    _add_candidate_args(p)
    p.set_defaults(func=lambda args: _stage("enhance").command(args, _exported_masker(p, args)))


def _register_evaluate(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "evaluate",
        help="PESQ, STOI, SI-SDR and composite scores of a run",
        description="Score noisy input and enhanced output against clean "
        "references; write CSV, metrics.json, a markdown table and plots.",
    )
    p.add_argument("--run", required=True, help="run folder, e.g. result/demo")
    p.add_argument(
        "--testset",
        default=None,
        help="test set folder: clean_testset_wav/ + noisy_testset_wav/ (VoiceBank-DEMAND) or "
        "clean/ + noisy/ (flat, e.g. devtest/chime2); input SNR from snr<dB>_ name prefixes "
        "or log.csv (default: the test split of the run's dataset)",
    )
    p.add_argument(
        "--tflite",
        action="store_true",
        help="enhance with the exported device model (lstm-se export), frame by frame in TFLite "
        "Micro; results go to eval/<testset>_<kind>/ (int8 or 16x8) beside the float ones",
    )
    p.add_argument(
        "--allow-length-mismatch",
        action="store_true",
        help="score clean/noisy pairs of different lengths on their common length (counting "
        "the samples cut) instead of skipping them",
    )
    p.add_argument(
        "--max-skipped",
        type=float,
        default=0.0,
        metavar="SHARE",
        help="exit 1 when more than this share (0..1) of the pairs was skipped (default 0: any)",
    )
    _add_candidate_args(p)
    p.set_defaults(func=lambda args: _stage("evaluate").command(args, _exported_masker(p, args)))


def _add_candidate_args(p: argparse.ArgumentParser) -> None:
    group = p.add_mutually_exclusive_group()
    group.add_argument(
        "--int8",
        action="store_true",
        help="with --tflite: the int8 candidate instead of the device model",
    )
    group.add_argument(
        "--int16",
        action="store_true",
        help="with --tflite: the 16x8 candidate (int16 activations) instead of the device model",
    )


def _exported_masker(
    p: argparse.ArgumentParser, args: argparse.Namespace
) -> Callable[..., Any] | None:
    """The tflite_masker factory that --tflite [--int8 | --int16] asks for, or None."""
    flag = "--int8" if args.int8 else "--int16" if args.int16 else None
    if flag and not args.tflite:
        p.error(f"{flag} goes with --tflite (it picks an exported candidate model)")
    if not args.tflite:
        return None
    maskers = _stage("tflite_masker")
    if args.int8:
        return maskers.int8_masker
    return maskers.int16_masker if args.int16 else maskers.device_masker


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"must be a whole number of at least 1, not {text!r}")
    return value


def _register_export(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser(
        "export",
        help="the device model for the STM32F746 (TFLite Micro), its C array and budget",
        description="Export a run for the STM32F746: every device candidate (int8, 16x8) "
        "converted, verified in TFLite Micro against float and budgeted; the chosen one as "
        "model_device.tflite with its C array and the firmware's constants.",
    )
    p.add_argument("--run", required=True, help="run folder, e.g. result/demo")
    p.add_argument(
        "--all-c-arrays",
        action="store_true",
        help="also write every candidate's C array (model_int8.cc, model_16x8.cc)",
    )
    p.add_argument(
        "--max-clips",
        type=_positive_int,
        default=None,
        metavar="N",
        help="verify on N test clips evenly spread (default: the whole test set)",
    )
    p.add_argument("--int16", action="store_true", help=argparse.SUPPRESS)  # always now
    p.set_defaults(func=lambda args: _stage("export").command(args))


# (command's module, register function), in `--help` order. A command exists only once its
# stage module does: no command that cannot work is offered.
COMMANDS: list[tuple[str | None, Callable[[argparse._SubParsersAction], None]]] = [
    (None, _register_config),
    ("demo", _register_demo_data),
    ("mix", _register_mix),
    ("prepare", _register_prepare),
    ("train", _register_train),
    ("enhance", _register_enhance),
    ("evaluate", _register_evaluate),
    ("export", _register_export),
]


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="lstm-se",
        description="LSTM speech enhancement: corpus -> records -> training -> int8 TFLite Micro.",
    )
    parser.add_argument("--version", action="version", version=f"lstm-se {__version__}")
    parser.add_argument("--debug", action="store_true", help="verbose logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True
    for module, register in COMMANDS:
        if module is None or importlib.util.find_spec(f"lstm_se.{module}") is not None:
            register(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(args.debug)
    if args.command in TF_COMMANDS and not args.debug and not getattr(args, "tflite", False):
        import_tensorflow_quietly()
    try:
        return int(args.func(args) or 0)
    except config_mod.ConfigError as exc:
        log.error("config error: %s", exc)
        return 2
    except LstmSeError as exc:
        log.error("%s", exc)
        return 1
    except KeyboardInterrupt:
        log.error("interrupted")
        return 130


if __name__ == "__main__":
    sys.exit(main())
