"""Test helpers: MediaRecorder-like Opus/WebM files made with the real ffmpeg, and browser-like chunking."""

from __future__ import annotations

import itertools
import struct
import subprocess
from pathlib import Path

import av
import numpy as np

from core.recording.audio import ffmpeg_executable
from core.recording.webm import split_clusters


def _encode_webm(path: Path, source: list[str], cluster_seconds: float, bitrate: str = "32k") -> Path:
    """Encode a lavfi source to mono 48 kHz Opus in WebM written to a pipe, as MediaRecorder does.

    Writing to a pipe gives a Segment of unknown size and no duration or cues, like a browser's stream.
    """
    return _encode_opus(path, source, bitrate, ["-cluster_time_limit", str(round(cluster_seconds * 1000)),
                                                "-cluster_size_limit", "4000000", "-f", "webm"])


def _encode_opus(path: Path, source: list[str], bitrate: str, container: list[str]) -> Path:
    """Encode a lavfi source to mono 48 kHz Opus in the container `container` names, through a pipe."""
    command = [ffmpeg_executable(), "-hide_banner", "-nostdin", "-loglevel", "error", *source,
               "-ac", "1", "-ar", "48000", "-c:a", "libopus", "-b:a", bitrate, "-application", "voip",
               *container, "pipe:1"]
    done = subprocess.run(command, capture_output=True, check=False)
    if done.returncode != 0:
        raise RuntimeError(f"ffmpeg could not make {path}: {done.stderr.decode(errors='replace')}")
    path = Path(path)
    path.write_bytes(done.stdout)
    return path


def _tone(seconds: float, frequency: float, amplitude: float) -> list[str]:
    """ffmpeg's input arguments for a sine tone (its sine source plays at 1/8 of full scale)."""
    return ["-f", "lavfi", "-i", f"sine=frequency={frequency}:sample_rate=48000:duration={seconds}",
            "-af", f"volume={amplitude * 8:.4f}"]


def make_tone_webm(path: Path, seconds: float, frequency: float, *, amplitude: float = 0.3,
                   cluster_seconds: float = 1.0) -> Path:
    """A MediaRecorder-like Opus/WebM (mono, 48 kHz, ~1 s clusters, no duration) holding a sine tone."""
    return _encode_webm(Path(path), _tone(seconds, frequency, amplitude), cluster_seconds)


def make_tone_ogg(path: Path, seconds: float, frequency: float, *, amplitude: float = 0.3) -> Path:
    """An Ogg Opus file (mono, 48 kHz) holding a sine tone, as a field recorder or phone app makes them."""
    return _encode_opus(Path(path), _tone(seconds, frequency, amplitude), "32k", ["-f", "ogg"])


def make_speechlike_webm(path: Path, seconds: float, *, level: float = 0.1, seed: int = 1,
                         cluster_seconds: float = 1.0, bitrate: str = "32k") -> Path:
    """A MediaRecorder-like Opus/WebM of pink noise in syllable-rate bursts with pauses (for loudness tests)."""
    envelope = "(0.6+0.4*sin(2*PI*4*t))*gt(sin(2*PI*0.35*t)\\,-0.3)"
    source = ["-f", "lavfi", "-i",
              f"anoisesrc=color=pink:sample_rate=48000:amplitude={level}:seed={seed}:duration={seconds}",
              "-af", f"volume='{envelope}':eval=frame"]
    return _encode_webm(Path(path), source, cluster_seconds, bitrate)


def _vint_length(first: int) -> int:
    return 8 - first.bit_length() + 1


def chromium_like_chunks(webm: bytes, *, cut: str = "block") -> list[bytes]:
    """Chunks cut the way Chromium's MediaRecorder cuts them: one byte into an element's ID.

    Starts from ``split_clusters`` (a chunk per Cluster) and moves each boundary to just after the first
    byte of the Cluster ID (``cut="cluster"``) or of the Cluster's first SimpleBlock ID (``cut="block"``).
    """
    parts = split_clusters(webm)
    bounds = [0]
    offset = 0
    for part in parts[:-1]:
        offset += len(part)
        cluster = offset
        if cut == "cluster":
            bounds.append(cluster + 1)
            continue
        position = cluster + 4 + _vint_length(webm[cluster + 4])  # Cluster ID and size
        while webm[position] != 0xA3:  # skip Timecode and the like: 1-byte ID, size, data
            size_length = _vint_length(webm[position + 1])
            size = int.from_bytes(webm[position + 1:position + 1 + size_length], "big") \
                & ((1 << (7 * size_length)) - 1)
            position += 1 + size_length + size
        bounds.append(position + 1)
    bounds.append(len(webm))
    return [webm[start:end] for start, end in itertools.pairwise(bounds)]


def decode(path: Path) -> tuple[np.ndarray, int, str, str]:
    """Decode a file's first audio stream with PyAV: (samples as channels x frames, rate, codec, sample format)."""
    with av.open(str(path)) as container:
        stream = container.streams.audio[0]
        codec, sample_format = stream.codec_context.name, stream.format.name
        channels = stream.codec_context.channels
        blocks = []
        for frame in container.decode(stream):
            array = frame.to_ndarray()
            blocks.append(array if frame.format.is_planar else array.reshape(-1, channels).T)
        rate = stream.rate
    return np.concatenate(blocks, axis=1), rate, codec, sample_format


def riff_chunks(path: Path) -> dict[bytes, bytes]:
    """The chunks of a WAV file by id (b"fmt ", b"bext", ...), each cut to its first 4 KB."""
    data = path.read_bytes()
    assert data[:4] in (b"RIFF", b"RF64") and data[8:12] == b"WAVE"
    chunks, position = {}, 12
    while position + 8 <= len(data):
        chunk_id, size = data[position:position + 4], struct.unpack("<I", data[position + 4:position + 8])[0]
        chunks[chunk_id] = data[position + 8:position + 8 + min(size, 4096)]
        position += 8 + size + (size & 1)
    return chunks
