"""Who may use each route and Socket.IO event: one table, keyed by "METHOD endpoint" and by event name.

The access-matrix tests (tests/security/) read this table: a route or event missing here fails the
suite, and each one is exercised as every role. Core's permission checks are to read it too, so it
holds plain data only (no imports from views). Plugins declare their own routes and events with the
`register_access_policies` hook; `access_tables` merges them with core's. Declaring a route is one
line: `"POST auth.account": SIGNED_IN,` (docs/security.md).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

import pluggy

from core.plugins_loader import StartupError, call_each

PUBLIC_KIND, STATIC_KIND, TOKEN_KIND, INTERNAL_KIND = "public", "static", "token", "internal"
SIGNED_IN_KIND, ROLES_KIND, OBJECT_KIND = "signed_in", "roles", "object"
SIGN_IN_STEP_KIND = "sign_in_step"
KINDS = (PUBLIC_KIND, STATIC_KIND, TOKEN_KIND, INTERNAL_KIND, SIGNED_IN_KIND, ROLES_KIND, OBJECT_KIND,
         SIGN_IN_STEP_KIND)
HTTP_METHODS = frozenset({"GET", "POST", "PUT", "PATCH", "DELETE"})
IGNORED_METHODS = frozenset({"HEAD", "OPTIONS"})
"""Methods Flask answers by itself for every route; they follow the route's GET (HEAD) or reveal nothing."""

OBJECT_RELATIONS: dict[str, tuple[str, ...]] = {
    "conversation": ("party", "facilitator_of"),
    "track": ("owner",),
    "passkey": ("owner",),
    "invitation": ("party",),
    "person": ("met", "suggested"),
    "live_session": ("audience",),
}
"""The objects a URL can name and the relations a person can have to one:
party: one of the conversation's two participants (or the invitation's inviter or invitee);
facilitator_of: the conversation's assigned facilitator; owner: the recording take is theirs;
met: they met the person here (an invitation, a match or a cohort pair); suggested: the person is
among their suggestions now; audience: the live session is for them (its region or cohort)."""


@dataclass(frozen=True)
class Policy:
    """Who a route or event admits.

    kind: public (anyone), static (files anyone may fetch), token (anyone holding a valid emailed
    link; the link is the key, a session adds nothing), internal (a machine caller proving a signature
    or secret; a session grants nothing), signed_in (any signed-in account), roles (signed in with one
    of `roles`; admins hold every role), object (signed in and related to the object the URL names by
    one of `relations`, or holding one of `roles`, which are named explicitly: an object policy without
    "admin" keeps admins out; anyone else gets the 404 of an id that does not exist), sign_in_step
    (only someone half signed in, between the password and the second factor; everyone else is sent
    to the sign-in page).
    """

    kind: str
    roles: frozenset[str] = frozenset()
    object: str | None = None
    relations: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        if self.kind not in KINDS:
            raise ValueError(f"unknown policy kind {self.kind!r}; use one of {', '.join(KINDS)}")

    def admits(self, role: str | None, relations: Iterable[str] = ()) -> bool:
        """Whether someone with the site role `role` (None: signed out) and these `relations` to the
        route's object passes this policy (a token or a signature still has to be valid)."""
        if self.kind in (PUBLIC_KIND, STATIC_KIND, TOKEN_KIND):
            return True
        if self.kind in (INTERNAL_KIND, SIGN_IN_STEP_KIND) or role is None:
            return False
        if self.kind == SIGNED_IN_KIND:
            return True
        if self.kind == ROLES_KIND:
            return role == "admin" or role in self.roles
        return role in self.roles or bool(self.relations & set(relations))


PUBLIC = Policy(PUBLIC_KIND)
STATIC = Policy(STATIC_KIND)
TOKEN = Policy(TOKEN_KIND)
INTERNAL = Policy(INTERNAL_KIND)
SIGN_IN_STEP = Policy(SIGN_IN_STEP_KIND)
"""Only someone half signed in: the password (or an emailed link) proved, the second factor or its set-up
still to come. Nobody else, signed in or not, gets through: they are sent to the sign-in page."""
SIGNED_IN = Policy(SIGNED_IN_KIND)


def roles(*names: str) -> Policy:
    """Signed in with one of the site roles `names` (admins hold every role)."""
    return Policy(ROLES_KIND, roles=frozenset(names))


def related(obj: str, *relations: str, roles: tuple[str, ...] = ()) -> Policy:
    """Signed in and related to the URL's object `obj` by one of `relations`, or holding one of `roles`."""
    unknown = set(relations) - set(OBJECT_RELATIONS.get(obj, ()))
    if obj not in OBJECT_RELATIONS or unknown:
        raise ValueError(f"unknown object {obj!r} or relations {sorted(unknown)}; see OBJECT_RELATIONS")
    return Policy(OBJECT_KIND, roles=frozenset(roles), object=obj, relations=frozenset(relations))


ADMIN = roles("admin")
FACILITATORS = roles("facilitator")
CONVERSATION_VIEWERS = related("conversation", "party", "facilitator_of", roles=("admin",))
CONVERSATION_LEADS = related("conversation", "facilitator_of", roles=("admin",))
CONVERSATION_PARTIES = related("conversation", "party")
CONVERSATION_PARTIES_AND_ADMINS = related("conversation", "party", roles=("admin",))
OWN_TRACK = related("track", "owner")
INVITATION_PARTIES = related("invitation", "party")
PERSON_MET = related("person", "met")
PERSON_SUGGESTED = related("person", "suggested")
LIVE_AUDIENCE = related("live_session", "audience")

ROUTES: dict[str, Policy] = {
    # Public pages, sign-in and the links sent by email
    "GET public.landing": PUBLIC,
    "GET public.faq": PUBLIC,
    "GET public.privacy": PUBLIC,
    "GET public.newsletter": PUBLIC,
    "POST public.newsletter": PUBLIC,
    "GET public.newsletter_confirm": TOKEN,
    "POST public.newsletter_confirm": TOKEN,
    "GET public.newsletter_unsubscribe": TOKEN,
    "POST public.newsletter_unsubscribe": TOKEN,
    "GET auth.signup": PUBLIC,
    "POST auth.signup": PUBLIC,
    "GET auth.login": PUBLIC,
    "POST auth.login": PUBLIC,
    "POST auth.logout": PUBLIC,
    "GET auth.verify": TOKEN,
    "POST auth.verify": TOKEN,
    "GET auth.resend_verification": PUBLIC,
    "POST auth.resend_verification": PUBLIC,
    "GET auth.reset_request": PUBLIC,
    "POST auth.reset_request": PUBLIC,
    "GET auth.reset": TOKEN,
    "POST auth.reset": TOKEN,
    "GET auth.welcome": TOKEN,
    "POST auth.welcome": TOKEN,
    "GET auth.magic_request": PUBLIC,
    "POST auth.magic_request": PUBLIC,
    "GET auth.magic_login": TOKEN,
    "POST auth.magic_login": TOKEN,
    "GET auth.account": SIGNED_IN,
    "POST auth.account": SIGNED_IN,
    "GET unlock.confirm": TOKEN,
    "POST unlock.confirm": TOKEN,
    # Two-factor sign-in: the second step and forced set-up check the half-signed-in state in Flask's
    # session (anyone else is sent to the sign-in page); a passkey is its owner's alone.
    "GET second_factor.second_step": SIGN_IN_STEP,
    "POST second_factor.second_step": SIGN_IN_STEP,
    "POST second_factor.passkey_options": PUBLIC,
    "POST second_factor.passkey_sign_in": PUBLIC,
    "GET security.enrol": SIGN_IN_STEP,
    "GET security.overview": SIGNED_IN,
    "GET security.totp_setup": SIGNED_IN,
    "POST security.totp_setup": SIGNED_IN,
    "POST security.totp_remove": SIGNED_IN,
    "POST security.recovery_codes": SIGNED_IN,
    "GET security.new_recovery_codes": SIGNED_IN,
    "POST security.passkey_options": SIGNED_IN,
    "POST security.passkey_add": SIGNED_IN,
    "POST security.passkey_rename": related("passkey", "owner"),
    "POST security.passkey_remove": related("passkey", "owner"),
    "GET admin.second_factor": ADMIN,
    "POST admin.reset_second_factor": ADMIN,
    "GET sessions.status": PUBLIC,
    "POST sessions.extend": SIGNED_IN,
    "POST sessions.end_one": SIGNED_IN,
    "POST sessions.end_others": SIGNED_IN,
    # Files
    "GET static": STATIC,
    "GET theme.static": STATIC,
    "GET theme.tokens_css": STATIC,
    # Public listening
    "GET listen.index": PUBLIC,
    "GET listen.feed": PUBLIC,
    "GET listen.item": PUBLIC,
    "GET listen.audio": PUBLIC,
    "GET listen.conversation_audio": CONVERSATION_PARTIES_AND_ADMINS,
    # The questionnaire: one's own answers only
    "GET questionnaire.overview": SIGNED_IN,
    "GET questionnaire.consent": SIGNED_IN,
    "POST questionnaire.consent": SIGNED_IN,
    "GET questionnaire.step": SIGNED_IN,
    "POST questionnaire.step": SIGNED_IN,
    "GET questionnaire.update": SIGNED_IN,
    "POST questionnaire.update": SIGNED_IN,
    "GET questionnaire.preview": SIGNED_IN,
    "POST questionnaire.withdraw": SIGNED_IN,
    "GET questionnaire.export": SIGNED_IN,
    # Matching and invitations
    "GET matching.suggestions": SIGNED_IN,
    "POST matching.auto": SIGNED_IN,
    "POST matching.dismiss": PERSON_SUGGESTED,
    "POST matching.invite": PERSON_SUGGESTED,
    "GET matching.invitations": SIGNED_IN,
    "GET matching.invitation": INVITATION_PARTIES,
    "POST matching.accept": INVITATION_PARTIES,
    "POST matching.decline": INVITATION_PARTIES,
    "POST matching.cancel": INVITATION_PARTIES,
    "GET matching.pool_admin": ADMIN,
    # Safety
    "GET safety.block": PERSON_MET,
    "POST safety.block": PERSON_MET,
    "GET safety.report": PERSON_MET,
    "POST safety.report": PERSON_MET,
    "GET safety.blocked": SIGNED_IN,
    "GET safety.queue": ADMIN,
    "GET safety.report_detail": ADMIN,
    "POST safety.report_detail": ADMIN,
    # Cohorts and live sessions (RSVP, cancel and "I'm here" are refused by the service, with a
    # message, to those a session is not for)
    "GET cohorts.join": SIGNED_IN,
    "POST cohorts.join": SIGNED_IN,
    "GET cohorts.admin_list": ADMIN,
    "POST cohorts.admin_list": ADMIN,
    "GET cohorts.admin_detail": ADMIN,
    "POST cohorts.propose": ADMIN,
    "POST cohorts.unpair": ADMIN,
    "POST cohorts.pair": ADMIN,
    "POST cohorts.confirm": ADMIN,
    "GET live.sessions": SIGNED_IN,
    "GET live.room": LIVE_AUDIENCE,
    "POST live.rsvp": SIGNED_IN,
    "POST live.cancel": SIGNED_IN,
    "POST live.here": SIGNED_IN,
    "GET live.admin_list": ADMIN,
    "POST live.admin_list": ADMIN,
    "GET live.admin_detail": ADMIN,
    "POST live.admin_pair": ADMIN,
    "POST live.admin_cancel": ADMIN,
    # Conversations: scheduling, the join page, the room, notes, calendar
    "GET scheduling.conversations": SIGNED_IN,
    "GET scheduling.conversation": CONVERSATION_VIEWERS,
    "POST scheduling.propose": CONVERSATION_PARTIES,
    "POST scheduling.confirm": CONVERSATION_PARTIES,
    "POST scheduling.withdraw": CONVERSATION_PARTIES,
    "POST scheduling.agreements": CONVERSATION_PARTIES,
    "POST scheduling.cancel": CONVERSATION_PARTIES,
    "POST scheduling.post_message": CONVERSATION_PARTIES,
    "GET calendar.download": CONVERSATION_VIEWERS,
    "GET no_shows.join": CONVERSATION_PARTIES,
    "POST no_shows.join": CONVERSATION_PARTIES,
    "POST no_shows.mark": CONVERSATION_PARTIES,
    "POST no_shows.rematch": CONVERSATION_PARTIES,
    "GET no_shows.standby_page": SIGNED_IN,
    "POST no_shows.standby_page": SIGNED_IN,
    "GET tech_check.tech_check": SIGNED_IN,
    "GET room.room": CONVERSATION_VIEWERS,
    "POST room.prepare_call": CONVERSATION_VIEWERS,
    "POST room.trouble": CONVERSATION_PARTIES,
    "GET room.reported": CONVERSATION_VIEWERS,
    "GET room.notes": CONVERSATION_VIEWERS,
    "POST room.notes": CONVERSATION_LEADS,
    "GET room.facilitate": FACILITATORS,
    "POST room.webhook": INTERNAL,
    # Recording uploads and the choices after a recorded conversation
    "GET recording.status": CONVERSATION_PARTIES,
    "POST recording.create_track": CONVERSATION_PARTIES,
    "PUT recording.put_chunk": OWN_TRACK,
    "POST recording.finish_track": OWN_TRACK,
    "GET archive_choices.page": CONVERSATION_PARTIES,
    "POST archive_choices.save_choices": CONVERSATION_PARTIES,
    "POST archive_choices.propose_description": CONVERSATION_PARTIES,
    "POST archive_choices.decide_description": CONVERSATION_PARTIES,
    # The admin area
    "GET admin.index": ADMIN,
    "GET admin.outbox_list": ADMIN,
    "GET admin.outbox_message": ADMIN,
    "GET admin.outbox_message_html": ADMIN,
    "GET admin_conversations.conversations": ADMIN,
    "POST admin_conversations.assign": ADMIN,
    "GET admin_recordings.recordings": ADMIN,
    "GET admin_recordings.progress": ADMIN,
    "POST admin_recordings.process_again": ADMIN,
    "GET admin_archive.archive": ADMIN,
    "GET admin_archive.progress": ADMIN,
    "POST admin_archive.retry": ADMIN,
    "POST admin_archive.withdraw": ADMIN,
    "POST admin_archive.release": ADMIN,
    "POST admin_archive.told": ADMIN,
    # Re-authentication and password change
    "GET reauth.confirm": SIGNED_IN,
    "POST reauth.confirm": SIGNED_IN,
    "POST reauth.passkey_options": SIGNED_IN,
    "POST reauth.passkey_confirm": SIGNED_IN,
    "GET password.change": SIGNED_IN,
    "POST password.change": SIGNED_IN,
    "POST admin.end_sessions": ADMIN,
    "POST admin.end_all_sessions": ADMIN,
}
"""Every route of core, as "METHOD endpoint" (HEAD and OPTIONS follow Flask's own rules), and who it admits.
Plugins declare their own in `register_access_policies`."""

SOCKET_EVENTS: dict[str, Policy] = {
    "connect": SIGNED_IN,
    "disconnect": SIGNED_IN,
    "tech_ping": SIGNED_IN,
    "room_join": CONVERSATION_VIEWERS,
    "room_leave": CONVERSATION_VIEWERS,
    "room_action": CONVERSATION_VIEWERS,
    "room_note": CONVERSATION_LEADS,
    "call_status": CONVERSATION_VIEWERS,
}
"""Every Socket.IO event of core a client can send (namespace "/"; another namespace's as "NAMESPACE event")."""


@dataclass(frozen=True)
class AccessTables:
    """Core's declarations and every enabled plugin's, merged: routes and Socket.IO events."""

    routes: dict[str, Policy]
    events: dict[str, Policy]


def access_tables(plugins: pluggy.PluginManager) -> AccessTables:
    """ROUTES and SOCKET_EVENTS plus each enabled plugin's `register_access_policies`; StartupError (naming the
    plugin) for an answer that is not a mapping of keys to Policy objects or that declares an entry again."""
    routes, events = dict(ROUTES), dict(SOCKET_EVENTS)
    owners = {key: "core" for key in [*routes, *events]}
    for plugin_name, declared in call_each(plugins, "register_access_policies"):
        if not isinstance(declared, dict):
            raise StartupError(f"plugin '{plugin_name}' register_access_policies returned {type(declared).__name__}; "
                               'return a dict such as {"GET my_plugin.page": SIGNED_IN} (docs/plugins.md)')
        for key, policy in declared.items():
            if not isinstance(key, str) or not isinstance(policy, Policy):
                raise StartupError(f"plugin '{plugin_name}' register_access_policies: {key!r} must map a text key to "
                                   "a policy from core.api (PUBLIC, SIGNED_IN, ADMIN, roles(...), related(...), ...)")
            if key in owners:
                raise StartupError(f"plugin '{plugin_name}' declares the access policy of {key!r}, which "
                                   f"{owners[key]} declares already; a plugin declares only its own routes and events")
            owners[key] = plugin_name
            (routes if key.split(" ", 1)[0] in HTTP_METHODS else events)[key] = policy
    return AccessTables(routes, events)


def route_key(method: str, endpoint: str) -> str:
    """The table key of one route: "POST auth.account"."""
    return f"{method} {endpoint}"


def event_key(namespace: str, event: str) -> str:
    """The table key of one Socket.IO event: its name in namespace "/", else "NAMESPACE event"."""
    return event if namespace == "/" else f"{namespace} {event}"


def route_policy(tables: AccessTables, method: str, endpoint: str) -> Policy | None:
    """The declared policy of a route (HEAD is checked as GET), or None when undeclared."""
    return tables.routes.get(route_key("GET" if method == "HEAD" else method, endpoint))


def event_policy(tables: AccessTables, namespace: str, event: str) -> Policy | None:
    """The declared policy of a Socket.IO event, or None when undeclared."""
    return tables.events.get(event_key(namespace, event))


def routes_of(url_map: Any) -> dict[str, str]:
    """Every route of a Flask url_map as table key -> URL rule (HEAD and OPTIONS left out)."""
    return {route_key(method, rule.endpoint): rule.rule
            for rule in url_map.iter_rules() for method in sorted(rule.methods - IGNORED_METHODS)}


def events_of(handlers: dict[str, dict[str, Any]]) -> list[str]:
    """Every Socket.IO event of a server's handlers (namespace -> event -> function) as table keys."""
    return sorted(event_key(namespace, event) for namespace, events in handlers.items() for event in events)


def suggested_policy(rule: str) -> str:
    """A first guess at a new route's policy from its URL, for the message that asks to declare it."""
    if rule.startswith("/admin"):
        return "ADMIN"
    if "/static/" in rule:
        return "STATIC"
    if "<int:conversation_id>" in rule:
        return "CONVERSATION_PARTIES"
    return "SIGNED_IN"


def undeclared_routes(tables: AccessTables, url_map: Any) -> dict[str, str]:
    """Routes of the app with no declared policy: key -> URL rule."""
    return {key: rule for key, rule in routes_of(url_map).items() if key not in tables.routes}


def stale_routes(tables: AccessTables, url_map: Any) -> list[str]:
    """Declared routes that name no route of the app."""
    return sorted(set(tables.routes) - set(routes_of(url_map)))
