"""Content sniffing for uploaded recording chunks (by content, never by name), with a tiny EBML reader.

What real Chromium produces (observed with Chromium 156 on Debian 12, fake microphone,
``MediaRecorder(stream, {mimeType: "audio/webm;codecs=opus"})`` and timeslices of 100, 250, 1000 and 3000 ms):

- The first chunk holds the EBML header (DocType "webm"), a Segment of *unknown* size, Info and Tracks
  (one audio track, TrackType 2, CodecID A_OPUS, OpusHead private data). With 100-1000 ms it goes on into
  the first Cluster (also of unknown size); with 3000 ms it stopped right after Tracks.
- Chunk boundaries are NOT at element boundaries: every chunk except the last ended with the *first byte*
  of the next element's ID, and the next chunk began with the rest of it. With 1000 ms every chunk ended
  with 0xA3 (a SimpleBlock ID) and the next began with that block's size (e.g. ``43 c6 81 03 c0 80 ...``);
  with 3000 ms one chunk ended with 0x1F and the next began ``43 b6 75 01 ff ff ff ...`` (a Cluster ID
  split after its first byte); with 100 ms (52 chunks) every chunk ended with 0xA3 or 0x1F. Clusters
  (~1 s) therefore start anywhere inside a chunk.
- The concatenation of all chunks is a valid stream without a duration (ffmpeg remuxes it with ``-c copy``).

So a continuation chunk is accepted when it parses as cluster-level Matroska elements either from its first
byte, or after putting back one leading ID byte (0xA3, 0xA0, 0xE7, 0x1F or 0x1C) that the previous
chunk ended with. Every element up to the end of the chunk must be a known cluster/segment-level element
(SimpleBlocks must look like audio blocks of track 1-8); the last one may be cut off by the chunk's end.
Checked against the chunks above: all of them pass, and cuts at random places inside block data fail.
"""

from __future__ import annotations

import itertools
from collections.abc import Iterator
from dataclasses import dataclass

EBML_HEADER = 0x1A45DFA3
DOC_TYPE = 0x4282
SEGMENT = 0x18538067
CLUSTER = 0x1F43B675
TRACKS = 0x1654AE6B
TRACK_ENTRY = 0xAE
TRACK_TYPE = 0x83
CODEC_ID = 0x86
SIMPLE_BLOCK = 0xA3
BLOCK_GROUP = 0xA0
TIMECODE = 0xE7
CUES = 0x1C53BB6B
VOID = 0xEC

#: Elements that may start a continuation chunk cut at an element boundary.
CONTINUATION_START_IDS = frozenset({CLUSTER, SIMPLE_BLOCK, BLOCK_GROUP, TIMECODE, CUES, VOID})
#: Elements a continuation chunk may contain (cluster children and the segment-level elements after them).
CONTINUATION_IDS = CONTINUATION_START_IDS | {
    0xBF,  # CRC-32
    0xA7,  # Position
    0xAB,  # PrevSize
    0xAF,  # EncryptedBlock
    0x5854,  # SilentTracks
    0x1254C367,  # Tags
    0x1043A770,  # Chapters
    0x1941A469,  # Attachments
    0x114D9B74,  # SeekHead
}
#: First ID bytes Chromium leaves at the end of the previous chunk (see the module docstring).
_CARRIED_ID_BYTES = (b"\xa3", b"\xa0", b"\xe7", b"\x1f", b"\x1c")
_AUDIO_CODECS = frozenset({"A_OPUS", "A_VORBIS"})
_MAX_BLOCK = 1 << 20  # an audio frame is a few hundred bytes; a megabyte is far beyond any


class NotAudio(ValueError):  # noqa: N818 (the name the upload code uses)
    """An uploaded chunk is not (part of) a WebM/Ogg audio recording; the message says what it is."""


class _TruncatedError(Exception):
    """The data ends inside an element header."""


class _InvalidError(Exception):
    """The bytes are not a valid EBML variable-length integer."""


@dataclass(frozen=True)
class _Element:
    id: int
    start: int
    data_start: int
    size: int | None  # None: unknown size (live streams)

    @property
    def end(self) -> int | None:
        return None if self.size is None else self.data_start + self.size


def _vint(data: bytes, pos: int, *, is_id: bool) -> tuple[int, int, bool]:
    """Read an EBML variable-length integer: (value, length in bytes, all value bits set)."""
    if pos >= len(data):
        raise _TruncatedError
    first = data[pos]
    if first == 0:
        raise _InvalidError
    length = 1
    while not first & (0x80 >> (length - 1)):
        length += 1
    if is_id and length > 4:
        raise _InvalidError
    if pos + length > len(data):
        raise _TruncatedError
    value = first if is_id else first & (0xFF >> length)
    for byte in data[pos + 1:pos + length]:
        value = (value << 8) | byte
    all_ones = not is_id and value == (1 << (7 * length)) - 1
    return value, length, all_ones


def _element_at(data: bytes, pos: int) -> _Element:
    """The element header at ``pos`` (raises _TruncatedError when the header itself is cut off)."""
    element_id, id_length, _ = _vint(data, pos, is_id=True)
    size, size_length, unknown = _vint(data, pos + id_length, is_id=False)
    return _Element(element_id, pos, pos + id_length + size_length, None if unknown else size)


def _children(data: bytes, start: int, end: int) -> Iterator[_Element]:
    """Direct children of a known-size element whose data spans ``start:end`` (must be complete)."""
    pos = start
    while pos < end:
        element = _element_at(data, pos)
        if element.end is None or element.end > end:
            raise _InvalidError
        yield element
        pos = element.end


def _read_uint(data: bytes, element: _Element) -> int:
    return int.from_bytes(data[element.data_start:element.end], "big")


def _read_string(data: bytes, element: _Element) -> str:
    return data[element.data_start:element.end].rstrip(b"\0").decode("ascii", "replace")


def describe(data: bytes) -> str | None:
    """Name a common non-audio file type from its first bytes ("a PNG image"), or None when unrecognised."""
    head = data[:512]
    signatures = (
        (b"\x89PNG\r\n\x1a\n", "a PNG image"),
        (b"\xff\xd8\xff", "a JPEG image"),
        (b"GIF87a", "a GIF image"),
        (b"GIF89a", "a GIF image"),
        (b"%PDF-", "a PDF document"),
        (b"PK\x03\x04", "a ZIP archive (or an office document)"),
        (b"PK\x05\x06", "an empty ZIP archive"),
        (b"\x1f\x8b", "a gzip archive"),
        (b"fLaC", "a FLAC file"),
        (b"ID3", "an MP3 file"),
        (b"\x7fELF", "a program (ELF executable)"),
    )
    for magic, name in signatures:
        if head.startswith(magic):
            return name
    if head[4:8] == b"ftyp":
        return "an MP4/QuickTime file"
    if head.startswith(b"RIFF") and head[8:12] == b"WAVE":
        return "a WAV file"
    if head.startswith(b"RIFF") and head[8:12] == b"WEBP":
        return "a WebP image"
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        try:  # the 512-byte window may cut a multi-byte character
            text = head[:-3].decode("utf-8")
        except UnicodeDecodeError:
            return None
    if text and all(ch.isprintable() or ch in "\r\n\t" for ch in text):
        lowered = text.lstrip("\ufeff \r\n\t").lower()
        if lowered.startswith(("<!doctype html", "<html", "<head", "<body")):
            return "an HTML page"
        if lowered.startswith(("{", "[")):
            return "JSON or other text"
        return "text"
    return None


def _refuse(data: bytes, expected: str, detail: str) -> NotAudio:
    found = describe(data)
    if found:
        return NotAudio(f"this is {found}, not {expected}")
    return NotAudio(f"this is not {expected}: {detail}")


def _check_ogg_opus(data: bytes) -> None:
    """An Ogg first page must carry the OpusHead identification header."""
    if len(data) < 27:
        raise NotAudio("this Ogg chunk is truncated: it ends inside the first page header; "
                       "upload the first chunk whole")
    segments = data[26]
    payload = 27 + segments
    if len(data) < payload + 8:
        raise NotAudio("this Ogg chunk is truncated: it ends before the codec header; upload the first chunk whole")
    if data[payload:payload + 8] != b"OpusHead":
        raise NotAudio("this is an Ogg stream without Opus audio (no OpusHead); record with audio/ogg;codecs=opus")


def check_first_chunk(data: bytes) -> str:
    """Accept a recording's first chunk (WebM/Matroska with an Opus or Vorbis audio track, or Ogg Opus).

    Returns the container ("webm" or "ogg"); raises NotAudio saying what the data is otherwise.
    """
    expected = "a WebM audio chunk"
    if not data:
        raise NotAudio("the chunk is empty: the first chunk of a recording must hold the WebM header")
    if data.startswith(b"OggS"):
        _check_ogg_opus(data)
        return "ogg"
    if len(data) < 4 and b"\x1a\x45\xdf\xa3".startswith(data):
        raise NotAudio("this WebM chunk is truncated inside its EBML header; upload the recorder's first chunk whole")
    if not data.startswith(b"\x1a\x45\xdf\xa3"):
        raise _refuse(data, expected, "it does not start with an EBML (WebM) header")
    try:
        header = _element_at(data, 0)
        if header.end is None or header.end > len(data):
            raise _TruncatedError
        doc_type = next((_read_string(data, child) for child in _children(data, header.data_start, header.end)
                         if child.id == DOC_TYPE), None)
    except _TruncatedError:
        raise NotAudio("this WebM chunk is truncated inside its EBML header; upload the recorder's first chunk whole")
    except _InvalidError:
        raise NotAudio("this is not a WebM audio chunk: its EBML header is malformed")
    if doc_type not in ("webm", "matroska"):
        raise NotAudio(f"this is an EBML file of DocType {doc_type!r}, not a WebM audio chunk")
    tracks = _find_tracks(data, header.end)
    return _check_tracks(data, tracks)


def _find_tracks(data: bytes, pos: int) -> _Element:
    """Find the complete Tracks element in the Segment that starts at ``pos``."""
    truncated = NotAudio("this WebM chunk is truncated: it ends before its track list is complete; "
                         "upload the recorder's first chunk whole")
    try:
        segment = _element_at(data, pos)
        if segment.id != SEGMENT:
            raise NotAudio("this is not a WebM audio chunk: no Segment follows the EBML header")
        limit = len(data) if segment.end is None else min(segment.end, len(data))
        pos = segment.data_start
        while pos < limit:
            element = _element_at(data, pos)
            if element.id == TRACKS:
                if element.end is None:
                    raise NotAudio("this is not a WebM audio chunk: its track list has no size")
                if element.end > len(data):
                    raise truncated
                return element
            if element.id == CLUSTER:
                raise NotAudio("this is not a WebM audio chunk: media data starts before any track list")
            if element.end is None:
                raise NotAudio(f"this is not a WebM audio chunk: element 0x{element.id:X} has no size")
            pos = element.end
    except _TruncatedError:
        raise truncated
    except _InvalidError:
        raise NotAudio("this is not a WebM audio chunk: its Segment is malformed")
    raise truncated


def _check_tracks(data: bytes, tracks: _Element) -> str:
    """Require an Opus/Vorbis audio track and no video track."""
    kinds = {1: "video", 2: "audio", 3: "complex", 0x10: "logo", 0x11: "subtitle", 0x12: "buttons", 0x20: "control"}
    audio_codecs: list[str] = []
    try:
        assert tracks.end is not None
        for entry in _children(data, tracks.data_start, tracks.end):
            if entry.id != TRACK_ENTRY:
                continue
            assert entry.end is not None
            track_type, codec = 0, ""
            for field in _children(data, entry.data_start, entry.end):
                if field.id == TRACK_TYPE:
                    track_type = _read_uint(data, field)
                elif field.id == CODEC_ID:
                    codec = _read_string(data, field)
            if track_type == 1:
                raise NotAudio(f"this is a WebM with a video track ({codec or 'unknown codec'}), not an audio-only "
                               "recording; record with audio/webm;codecs=opus")
            if track_type == 2:
                audio_codecs.append(codec)
            elif track_type:
                raise NotAudio(f"this WebM holds a {kinds.get(track_type, 'unknown')} track, not only audio")
    except (_TruncatedError, _InvalidError):
        raise NotAudio("this is not a WebM audio chunk: its track list is malformed")
    if not audio_codecs:
        raise NotAudio("this WebM has no audio track")
    if not any(codec in _AUDIO_CODECS for codec in audio_codecs):
        raise NotAudio(f"this WebM's audio is {', '.join(audio_codecs)}, not Opus or Vorbis; "
                       "record with audio/webm;codecs=opus")
    return "webm"


SNIFF_ELEMENTS = 48
"""How many complete elements a continuation chunk must start with (a second of Opus blocks, more or less):
walking a whole 80 KB chunk element by element cost more than the rest of its upload."""


def _walk_cluster_level(data: bytes, *, allowed_first: frozenset[int]) -> bool:
    """True when ``data`` is a run of cluster-level elements.

    The chunk may end inside an element header after one complete element (Chromium ends chunks one byte
    into the next ID) or inside an element's data after two (other recorders may cut anywhere).
    """
    pos = 0
    complete = 0
    while pos < len(data):
        if complete >= SNIFF_ELEMENTS:  # enough to know what it is; the rest is read when it is decoded
            return True
        try:
            element = _element_at(data, pos)
        except _TruncatedError:
            # The chunk ends inside a header: fine if what is there could start a known ID.
            return complete >= 1 and _could_be_id_prefix(data[pos:])
        except _InvalidError:
            return False
        if element.id not in (allowed_first if pos == 0 else CONTINUATION_IDS):
            return False
        if element.id == SIMPLE_BLOCK and not _plausible_block(data, element):
            return False
        if element.id == TIMECODE and not 1 <= (element.size or 0) <= 8:
            return False
        if element.id == BLOCK_GROUP and not _plausible_group(data, element):
            return False
        if element.id == CLUSTER:
            pos = element.data_start  # step into the cluster: its children follow
            continue
        if element.end is None:
            return False
        if element.end > len(data):
            return complete >= 2
        complete += 1
        pos = element.end
    return complete > 0


def _id_bytes(element_id: int) -> bytes:
    return element_id.to_bytes((element_id.bit_length() + 7) // 8, "big")


def _could_be_id_prefix(tail: bytes) -> bool:
    """True when ``tail`` (a header cut off by the chunk's end) begins a known cluster-level element."""
    return any(_id_bytes(element_id).startswith(tail) or tail.startswith(_id_bytes(element_id))
               for element_id in CONTINUATION_IDS)


def _plausible_block(data: bytes, element: _Element) -> bool:
    """A SimpleBlock holds a track number (vint, 1..8 here), a 16-bit timecode, flags and some data."""
    if element.size is None or not 4 <= element.size <= _MAX_BLOCK:
        return False
    header = data[element.data_start:element.data_start + 4]
    if header and not 0x81 <= header[0] <= 0x88:  # a browser's audio-only recording has track 1
        return False
    return len(header) < 4 or not header[3] & 0x70  # reserved flag bits are zero


def _plausible_group(data: bytes, element: _Element) -> bool:
    """A BlockGroup starts with its Block (0xA1), which looks like a SimpleBlock."""
    if element.size is None or not 5 <= element.size <= _MAX_BLOCK:
        return False
    try:
        block = _element_at(data, element.data_start)
    except _TruncatedError:
        return True
    except _InvalidError:
        return False
    return block.id == 0xA1 and _plausible_block(data, block)


def check_continuation_chunk(data: bytes) -> None:
    """Accept a later MediaRecorder chunk: Matroska cluster data continuing the first chunk's Segment.

    Accepts data that starts at a Cluster/SimpleBlock/BlockGroup/Timecode/Cues/Void element, or right after
    the first byte of such an element's ID (where Chromium cuts its chunks; see the module docstring), and
    Ogg pages that do not begin a new stream. Raises NotAudio otherwise (an EBML header: a second stream).
    """
    expected = "a continuation chunk of a WebM audio recording"
    if not data:
        raise NotAudio("the chunk is empty: a continuation chunk must hold recorded audio data")
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        raise NotAudio("this chunk starts a new WebM stream (EBML header), not a continuation of the recording; "
                       "upload it as the first chunk of a new take")
    if data.startswith(b"OggS"):
        if len(data) > 5 and data[5] & 0x02:
            raise NotAudio("this chunk starts a new Ogg stream, not a continuation of the recording; "
                           "upload it as the first chunk of a new take")
        return
    if _walk_cluster_level(data, allowed_first=CONTINUATION_START_IDS):
        return
    for carried in _CARRIED_ID_BYTES:
        if _walk_cluster_level(carried + data, allowed_first=CONTINUATION_START_IDS):
            return
    raise _refuse(data, expected, "it does not continue Matroska cluster data")


def split_clusters(webm: bytes) -> list[bytes]:
    """Split a WebM file into MediaRecorder-like chunks at Cluster starts.

    The first chunk holds the header up to the first Cluster plus that Cluster; then one chunk per Cluster
    (anything after the last Cluster, such as Cues, stays with it). Raises ValueError for a non-WebM.
    """
    try:
        header = _element_at(webm, 0)
        if header.id != EBML_HEADER or header.end is None:
            raise ValueError("not a WebM file: no EBML header")
        segment = _element_at(webm, header.end)
        if segment.id != SEGMENT:
            raise ValueError("not a WebM file: no Segment after the EBML header")
        starts: list[int] = []
        pos = segment.data_start
        end = len(webm) if segment.end is None else min(segment.end, len(webm))
        while pos < end:
            element = _element_at(webm, pos)
            if element.id == CLUSTER:
                starts.append(pos)
                pos = element.data_start
            elif element.end is None:
                raise ValueError(f"element 0x{element.id:X} at byte {pos} has an unknown size")
            else:
                pos = element.end
    except (_TruncatedError, _InvalidError):
        raise ValueError("malformed or truncated WebM file")
    if len(starts) < 2:
        return [webm]
    bounds = [0, *starts[1:], len(webm)]
    return [webm[a:b] for a, b in itertools.pairwise(bounds)]
