"""The ``maskwatch`` command line: ``run``, ``check``, ``replay``, ``detect``, ``bundle verify``,
``fleet ...``."""

import argparse
import json
import logging
import os
import sys
from pathlib import Path

import cv2

from maskwatch.core.bundle import load_bundle
from maskwatch.core.config import RUNTIMES, load_config
from maskwatch.core.errors import ImageError, MaskwatchError, open_output
from maskwatch.core.images import annotate, read_image
from maskwatch.service.fleet_cli import add_fleet_commands
from maskwatch.service.logs import setup_logging
from maskwatch.tracking.frame_loop import FrameLoop
from maskwatch.vision.pipeline import MaskPipeline

# The source tree's bundle/ (edge/service/cli.py is three levels below the tree's root).
SOURCE_TREE = Path(__file__).resolve().parents[2]
DEFAULT_BUNDLE = Path(os.environ.get("MASKWATCH_BUNDLE", SOURCE_TREE / "bundle"))


def cmd_detect(args: argparse.Namespace) -> int:
    """One JSON line per image; an unreadable image is reported and skipped."""
    loop = FrameLoop.for_photos(
        MaskPipeline.from_bundle_dir(args.bundle, args.threads, args.runtime)
    )
    if args.annotate:
        try:
            args.annotate.mkdir(parents=True, exist_ok=True)
        except OSError as error:
            raise MaskwatchError(
                f"--annotate {args.annotate}: cannot make the folder ({error.strerror})"
            ) from None
    failures = 0
    with open_output("--json", args.json) as out:
        for path in args.images:
            try:
                image = read_image(path)
            except ImageError as error:
                print(f"maskwatch: error: {error}", file=sys.stderr)
                failures += 1
                continue
            faces = loop.photo(image)
            record = {"image": path.name, "faces": [face.as_json() for face in faces]}
            out.write(json.dumps(record) + "\n")
            out.flush()
            if args.annotate:
                cv2.imwrite(str(args.annotate / path.name), annotate(image, faces))
    return 1 if failures else 0


def cmd_run(args: argparse.Namespace) -> int:
    from maskwatch.service.daemon import run

    config = load_config(args.config, args.set)
    setup_logging(config.log_level)
    if config.fleet.enabled:
        from maskwatch.service.fleet_run import run_fleet_device

        return run_fleet_device(config)
    return run(config)


def cmd_check(args: argparse.Namespace) -> int:
    from maskwatch.service.check import run_checks

    config = load_config(args.config, args.set)
    setup_logging(logging.WARNING)
    print(f"config: ok, {args.config or 'defaults'}")
    return 1 if run_checks(config, lambda line: print(line, flush=True)) else 0


def cmd_replay(args: argparse.Namespace) -> int:
    from maskwatch.service.replay import replay

    config = load_config(args.config, args.set)
    setup_logging(config.log_level)
    count = replay(config, args.video, args.events, args.annotate)
    where = f" and {args.annotate}" if args.annotate else ""
    print(f"{args.video}: {count} events to {args.events}{where}")
    return 0


def cmd_bundle_verify(args: argparse.Namespace) -> int:
    """Checksums, labels, and both models loaded as the daemon loads them."""
    bundle = load_bundle(args.path)
    MaskPipeline(bundle)
    print(f"{args.path}: bundle ok ({', '.join(bundle.manifest.files)})")
    return 0


def add_config_arguments(parser: argparse.ArgumentParser, required: bool) -> None:
    parser.add_argument("--config", type=Path, required=required, help="the TOML config file")
    parser.add_argument(
        "--set",
        action="append",
        default=[],
        metavar="SECTION.KEY=VALUE",
        help="override a config value (repeatable); MASKWATCH__SECTION__KEY does the same",
    )


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="maskwatch", description="Face-mask detection on the edge."
    )
    commands = parser.add_subparsers(dest="command", required=True)

    detect = commands.add_parser("detect", help="label the faces of still images")
    detect.add_argument("--bundle", type=Path, default=DEFAULT_BUNDLE,
                        help=f"the model bundle folder (default: {DEFAULT_BUNDLE})")  # fmt: skip
    detect.add_argument("--json", type=Path, required=True, help="output JSON lines file")
    detect.add_argument("--annotate", type=Path, help="folder for images with boxes drawn")
    detect.add_argument("--threads", type=int, default=1,
                        help="CPU threads for detector and classifier (default: 1)")  # fmt: skip
    detect.add_argument("--runtime", choices=RUNTIMES, default="auto", help="TFLite runtime")
    detect.add_argument("images", type=Path, nargs="+", help="image files to label")
    detect.set_defaults(func=cmd_detect)

    run = commands.add_parser("run", help="run the daemon: frames in, MQTT events out")
    add_config_arguments(run, required=True)
    run.set_defaults(func=cmd_run)

    check = commands.add_parser("check", help="config, bundle, camera, queue and broker: ready?")
    add_config_arguments(check, required=True)
    check.set_defaults(func=cmd_check)

    replay = commands.add_parser("replay", help="a video through the daemon's pipeline, offline")
    add_config_arguments(replay, required=False)
    replay.add_argument("video", type=Path, help="the video file to play through the daemon")
    replay.add_argument("--events", type=Path, required=True, help="output JSON lines file")
    replay.add_argument("--annotate", type=Path, help="output video with boxes drawn (.mp4)")
    replay.set_defaults(func=cmd_replay)

    bundle = commands.add_parser("bundle", help="model bundle tools")
    bundle_commands = bundle.add_subparsers(dest="bundle_command", required=True)
    verify = bundle_commands.add_parser("verify", help="check a bundle against its manifest")
    verify.add_argument("path", type=Path, help="the bundle folder (holding manifest.json)")
    verify.set_defaults(func=cmd_bundle_verify)

    add_fleet_commands(commands, add_config_arguments)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.func(args)
    except MaskwatchError as error:
        print(f"maskwatch: error: {error}", file=sys.stderr)
        return error.exit_code
