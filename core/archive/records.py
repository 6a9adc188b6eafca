"""The package's metadata records: PBCore 2.1 XML, Dublin Core (oai_dc) XML and a JSON record.

Each is a pure function of a `PackageInput`: the same input gives the same bytes (no generation time,
no local paths), so a rebuilt bag has the same payload checksum. Participants are named only as they
chose to be named in public; no email address of a participant ever goes into a record.
"""

from __future__ import annotations

import datetime as dt
import functools
import hashlib
import json
import re
from pathlib import Path
from typing import Any

from lxml import etree

from core.archive.types import AudioFile, PackageInput

SCHEMA_FOLDER = Path(__file__).resolve().parent / "schemas"
PBCORE_XSD = SCHEMA_FOLDER / "pbcore-2.1.xsd"
PBCORE_NS = "http://www.pbcore.org/PBCore/PBCoreNamespace.html"
PBCORE_SCHEMA_URL = "https://raw.githubusercontent.com/PBCore-AV-Metadata/PBCore_2.1/master/pbcore-2.1.xsd"
OAI_DC_NS = "http://www.openarchives.org/OAI/2.0/oai_dc/"
OAI_DC_SCHEMA_URL = "http://www.openarchives.org/OAI/2.0/oai_dc.xsd"
DC_NS = "http://purl.org/dc/elements/1.1/"
XSI_NS = "http://www.w3.org/2001/XMLSchema-instance"
RECORD_FORMAT = "oss-connect conversation record"
RECORD_VERSION = 1

AUDIO_FOLDER = "data/audio"
METADATA_FOLDER = "data/metadata"
CONSENT_FOLDER = "data/consent"
ROLE_STEMS = {"master": "master", "flac": "master", "access": "access"}
GENERATIONS = {"master": "Master: preservation", "flac": "Copy: preservation", "access": "Copy: access"}
ROLE_NAMES = {"master": "Archival master (Broadcast WAV, one participant per channel)",
              "flac": "Lossless FLAC copy of the master", "access": "Access copy for listening (-16 LUFS)"}


@functools.cache
def _formats() -> dict[str, tuple[str, str, str]]:
    """Content type -> (file extension, format standard, essence encoding)."""
    wav = (".wav", "Broadcast WAV (RIFF WAVE with bext)", "Linear PCM")
    return {"audio/wav": wav, "audio/x-wav": wav, "audio/wave": wav, "audio/vnd.wave": wav,
            "audio/flac": (".flac", "FLAC", "FLAC"), "audio/x-flac": (".flac", "FLAC", "FLAC"),
            "audio/ogg": (".opus", "Ogg", "Opus"), "audio/opus": (".opus", "Ogg", "Opus"),
            "audio/mpeg": (".mp3", "MPEG-1 Audio Layer III", "MP3"),
            "audio/mp3": (".mp3", "MPEG-1 Audio Layer III", "MP3"),
            "audio/webm": (".webm", "WebM", "Opus"), "audio/mp4": (".m4a", "MPEG-4", "AAC")}


def audio_format(audio: AudioFile) -> tuple[str, str, str]:
    """(extension, standard, encoding) of an audio file, from its content type (parameters ignored)."""
    base = audio.content_type.split(";", 1)[0].strip().lower()
    known = _formats().get(base)
    suffix = audio.path.suffix.lower()
    if known is None:
        return suffix or ".bin", base or "unknown", ""
    extension, standard, encoding = known
    if base == "audio/ogg" and suffix not in ("", ".opus"):
        encoding = ""                        # an .ogg file may hold Vorbis: do not claim Opus
    return suffix or extension, standard, encoding


def audio_file_name(audio: AudioFile) -> str:
    """The file's name in the bag's data/audio/: master.wav, master.flac, access.opus or access.mp3."""
    stem = ROLE_STEMS.get(audio.role, re.sub(r"[^a-z0-9_-]+", "-", audio.role.lower()) or "audio")
    return stem + audio_format(audio)[0]


def audio_bag_path(audio: AudioFile) -> str:
    """The file's path relative to the bag, e.g. data/audio/master.wav."""
    return f"{AUDIO_FOLDER}/{audio_file_name(audio)}"


def hhmmss(seconds: float | None) -> str:
    """A duration as HH:MM:SS (rounded to the second), as PBCore expects."""
    total = max(0, round(seconds or 0))
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def utc_iso(moment: dt.datetime) -> str:
    """ISO 8601 in UTC with a Z (a naive time is taken as UTC, as the database stores it)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=dt.UTC)
    return moment.astimezone(dt.UTC).replace(microsecond=0).isoformat().replace("+00:00", "Z")


def release_sha256(source: PackageInput) -> str:
    """SHA-256 of the release text as UTF-8 (what data/consent/release.txt holds)."""
    return hashlib.sha256(source.release_text.encode("utf-8")).hexdigest()


# ISO 639-1 -> ISO 639-2/B (the bibliographic codes libraries use), the standard's full table.
_ISO_639_1_TABLE = """
aa:aar ab:abk ae:ave af:afr ak:aka am:amh an:arg ar:ara as:asm av:ava ay:aym az:aze ba:bak be:bel bg:bul bh:bih
bi:bis bm:bam bn:ben bo:tib br:bre bs:bos ca:cat ce:che ch:cha co:cos cr:cre cs:cze cu:chu cv:chv cy:wel da:dan
de:ger dv:div dz:dzo ee:ewe el:gre en:eng eo:epo es:spa et:est eu:baq fa:per ff:ful fi:fin fj:fij fo:fao fr:fre
fy:fry ga:gle gd:gla gl:glg gn:grn gu:guj gv:glv ha:hau he:heb hi:hin ho:hmo hr:hrv ht:hat hu:hun hy:arm hz:her
ia:ina id:ind ie:ile ig:ibo ii:iii ik:ipk io:ido is:ice it:ita iu:iku ja:jpn jv:jav ka:geo kg:kon ki:kik kj:kua
kk:kaz kl:kal km:khm kn:kan ko:kor kr:kau ks:kas ku:kur kv:kom kw:cor ky:kir la:lat lb:ltz lg:lug li:lim ln:lin
lo:lao lt:lit lu:lub lv:lav mg:mlg mh:mah mi:mao mk:mac ml:mal mn:mon mr:mar ms:may mt:mlt my:bur na:nau nb:nob
nd:nde ne:nep ng:ndo nl:dut nn:nno no:nor nr:nbl nv:nav ny:nya oc:oci oj:oji om:orm or:ori os:oss pa:pan pi:pli
pl:pol ps:pus pt:por qu:que rm:roh rn:run ro:rum ru:rus rw:kin sa:san sc:srd sd:snd se:sme sg:sag si:sin sk:slo
sl:slv sm:smo sn:sna so:som sq:alb sr:srp ss:ssw st:sot su:sun sv:swe sw:swa ta:tam te:tel tg:tgk th:tha ti:tir
tk:tuk tl:tgl tn:tsn to:ton tr:tur ts:tso tt:tat tw:twi ty:tah ug:uig uk:ukr ur:urd uz:uzb ve:ven vi:vie vo:vol
wa:wln wo:wol xh:xho yi:yid yo:yor za:zha zh:chi zu:zul"""
_ISO_639_1 = dict(pair.split(":") for pair in _ISO_639_1_TABLE.split())
# Terminology codes (ISO 639-2/T) whose bibliographic code differs.
_BIBLIOGRAPHIC = {"bod": "tib", "ces": "cze", "cym": "wel", "deu": "ger", "ell": "gre", "eus": "baq", "fas": "per",
                  "fra": "fre", "hye": "arm", "isl": "ice", "kat": "geo", "mkd": "mac", "mri": "mao", "msa": "may",
                  "mya": "bur", "nld": "dut", "ron": "rum", "slk": "slo", "sqi": "alb", "zho": "chi"}


@functools.cache
def _language_names() -> dict[str, str]:
    """English language names (lower case) -> ISO 639-2/B codes, from Babel's CLDR data."""
    from babel import Locale

    table: dict[str, str] = {}
    for code, name in Locale.parse("en").languages.items():
        if code in _ISO_639_1:
            table.setdefault(name.lower(), _ISO_639_1[code])
        elif re.fullmatch(r"[a-z]{3}", code):
            table.setdefault(name.lower(), _BIBLIOGRAPHIC.get(code, code))
    return table


def language_code(term: str) -> str | None:
    """A language as given (en, eng, deu, English) -> its ISO 639-2/B code, or None when unknown."""
    value = term.strip().lower()
    if re.fullmatch(r"[a-z]{3}", value):
        return _BIBLIOGRAPHIC.get(value, value)
    if re.fullmatch(r"[a-z]{2}", value):
        return _ISO_639_1.get(value)
    return _language_names().get(value)


def consent_state(source: PackageInput) -> dict[str, bool]:
    """What both participants agreed to, from each one's latest decision: deposit, public, broadcast.

    Deposit is read from the consent records; public and broadcast are the input's own flags (the
    caller decides them the same way)."""
    latest: dict[str, Any] = {}
    for record in sorted(source.consents, key=lambda record: utc_iso(record.decided_at)):
        latest[record.participant] = record
    labels = [participant.label for participant in source.participants] or list(latest)
    deposit = bool(labels) and all(label in latest and latest[label].deposit for label in labels)
    return {"deposit": deposit, "public": source.public, "broadcast": source.broadcast}


def rights_statements(source: PackageInput) -> list[str]:
    """Plain-language rights statements built from the consent: deposit, public listening, broadcast."""
    state = consent_state(source)
    release = f"release version {source.release_version} (SHA-256 {release_sha256(source)})"
    organisation = source.source_organization
    return [
        (f"Deposit: both participants agreed under the {release} that this recording and its description be "
         "deposited with archive institutions." if state["deposit"] else
         f"Deposit: not agreed by both participants under the {release}; this recording must not be deposited."),
        ("Public access: both participants chose to make this conversation public; it may be made available "
         "for public listening." if state["public"] else
         "Public access: restricted; at least one participant did not choose public listening."),
        (f"Broadcast use: both participants allowed broadcast use by {organisation}." if state["broadcast"] else
         f"Broadcast use: not allowed; at least one participant did not allow broadcast use by {organisation}."),
    ]


_INVALID_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _text(value: object) -> str:
    """Text safe for XML (control characters removed)."""
    return _INVALID_XML.sub("", str(value))


def _add(parent: etree._Element, tag: str, text: object | None = None, **attributes: str) -> etree._Element:
    """A child element in the parent's namespace, with text and attributes (empty attributes left out)."""
    namespace = etree.QName(parent).namespace
    child = etree.SubElement(parent, f"{{{namespace}}}{tag}" if namespace else tag,
                             {key: _text(value) for key, value in attributes.items() if value})
    if text is not None:
        child.text = _text(text)
    return child


def _serialise(root: etree._Element) -> bytes:
    return etree.tostring(root, xml_declaration=True, encoding="UTF-8", pretty_print=True)


def _languages(source: PackageInput) -> tuple[list[str], list[str]]:
    """(ISO 639-2/B codes, terms that could not be mapped), in the description's order, no repeats."""
    codes: list[str] = []
    unknown: list[str] = []
    for term in source.description.languages:
        code = language_code(term)
        if code is None:
            unknown.append(term)
        elif code not in codes:
            codes.append(code)
    return codes, unknown


def _channel_configuration(source: PackageInput, channels: int | None) -> str:
    if channels == 2 and len(source.participants) == 2:
        return "2 channels: " + ", ".join(f"{p.channel} {p.name}" for p in source.participants)
    if channels:
        return "1 channel: both participants mixed" if channels == 1 else f"{channels} channels"
    return ""


def _instantiation(root: etree._Element, source: PackageInput, audio: AudioFile, languages: list[str]) -> None:
    _, standard, encoding = audio_format(audio)
    duration = hhmmss(audio.duration_seconds if audio.duration_seconds is not None else source.duration_seconds)
    item = _add(root, "pbcoreInstantiation")
    _add(item, "instantiationIdentifier", audio_file_name(audio), source="File name")
    _add(item, "instantiationIdentifier", audio.sha256, source="SHA-256")
    _add(item, "instantiationDate", utc_iso(source.recorded_at), dateType="Recorded")
    _add(item, "instantiationDigital", audio.content_type)
    _add(item, "instantiationStandard", standard)
    _add(item, "instantiationLocation", audio_bag_path(audio))
    _add(item, "instantiationMediaType", "Sound")
    _add(item, "instantiationGenerations", GENERATIONS.get(audio.role, audio.role))
    _add(item, "instantiationFileSize", audio.size, unitsOfMeasure="bytes")
    _add(item, "instantiationDuration", duration)
    _add(item, "instantiationTracks", "1 audio track")
    configuration = _channel_configuration(source, audio.channels)
    if configuration:
        _add(item, "instantiationChannelConfiguration", configuration)
    for code in languages:
        _add(item, "instantiationLanguage", code)
    track = _add(item, "instantiationEssenceTrack")
    _add(track, "essenceTrackType", "Audio")
    if encoding:
        _add(track, "essenceTrackEncoding", encoding)
    if audio.sample_rate:
        _add(track, "essenceTrackSamplingRate", f"{audio.sample_rate / 1000:g}", unitsOfMeasure="kHz")
    _add(track, "essenceTrackDuration", duration)
    for code in languages:
        _add(track, "essenceTrackLanguage", code)
    if audio.channels:
        _add(track, "essenceTrackAnnotation", f"{audio.channels} channel{'s' if audio.channels != 1 else ''}",
             annotationType="Channels")
    _add(item, "instantiationAnnotation", ROLE_NAMES.get(audio.role, audio.role), annotationType="Role")


def pbcore_xml(source: PackageInput) -> bytes:
    """The conversation as a PBCore 2.1 pbcoreDescriptionDocument (UTF-8 XML, valid against the XSD)."""
    description = source.description
    root = etree.Element(f"{{{PBCORE_NS}}}pbcoreDescriptionDocument", nsmap={None: PBCORE_NS, "xsi": XSI_NS})
    root.set(f"{{{XSI_NS}}}schemaLocation", f"{PBCORE_NS} {PBCORE_SCHEMA_URL}")
    _add(root, "pbcoreAssetType", "Raw Footage")
    _add(root, "pbcoreAssetDate", utc_iso(source.recorded_at), dateType="Recorded")
    _add(root, "pbcoreIdentifier", source.identifier, source=source.source_organization or "oss-connect")
    _add(root, "pbcoreTitle", description.title)
    for term in description.keywords:
        _add(root, "pbcoreSubject", term, subjectType="Topic")
    for term in description.people:
        _add(root, "pbcoreSubject", term, subjectType="Personal Name")
    for term in description.organisations:
        _add(root, "pbcoreSubject", term, subjectType="Corporate Name")
    _add(root, "pbcoreDescription", description.summary, descriptionType="Summary")
    _add(root, "pbcoreGenre", "Oral history")
    for place in description.places:
        coverage = _add(root, "pbcoreCoverage")
        _add(coverage, "coverage", place)
        _add(coverage, "coverageType", "Spatial")
    if description.location:
        coverage = _add(root, "pbcoreCoverage")
        _add(coverage, "coverage", description.location, annotation="Where the participants were when recorded")
        _add(coverage, "coverageType", "Spatial")
    if source.source_organization:
        creator = _add(root, "pbcoreCreator")
        _add(creator, "creator", source.source_organization)
        _add(creator, "creatorRole", "Producer")
    for participant in source.participants:
        contributor = _add(root, "pbcoreContributor")
        _add(contributor, "contributor", participant.name,
             annotation=f"{participant.label}, {participant.channel} channel of the master")
        _add(contributor, "contributorRole", "Interviewee")
        _add(contributor, "contributorRole", "Speaker")
    if source.source_organization:
        publisher = _add(root, "pbcorePublisher")
        _add(publisher, "publisher", source.source_organization)
        _add(publisher, "publisherRole", "Distributor")
    for statement in rights_statements(source):
        _add(_add(root, "pbcoreRightsSummary"), "rightsSummary", statement)
    codes, unknown = _languages(source)
    for audio in source.audio:
        _instantiation(root, source, audio, codes)
    for term in unknown:
        _add(root, "pbcoreAnnotation", term, annotationType="Language")
    if source.site_url:
        _add(root, "pbcoreAnnotation", source.site_url, annotationType="Recorded through")
    return _serialise(root)


def dublin_core_xml(source: PackageInput) -> bytes:
    """The conversation as simple Dublin Core in an oai_dc:dc record (UTF-8 XML)."""
    description = source.description
    root = etree.Element(f"{{{OAI_DC_NS}}}dc", nsmap={"oai_dc": OAI_DC_NS, "dc": DC_NS, "xsi": XSI_NS})
    root.set(f"{{{XSI_NS}}}schemaLocation", f"{OAI_DC_NS} {OAI_DC_SCHEMA_URL}")

    def dc(tag: str, text: object) -> None:
        etree.SubElement(root, f"{{{DC_NS}}}{tag}").text = _text(text)

    dc("title", description.title)
    dc("description", description.summary)
    for term in (*description.keywords, *description.people, *description.organisations):
        dc("subject", term)
    if source.source_organization:
        dc("creator", source.source_organization)
        dc("publisher", source.source_organization)
    for participant in source.participants:
        dc("contributor", participant.name)
    dc("date", utc_iso(source.recorded_at)[:10])
    dc("type", "Sound")
    for content_type in dict.fromkeys(audio.content_type for audio in source.audio):
        dc("format", content_type)
    dc("format", hhmmss(source.duration_seconds))
    dc("identifier", source.identifier)
    codes, unknown = _languages(source)
    for language in (*codes, *unknown):
        dc("language", language)
    for place in dict.fromkeys((*description.places, *([description.location] if description.location else []))):
        dc("coverage", place)
    for statement in rights_statements(source):
        dc("rights", statement)
    return _serialise(root)


def record(source: PackageInput) -> dict[str, Any]:
    """Everything about the conversation as a JSON-ready dict (paths relative to the bag)."""
    codes, _ = _languages(source)
    return {
        "format": RECORD_FORMAT,
        "format_version": RECORD_VERSION,
        "identifier": source.identifier,
        "conversation_uid": source.conversation_uid,
        "recorded_at": utc_iso(source.recorded_at),
        "duration_seconds": source.duration_seconds,
        "duration": hhmmss(source.duration_seconds),
        "description": {**source.description.as_dict(), "language_codes": codes},
        "participants": [{"label": p.label, "name": p.name, "channel": p.channel, "bio": p.bio}
                         for p in source.participants],
        "consent": {**consent_state(source), "release_version": source.release_version,
                    "release_sha256": release_sha256(source), "release_file": f"{CONSENT_FOLDER}/release.txt",
                    "records": [consent.as_dict() for consent in source.consents]},
        "rights": rights_statements(source),
        "audio": [{"role": audio.role, "file": audio_bag_path(audio), "content_type": audio.content_type,
                   "sha256": audio.sha256, "size": audio.size, "duration_seconds": audio.duration_seconds,
                   "channels": audio.channels, "sample_rate": audio.sample_rate} for audio in source.audio],
        "source_organization": source.source_organization,
        "contact_email": source.contact_email,
        "site_url": source.site_url,
        "extra": source.extra,
    }


def _json_bytes(data: Any) -> bytes:
    return (json.dumps(data, sort_keys=True, indent=2, ensure_ascii=False, default=str) + "\n").encode("utf-8")


def record_json(source: PackageInput) -> bytes:
    """The JSON record (UTF-8, keys sorted, two-space indent): the same input gives the same bytes."""
    return _json_bytes(record(source))


def consent_json(source: PackageInput) -> bytes:
    """data/consent/consent.json: every decision of each participant, the release version and SHA-256."""
    return _json_bytes({"release": {"version": source.release_version, "sha256": release_sha256(source),
                                    "file": f"{CONSENT_FOLDER}/release.txt"},
                        "agreed": consent_state(source),
                        "records": [consent.as_dict() for consent in source.consents]})


def validate_pbcore(xml: bytes) -> list[str]:
    """Problems of a PBCore document against the bundled PBCore 2.1 XSD (lxml); an empty list means valid."""
    try:
        document = etree.fromstring(xml, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as error:
        return [f"not well-formed XML: {error}"]
    schema = etree.XMLSchema(etree.parse(str(PBCORE_XSD)))   # per call: a schema's error log is not shared
    if schema.validate(document):
        return []
    return [f"line {entry.line}: {entry.message}" for entry in schema.error_log]
