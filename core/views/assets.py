"""Theme assets: the brand tokens as CSS, and static files looked up along the theme chain."""

from __future__ import annotations

from flask import Blueprint, abort, current_app, request, send_file
from werkzeug.wrappers import Response

blueprint = Blueprint("theme", __name__, url_prefix="/theme")


@blueprint.route("/tokens.css")
def tokens_css() -> Response:
    """:root custom properties from the theme chain and the instance's overrides."""
    theme = current_app.extensions["oss_connect"].theme
    etag = theme.css_etag()
    if request.if_none_match.contains(etag):
        return Response(status=304)
    response = Response(theme.css_variables(), mimetype="text/css")
    response.set_etag(etag)
    response.headers["Cache-Control"] = "public, max-age=300"
    return response


@blueprint.route("/static/<path:filename>")
def static(filename: str) -> Response:
    """A file from the active theme's static/ folder, or its parents'."""
    path = current_app.extensions["oss_connect"].theme.find_static(filename)
    if path is None:
        abort(404)
    response = send_file(path, conditional=True, max_age=3600)
    return response
