"""Public listening ("Hear real conversations"), its podcast feed, range-request audio, and private listening.

Real database, real blob store with real audio files (tests/archive_helpers.py), the real consent and
description services; `publish` gets an ArchivePackage built by hand (only conversation_id and checksum
matter to it).
"""

from __future__ import annotations

import hashlib
import uuid
from pathlib import Path
from typing import Any

import pytest
from lxml import etree

from core.blobs import S3BlobStore
from core.db import database
from core.testing import deep_merge
from tests.archive_helpers import AUDIO_SECONDS, audio_files, choose, describe, processed
from tests.conftest import s3_bucket
from tests.matching_fakes import participant
from tests.profiles import complete_profile
from tests.room_fakes import ROOM_SETTINGS, booked, room_plugins

ITUNES = "http://www.itunes.com/dtds/podcast-1.0.dtd"
BEN_BIO = "Ben keeps bees behind the old Wexley mill."          # shared with partners only: a canary
ANN_CITY = "Zanesville"                                           # Ann's location: partners only
FARM = {"title": "Farmers talk about rain and prices",
        "summary": "Two farmers compare the weather, the prices at the elevator and the neighbours they rely on.",
        "keywords": ["farming", "weather"], "places": ["Ames, Iowa"], "people": [], "organisations": [],
        "location": "Ames, Iowa"}
CANARIES = ("ann@example.org", "ben@example.org", "cal@example.org", "ada@example.org", "Benedikt", BEN_BIO,
            ANN_CITY, "Ann G.")


@pytest.fixture
def storage_settings(request: pytest.FixtureRequest) -> dict[str, Any]:
    """The local folder by default; parametrize indirectly with "s3" for the real S3-compatible server (moto)."""
    if getattr(request, "param", "local") != "s3":
        return {}
    endpoint = s3_bucket(request.getfixturevalue("s3_server"), "oss-connect-listen")
    return {"storage": {"backend": "s3", "s3": {"bucket": "oss-connect-listen", "endpoint_url": endpoint,
                                                "access_key_id": "test", "secret_access_key": "test",
                                                "prefix": f"t{uuid.uuid4().hex[:12]}/"}}}


@pytest.fixture
def oss_connect_settings(storage_settings: dict[str, Any]) -> dict[str, Any]:
    return deep_merge(ROOM_SETTINGS, storage_settings)


@pytest.fixture
def oss_connect_plugins() -> dict[str, Any]:
    return room_plugins()


@pytest.fixture
def cast(app, make_user) -> dict[str, Any]:
    """Ann shares her first name and bio publicly; Ben shares nothing publicly; Cal another participant."""
    ann = make_user("ann@example.org")
    complete_profile(app, ann, visibility={"first_name": "public", "bio": "public"}, first_name="Ann",
                     last_initial="G", location={"country": "US", "region": "Ohio", "city": ANN_CITY},
                     bio="Ann restores old radios and sings in a church choir.")
    ben = make_user("ben@example.org")
    complete_profile(app, ben, first_name="Benedikt", lean="6", bio=BEN_BIO)
    cal = participant(app, make_user, "cal@example.org", lean="7", first_name="Cal")
    ada = make_user("ada@example.org", role="admin")
    return {"ann": ann, "ben": ben, "cal": cal, "ada": ada}


def package_for(conversation: Any, checksum: str = "a" * 64, folder: Path = Path("/tmp")) -> Any:
    """An ArchivePackage as the deposit pipeline would hand it to the site's archive."""
    from core.archive.types import ArchivePackage

    return ArchivePackage(identifier=f"oss-connect-{conversation.id}", path=folder, checksum=checksum, size=0,
                          payload_oxum="0.0", files=(), conversation_id=conversation.id, public=True)


def publish(app, conversation: Any, checksum: str = "a" * 64) -> Any:
    from core.archive.publication import publish as publish_package

    with app.app_context(), database.connection_context():
        return publish_package(package_for(conversation, checksum))


def shared(app, cast, *, a: str = "ann", b: str = "ben", public: tuple[bool, bool] = (True, True),
           described: bool = True, published: bool = True, **description: Any) -> Any:
    """A processed conversation of a and b with their choices, a description and a publication."""
    conversation = booked(app, cast[a], cast[b], minutes_ago=90)
    processed(app, conversation)
    choose(app, conversation, cast[a], public=public[0], deposit=True)
    choose(app, conversation, cast[b], public=public[1], deposit=True)
    if described:
        describe(app, conversation, cast[a], cast[b], **description)
    conversation.publication = publish(app, conversation) if published else None
    return conversation


def signed_in(app, login, email: str) -> Any:
    client = app.test_client()
    login(email, test_client=client)
    return client


def access_bytes() -> bytes:
    return audio_files(AUDIO_SECONDS)["access"].read_bytes()


def feed_of(client) -> Any:
    response = client.get("/listen/feed.xml")
    assert response.status_code == 200
    assert response.mimetype == "application/rss+xml"
    return etree.fromstring(response.data), response.get_data(as_text=True)


# Listing, search and the item page ---------------------------------------------------------------------

def test_a_public_conversation_is_listed_and_shown_with_public_names_only(app, client, cast):
    conversation = shared(app, cast)
    slug = conversation.publication.slug
    listing = client.get("/listen")
    assert listing.status_code == 200
    html = listing.get_data(as_text=True)
    assert "Two neighbours on faith, work and family" in html and f"/listen/{slug}" in html
    assert "1 conversation" in html and "Ann and A participant" in html
    page = client.get(f"/listen/{slug}")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    for expected in ("Two neighbours on faith, work and family", "Ann and Ben talk about the towns",
                     "family", "Dayton, Ohio", "Ann", "Ann restores old radios", "A participant",
                     '<audio id="listen-audio" controls preload="metadata"', f'/listen/{slug}/audio',
                     "Download the recording", 'type="audio/ogg"'):
        assert expected in html, expected
    for canary in CANARIES:
        assert canary not in html and canary not in listing.get_data(as_text=True), canary
    assert "<script>" not in html  # the strict CSP allows no inline script


def test_the_nav_and_footer_link_to_the_listening_page_for_everyone(app, client, cast, login):
    for visitor in (client, signed_in(app, login, "cal@example.org")):
        html = visitor.get("/").get_data(as_text=True)
        assert html.count('href="/listen"') == 2 and "Hear real conversations" in html


def test_search_by_keyword_and_place(app, client, cast):
    neighbours = shared(app, cast)
    farmers = shared(app, cast, a="cal", b="ben", **FARM)

    def found(**params: str) -> set[str]:
        response = client.get("/listen", query_string=params)
        assert response.status_code == 200
        html = response.get_data(as_text=True)
        return {name for name, conversation in (("neighbours", neighbours), ("farmers", farmers))
                if f"/listen/{conversation.publication.slug}" in html}

    assert found() == {"neighbours", "farmers"}
    assert found(q="FAMILY") == {"neighbours"}            # keyword, any case
    assert found(q="farming") == {"farmers"}
    assert found(q="elevator") == {"farmers"}             # summary
    assert found(q="neighbours faith") == {"neighbours"}  # every word must match
    assert found(q="faith rain") == set()
    assert found(place="iowa") == {"farmers"}             # places
    assert found(place="Columbus") == {"neighbours"}      # places and location
    assert found(q="farming", place="Columbus") == set()
    assert found(q="100%_") == set()                      # LIKE wildcards are plain text
    assert found(q="fam\x00ily", place="\x00") == {"neighbours"}  # a NUL (PostgreSQL refuses it) is a space
    html = client.get("/listen", query_string={"q": "zebra"}).get_data(as_text=True)
    assert "No public conversation matches this search" in html


def test_pages_of_results_and_bad_page_numbers(app, client, cast):
    from core.archive.publication import public_conversations

    for _ in range(3):
        shared(app, cast)
    with app.app_context(), database.connection_context():
        first, total = public_conversations(page=1, per_page=2)
        second, _ = public_conversations(page=2, per_page=2)
        beyond, _ = public_conversations(page=9, per_page=2)
    assert total == 3 and len(first) == 2 and len(second) == 1 and beyond == []
    assert {item.slug for item in first} & {item.slug for item in second} == set()
    for page in ("abc", "-1", "0", "99999999999", "3"):
        response = client.get("/listen", query_string={"page": page, "q": "x" * 5000})
        assert response.status_code == 200


def test_an_empty_listing_says_so(app, client, cast):
    html = client.get("/listen").get_data(as_text=True)
    assert "There are no public conversations yet" in html
    assert "0 conversations" in html


@pytest.mark.parametrize("missing", ["one_public", "no_description", "no_publication"])
def test_only_conversations_both_made_public_described_and_published_are_shown(app, client, cast, missing):
    from core.models.archive import Publication

    conversation = shared(app, cast, public=(True, missing != "one_public"), described=missing != "no_description",
                          published=missing != "no_publication")
    html = client.get("/listen").get_data(as_text=True)
    assert "Two neighbours on faith" not in html and "0 conversations" in html
    feed, _ = feed_of(client)
    assert feed.findall("channel/item") == []
    with database.connection_context():
        publication = Publication.get_or_none(Publication.conversation == conversation.id)
    assert (publication is None) == (missing == "no_publication")
    slug = publication.slug if publication is not None else "0" * 32
    assert client.get(f"/listen/{slug}").status_code == 404
    assert client.get(f"/listen/{slug}/audio").status_code == 404


def test_unknown_slugs_are_not_found(app, client, cast):
    shared(app, cast)
    for slug in ("nothing", "0" * 32, "x" * 300, "%00", "..%2F..%2Fetc"):
        assert client.get(f"/listen/{slug}").status_code == 404
        assert client.get(f"/listen/{slug}/audio").status_code == 404


# Withdrawal and publication ------------------------------------------------------------------------------

def test_a_withdrawal_hides_it_everywhere_in_the_next_request(app, client, cast):
    from core.models.archive import Publication

    conversation = shared(app, cast)
    slug = conversation.publication.slug
    assert client.get(f"/listen/{slug}").status_code == 200
    assert client.get(f"/listen/{slug}/audio").status_code == 200
    assert len(feed_of(client)[0].findall("channel/item")) == 1

    choose(app, conversation, cast["ben"], public=False, deposit=True)

    assert "Two neighbours on faith" not in client.get("/listen").get_data(as_text=True)
    assert client.get(f"/listen/{slug}").status_code == 404
    assert client.get(f"/listen/{slug}/audio").status_code == 404
    assert client.get(f"/listen/{slug}/audio", headers={"Range": "bytes=0-99"}).status_code == 404
    feed, text = feed_of(client)
    assert feed.findall("channel/item") == [] and slug not in text
    with database.connection_context():  # hidden by the live consent check, before any job removes the row
        assert Publication.get_or_none(Publication.slug == slug) is not None


def test_publish_is_idempotent_and_keeps_the_slug(app, cast):
    from core.archive.publication import unpublish
    from core.models.archive import Publication

    conversation = shared(app, cast)
    first = conversation.publication
    again = publish(app, conversation, checksum="b" * 64)
    assert again.slug == first.slug and again.id == first.id
    assert len(first.slug) >= 32 and first.slug.isalnum()
    with app.app_context(), database.connection_context():
        stored = Publication.get(Publication.conversation == conversation.id)
        assert stored.package_sha256 == "b" * 64
        assert stored.size == len(access_bytes()) and stored.sha256 == hashlib.sha256(access_bytes()).hexdigest()
        assert Publication.select().count() == 1
        assert unpublish(conversation.id) is True
        assert unpublish(conversation.id) is False
        assert Publication.select().count() == 0
    other = shared(app, cast)
    assert other.publication.slug != first.slug


def test_unpublish_removes_it_at_once(app, client, cast):
    from core.api import unpublish_recording

    conversation = shared(app, cast)
    slug = conversation.publication.slug
    with app.app_context(), database.connection_context():
        assert unpublish_recording(conversation.id) is True
    assert client.get(f"/listen/{slug}").status_code == 404
    assert client.get(f"/listen/{slug}/audio").status_code == 404


def test_publishing_without_an_access_copy_says_why(app, cast):
    from core.archive.publication import PublicationError
    from core.archive.publication import publish as publish_package

    conversation = booked(app, cast["ann"], cast["ben"], minutes_ago=90)
    with app.app_context(), database.connection_context(), \
            pytest.raises(PublicationError, match="no processed access copy"):
        publish_package(package_for(conversation))


# Range requests --------------------------------------------------------------------------------------------

def range_checks(client, url: str) -> None:
    """The audio at `url` answers range requests exactly, against the real file's bytes."""
    data = access_bytes()
    size = len(data)
    full = client.get(url)
    assert full.status_code == 200
    assert full.data == data
    assert full.headers["Accept-Ranges"] == "bytes"
    assert int(full.headers["Content-Length"]) == size
    assert full.mimetype == "audio/ogg"

    first = client.get(url, headers={"Range": "bytes=0-99"})
    assert first.status_code == 206
    assert first.data == data[:100]
    assert first.headers["Content-Range"] == f"bytes 0-99/{size}"
    assert first.headers["Content-Length"] == "100"

    middle = client.get(url, headers={"Range": f"bytes={size // 2}-"})
    assert middle.status_code == 206 and middle.data == data[size // 2:]
    assert middle.headers["Content-Range"] == f"bytes {size // 2}-{size - 1}/{size}"

    suffix = client.get(url, headers={"Range": "bytes=-50"})
    assert suffix.status_code == 206 and suffix.data == data[-50:]
    assert suffix.headers["Content-Range"] == f"bytes {size - 50}-{size - 1}/{size}"

    beyond_end = client.get(url, headers={"Range": f"bytes={size - 10}-{size + 1000}"})
    assert beyond_end.status_code == 206 and beyond_end.data == data[-10:]

    unsatisfiable = client.get(url, headers={"Range": f"bytes={size + 10}-"})
    assert unsatisfiable.status_code == 416
    assert unsatisfiable.headers["Content-Range"] == f"bytes */{size}"
    assert client.get(url, headers={"Range": "bytes=oops"}).status_code == 416

    etag = full.headers["ETag"]
    assert client.get(url, headers={"If-None-Match": etag}).status_code == 304
    changed = client.get(url, headers={"Range": "bytes=0-9", "If-Range": '"another"'})
    assert changed.status_code == 200 and changed.data == data  # If-Range no longer matches: the whole file
    assert client.head(url).status_code == 200


@pytest.mark.parametrize("storage_settings", ["local", "s3"], indirect=True)
def test_public_audio_answers_range_requests(app, client, cast, storage_settings):
    conversation = shared(app, cast)
    store = app.extensions["oss_connect"].blobs
    assert isinstance(store, S3BlobStore) == (storage_settings != {})
    range_checks(client, f"/listen/{conversation.publication.slug}/audio")


def test_private_audio_is_only_for_the_participants_and_admins(app, client, cast, login):
    conversation = shared(app, cast, public=(False, False), published=False)
    url = f"/conversations/{conversation.id}/recording/audio"
    assert client.get(url).status_code == 404                       # signed out
    for email in ("ann@example.org", "ben@example.org", "ada@example.org"):
        range_checks(signed_in(app, login, email), url)
    cal = signed_in(app, login, "cal@example.org")
    assert cal.get(url).status_code == 404
    assert cal.get(url, headers={"Range": "bytes=0-99"}).status_code == 404
    ann = signed_in(app, login, "ann@example.org")
    for guess in (conversation.id + 1, conversation.id + 1000, 0):
        assert ann.get(f"/conversations/{guess}/recording/audio").status_code == 404
        assert cal.get(f"/conversations/{guess}/recording/audio").status_code == 404


def test_private_audio_needs_a_processed_recording(app, cast, login):
    conversation = booked(app, cast["ann"], cast["ben"], minutes_ago=90)
    ann = signed_in(app, login, "ann@example.org")
    assert ann.get(f"/conversations/{conversation.id}/recording/audio").status_code == 404


def test_no_listening_route_serves_the_master(app, client, cast, login):
    conversation = shared(app, cast)
    master = audio_files(AUDIO_SECONDS)["master"].read_bytes()
    flac = audio_files(AUDIO_SECONDS)["flac"].read_bytes()
    ada = signed_in(app, login, "ada@example.org")
    for response in (client.get(f"/listen/{conversation.publication.slug}/audio"),
                     ada.get(f"/conversations/{conversation.id}/recording/audio")):
        assert response.data == access_bytes() and response.data not in (master, flac)


# The podcast feed --------------------------------------------------------------------------------------

def test_the_feed_is_a_podcast_with_each_public_conversation(app, client, cast):
    conversation = shared(app, cast)
    slug = conversation.publication.slug
    base = app.extensions["oss_connect"].settings.site.base_url.rstrip("/")
    feed, text = feed_of(client)
    assert feed.tag == "rss" and feed.get("version") == "2.0"
    channel = feed.find("channel")
    assert channel.findtext("title") == "Hear real conversations"
    assert channel.findtext("language") == "en"
    assert channel.findtext("link") == f"{base}/listen"
    assert channel.find(f"{{{ITUNES}}}category").get("text") == "Society & Culture"
    assert channel.find("image/url").text.startswith(base)
    (item,) = channel.findall("item")
    assert item.findtext("title") == "Two neighbours on faith, work and family"
    assert item.findtext("guid") == f"{base}/listen/{slug}"
    enclosure = item.find("enclosure")
    assert enclosure.get("url") == f"{base}/listen/{slug}/audio"
    assert int(enclosure.get("length")) == len(access_bytes())
    assert enclosure.get("type") == "audio/ogg"
    assert item.findtext("pubDate")
    assert item.findtext(f"{{{ITUNES}}}duration") == "00:00:03"
    assert "Ann and Ben talk about the towns" in item.findtext(f"{{{ITUNES}}}summary")
    assert "@" not in text
    for canary in CANARIES:
        assert canary not in text, canary


def test_the_feed_uses_the_configured_title_and_language(app, client, cast):
    settings = app.extensions["oss_connect"].settings.archive.public
    original = (settings.title, settings.description, settings.language)
    object.__setattr__(settings, "title", "Riverbend voices")
    object.__setattr__(settings, "description", "Neighbours who disagree, talking.")
    object.__setattr__(settings, "language", "en-US")
    try:
        feed, _ = feed_of(client)
    finally:
        for name, value in zip(("title", "description", "language"), original, strict=True):
            object.__setattr__(settings, name, value)
    channel = feed.find("channel")
    assert channel.findtext("title") == "Riverbend voices"
    assert channel.findtext("description") == "Neighbours who disagree, talking."
    assert channel.findtext("language") == "en-US"
