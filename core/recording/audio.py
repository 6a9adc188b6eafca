"""Audio processing of recorded conversations with ffmpeg: remux, Broadcast WAV master, FLAC and access copies.

Pure functions on local files. ffmpeg is the system's when on PATH, else the static build of the
imageio-ffmpeg wheel. Every output is written to a temporary name next to the target and renamed when
ffmpeg succeeded, so a failed step never leaves a half-written file under the target's name.

Speed (50 minutes of two Opus tracks on a 2-core machine): remuxing takes about 1 s per track, the master
11-20 s (decoding Opus and writing ~860 MB of PCM), FLAC 6-9 s, the loudness measurement (ebur128) about
2.5 s and the Opus encode 18-40 s (MP3 33-47 s), the ranges from a quiet to a busy machine. FLAC and the
access copy are independent: run them in parallel (two threads) once the master exists.
"""

from __future__ import annotations

import functools
import hashlib
import math
import os
import re
import shutil
import subprocess
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

SAMPLE_RATE = 48000
ACCESS_BITRATES = {"opus": "96k", "mp3": "192k"}
#: Sample-peak ceiling of the access copy's limiter (-2 dBFS keeps true peaks around -1 dBTP for speech).
ACCESS_PEAK_DBFS = -2.0
_ACCESS_FORMATS = {"opus": ("ogg", "libopus"), "mp3": ("mp3", "libmp3lame")}
# 60 ms Opus packets (three 20 ms CELT frames each): same quality, ~15% less encoding time than 20 ms.
_ACCESS_OPTIONS = {"opus": ["-frame_duration", "60"], "mp3": []}
_REMUX_FORMATS = {".webm": "webm", ".mka": "matroska", ".mkv": "matroska", ".ogg": "ogg", ".opus": "ogg",
                  ".oga": "ogg"}
_CHANNEL_LAYOUTS = {"mono": 1, "stereo": 2, "2.1": 3, "3.0": 3, "quad": 4, "4.0": 4, "5.0": 5, "5.1": 6,
                    "6.1": 7, "7.1": 8}

Progress = Callable[[float], None]


class AudioError(Exception):
    """An ffmpeg step failed or a file is not usable audio; the message ends with ffmpeg's last stderr lines."""


@dataclass(frozen=True)
class MediaFacts:
    """What ffmpeg reports about a file's first audio stream."""

    duration_seconds: float
    channels: int
    sample_rate: int
    codec: str
    bits_per_sample: int | None


@dataclass(frozen=True)
class TrackPlacement:
    """One recorded take placed on the master: ``offset_seconds`` after the master's start, on a channel."""

    path: Path
    offset_seconds: float
    channel: int  # 0 = left, 1 = right


@dataclass(frozen=True)
class BroadcastMetadata:
    """The Broadcast WAV ``bext`` fields: description (<= 256 characters), originator (<= 32), origination (UTC).

    The fields are fixed-size byte fields: non-ASCII text is written as UTF-8 and cut at a character boundary
    if its bytes do not fit.
    """

    description: str
    originator: str
    origination: datetime

    def __post_init__(self) -> None:
        for name, limit in (("description", 256), ("originator", 32)):
            value = getattr(self, name)
            if len(value) > limit:
                raise ValueError(f"bext {name} is {len(value)} characters long; shorten it to {limit}")


def _fit(text: str, size: int) -> str:
    """``text`` cut to at most ``size`` UTF-8 bytes without splitting a character."""
    return text.encode("utf-8")[:size].decode("utf-8", "ignore")


@functools.cache
def ffmpeg_executable() -> str:
    """The ffmpeg to run: the system's when on PATH, else the imageio-ffmpeg wheel's static build."""
    found = shutil.which("ffmpeg")
    if found:
        return found
    try:
        import imageio_ffmpeg
    except ImportError as error:
        raise AudioError("ffmpeg is not installed: install the system package or `pip install imageio-ffmpeg`") \
            from error
    return imageio_ffmpeg.get_ffmpeg_exe()


def _tail(stderr: str, lines: int = 8) -> str:
    kept = [line for line in stderr.strip().splitlines() if line.strip()][-lines:]
    return "\n".join(kept)


def _run(args: Sequence[str], what: str, *, total_seconds: float | None = None,
         progress: Progress | None = None) -> str:
    """Run ffmpeg with ``args``; report progress against ``total_seconds``; return stderr; raise AudioError."""
    command = [ffmpeg_executable(), "-hide_banner", "-nostdin", "-nostats", "-y"]
    if progress is not None:
        command += ["-progress", "pipe:1"]
    command += list(args)
    if progress is None:
        done = subprocess.run(command, capture_output=True, text=True, errors="replace", check=False)
        stderr, returncode = done.stderr, done.returncode
    else:
        stderr, returncode = _run_with_progress(command, total_seconds or 0.0, progress)
    if returncode != 0:
        raise AudioError(f"{what} failed (ffmpeg exit status {returncode}):\n{_tail(stderr)}")
    if progress is not None:
        progress(1.0)
    return stderr


def _run_with_progress(command: list[str], total_seconds: float, progress: Progress) -> tuple[str, int]:
    """Run ffmpeg with ``-progress pipe:1`` and call ``progress`` with increasing fractions below 1.

    If ``progress`` raises (a job being cancelled, say), ffmpeg is killed and the exception propagates.
    """
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               errors="replace")
    stderr_parts: list[str] = []
    reader = threading.Thread(target=lambda: stderr_parts.append(process.stderr.read()), daemon=True)
    reader.start()
    last = 0.0
    try:
        for line in process.stdout:
            key, _, value = line.strip().partition("=")
            if key == "out_time_us" and value.lstrip("-").isdigit() and total_seconds > 0:
                fraction = min(int(value) / 1e6 / total_seconds, 0.999)
                if fraction > last:
                    last = fraction
                    progress(fraction)
    except BaseException:
        process.kill()
        raise
    finally:
        returncode = process.wait()
        reader.join()
    return "".join(stderr_parts), returncode


def _scaled(progress: Progress | None, start: float, span: float) -> Progress | None:
    """A progress callback mapping 0..1 onto ``start``..``start + span`` of ``progress``."""
    if progress is None:
        return None
    return lambda fraction: progress(start + span * fraction)


def _temporary(target: Path) -> Path:
    return target.with_name(f".{target.name}.part{os.getpid()}-{threading.get_ident()}{target.suffix}")


def _write(target: Path, produce: Callable[[Path], None]) -> MediaFacts:
    """Let ``produce`` write a temporary file, then move it onto ``target`` and probe it."""
    target.parent.mkdir(parents=True, exist_ok=True)
    temporary = _temporary(target)
    try:
        produce(temporary)
        os.replace(temporary, target)
    finally:
        temporary.unlink(missing_ok=True)
    return probe(target)


def _parse_clock(text: str) -> float:
    hours, minutes, seconds = text.split(":")
    return int(hours) * 3600 + int(minutes) * 60 + float(seconds)


_STREAM = re.compile(r"Stream #\d+:\d+[^:]*: Audio: (?P<codec>[\w-]+)(?P<rest>.*)")


def probe(path: Path | str) -> MediaFacts:
    """Facts about the first audio stream of ``path``, read with ffmpeg alone (no ffprobe, no PyAV).

    The duration is the container's when it has one, else the end time of a stream-copy pass (MediaRecorder
    streams have none until remuxed). Raises AudioError when the file is missing or holds no audio.
    """
    path = Path(path)
    stream, header = _audio_header(path)
    codec, rest = stream["codec"], stream["rest"]
    rate = re.search(r"(\d+) Hz", rest)
    bits = re.search(r"\((\d+) bit\)", rest)
    layout = re.search(r"Hz, ([^,]+)", rest)
    channels = 0
    if layout:
        name = layout.group(1).strip()
        count = re.match(r"(\d+) channels", name)
        channels = int(count.group(1)) if count else _CHANNEL_LAYOUTS.get(name.split("(")[0], 0)
    bits_per_sample = int(bits.group(1)) if bits else None
    if bits_per_sample is None and (codec.startswith("pcm_") or codec in ("flac", "alac")):
        depth = re.search(r", [su](8|16|24|32|64)p?\b", rest)
        bits_per_sample = int(depth.group(1)) if depth else None
    duration = re.search(r"Duration: (\d+:\d+:[\d.]+)", header)
    seconds = _parse_clock(duration.group(1)) if duration else _stream_copy_seconds(path)
    return MediaFacts(duration_seconds=seconds, channels=channels, sample_rate=int(rate.group(1)) if rate else 0,
                      codec=codec, bits_per_sample=bits_per_sample)


def _audio_header(path: Path) -> tuple[re.Match[str], str]:
    """ffmpeg's description of the file (its header only): the first audio stream line, and the whole text."""
    if not path.is_file():
        raise AudioError(f"{path} does not exist or is not a file")
    done = subprocess.run([ffmpeg_executable(), "-hide_banner", "-nostdin", "-i", str(path)],
                          capture_output=True, text=True, errors="replace", check=False)
    stream = next((m for m in map(_STREAM.search, done.stderr.splitlines()) if m), None)
    if stream is None:
        raise AudioError(f"{path} is not audio: ffmpeg found no audio stream in it\n{_tail(done.stderr, 3)}")
    return stream, done.stderr


def _stream_copy_seconds(path: Path) -> float:
    """The end time of the first audio stream, from a stream-copy pass to the null muxer."""
    done = subprocess.run([ffmpeg_executable(), "-hide_banner", "-nostdin", "-nostats", "-i", str(path),
                           "-map", "0:a:0", "-c", "copy", "-f", "null", "-progress", "pipe:1", "-"],
                          capture_output=True, text=True, errors="replace", check=False)
    if done.returncode != 0:
        raise AudioError(f"{path} is not readable audio:\n{_tail(done.stderr)}")
    times = re.findall(r"^out_time_us=(\d+)$", done.stdout, re.MULTILINE)
    if not times:
        raise AudioError(f"{path} is not audio: no audio packets found\n{_tail(done.stderr, 3)}")
    return int(times[-1]) / 1e6


def remux(source: Path, target: Path) -> MediaFacts:
    """Copy the audio of a MediaRecorder stream into a fresh WebM (or Ogg/Matroska) to give it a duration.

    The container follows ``target``'s suffix (.webm, .mka, .ogg/.opus); the audio is not re-encoded.
    """
    container = _REMUX_FORMATS.get(target.suffix.lower())
    if container is None:
        raise AudioError(f"cannot remux to {target.name}: use a .webm, .mka, .ogg or .opus target")
    _audio_header(source)  # a clear "not audio" error before ffmpeg's own
    return _write(target, lambda out: _run(
        ["-i", str(source), "-map", "0:a:0", "-c", "copy", "-f", container, str(out)], f"remuxing {source}"))


def make_master(placements: list[TrackPlacement], target: Path, metadata: BroadcastMetadata,
                progress: Progress | None = None) -> MediaFacts:
    """Mix the placed takes into a Broadcast WAV master: 24-bit, 48 kHz, left = channel 0, right = channel 1.

    Each take is downmixed to mono and delayed by its offset; takes sharing a channel are summed; both
    channels are padded to the end of the last take. The ``bext`` chunk carries ``metadata``.
    """
    if not placements:
        raise AudioError("no tracks to mix: give make_master at least one TrackPlacement")
    for placement in placements:
        if placement.channel not in (0, 1):
            raise AudioError(f"channel {placement.channel} of {placement.path} is not 0 (left) or 1 (right)")
        if placement.offset_seconds < 0 or not math.isfinite(placement.offset_seconds):
            raise AudioError(f"offset {placement.offset_seconds} of {placement.path} must be a number >= 0")
    durations = [probe(placement.path).duration_seconds for placement in placements]
    total = max(p.offset_seconds + d for p, d in zip(placements, durations, strict=True))
    total_samples = round(total * SAMPLE_RATE)
    graph = _master_graph(placements, total_samples)
    when = metadata.origination
    when = when.replace(tzinfo=UTC) if when.tzinfo is None else when.astimezone(UTC)
    inputs = [arg for placement in placements for arg in ("-i", str(placement.path))]

    def produce(out: Path) -> None:
        _run([*inputs, "-filter_complex", graph, "-map", "[master]",
              "-c:a", "pcm_s24le", "-ar", str(SAMPLE_RATE), "-ac", "2", "-rf64", "auto",
              "-fflags", "+bitexact", "-write_bext", "1",
              "-metadata", f"description={_fit(metadata.description, 256)}",
              "-metadata", f"originator={_fit(metadata.originator, 32)}",
              "-metadata", f"origination_date={when:%Y-%m-%d}",
              "-metadata", f"origination_time={when:%H:%M:%S}",
              "-f", "wav", str(out)],
             f"making the master {target}", total_seconds=total, progress=progress)

    return _write(target, produce)


def _master_graph(placements: list[TrackPlacement], total_samples: int) -> str:
    """The filter graph: per take resample/downmix/delay, per channel sum and pad, then join to stereo."""
    chains: list[str] = []
    per_channel: dict[int, list[str]] = {0: [], 1: []}
    for index, placement in enumerate(placements):
        delay = round(placement.offset_seconds * SAMPLE_RATE)
        label = f"t{index}"
        # aresample async=1 fills timestamp gaps (dropped audio) with silence so later audio stays in sync.
        # asetnsamples: 0.5 s frames instead of Opus's 20 ms cut ffmpeg's per-frame thread hand-offs (~20% faster).
        chains.append(f"[{index}:a:0]aresample={SAMPLE_RATE}:async=1,asetnsamples=n={SAMPLE_RATE // 2}:p=0,"
                      f"aformat=sample_fmts=s32:channel_layouts=mono,adelay=delays={delay}S:all=1[{label}]")
        per_channel[placement.channel].append(label)
    for channel, labels in per_channel.items():
        pad = f"apad=whole_len={total_samples},atrim=end_sample={total_samples}"
        if not labels:
            chains.append(f"anullsrc=r={SAMPLE_RATE}:cl=mono,aformat=sample_fmts=s32,"
                          f"atrim=end_sample={total_samples}[c{channel}]")
        elif len(labels) == 1:
            chains.append(f"[{labels[0]}]{pad}[c{channel}]")
        else:
            inputs = "".join(f"[{label}]" for label in labels)
            chains.append(f"{inputs}amix=inputs={len(labels)}:duration=longest:normalize=0,"
                          f"aformat=sample_fmts=s32,{pad}[c{channel}]")
    chains.append("[c0][c1]join=inputs=2:channel_layout=stereo:map=0.0-FL|1.0-FR[master]")
    return ";".join(chains)


def make_flac(master: Path, target: Path, progress: Progress | None = None) -> MediaFacts:
    """A lossless FLAC copy of ``master`` (keeps its 24-bit samples and metadata)."""
    total = probe(master).duration_seconds
    return _write(target, lambda out: _run(
        ["-i", str(master), "-map", "0:a:0", "-c:a", "flac", "-compression_level", "5", "-f", "flac", str(out)],
        f"making the FLAC copy {target}", total_seconds=total, progress=progress))


def make_access_copy(master: Path, target: Path, fmt: Literal["opus", "mp3"], target_lufs: float = -16.0,
                     progress: Progress | None = None) -> MediaFacts:
    """A listening copy at ``target_lufs`` integrated loudness, 48 kHz: Ogg Opus 96 kb/s or MP3 192 kb/s.

    Two passes: measure the integrated loudness and sample peak with ebur128, then apply the linear gain that
    reaches the target, followed by a look-ahead limiter at -2 dBFS only when that gain would push peaks
    above it. Chosen by measurement on 50 minutes of stereo on 2 cores: ffmpeg's two-pass ``loudnorm``
    spent 74 s on its first pass alone (it resamples to 192 kHz), whereas ebur128 measures in about 2.5 s
    and gain + alimiter add about 20% to the encode; the result lands within a few tenths of a LU of the
    target (the limiter only touches peaks, so speech keeps its dynamics).
    """
    if fmt not in _ACCESS_FORMATS:
        raise AudioError(f"unknown access format {fmt!r}: use 'opus' or 'mp3'")
    container, encoder = _ACCESS_FORMATS[fmt]
    total = probe(master).duration_seconds
    measured, peak = _loudness_and_peak(master, progress=_scaled(progress, 0.0, 0.15), total_seconds=total)
    gain = 0.0 if measured <= -70.0 else target_lufs - measured  # -70 LUFS: silence; leave it alone
    filters = f"volume={gain:.2f}dB"
    if peak + gain > ACCESS_PEAK_DBFS:  # only limit when the gain pushes peaks over the ceiling
        limit = 10 ** (ACCESS_PEAK_DBFS / 20)
        filters += f",alimiter=limit={limit:.4f}:level=0:latency=1:attack=5:release=50"
    return _write(target, lambda out: _run(
        ["-i", str(master), "-map", "0:a:0", "-af", filters, "-c:a", encoder, "-b:a", ACCESS_BITRATES[fmt],
         *_ACCESS_OPTIONS[fmt], "-ar", str(SAMPLE_RATE), "-f", container, str(out)],
        f"making the {fmt} access copy {target}", total_seconds=total, progress=_scaled(progress, 0.15, 0.85)))


def integrated_loudness(path: Path | str, *, progress: Progress | None = None,
                        total_seconds: float | None = None) -> float:
    """Integrated loudness of ``path`` in LUFS, measured with ffmpeg's ebur128 filter (-70.0 for silence)."""
    return _loudness_and_peak(path, progress=progress, total_seconds=total_seconds)[0]


def _loudness_and_peak(path: Path | str, *, progress: Progress | None = None,
                       total_seconds: float | None = None) -> tuple[float, float]:
    """(integrated loudness in LUFS, sample peak in dBFS) from one ebur128 pass; silence gives -70.0."""
    if progress is not None and total_seconds is None:
        total_seconds = probe(path).duration_seconds
    stderr = _run(["-i", str(path), "-map", "0:a:0", "-af", "ebur128=framelog=quiet:peak=sample", "-f", "null", "-"],
                  f"measuring the loudness of {path}", total_seconds=total_seconds, progress=progress)
    summary = stderr[stderr.rfind("Integrated loudness:"):]
    loudness = re.search(r"I:\s+(-?[\d.]+|-inf) LUFS", summary)
    peak = re.search(r"Peak:\s+(-?[\d.]+|-inf) dBFS", summary)
    if not loudness or not peak:
        raise AudioError(f"ffmpeg's ebur128 gave no integrated loudness for {path}:\n{_tail(stderr)}")
    return _floor(float(loudness.group(1))), _floor(float(peak.group(1)))


def _floor(value: float) -> float:
    """Clamp a level to -70 (ebur128 reports silence as -inf or about -70)."""
    return max(value, -70.0) if math.isfinite(value) else -70.0


def sha256_file(path: Path | str) -> str:
    """The hex SHA-256 of a file, read in blocks."""
    with open(path, "rb") as handle:
        return hashlib.file_digest(handle, "sha256").hexdigest()
