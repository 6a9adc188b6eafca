"""The access matrix's world: one live app with every bundled plugin, the actors signed in through the
real form, and a `Scene` per route that makes fresh objects for the route's URL parameters.

Actors: anonymous; outsider (a participant with a complete profile and no relation to anything in a
scene); participant (Ann: one of the two participants of the scene's conversation, owner of its take,
party to its invitation, met and suggested the scene's people, in the live session's region);
partner (Ben: the conversation's other participant, in the same region, but not the owner of Ann's
take, not party to Ann's invitation, and neither met nor suggested the scene's people); facilitator
(Fay, assigned to the scene's conversation); bystander (Bob, a facilitator assigned to nothing in a
scene: staff without a relation); admin (Ada); suspended (Sue, an admin whose account was suspended
while her session cookie stayed valid: it must grant nothing). Every scene makes its own conversation, invitation,
people, cohort, ... so what one route changes (a cancellation, a block, a dismissal) cannot change
what the next route is tested with.
"""

from __future__ import annotations

import datetime as dt
import itertools
import re
import secrets
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core import accounts, safety, sessions
from core.access_policy import AccessTables, access_tables
from core.api import active_questionnaire, create_user
from core.archive.descriptions import propose
from core.archive.publication import publish
from core.archive.types import ArchivePackage
from core.db import database, utcnow
from core.matching.cohorts import create_cohort
from core.models import Conversation, Invitation, Match, NewsletterSubscriber, Report, User
from core.models.archive import Deposit
from core.models.mfa import PasskeyCredential
from core.models.recording import RecordingTrack
from core.models.scheduling import SlotProposal
from core.outbox import list_messages
from core.plugins_loader import installed_plugins, new_plugin_manager
from core.scheduling.conversations import create_conversation
from core.scheduling.live import create_session
from core.security import token_digest
from core.testing import deep_merge
from tests.archive_helpers import DESCRIPTION, choose, describe, processed
from tests.conftest import csrf_token_from
from tests.matching_fakes import LeanPlugin
from tests.profiles import complete_profile
from tests.room_fakes import booked

PASSWORD = "correct horse battery"
GENEROUS = "10000 per minute"
ACTORS = ("anonymous", "suspended", "outsider", "participant", "partner", "facilitator", "bystander", "admin")
"""Everyone the matrix sends every request as (add each staff role here as it is added to core)."""

SITE_ROLES = {"anonymous": None, "suspended": None, "outsider": "participant", "participant": "participant",
              "partner": "participant", "facilitator": "facilitator", "bystander": "facilitator", "admin": "admin"}
"""The site role of each actor (None: signed out, or as good as: a suspended account's cookie grants nothing)."""

RELATIONS: dict[str, dict[str, set[str]]] = {
    "participant": {"conversation": {"party"}, "track": {"owner"}, "invitation": {"party"}, "passkey": {"owner"},
                    "person": {"met", "suggested"}, "live_session": {"audience"}},
    "partner": {"conversation": {"party"}, "live_session": {"audience"}},
    "facilitator": {"conversation": {"facilitator_of"}},
}
"""How each actor is related to the objects a scene makes (everyone else: not at all)."""

EMAILS = {"outsider": "cal@example.org", "participant": "ann@example.org", "partner": "ben@example.org",
          "facilitator": "fay@example.org", "bystander": "bob@example.org", "admin": "ada@example.org",
          "suspended": "sue@example.org"}
"""The account each signed-in actor uses (made in build_world)."""

BUNDLED_PLUGIN_SETTINGS: dict[str, Any] = {
    "questionnaire_yaml": None,
    "questionnaire_import": {"columns": {"Email": "email"}, "webhook_secret": "an-import-webhook-secret-0123456789"},
    "matching_bridge": None,
    "matching_contrast": None,
    "call_webrtc": None,
    "call_jitsi": {"domain": "meet.example.org", "app_id": "oss-connect",
                   "app_secret": "jitsi-app-secret-for-tests-0123456789-abcdefgh"},
    "call_livekit": {"url": "wss://livekit.example.org", "api_key": "matrix",
                     "api_secret": "livekit-api-secret-for-tests-0123456789-abcdef"},
    "archive_site": None,
    "archive_bagit": None,
    "archive_s3": {"bucket": "matrix-bucket", "endpoint_url": "http://127.0.0.1:9"},
    "demo_data": None,
}
"""Every plugin this repository bundles, enabled, with the settings each needs to start."""

SETTINGS: dict[str, Any] = {
    "plugins": BUNDLED_PLUGIN_SETTINGS,
    "matching": {"strategy": "lean", "invitation_rate_limit": GENEROUS},
    "room": {"call_provider": "webrtc"},
    "scheduling": {"early_entry_minutes": 10, "slot_minutes": 75, "recorded_minutes": 50},
    "accounts": {"rate_limits": {"signup": GENEROUS, "login": GENEROUS, "reset": GENEROUS,
                                 "newsletter": GENEROUS}},
}
"""The matrix's config: all bundled plugins, and rate limits out of the way (they are tested elsewhere)."""

PLUGINS: dict[str, Any] = {"lean": LeanPlugin()}
"""A small real matching strategy (the bundled ones need richer questionnaires to suggest anyone)."""


def bundled_tables() -> AccessTables:
    """Core's access tables merged with every bundled plugin's declarations (no app needed: the tests are
    parametrized with them)."""
    manager = new_plugin_manager()
    for name, entry in installed_plugins().items():
        if entry.value.startswith("plugins."):
            manager.register(entry.load(), name=name)
    return access_tables(manager)


BUNDLED_TABLES = bundled_tables()
BOGUS_TOKEN = "not-a-real-token-0123456789abcdefghijklmnop"
_numbers = itertools.count(1)


def settings_with(extra: dict[str, Any] | None = None) -> dict[str, Any]:
    """The matrix config, with `extra` merged in."""
    return deep_merge(SETTINGS, extra or {})


def sign_in(client: Any, email: str) -> None:
    """Sign `client` in through the real form."""
    token = csrf_token_from(client.get("/login").get_data(as_text=True))
    answer = client.post("/login", data={"email": email, "password": PASSWORD, "csrf_token": token})
    assert answer.status_code == 302, f"{email} could not sign in: {answer.status_code}"


def csrf_token(client: Any) -> str:
    """A valid CSRF token of the client's session (read from a form every role can open)."""
    return csrf_token_from(client.get("/reset").get_data(as_text=True))


@dataclass
class World:
    """The people, the public objects and the signed-in clients the matrix uses."""

    app: Any
    people: dict[str, Any]
    clients: dict[str, Any]
    outbox_message: str
    public_slug: str
    section_id: str

    def user(self, name: str) -> Any:
        """A person of the world by short name (ann, ben, cal, fay, bob, ada, sue, quinn, uma)."""
        return self.people[name]


def build_world(app: Any) -> World:
    """Create the people (through the real services), a published conversation, an email in the
    outbox, and one test client per actor, signed in through the form."""

    def make(email: str, role: str = "participant", verified: bool = True) -> Any:
        with app.app_context(), database.connection_context():
            return create_user(email, PASSWORD, role=role, verified=verified)

    def participant(email: str, lean: str, region: str, first_name: str) -> Any:
        user = make(email)
        complete_profile(app, user, lean=lean, first_name=first_name,
                         location={"country": "US", "region": region, "city": "Springfield"})
        return user

    people = {"ann": participant("ann@example.org", "2", "Ohio", "Ann"),
              "ben": participant("ben@example.org", "6", "Ohio", "Ben"),
              "cal": participant("cal@example.org", "7", "Texas", "Cal"),
              "fay": make("fay@example.org", role="facilitator"),
              "bob": make("bob@example.org", role="facilitator"),
              "ada": make("ada@example.org", role="admin"),
              "sue": make("sue@example.org", role="admin"),
              "quinn": make("quinn@example.org"), "uma": make("uma@example.org", verified=False)}
    with app.app_context(), database.connection_context():
        accounts.send_verification(people["uma"])
        section_id = active_questionnaire().sections[0].id

    messages = [message for message in list_messages(Path(app.config["OSS_CONNECT_OUTBOX"]))
                if message.html is not None]
    assert messages, "the world's verification email did not reach the outbox"
    slug = _published(app)
    clients = {}
    for actor in ACTORS:
        client = app.test_client()
        if actor != "anonymous":
            sign_in(client, EMAILS[actor])
        clients[actor] = client
    with app.app_context(), database.connection_context():  # her session stays: nothing signed her out
        User.update(is_active=False).where(User.id == people["sue"].id).execute()
    return World(app, people, clients, messages[0].id, slug, section_id)


def _published(app: Any) -> str:
    """A conversation of two other people that both made public, described and published; its slug."""
    with app.app_context(), database.connection_context():
        gil = create_user("gil@example.org", PASSWORD)
        hal = create_user("hal@example.org", PASSWORD)
    complete_profile(app, gil, first_name="Gil", lean="2")
    complete_profile(app, hal, first_name="Hal", lean="6")
    conversation = booked(app, gil, hal, minutes_ago=90)
    processed(app, conversation)
    choose(app, conversation, gil, public=True)
    choose(app, conversation, hal, public=True)
    describe(app, conversation, gil, hal)
    with app.app_context(), database.connection_context():
        package = ArchivePackage(identifier=f"oss-connect-{conversation.id}", path=Path("/tmp"), checksum="a" * 64,
                                 size=0, payload_oxum="0.0", files=(), conversation_id=conversation.id, public=True)
        publication = publish(package)
    return publication.slug


@dataclass
class Scene:
    """Fresh objects for one route's URL parameters, made on first use."""

    world: World
    made: dict[str, Any] = field(default_factory=dict)

    def _once(self, key: str, maker: Any) -> Any:
        if key not in self.made:
            with self.world.app.app_context(), database.connection_context():
                self.made[key] = maker()
        return self.made[key]

    def _fresh_user(self, prefix: str) -> Any:
        return create_user(f"{prefix}{next(_numbers)}@example.org", PASSWORD)

    def conversation(self) -> Any:
        """Ann and Ben's conversation (matched), started a minute ago, facilitated by Fay."""
        def make() -> Any:
            ann, ben = self.world.user("ann"), self.world.user("ben")
            match = Match.create(a=min(ann.id, ben.id), b=max(ann.id, ben.id))
            made = create_conversation(ann.id, ben.id, match=match, starts_at=utcnow() - dt.timedelta(minutes=1))
            Conversation.update(facilitator=self.world.user("fay").id).where(Conversation.id == made.id).execute()
            return Conversation.get_by_id(made.id)
        return self._once("conversation", make)

    def passkey(self) -> Any:
        """A passkey of Ann's (its key material is never used: the routes only rename or remove it)."""
        return self._once("passkey", lambda: PasskeyCredential.create(
            user=self.world.user("ann").id, credential_id=secrets.token_urlsafe(32), public_key="unused",
            name="Ann's laptop"))

    def spare_session(self) -> Any:
        """A second signed-in session of Ann's, on no client of the world (ending it signs nobody out)."""
        return self._once("spare_session", lambda: sessions.create(self.world.user("ann")).record)

    def recording(self) -> Any:
        """The conversation's recording, processed (master, FLAC and access copy in the blob store)."""

        conversation = self.conversation()
        if "recording" not in self.made:
            self.made["recording"] = processed(self.world.app, conversation)
        return self.made["recording"]

    def track(self) -> Any:
        """Ann's take of the conversation's recording."""
        def make() -> Any:
            return RecordingTrack.create(recording=self.recording().id, user=self.world.user("ann").id,
                                         source="browser")
        self.recording()
        return self._once("track", make)

    def slot_proposal(self) -> Any:
        """A start time Ben proposed for the conversation."""
        def make() -> Any:
            return SlotProposal.create(conversation=self.conversation().id, proposer=self.world.user("ben").id,
                                       starts_at=utcnow() + dt.timedelta(days=3))
        self.conversation()
        return self._once("slot_proposal", make)

    def description_proposal(self) -> Any:
        """Ben's proposed description of the recorded conversation."""

        def make() -> Any:
            return propose(self.conversation(), self.world.user("ben").id, **DESCRIPTION)
        self.recording()
        return self._once("description_proposal", make)

    def invitation(self) -> Any:
        """An open invitation from Quinn to Ann."""
        def make() -> Any:
            return Invitation.create(inviter=self.world.user("quinn").id, invitee=self.world.user("ann").id,
                                     expires_at=utcnow() + dt.timedelta(days=7))
        return self._once("invitation", make)

    def suggested_person(self) -> Any:
        """Someone Ann may be suggested now (a complete profile), who blocked the outsider and the partner."""
        if "suggested" not in self.made:
            with self.world.app.app_context(), database.connection_context():
                person = self._fresh_user("eve")
            complete_profile(self.world.app, person, lean="7", first_name="Eve")
            with self.world.app.app_context(), database.connection_context():
                safety.block(person, self.world.user("cal"))
                safety.block(person, self.world.user("ben"))
            self.made["suggested"] = person
        return self.made["suggested"]

    def met_person(self) -> Any:
        """Someone who invited Ann (so Ann met them here); nobody else has."""
        def make() -> Any:
            person = self._fresh_user("pat")
            Invitation.create(inviter=person.id, invitee=self.world.user("ann").id,
                              expires_at=utcnow() + dt.timedelta(days=7))
            return person
        return self._once("met", make)

    def report(self) -> Any:
        """Ben's open report about Quinn."""
        def make() -> Any:
            return Report.create(reporter=self.world.user("ben").id, reported=self.world.user("quinn").id,
                                 reason="rude")
        return self._once("report", make)

    def cohort(self) -> Any:
        """A cohort with an event code."""
        def make() -> Any:
            number = next(_numbers)
            return create_cohort(f"Matrix cohort {number}", f"matrix{number}", self.world.user("ada"))
        return self._once("cohort", make)

    def live_session(self) -> Any:
        """A live session tomorrow for participants in Ohio (Ann's region, not the outsider's)."""
        def make() -> Any:
            return create_session(f"Matrix session {next(_numbers)}", utcnow() + dt.timedelta(days=1),
                                  region="Ohio", admin=self.world.user("ada"))
        return self._once("live_session", make)

    def deposit(self) -> Any:
        """A deposit of the recorded conversation that is being worked on."""
        def make() -> Any:
            return Deposit.create(conversation=self.conversation().id, destination="site", status="running")
        self.recording()
        return self._once("deposit", make)

    def token(self, purpose: str) -> str:
        """A valid single-use link token for `purpose` (verify, reset, magic, invite, newsletter)."""
        def make() -> str:
            if purpose == "newsletter":
                raw = secrets.token_urlsafe(32)
                NewsletterSubscriber.create(email=f"news{next(_numbers)}@example.org", token_hash=token_digest(raw),
                                            privacy_version="1")
                return raw
            owner = self._fresh_user("tok")
            if purpose == accounts.VERIFY:
                User.update(email_verified_at=None).where(User.id == owner.id).execute()
            return accounts.issue_token(owner, purpose, dt.timedelta(hours=1))
        return self._once(f"token:{purpose}", make)


TOKEN_PURPOSES = {"auth.verify": "verify", "auth.reset": "reset", "auth.magic_login": "magic",
                  "auth.welcome": "invite", "public.newsletter_confirm": "newsletter",
                  "public.newsletter_unsubscribe": "newsletter", "unlock.confirm": "unlock"}


def static_file(app: Any, endpoint: str) -> str:
    """A file that exists behind a static endpoint (the app's, a theme's or a plugin blueprint's)."""
    if endpoint == "theme.static":
        folder = Path(app.extensions["oss_connect"].theme.chain[-1].static)
    elif endpoint == "static":
        folder = Path(app.static_folder)
    else:
        folder = Path(app.blueprints[endpoint.rsplit(".", 1)[0]].static_folder)
    found = sorted(path for path in folder.rglob("*") if path.is_file())
    assert found, f"{endpoint}: no file in {folder}"
    return found[0].relative_to(folder).as_posix()


def url_values(scene: Scene, endpoint: str, arguments: set[str]) -> dict[str, Any]:
    """Values for a route's URL parameters, from the scene. A parameter name means one kind of object;
    where the same name means different objects in different blueprints (a proposal, a user, a session),
    the blueprint decides, and a blueprint nobody has listed fails with advice instead of a guess."""
    world = scene.world
    blueprint = endpoint.rsplit(".", 1)[0] if "." in endpoint else ""
    makers: dict[str, Any] = {
        "conversation_id": lambda: scene.conversation().id,
        "proposal_id": {"scheduling": lambda: scene.slot_proposal().id,
                        "archive_choices": lambda: scene.description_proposal().id},
        "track_id": lambda: scene.track().id,
        "sequence": lambda: 0,
        "invitation_id": lambda: scene.invitation().id,
        "passkey_id": lambda: scene.passkey().id,
        "user_id": {"matching": lambda: scene.suggested_person().id, "no_shows": lambda: world.user("ben").id,
                    "admin": lambda: world.user("ben").id,
                    "safety": lambda: scene.met_person().id},
        "report_id": lambda: scene.report().id,
        "cohort_id": lambda: scene.cohort().id,
        "session_id": {"live": lambda: scene.live_session().id, "sessions": lambda: scene.spare_session().id},
        "deposit_id": lambda: scene.deposit().id,
        "recording_id": lambda: scene.recording().id,
        "message_id": lambda: world.outbox_message,
        "slug": lambda: world.public_slug,
        "section_id": lambda: world.section_id,
        "token": lambda: scene.token(TOKEN_PURPOSES[endpoint]),
        "provider_name": lambda: "livekit",
        "filename": lambda: static_file(world.app, endpoint),
    }
    chosen = {}
    for name in sorted(arguments):
        maker = makers.get(name)
        if isinstance(maker, dict):
            maker = maker.get(blueprint)
        if name == "token" and endpoint not in TOKEN_PURPOSES:
            maker = None
        assert maker is not None, (
            f"{endpoint}: the access matrix cannot fill the URL parameter '{name}'. Add a maker for it to "
            "url_values() in tests/security/world.py (keyed by the blueprint where the name means another object "
            "there), the object to Scene, and for a link token the endpoint and its purpose to TOKEN_PURPOSES")
        chosen[name] = maker
    if endpoint in NEEDS_RECORDING:
        scene.recording()
    return {name: maker() for name, maker in chosen.items()}


NEEDS_RECORDING = frozenset({"listen.conversation_audio", "archive_choices.page", "archive_choices.save_choices",
                             "archive_choices.propose_description", "archive_choices.decide_description"})
"""Routes whose admitted people only reach the page when the conversation has a processed recording."""

LOGIN_PATH = re.compile(r"^(https?://[^/]+)?/login(\?|$)")
