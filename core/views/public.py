"""Public pages: landing, FAQ, privacy notice and the newsletter sign-up."""

from __future__ import annotations

from collections.abc import Callable

from flask import Blueprint, abort, current_app, render_template, request

from core import newsletter
from core.views.forms import ConfirmForm, NewsletterForm

blueprint = Blueprint("public", __name__)


def _program():
    return current_app.extensions["oss_connect"].settings.program


@blueprint.route("/")
def landing() -> str:
    """The program's promise, its steps, and the way in."""
    return render_template("public/landing.html", newsletter_form=NewsletterForm())


@blueprint.route("/faq")
def faq() -> str:
    """Frequently asked questions from the config."""
    return render_template("public/faq.html")


@blueprint.route("/privacy")
def privacy() -> str:
    """The privacy notice from the config, with its version."""
    return render_template("public/privacy.html")


@blueprint.route("/newsletter", methods=["GET", "POST"], endpoint="newsletter")
def newsletter_signup() -> str | tuple[str, int]:
    """Stay informed: the form, and its double opt-in."""
    if not _program().newsletter.enabled:
        abort(404)
    form = NewsletterForm()
    if form.validate_on_submit():
        newsletter.subscribe(form.email.data)
        return render_template("public/newsletter_check_email.html", email=form.email.data)
    return render_template("public/newsletter.html", form=form), 400 if form.errors else 200


@blueprint.route("/newsletter/confirm/<token>", methods=["GET", "POST"])
def newsletter_confirm(token: str) -> str | tuple[str, int]:
    """GET shows a button; POST confirms (link scanners only GET)."""
    return _newsletter_link(token, newsletter.confirm, "Confirm your subscription", "Yes, send me news",
                            "You are subscribed. Thank you!")


@blueprint.route("/newsletter/unsubscribe/<token>", methods=["GET", "POST"])
def newsletter_unsubscribe(token: str) -> str | tuple[str, int]:
    """GET shows a button; POST unsubscribes."""
    return _newsletter_link(token, newsletter.unsubscribe, "Unsubscribe", "Unsubscribe me",
                            "You are unsubscribed; we will not send you news again.")


def _newsletter_link(token: str, action: Callable[[str], object], heading: str, button: str,
                     done: str) -> str | tuple[str, int]:
    form = ConfirmForm()
    if newsletter.find(token) is None:
        return render_template("auth/link_invalid.html", kind="newsletter"), 400
    if request.method == "POST" and form.validate_on_submit():
        action(token)
        return render_template("public/message.html", heading=heading, message=done)
    return render_template("auth/confirm_link.html", form=form, kind="newsletter", heading=heading, button=button)
