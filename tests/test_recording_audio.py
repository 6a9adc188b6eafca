"""core.recording.audio with the real ffmpeg; results checked independently with PyAV and a RIFF parser."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
import pytest

from core.recording.audio import (
    AudioError,
    BroadcastMetadata,
    MediaFacts,
    TrackPlacement,
    ffmpeg_executable,
    integrated_loudness,
    make_access_copy,
    make_flac,
    make_master,
    probe,
    remux,
    sha256_file,
)
from tests.audio_fixtures import decode, make_speechlike_webm, make_tone_webm, riff_chunks

RATE = 48000
OFFSET_B = 2.0
METADATA = BroadcastMetadata(description="Conversation 42: Alice (left) and Bob (right)",
                             originator="oss-connect test", origination=datetime(2026, 11, 24, 9, 30, 15, tzinfo=UTC))


@pytest.fixture(scope="module")
def work(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("audio")


@pytest.fixture(scope="module")
def raw_tracks(work):
    """Two MediaRecorder-like streams (no duration): A speech-like 4 s, B a 1 kHz tone 3 s."""
    return (make_speechlike_webm(work / "raw_a.webm", 4.0, level=0.05),
            make_tone_webm(work / "raw_b.webm", 3.0, 1000, amplitude=0.05))


@pytest.fixture(scope="module")
def tracks(raw_tracks, work):
    return remux(raw_tracks[0], work / "a.webm"), remux(raw_tracks[1], work / "b.webm")


@pytest.fixture(scope="module")
def master(tracks, work):
    fractions: list[float] = []
    placements = [TrackPlacement(work / "a.webm", 0.0, 0), TrackPlacement(work / "b.webm", OFFSET_B, 1)]
    facts = make_master(placements, work / "master.wav", METADATA, progress=fractions.append)
    return work / "master.wav", facts, fractions


@pytest.fixture(scope="module")
def master_samples(master):
    return decode(master[0])


def seconds_of(path: Path) -> float:
    samples, rate, _, _ = decode(path)
    return samples.shape[1] / rate


def rms(block: np.ndarray) -> float:
    return float(np.sqrt(np.mean(block.astype(np.float64) ** 2))) if block.size else 0.0


def test_ffmpeg_executable_runs():
    assert Path(ffmpeg_executable()).is_file()


def test_probe_finds_the_duration_of_a_stream_without_one(raw_tracks, tracks):
    raw = probe(raw_tracks[0])
    assert raw == MediaFacts(duration_seconds=raw.duration_seconds, channels=1, sample_rate=RATE, codec="opus",
                             bits_per_sample=None)
    assert raw.duration_seconds == pytest.approx(4.0, abs=0.05)
    assert tracks[0].duration_seconds == pytest.approx(seconds_of(raw_tracks[0]), abs=0.05)
    assert tracks[1].duration_seconds == pytest.approx(3.0, abs=0.05)


def test_remux_keeps_the_audio_packets(raw_tracks, tracks, work):
    samples_raw = decode(raw_tracks[1])[0]
    samples_remuxed = decode(work / "b.webm")[0]
    assert samples_raw.shape == samples_remuxed.shape
    assert np.array_equal(samples_raw, samples_remuxed)


def test_remux_to_ogg(raw_tracks, work):
    facts = remux(raw_tracks[1], work / "b.ogg")
    assert (facts.codec, facts.duration_seconds) == ("opus", pytest.approx(3.0, abs=0.05))


def test_master_format_and_length(master, master_samples):
    path, facts, _ = master
    samples, rate, codec, sample_format = master_samples
    assert (codec, sample_format, rate, samples.shape[0]) == ("pcm_s24le", "s32", RATE, 2)
    assert facts.channels == 2 and facts.sample_rate == RATE and facts.bits_per_sample == 24
    expected = max(0.0 + seconds_of(path.parent / "a.webm"), OFFSET_B + seconds_of(path.parent / "b.webm"))
    assert samples.shape[1] / rate == pytest.approx(expected, abs=0.05)
    assert facts.duration_seconds == pytest.approx(expected, abs=0.05)
    assert np.all(samples & 0xFF == 0), "24-bit samples sit in the top bits of s32"


def test_left_channel_is_track_a_and_right_is_track_b_after_its_offset(master_samples):
    samples = master_samples[0]
    left, right = samples[0], samples[1]
    second = RATE
    assert rms(left[: second]) > 1e6  # A speaks from the start
    assert rms(right[: int(1.9 * second)]) == 0.0  # B is silent before its 2 s offset
    assert rms(right[int(2.1 * second): int(4.9 * second)]) > 1e6
    assert rms(left[int(4.1 * second):]) == 0.0  # A ended after 4 s; the left channel is padded
    onset = np.flatnonzero(np.abs(right) > 0.01 * 2**31)[0] / RATE
    assert onset == pytest.approx(OFFSET_B, abs=0.005)  # the tone starts with its first sample
    spectrum = np.abs(np.fft.rfft(right[int(2.5 * second): int(3.5 * second)].astype(np.float64)))
    assert np.argmax(spectrum) == pytest.approx(1000, abs=2)  # 1 s window: bin index = Hz


def test_master_has_a_bext_chunk(master):
    bext = riff_chunks(master[0])[b"bext"]
    assert bext[:256].rstrip(b"\0").decode() == METADATA.description
    assert bext[256:288].rstrip(b"\0").decode() == METADATA.originator
    assert bext[320:330] == b"2026-11-24"
    assert bext[330:338] == b"09:30:15"


def test_long_non_ascii_bext_fields_are_cut_at_a_character(tracks, work):
    metadata = BroadcastMetadata("é" * 256, "Zoë" * 10, METADATA.origination)
    make_master([TrackPlacement(work / "b.webm", 0.0, 0)], work / "accents.wav", metadata)
    bext = riff_chunks(work / "accents.wav")[b"bext"]
    assert bext[:256].rstrip(b"\0").decode() == "é" * 128
    assert bext[256:288].rstrip(b"\0").decode() == "Zoë" * 8  # 32 bytes


def test_master_progress_rises_to_one(master):
    fractions = master[2]
    assert fractions and fractions[-1] == 1.0
    assert all(0.0 <= f <= 1.0 for f in fractions)
    assert fractions == sorted(set(fractions))


def test_a_progress_callback_that_raises_leaves_no_file(master, work):
    class JobCancelledError(Exception):
        pass

    def cancel(fraction: float) -> None:
        raise JobCancelledError

    with pytest.raises(JobCancelledError):
        make_flac(master[0], work / "cancelled.flac", progress=cancel)
    assert not list(work.glob("*cancelled*"))  # neither the target nor the temporary file is left


def test_takes_sharing_a_channel_are_placed_at_their_offsets(tracks, work):
    placements = [TrackPlacement(work / "b.webm", 0.0, 1), TrackPlacement(work / "b.webm", 4.0, 1)]
    facts = make_master(placements, work / "two_takes.wav", METADATA)
    samples, rate, _, _ = decode(work / "two_takes.wav")
    assert samples.shape[1] / rate == pytest.approx(4.0 + tracks[1].duration_seconds, abs=0.05)
    assert facts.duration_seconds == pytest.approx(samples.shape[1] / rate, abs=0.05)
    left, right = samples
    assert not left.any()
    assert rms(right[int(0.5 * rate): int(2.5 * rate)]) > 1e6
    assert rms(right[int(3.1 * rate): int(3.9 * rate)]) == 0.0  # the gap between the takes
    assert rms(right[int(4.5 * rate): int(6.5 * rate)]) > 1e6


def test_flac_holds_the_same_samples(master, master_samples, work):
    fractions: list[float] = []
    facts = make_flac(master[0], work / "master.flac", progress=fractions.append)
    samples, rate, codec, _ = decode(work / "master.flac")
    assert (codec, rate, facts.bits_per_sample, facts.channels) == ("flac", RATE, 24, 2)
    assert np.array_equal(samples, master_samples[0])
    assert fractions[-1] == 1.0


@pytest.mark.parametrize(("fmt", "codec"), [("opus", "opus"), ("mp3", "mp3float")])
def test_access_copy_is_loudness_normalised(master, work, fmt, codec):
    assert integrated_loudness(master[0]) < -25  # the master is quiet: the copy needs real gain
    target = work / f"access.{fmt}"
    fractions: list[float] = []
    facts = make_access_copy(master[0], target, fmt, progress=fractions.append)
    assert integrated_loudness(target) == pytest.approx(-16.0, abs=1.0)
    samples, rate, decoded_codec, _ = decode(target)
    assert (rate, facts.sample_rate, samples.shape[0]) == (RATE, RATE, 2)
    assert decoded_codec in (codec, fmt)
    assert facts.duration_seconds == pytest.approx(master[1].duration_seconds, abs=0.1)
    assert fractions == sorted(fractions) and fractions[-1] == 1.0


def test_access_copy_other_target(master, work):
    make_access_copy(master[0], work / "loud.opus", "opus", target_lufs=-23.0)
    assert integrated_loudness(work / "loud.opus") == pytest.approx(-23.0, abs=1.0)


def test_a_gain_that_would_clip_goes_through_the_limiter(master, work):
    peak_before = np.abs(decode(master[0])[0]).max() / 2**31
    target = work / "limited.opus"
    make_access_copy(master[0], target, "opus", target_lufs=0.0)
    gain = 10 ** ((0.0 - integrated_loudness(master[0])) / 20)
    assert peak_before * gain > 1.5  # plain gain would clip hard
    peak_after = np.abs(decode(target)[0]).max()
    assert peak_after < 10 ** (-1.0 / 20)  # limited to -2 dBFS, plus a little codec overshoot


def test_sha256_file(master):
    assert sha256_file(master[0]) == hashlib.sha256(master[0].read_bytes()).hexdigest()


def test_non_audio_files_raise_audio_error(work):
    text = work / "notes.webm"
    text.write_text("these are not the sounds you are looking for\n" * 20)
    with pytest.raises(AudioError, match="is not audio") as caught:
        probe(text)
    assert "Invalid data" in str(caught.value)  # ffmpeg's own words are part of the message
    with pytest.raises(AudioError, match="is not audio"):
        remux(text, work / "notes_out.webm")
    with pytest.raises(AudioError, match="does not exist"):
        probe(work / "missing.webm")


def test_a_video_only_file_is_not_audio(work):
    import subprocess

    video = work / "video.webm"
    subprocess.run([ffmpeg_executable(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc=size=64x48:rate=5:duration=1", "-c:v", "libvpx", "-f", "webm", str(video)], check=True)
    with pytest.raises(AudioError, match="is not audio"):
        probe(video)


def test_bad_placements_and_metadata(tracks, work):
    with pytest.raises(AudioError, match="channel"):
        make_master([TrackPlacement(work / "a.webm", 0.0, 2)], work / "bad.wav", METADATA)
    with pytest.raises(AudioError, match="at least one"):
        make_master([], work / "bad.wav", METADATA)
    with pytest.raises(ValueError, match="shorten it to 32"):
        BroadcastMetadata("d", "x" * 33, METADATA.origination)
    assert not (work / "bad.wav").exists()
