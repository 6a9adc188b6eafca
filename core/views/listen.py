"""The public listening pages ("Hear real conversations"), their audio and podcast feed; private listening.

Public pages work signed out and show only what both participants chose to make public (see
core.archive.publication). Audio is the access copy, streamed from the blob store with HTTP range
requests so seeking works; the archival master, FLAC and originals are never served here. Private
listening answers the two participants and admins; everyone else gets 404, so ids cannot be probed.
"""

from __future__ import annotations

import datetime as dt
import math
from typing import Any

from flask import Blueprint, Response, abort, render_template, request, url_for
from flask_login import current_user
from werkzeug.exceptions import RequestedRangeNotSatisfiable
from werkzeug.wsgi import wrap_file

from core.archive.publication import access_copy, clean_search, public_conversations, public_item
from core.blobs import BlobNotFound, BlobReader
from core.models import Conversation
from core.platform import platform
from core.scheduling.conversations import is_participant

blueprint = Blueprint("listen", __name__)
FEED_TYPE = "application/rss+xml; charset=utf-8"
ITUNES_CATEGORY = "Society & Culture"


def _public_settings() -> Any:
    return platform().settings.archive.public


def absolute(endpoint: str, **values: Any) -> str:
    """An absolute URL on the site's public address (site.base_url), for the feed."""
    return platform().settings.site.base_url.rstrip("/") + url_for(endpoint, **values)


@blueprint.get("/listen")
def index() -> Any:
    """The public conversations, newest first, searchable by keyword (q) and place, page by page."""
    query = clean_search(request.args.get("q"))
    place = clean_search(request.args.get("place"))
    page = request.args.get("page", "1")
    page = int(page) if page.isdigit() and 0 < len(page) < 7 else 1
    per_page = _public_settings().per_page
    items, total = public_conversations(query, place, page, per_page)
    pages = max(math.ceil(total / per_page), 1)
    return render_template("listen/index.html", items=items, total=total, page=page, pages=pages, query=query,
                           place=place, public=_public_settings())


@blueprint.get("/listen/feed.xml")
def feed() -> Response:
    """The podcast feed (RSS 2.0 with the iTunes namespace) of the newest public conversations."""
    settings = _public_settings()
    items, _ = public_conversations(page=1, per_page=settings.feed_items)
    return Response(podcast_feed(items), mimetype="application/rss+xml", content_type=FEED_TYPE)


@blueprint.get("/listen/<slug>")
def item(slug: str) -> str:
    """One public conversation: its description, the participants' public names and bios, and the player."""
    found = public_item(slug)
    if found is None:
        abort(404)
    return render_template("listen/item.html", item=found, public=_public_settings())


@blueprint.get("/listen/<slug>/audio")
def audio(slug: str) -> Response:
    """The public conversation's access copy, with range requests (seeking) and conditional requests."""
    found = public_item(slug)
    if found is None:
        abort(404)
    return audio_response(found.blob_key, found.content_type, found.size, found.sha256, found.published_at,
                          private=False)


@blueprint.get("/conversations/<int:conversation_id>/recording/audio")
def conversation_audio(conversation_id: int) -> Response:
    """The conversation's access copy for its two participants and admins; 404 for everyone else."""
    if not current_user.is_authenticated:
        abort(404)
    conversation = Conversation.get_or_none(Conversation.id == conversation_id)
    if conversation is None or not (is_participant(conversation, current_user.id) or current_user.has_role("admin")):
        abort(404)
    output = access_copy(conversation.id)
    if output is None:
        abort(404)
    return audio_response(output.blob_key, output.content_type, output.size, output.sha256, output.created_at,
                          private=True)


def audio_response(blob_key: str, content_type: str, size: int, etag: str, modified: dt.datetime | None, *,
                   private: bool) -> Response:
    """Stream a blob with Accept-Ranges, 206 + Content-Range for a range, 416 for an unsatisfiable one,
    and ETag / Last-Modified for conditional requests; never the whole blob in memory."""
    try:
        reader = platform().blobs.open(blob_key)
    except BlobNotFound:
        abort(404)
    response = Response(wrap_file(request.environ, reader), mimetype=content_type, direct_passthrough=True)
    response.content_length = reader.size
    response.set_etag(etag)
    if modified is not None:
        response.last_modified = modified if modified.tzinfo else modified.replace(tzinfo=dt.UTC)
    # Revalidate every time: a withdrawal must stop the audio at once, even in caches.
    response.headers["Cache-Control"] = "private, no-store" if private else "public, no-cache"
    try:
        return response.make_conditional(request, accept_ranges=True, complete_length=reader.size)
    except RequestedRangeNotSatisfiable:
        reader.close()
        return unsatisfiable(reader)


def unsatisfiable(reader: BlobReader) -> Response:
    """416 with Content-Range: bytes */size, as RFC 9110 asks, and a short plain explanation."""
    text = (f"The requested range is outside this file, which has {reader.size} bytes; "
            f"ask for bytes=0-{max(reader.size - 1, 0)} or a part of it.\n")
    response = Response(text, status=416, mimetype="text/plain")
    response.headers["Content-Range"] = f"bytes */{reader.size}"
    response.headers["Accept-Ranges"] = "bytes"
    return response


def clock(seconds: float) -> str:
    """Seconds as HH:MM:SS (at least one second), the form podcast apps read in itunes:duration."""
    total = max(round(seconds), 1)
    return f"{total // 3600:02d}:{total % 3600 // 60:02d}:{total % 60:02d}"


def podcast_feed(items: list[Any]) -> bytes:
    """RSS 2.0 with the iTunes namespace, built with feedgen: one entry per public conversation."""
    from feedgen.feed import FeedGenerator

    settings = platform().settings
    public = settings.archive.public
    generator = FeedGenerator()
    generator.load_extension("podcast")
    generator.title(public.title)
    generator.description(public.description)
    generator.language(public.language)
    generator.link(href=absolute("listen.feed"), rel="self")
    generator.link(href=absolute("listen.index"), rel="alternate")  # the last link is RSS's <link>
    generator.author({"name": settings.site.organisation})
    logo = (platform().theme.tokens or {}).get("logo")
    if logo:
        logo_url = absolute("theme.static", filename=logo)
        generator.image(url=logo_url, title=public.title, link=absolute("listen.index"))
        if logo_url.lower().endswith((".png", ".jpg", ".jpeg")):
            generator.podcast.itunes_image(logo_url)
    generator.podcast.itunes_author(settings.site.organisation)
    generator.podcast.itunes_summary(public.description)
    generator.podcast.itunes_category(ITUNES_CATEGORY)
    generator.podcast.itunes_explicit("no")
    for found in items:
        page_url = absolute("listen.item", slug=found.slug)
        entry = generator.add_entry(order="append")
        entry.guid(page_url, permalink=True)
        entry.title(found.title)
        entry.link(href=page_url)
        entry.description(found.summary)
        entry.enclosure(absolute("listen.audio", slug=found.slug), str(found.size), found.content_type)
        published = found.published_at
        entry.pubDate(published if published.tzinfo else published.replace(tzinfo=dt.UTC))
        if found.duration:
            entry.podcast.itunes_duration(clock(found.duration))
        entry.podcast.itunes_summary(found.summary)
        entry.podcast.itunes_explicit("no")
    return generator.rss_str(pretty=True)
