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
chunk ended with. Every element up to the end of the chunk must be one a recorder writes after its header:
Cluster, Timecode, SimpleBlock, BlockGroup (Block, BlockDuration, ReferenceBlock, DiscardPadding), PrevSize,
Position, and Cues at the very end. SimpleBlocks must look like audio blocks of track 1-8 no larger than an
Opus packet can be; the last one may be cut off by the chunk's end. A Void element, Tags, attachments and
unknown IDs are refused, so nothing else (an HTML page, a program) can ride inside a chunk. A first chunk
is walked the same way after its track list (small header elements, then Clusters). Checked against the
chunks above: all of them pass, and cuts at random places inside block data fail.
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
PREV_SIZE = 0xAB
POSITION = 0xA7
CUE_POINT = 0xBB
CUE_TRACK_POSITIONS = 0xB7
SEEK_HEAD = 0x114D9B74
INFO = 0x1549A966
TAGS = 0x1254C367

#: Elements that may start a continuation chunk cut at an element boundary.
CONTINUATION_START_IDS = frozenset({CLUSTER, SIMPLE_BLOCK, BLOCK_GROUP, TIMECODE, CUES})
#: Everything a recorder writes after its first chunk: Clusters and their children, Cues at the very end.
MEDIA_IDS = CONTINUATION_START_IDS | {PREV_SIZE, POSITION}
#: A BlockGroup's children: Block, BlockDuration, ReferenceBlock, DiscardPadding.
BLOCK_GROUP_IDS = frozenset({0xA1, 0x9B, 0xFB, 0x75A2})
#: Cues hold CuePoints; a CuePoint holds CueTime and CueTrackPositions, which hold numbers only.
CUES_IDS = frozenset({CUE_POINT})
CUE_POINT_IDS = frozenset({0xB3, CUE_TRACK_POSITIONS})
CUE_TRACK_POSITIONS_IDS = frozenset({0xF7, 0xF1, 0xF0, 0xB2, 0x5378})
#: Segment-level elements before the first Cluster (Tracks is found separately; Tags as ffmpeg writes them).
HEADER_IDS = frozenset({SEEK_HEAD, INFO, TAGS, CUES, VOID})
#: First ID bytes Chromium leaves at the end of the previous chunk (see the module docstring).
_CARRIED_ID_BYTES = (b"\xa3", b"\xa0", b"\xe7", b"\x1f", b"\x1c")
_AUDIO_CODECS = frozenset({"A_OPUS", "A_VORBIS"})
MAX_BLOCK = 64 * 1024
"""The largest audio block: an Opus packet is at most 120 ms of 1275-byte frames (61,440 bytes)."""


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


def check_first_chunk(data: bytes, *, media: bool = False) -> str:
    """Accept a recording's first chunk (WebM/Matroska with an Opus or Vorbis audio track, or Ogg Opus).

    With ``media=True`` (a recorder's upload) everything after the track list is walked too: small header
    elements, then Clusters and blocks only, as check_continuation_chunk takes them. Returns the container
    ("webm" or "ogg"); raises NotAudio saying what the data is otherwise.
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
    tracks = _find_tracks(data, header.end, media=media)
    container = _check_tracks(data, tracks)
    if media and tracks.end is not None:
        problem = _header_rest_problem(data, tracks.end)
        if problem:
            raise NotAudio(f"this chunk is not part of a WebM recording: {problem}")
    return container


def _find_tracks(data: bytes, pos: int, *, media: bool = False) -> _Element:
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
            problem = _header_element_problem(element) if media else None
            if problem:
                raise NotAudio(f"this chunk is not part of a WebM recording: {problem}")
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


MAX_ELEMENTS = 20_000
"""The most elements a chunk may hold: a 30-second slice of 2.5 ms Opus frames is 12,000 blocks; this bounds the
time the walk below can take, however the chunk was forged."""
HEADER_ELEMENT_MAX = 64 * 1024
"""The largest element accepted between the EBML header and the first Cluster (SeekHead, Info, Tags, Void:
a few hundred bytes in real recordings)."""
HEADER_VOID_MAX = 4096
"""The largest Void before the first Cluster (ffmpeg reserves about a hundred bytes there; browsers none)."""


def _id_bytes(element_id: int) -> bytes:
    return element_id.to_bytes((element_id.bit_length() + 7) // 8, "big")


def _could_be_id_prefix(tail: bytes, ids: frozenset[int] = CONTINUATION_START_IDS) -> bool:
    """True when ``tail`` (a header cut off by the chunk's end) begins one of ``ids``."""
    return any(_id_bytes(element_id).startswith(tail) or tail.startswith(_id_bytes(element_id))
               for element_id in ids)


def _plausible_block(data: bytes, element: _Element) -> bool:
    """A (Simple)Block holds a track number (vint, 1..8 here), a 16-bit timecode, flags and one audio packet."""
    if element.size is None or not 4 <= element.size <= MAX_BLOCK:
        return False
    header = data[element.data_start:element.data_start + 4]
    if header and not 0x81 <= header[0] <= 0x88:  # a browser's audio-only recording has track 1
        return False
    return len(header) < 4 or not header[3] & 0x70  # reserved flag bits are zero


def _nested_problem(data: bytes, element: _Element, allowed: frozenset[int], what: str) -> str | None:
    """Why the complete ``element`` holds something else than ``allowed`` children (None when it does not).

    Children are flat (no grandchildren) except CuePoint's CueTrackPositions, which are walked too."""
    assert element.end is not None
    try:
        for child in _children(data, element.data_start, element.end):
            if child.id not in allowed:
                return f"its {what} holds an element (ID 0x{child.id:X}) that a recorder never writes there"
            if child.id == 0xA1 and not _plausible_block(data, child):
                return f"its {what} holds a block that is not an audio block"
            if child.id in (CUE_POINT, CUE_TRACK_POSITIONS):
                problem = _nested_problem(data, child, CUE_POINT_IDS if child.id == CUE_POINT
                                          else CUE_TRACK_POSITIONS_IDS, "cue point")
                if problem:
                    return problem
    except (_TruncatedError, _InvalidError):
        return f"its {what} is malformed"
    return None


def _media_problem(data: bytes, pos: int, *, allowed_first: frozenset[int]) -> str | None:
    """Why ``data[pos:]`` is not a run of Clusters and their blocks (None when it is)."""
    return _media_walk(data, pos, allowed_first=allowed_first)[0]


def _media_walk(data: bytes, pos: int, *, allowed_first: frozenset[int]) -> tuple[str | None, int]:
    """(why ``data[pos:]`` is not a run of Clusters and their blocks or None, how far the walk got).

    Accepted: Cluster, Timecode, SimpleBlock, BlockGroup (Block, BlockDuration, ReferenceBlock, DiscardPadding),
    PrevSize and Position, and Cues at the very end; every element up to the chunk's end. A Void, Tags, an
    attachment or any unknown ID is refused. The chunk may end inside an element header after one complete
    element (Chromium ends chunks one byte into the next ID), or inside a SimpleBlock's data after two.
    """
    complete = 0
    after_cues = False
    first = True
    for _ in range(MAX_ELEMENTS):
        if pos >= len(data):
            return (None if complete or not first else "it holds no element"), pos
        try:
            element = _element_at(data, pos)
        except _TruncatedError:
            if complete >= 1 and _could_be_id_prefix(data[pos:]):
                return None, pos
            return "it ends inside an element header that starts no Cluster or block", pos
        except _InvalidError:
            return "it holds bytes that are not Matroska elements", pos
        if element.id == VOID:
            return "it holds a Void element (ID 0xEC), which a recorder never writes after the first chunk", pos
        if first and element.id not in allowed_first:
            return f"it starts with an element (ID 0x{element.id:X}) that cannot begin a continuation", pos
        first = False
        if element.id not in MEDIA_IDS or (after_cues and element.id != CUES):
            return f"it holds an element (ID 0x{element.id:X}) that a recorder never writes after the first chunk", pos
        if element.id == CLUSTER:
            pos = element.data_start  # step into the cluster: its children follow
            continue
        if element.size is None:
            return f"its element 0x{element.id:X} has no size", pos
        if element.end is not None and element.end > len(data):
            if element.id == SIMPLE_BLOCK and complete >= 2 and _plausible_block(data, element):
                return None, pos  # cut inside the last block's audio data
            return f"it ends inside element 0x{element.id:X}", pos
        if element.id == SIMPLE_BLOCK and not _plausible_block(data, element):
            return "it holds a block that is not an audio block", pos
        if element.id == TIMECODE and not 1 <= element.size <= 8:
            return "it holds a cluster timecode of a wrong size", pos
        if element.id in (PREV_SIZE, POSITION) and element.size > 8:
            return "it holds a cluster position of a wrong size", pos
        if element.id == BLOCK_GROUP:
            if element.size > MAX_BLOCK + 64:
                return "it holds a block group larger than any audio block", pos
            problem = _nested_problem(data, element, BLOCK_GROUP_IDS, "block group")
            if problem:
                return problem, pos
        if element.id == CUES:
            after_cues = True
            problem = _nested_problem(data, element, CUES_IDS, "cue list")
            if problem:
                return problem, pos
        complete += 1
        pos = element.data_start + element.size
    return f"it holds more than {MAX_ELEMENTS} elements", pos


def _header_rest_problem(data: bytes, pos: int) -> str | None:
    """Why what follows Tracks in a first chunk is not header elements then Clusters (None when it is)."""
    for _ in range(MAX_ELEMENTS):
        if pos >= len(data):
            return None
        try:
            element = _element_at(data, pos)
        except _TruncatedError:  # Chromium with a long timeslice stops one byte into the first Cluster's ID
            return None if _could_be_id_prefix(data[pos:], HEADER_IDS | {CLUSTER}) else \
                "it ends inside an element header that starts no Cluster"
        except _InvalidError:
            return "it holds bytes that are not Matroska elements after its track list"
        if element.id == CLUSTER:
            return _media_problem(data, pos, allowed_first=frozenset({CLUSTER}))
        problem = _header_element_problem(element)
        if problem:
            return problem
        if element.end is None or element.end > len(data):
            return f"it ends inside element 0x{element.id:X}"
        pos = element.end
    return f"it holds more than {MAX_ELEMENTS} elements"


def _header_element_problem(element: _Element) -> str | None:
    """Why a segment-level element before the first Cluster is not one a recorder writes (None when it is)."""
    if element.id not in HEADER_IDS:
        return f"it holds an element (ID 0x{element.id:X}) that a recorder never writes before its audio"
    limit = HEADER_VOID_MAX if element.id == VOID else HEADER_ELEMENT_MAX
    if element.size is None or element.size > limit:
        return f"its element 0x{element.id:X} is larger than any a recorder writes ({limit} bytes at most)"
    return None


def check_continuation_chunk(data: bytes, container: str | None = None) -> None:
    """Accept a later MediaRecorder chunk: Matroska cluster data continuing the first chunk's Segment.

    Accepts data that starts at a Cluster/SimpleBlock/BlockGroup/Timecode/Cues element, or right after the
    first byte of such an element's ID (where Chromium cuts its chunks; see the module docstring), and holds
    nothing but clusters and blocks to its end; with ``container="ogg"``, Ogg pages that do not begin a new
    stream. ``container`` is the take's ("webm" or "ogg", from its first chunk); None: whatever the chunk
    looks like. Raises NotAudio otherwise (an EBML header: a second stream; a Void or unknown element).
    """
    expected = "a continuation chunk of a WebM audio recording"
    if not data:
        raise NotAudio("the chunk is empty: a continuation chunk must hold recorded audio data")
    if data.startswith(b"\x1a\x45\xdf\xa3"):
        raise NotAudio("this chunk starts a new WebM stream (EBML header), not a continuation of the recording; "
                       "upload it as the first chunk of a new take")
    if container == "ogg" or data.startswith(b"OggS"):
        _check_ogg_continuation(data, container or "ogg")
        return
    problems: list[tuple[int, str]] = []
    for carried in (b"", *_CARRIED_ID_BYTES):
        problem, reached = _media_walk(carried + data, 0, allowed_first=CONTINUATION_START_IDS)
        if problem is None:
            return
        problems.append((reached, problem))
    problem = max(problems, key=lambda item: item[0])[1]  # the reading that got furthest names what is wrong
    found = describe(data)
    if found:
        raise NotAudio(f"this is {found}, not {expected}")
    raise NotAudio(f"this chunk is not part of a WebM recording (not {expected}): {problem}")


def _check_ogg_continuation(data: bytes, container: str) -> None:
    """Ogg pages, one after another to the chunk's end (the last may be cut off), none starting a stream."""
    if container != "ogg":
        raise NotAudio("this chunk is Ogg, but the take started as WebM; a take keeps its container")
    pos = 0
    for _ in range(MAX_ELEMENTS):
        if pos >= len(data):
            return
        if len(data) - pos < 27:
            if b"OggS".startswith(data[pos:pos + 4]) and pos > 0:
                return
            raise NotAudio("this chunk is not part of an Ogg recording: it ends inside a page header")
        if data[pos:pos + 4] != b"OggS" or data[pos + 4] != 0:
            found = describe(data) if pos == 0 else None
            raise NotAudio(f"this is {found}, not a continuation chunk of an Ogg audio recording" if found else
                           "this chunk is not part of an Ogg recording: it holds bytes between its pages")
        if data[pos + 5] & 0x02:
            raise NotAudio("this chunk starts a new Ogg stream, not a continuation of the recording; "
                           "upload it as the first chunk of a new take")
        segments = data[pos + 26]
        table = data[pos + 27:pos + 27 + segments]
        pos += 27 + segments + sum(table)
    raise NotAudio(f"this chunk holds more than {MAX_ELEMENTS} Ogg pages")


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
