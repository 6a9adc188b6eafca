"""core.recording.webm: sniffing uploaded chunks by content, on WebM made by the real ffmpeg."""

from __future__ import annotations

import subprocess
import zipfile
from io import BytesIO

import pytest

from core.recording.audio import ffmpeg_executable, probe
from core.recording.webm import NotAudio, check_continuation_chunk, check_first_chunk, split_clusters
from tests.audio_fixtures import chromium_like_chunks, make_tone_webm


def ebml(element_id: int, payload: bytes) -> bytes:
    """One EBML element with an 8-byte size field."""
    return element_id.to_bytes((element_id.bit_length() + 7) // 8, "big") + \
        (0x01 << 56 | len(payload)).to_bytes(8, "big") + payload


def hand_built_webm(track_type: int, codec: bytes, doc_type: bytes = b"webm") -> bytes:
    header = ebml(0x1A45DFA3, ebml(0x4282, doc_type))
    entry = ebml(0xAE, ebml(0xD7, b"\x01") + ebml(0x83, bytes([track_type])) + ebml(0x86, codec))
    unknown_size = b"\x01\xff\xff\xff\xff\xff\xff\xff"
    return header + b"\x18\x53\x80\x67" + unknown_size + ebml(0x1654AE6B, entry) + \
        b"\x1f\x43\xb6\x75" + unknown_size + ebml(0xE7, b"\x00")


@pytest.fixture(scope="module")
def webm(tmp_path_factory) -> bytes:
    return make_tone_webm(tmp_path_factory.mktemp("webm") / "tone.webm", 5.0, 440).read_bytes()


@pytest.fixture(scope="module")
def video_webm(tmp_path_factory) -> bytes:
    path = tmp_path_factory.mktemp("video") / "video.webm"
    subprocess.run([ffmpeg_executable(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "testsrc=size=64x48:rate=5:duration=1", "-f", "lavfi", "-i", "sine=duration=1",
                    "-c:v", "libvpx", "-c:a", "libopus", "-f", "webm", str(path)], check=True)
    return path.read_bytes()


def test_split_clusters_gives_a_header_chunk_and_one_per_cluster(webm, tmp_path):
    chunks = split_clusters(webm)
    assert len(chunks) >= 5  # ~1 s clusters in 5 s
    assert b"".join(chunks) == webm
    assert chunks[0].startswith(b"\x1a\x45\xdf\xa3") and b"\x1f\x43\xb6\x75" in chunks[0]
    assert all(chunk.startswith(b"\x1f\x43\xb6\x75") for chunk in chunks[1:])
    joined = tmp_path / "joined.webm"
    joined.write_bytes(b"".join(chunks))
    assert probe(joined).duration_seconds == pytest.approx(5.0, abs=0.05)


def test_first_and_continuation_chunks_are_accepted(webm):
    chunks = split_clusters(webm)
    assert check_first_chunk(chunks[0]) == "webm"
    for chunk in chunks[1:]:
        check_continuation_chunk(chunk)


@pytest.mark.parametrize("cut", ["block", "cluster"])
def test_chromium_cuts_one_byte_into_an_element_are_accepted(webm, cut):
    chunks = chromium_like_chunks(webm, cut=cut)
    assert b"".join(chunks) == webm and len(chunks) >= 5
    assert check_first_chunk(chunks[0]) == "webm"
    for chunk in chunks[1:]:
        assert not chunk.startswith((b"\x1f\x43\xb6\x75", b"\xa3"))  # really cut inside an ID
        check_continuation_chunk(chunk)


def test_a_header_only_first_chunk_is_accepted(webm):
    first = split_clusters(webm)[0]
    header_only = first[: first.index(b"\x1f\x43\xb6\x75") + 1]  # Chromium with a long timeslice
    assert check_first_chunk(header_only) == "webm"


def element_starts(cluster: bytes) -> list[int]:
    """Offsets of a Cluster's children (all have 1-byte IDs in ffmpeg's audio WebM)."""
    position = 4 + (9 - cluster[4].bit_length())  # Cluster ID and size
    starts = []
    while position < len(cluster):
        starts.append(position)
        length = 9 - cluster[position + 1].bit_length()
        size = int.from_bytes(cluster[position + 1:position + 1 + length], "big") & ((1 << (7 * length)) - 1)
        position += 1 + length + size
    return starts


def test_continuations_cut_inside_elements_are_refused(webm):
    chunk = split_clusters(webm)[2]
    starts = element_starts(chunk)
    assert len(starts) > 20 and chunk[starts[0]] == 0xE7 and chunk[starts[1]] == 0xA3
    boundary_cuts = {0, 1} | set(starts) | {start + 1 for start in starts}  # at or one byte into an element

    def accepted(data: bytes) -> bool:
        try:
            check_continuation_chunk(data)
        except NotAudio:
            return False
        return True

    accepted_cuts = {cut for cut in range(len(chunk) - 1) if accepted(chunk[cut:])}
    assert boundary_cuts - {len(chunk) - 1} <= accepted_cuts
    assert len(accepted_cuts - boundary_cuts) <= 3  # cuts inside block data: (almost) never accepted


def test_elements_of_a_continuation_are_checked_to_its_end(webm):
    chunk = split_clusters(webm)[2]
    check_continuation_chunk(chunk)
    with pytest.raises(NotAudio, match="not a continuation"):
        check_continuation_chunk(chunk[:40] + b"\x00" * 64 + chunk[40:])


def test_a_tiny_chromium_chunk_is_accepted():
    # The rest of a Cluster ID, unknown size, Timecode 0, and the first byte of the next SimpleBlock's ID.
    check_continuation_chunk(bytes.fromhex("43b675 01ffffffffffffff e78100 a3"))
    with pytest.raises(NotAudio):
        check_continuation_chunk(bytes.fromhex("43b675 01ffffffffffffff e78100 42"))


def test_a_second_stream_is_not_a_continuation(webm):
    with pytest.raises(NotAudio, match="new WebM stream"):
        check_continuation_chunk(split_clusters(webm)[0])


def test_ogg_opus(tmp_path):
    path = tmp_path / "tone.ogg"
    subprocess.run([ffmpeg_executable(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "sine=duration=1", "-c:a", "libopus", str(path)], check=True)
    data = path.read_bytes()
    assert check_first_chunk(data) == "ogg"
    second_page = data.index(b"OggS", 4)
    check_continuation_chunk(data[second_page:])
    with pytest.raises(NotAudio, match="new Ogg stream"):
        check_continuation_chunk(data)
    vorbis_like = data[:28 + data[26] - 1] + b"\x01vorbis" + data[28 + data[26] + 7:]
    with pytest.raises(NotAudio, match="without Opus"):
        check_first_chunk(vorbis_like)


def zip_bytes() -> bytes:
    buffer = BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("a.txt", "hello")
    return buffer.getvalue()


FOREIGN = [
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 40, "PNG image"),
    (b"\xff\xd8\xff\xe0\x00\x10JFIF\x00" + b"\x00" * 40, "JPEG image"),
    (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n", "PDF document"),
    (b"\x00\x00\x00\x20ftypisom\x00\x00\x02\x00isomiso2avc1mp41", "MP4"),
    (b"<!DOCTYPE html>\n<html><body>Not found</body></html>", "HTML page"),
    (b"just some words typed into a form\n", "text"),
]


@pytest.mark.parametrize(("data", "name"), FOREIGN, ids=[name for _, name in FOREIGN])
def test_common_files_are_refused_and_named(data, name):
    with pytest.raises(NotAudio, match=name):
        check_first_chunk(data)
    with pytest.raises(NotAudio, match=name):
        check_continuation_chunk(data)


def test_zip_and_empty_are_refused():
    with pytest.raises(NotAudio, match="ZIP archive"):
        check_first_chunk(zip_bytes())
    with pytest.raises(NotAudio, match="empty"):
        check_first_chunk(b"")
    with pytest.raises(NotAudio, match="empty"):
        check_continuation_chunk(b"")


def test_random_bytes_are_refused():
    noise = bytes((i * 73 + 41) % 256 for i in range(4096))
    with pytest.raises(NotAudio, match="not a WebM audio chunk"):
        check_first_chunk(noise)
    with pytest.raises(NotAudio, match="not a continuation"):
        check_continuation_chunk(noise)


def test_truncated_first_chunks_are_refused(webm):
    tracks_at = webm.index(b"\x16\x54\xae\x6b")
    for length in (3, 10, 30, tracks_at + 6):
        with pytest.raises(NotAudio, match="truncated"):
            check_first_chunk(webm[:length])


def test_a_webm_with_video_is_refused(video_webm):
    with pytest.raises(NotAudio, match="video track"):
        check_first_chunk(video_webm)


def test_hand_built_headers():
    assert check_first_chunk(hand_built_webm(2, b"A_OPUS")) == "webm"
    assert check_first_chunk(hand_built_webm(2, b"A_VORBIS", b"matroska")) == "webm"
    with pytest.raises(NotAudio, match="video track"):
        check_first_chunk(hand_built_webm(1, b"V_VP8"))
    with pytest.raises(NotAudio, match="not Opus or Vorbis"):
        check_first_chunk(hand_built_webm(2, b"A_AAC"))
    with pytest.raises(NotAudio, match="DocType 'mkvfoo'"):
        check_first_chunk(hand_built_webm(2, b"A_OPUS", b"mkvfoo"))


HTML_PAGE = b"<!DOCTYPE html><html><body><script>alert(document.cookie)</script></body></html>" * 20
EXE = b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00" + b"\x00" * 48 + b"PE\x00\x00" + b"\x90" * 900


@pytest.mark.parametrize("payload", [HTML_PAGE, EXE], ids=["html", "exe"])
def test_a_void_element_carrying_a_file_is_refused_wherever_it_sits(webm, payload):
    chunks = chromium_like_chunks(webm)
    void = ebml(0xEC, payload)
    middle = chunks[2]
    blocks = element_starts(split_clusters(webm)[2])
    assert len(blocks) > 48  # past the first 48 elements, where the check used to stop looking
    late = split_clusters(webm)[2][:blocks[-1]] + void + split_clusters(webm)[2][blocks[-1]:]
    for forged in (void, void + middle, middle[:-1] + void + middle[-1:], late):
        with pytest.raises(NotAudio, match=r"not part of a WebM recording.*Void"):
            check_continuation_chunk(forged)
    with pytest.raises(NotAudio, match="Void"):  # after the track list of a first chunk, too
        check_first_chunk(chunks[0][:-1] + void + chunks[0][-1:], media=True)
    for chunk in chunks[1:]:  # the real take still passes, chunk by chunk
        check_continuation_chunk(chunk, "webm")
    assert check_first_chunk(chunks[0], media=True) == "webm"


def test_unknown_elements_tags_and_oversized_blocks_are_refused(webm):
    cluster = split_clusters(webm)[2]
    for element_id in (0x1254C367, 0x1941A469, 0xBF, 0x4321):  # Tags, Attachments, CRC-32, an unknown ID
        with pytest.raises(NotAudio, match=f"0x{element_id:X}"):
            check_continuation_chunk(cluster + ebml(element_id, b"<html>" * 10))
    huge_block = ebml(0xA3, b"\x81\x00\x00\x80" + HTML_PAGE * 50)  # larger than any Opus packet
    with pytest.raises(NotAudio, match="not an audio block"):
        check_continuation_chunk(cluster + huge_block + cluster)
    with pytest.raises(NotAudio, match="0x4321"):  # a block group holding something else than blocks
        check_continuation_chunk(cluster + ebml(0xA0, ebml(0xA1, b"\x81\x00\x00\x80\x01") + ebml(0x4321, b"x")))


def test_a_whole_take_with_its_final_block_group_passes_and_ogg_pages_are_walked(webm, tmp_path):
    parts = split_clusters(webm)
    check_continuation_chunk(parts[-1])  # ffmpeg ends with a BlockGroup (Block, BlockDuration, DiscardPadding)
    path = tmp_path / "tone.ogg"
    subprocess.run([ffmpeg_executable(), "-hide_banner", "-loglevel", "error", "-f", "lavfi", "-i",
                    "sine=duration=1", "-c:a", "libopus", str(path)], check=True)
    data = path.read_bytes()
    rest = data[data.index(b"OggS", 4):]
    check_continuation_chunk(rest, "ogg")
    with pytest.raises(NotAudio, match="between its pages"):
        check_continuation_chunk(rest + HTML_PAGE, "ogg")
    with pytest.raises(NotAudio, match="take started as WebM"):
        check_continuation_chunk(rest, "webm")
