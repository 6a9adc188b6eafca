"""The core configuration sections as pydantic models; plugins declare their own sections."""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import AfterValidator, BaseModel, ConfigDict, Field, SecretStr, field_validator, model_validator

from core.timezones import is_known_time_zone

_HEX_COLOUR = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")
_SAFE_FONT = re.compile(r"^[A-Za-z0-9 ,'\"\-]+$")
_SIMPLE_EMAIL = re.compile(r"^[^@\s]+@[^@\s]+\.[^@\s]+$")


class Section(BaseModel):
    """Base for every config section: unknown keys are errors, values are not coerced loosely."""

    model_config = ConfigDict(extra="forbid", validate_default=True)


class SiteSettings(Section):
    """Who runs this instance and where it lives."""

    name: str = Field("oss-connect", min_length=1, max_length=120,
                      description="The program's name, shown in the header, titles and emails.")
    tagline: str = Field("Two strangers. Different views. One real conversation.", max_length=200,
                         description="One line under the name on the landing page.")
    organisation: str = Field("Your organisation", min_length=1, max_length=200,
                              description="The partner organisation that runs this instance.")
    base_url: str = Field("http://127.0.0.1:5000",
                          description="The public address, used in emails and the WebSocket Origin check.")
    environment: Literal["development", "production"] = Field(
        "development", description="production turns on Secure cookies and HSTS.")
    secret_key: SecretStr | None = Field(
        None, description="Signs sessions and tokens. Use ${OSS_CONNECT_SECRET_KEY}; when empty, "
        "the file secret_key in the instance folder (written by `oss-connect init`) is used.")
    default_time_zone: str = Field("UTC", description="IANA zone for visitors who have not chosen one.")
    default_locale: str = Field("en", pattern=r"^[a-z]{2}(_[A-Z]{2})?$",
                                description="Language of the interface and emails.")
    contact_email: str = Field("hello@example.org", description="Shown on the privacy notice and in emails.")

    @field_validator("base_url")
    @classmethod
    def _absolute_http_url(cls, value: str) -> str:
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an absolute http(s) address such as https://talk.example.org")
        return value.rstrip("/")

    @field_validator("secret_key", mode="before")
    @classmethod
    def _empty_is_unset(cls, value: Any) -> Any:
        return None if value == "" else value

    @field_validator("default_time_zone")
    @classmethod
    def _known_zone(cls, value: str) -> str:
        if not is_known_time_zone(value):
            raise ValueError("must be an IANA time zone name such as Europe/Berlin or America/Chicago")
        return value

    @field_validator("contact_email")
    @classmethod
    def _email_shape(cls, value: str) -> str:
        if not _SIMPLE_EMAIL.match(value):
            raise ValueError("must be an email address such as hello@example.org")
        return value


class DatabaseSettings(Section):
    """Where the data lives."""

    url: str = Field("sqlite:///oss-connect.sqlite3", description=(
        "sqlite:///FILE (relative to the instance folder) or postgresql://USER:PASSWORD@HOST:PORT/NAME."))

    @field_validator("url")
    @classmethod
    def _supported_scheme(cls, value: str) -> str:
        scheme = value.split(":", 1)[0]
        if scheme not in ("sqlite", "postgresql", "postgres") or "://" not in value:
            raise ValueError("must be a database URL starting with sqlite:/// or postgresql://")
        return value


class JobsSettings(Section):
    """The background job queue (huey)."""

    backend: Literal["sqlite", "redis", "immediate"] = Field(
        "sqlite", description="sqlite (a file in the instance folder), redis, or immediate (run in-line; tests).")
    sqlite_file: str = Field("jobs.sqlite3", description="The queue file for the sqlite backend.")
    redis_url: str | None = Field(None, description="redis://HOST:PORT/DB, required when backend is redis.")
    workers: int = Field(2, ge=1, le=64, description="Worker threads of the consumer.")

    @model_validator(mode="after")
    def _redis_needs_url(self) -> JobsSettings:
        if self.backend == "redis" and not self.redis_url:
            raise ValueError("backend is redis but redis_url is empty; set jobs.redis_url: redis://127.0.0.1:6379/0")
        return self


class RealtimeSettings(Section):
    """Socket.IO."""

    message_queue: str | None = Field(
        None, description="redis://... to share events between several server processes.")
    allowed_origins: list[str] = Field(
        default_factory=list, description="Extra origins allowed to open a WebSocket; site.base_url always is.")
    event_burst: int = Field(20, ge=1, le=10_000, description=(
        "Room events (call status, room actions, notes, tech check) one connection may send at once; past it "
        "and the sustained rate, an event is refused with code rate_limited and reaches nobody."))
    events_per_second: float = Field(5.0, gt=0, le=1000, description=(
        "Room events one connection may send per second, sustained (the burst refills at this rate)."))
    signal_burst: int = Field(100, ge=1, le=10_000, description=(
        "Call signalling messages (offers, answers, ICE candidates) one connection may send at once."))
    signals_per_second: float = Field(25.0, gt=0, le=1000, description=(
        "Call signalling messages one connection may send per second, sustained."))


class SmtpSettings(Section):
    """An SMTP server for real delivery."""

    host: str = Field(..., min_length=1, description="The SMTP server's host name.")
    port: int = Field(587, ge=1, le=65535, description="Usually 587 (STARTTLS) or 465 (TLS).")
    username: str | None = Field(None, description="Login name, if the server needs one.")
    password: SecretStr | None = Field(None, description="Use ${SMTP_PASSWORD}, never a literal.")
    use_tls: bool = Field(True, description="STARTTLS on port 587.")
    use_ssl: bool = Field(False, description="TLS from the start on port 465.")
    timeout: int = Field(20, ge=1, le=300, description="Seconds before giving up on the server.")

    @model_validator(mode="after")
    def _one_tls_mode(self) -> SmtpSettings:
        if self.use_tls and self.use_ssl:
            raise ValueError("use_tls and use_ssl cannot both be true; port 587 uses use_tls, 465 use_ssl")
        return self


class MailSettings(Section):
    """Outgoing email."""

    backend: Literal["outbox", "smtp"] = Field(
        "outbox", description="outbox writes every message to a folder an admin can read; smtp sends them.")
    from_address: str = Field("oss-connect <no-reply@example.org>", description="The From: header.")
    outbox_folder: str = Field("outbox", description="Folder (relative to the instance folder) for the outbox.")
    smtp: SmtpSettings | None = Field(None, description="Required when backend is smtp.")

    @model_validator(mode="after")
    def _smtp_needs_server(self) -> MailSettings:
        if self.backend == "smtp" and self.smtp is None:
            raise ValueError("backend is smtp but there is no smtp: section; add smtp: {host: mail.example.org}")
        return self


class ColourTokens(Section):
    """Brand colours; every pair used for text meets WCAG AA contrast in the bundled themes."""

    primary: str | None = Field(None, description="Buttons and links.")
    on_primary: str | None = Field(None, description="Text on primary.")
    accent: str | None = Field(None, description="Highlights and the hero band.")
    on_accent: str | None = Field(None, description="Text on accent.")
    background: str | None = Field(None, description="Page background.")
    surface: str | None = Field(None, description="Cards and panels.")
    text: str | None = Field(None, description="Body text.")
    muted: str | None = Field(None, description="Secondary text.")
    focus: str | None = Field(None, description="Keyboard focus ring.")
    danger: str | None = Field(None, description="Errors.")
    success: str | None = Field(None, description="Confirmations.")

    @field_validator("*")
    @classmethod
    def _hex(cls, value: str | None) -> str | None:
        if value is not None and not _HEX_COLOUR.match(value):
            raise ValueError("must be a hex colour such as #1a5fb4")
        return value


class FontTokens(Section):
    """Font stacks (the files, if any, are served by the theme)."""

    body: str | None = Field(None, description="Body text font stack.")
    heading: str | None = Field(None, description="Headings font stack.")

    @field_validator("*")
    @classmethod
    def _safe(cls, value: str | None) -> str | None:
        if value is not None and not _SAFE_FONT.match(value):
            raise ValueError("must be a font stack of letters, digits, spaces, commas, quotes and hyphens")
        return value


class BrandTokens(Section):
    """Brand tokens; they become CSS custom properties (--brand-primary, --brand-font-body, ...)."""

    colors: ColourTokens = Field(default_factory=ColourTokens, description="Brand colours.")
    fonts: FontTokens = Field(default_factory=FontTokens, description="Font stacks.")
    logo: str | None = Field(None, description="Logo file inside the theme's static/ folder.")
    logo_alt: str | None = Field(None, description="Text alternative of the logo.")
    radius: str | None = Field(None, pattern=r"^\d+(\.\d+)?(px|rem|em)$", description="Corner radius, e.g. 6px.")


class ThemeSettings(Section):
    """Branding."""

    name: str = Field("default", pattern=r"^[a-z0-9][a-z0-9_-]*$", description="A folder in themes/.")
    tokens: BrandTokens = Field(default_factory=BrandTokens,
                                description="Overrides of the theme's brand tokens for this instance.")
    templates_folder: str = Field("templates", description=(
        "Instance folder for template overrides; searched before the theme."))


class Step(Section):
    """One step of the program, shown on the landing page."""

    title: str = Field(..., min_length=1, max_length=80, description="The step's heading.")
    text: str = Field(..., min_length=1, max_length=600, description="One or two sentences about the step.")


class FaqItem(Section):
    """One question and answer."""

    question: str = Field(..., min_length=1, max_length=300, description="The question, as a visitor would ask it.")
    answer: str = Field(..., min_length=1, max_length=4000, description="The answer; blank lines separate paragraphs.")


class SupportLink(Section):
    """A link to support or donate to the partner."""

    url: str = Field(..., description="https://... address.")
    label: str = Field("Support this program", min_length=1, max_length=80, description="The link's text.")

    @field_validator("url")
    @classmethod
    def _http(cls, value: str) -> str:
        if urlsplit(value).scheme not in ("http", "https"):
            raise ValueError("must be an http(s) address")
        return value


class PrivacyNotice(Section):
    """The privacy notice; its version is recorded with every consent."""

    version: str = Field("1", min_length=1, max_length=40, description="Change it whenever the text changes.")
    text: str = Field(..., min_length=20, description="Plain text; blank lines separate paragraphs.")


def _default_steps() -> list[Step]:
    return [
        Step(title="Tell us about yourself",
             text="Answer a short questionnaire about who you are and how you see the world. "
                  "You choose what a potential partner may see."),
        Step(title="Meet your match",
             text="We suggest a few people whose views differ from yours and with whom you share "
                  "something. You choose one and agree on a time."),
        Step(title="Have the conversation",
             text="A 50-minute recorded conversation in your browser about who you are as people, "
                  "not a debate. Together you decide whether it is public."),
    ]


def _default_faq() -> list[FaqItem]:
    return [
        FaqItem(question="Is this a debate?",
                answer="No. You talk about your lives, your values and what shaped you. "
                       "Nobody has to change their mind."),
        FaqItem(question="Who hears the recording?",
                answer="Only the two of you decide. A recording becomes public only if both of you "
                       "choose so, and you can withdraw your consent later."),
    ]


def _default_privacy() -> PrivacyNotice:
    return PrivacyNotice(version="1", text=(
        "We collect your email address, your answers to the questionnaire and, if you take part "
        "in a conversation, its recording.\n\nYour political views are sensitive personal data. "
        "We use them only to suggest partners, with your explicit consent, and show them to others "
        "only where you choose to.\n\nYou can ask for a copy of your data or its deletion at any time."))


class NewsletterSettings(Section):
    """The "Stay informed" sign-up."""

    enabled: bool = Field(True, description="Show the sign-up form on public pages.")
    description: str = Field("News about the program and upcoming conversation events, about once a month.",
                             max_length=300, description="What subscribers will receive.")


class ProgramSettings(Section):
    """What the public pages say about the program."""

    steps: list[Step] = Field(default_factory=_default_steps, min_length=1, max_length=6,
                              description="The steps on the landing page (three, usually).")
    faq: list[FaqItem] = Field(default_factory=_default_faq, description="Frequently asked questions.")
    support: SupportLink | None = Field(None, description="Support or donate link; hidden when empty.")
    privacy_notice: PrivacyNotice = Field(default_factory=_default_privacy, description="The privacy notice.")
    newsletter: NewsletterSettings = Field(default_factory=NewsletterSettings, description="Stay informed.")


def _parse_rate_limit(value: str) -> str:
    """Accept what Flask-Limiter accepts ("10 per minute", "5/hour; 20/day"), checked by `limits`."""
    from limits import parse_many

    try:
        if not parse_many(value):
            raise ValueError
    except ValueError:
        raise ValueError('must be a rate such as "10 per minute" or "5/hour; 20/day"') from None
    return value


RateLimit = Annotated[str, AfterValidator(_parse_rate_limit)]


class RateLimits(Section):
    """Flask-Limiter limits such as "10 per minute" or "5/hour; 20/day"."""

    signup: RateLimit = Field("10 per hour", description="Sign-ups per address.")
    login: RateLimit = Field("10 per minute", description="Log-in attempts per address.")
    reset: RateLimit = Field("5 per hour", description="Password-reset and magic-link requests per address.")
    newsletter: RateLimit = Field("10 per hour", description="Newsletter sign-ups per address.")
    storage_url: str = Field("memory://", description="memory:// or redis://HOST:PORT to share counters.")


class ThrottleSettings(Section):
    """Failed sign-ins and wrong event codes, counted in the database per account and per client address."""

    free_failures: int = Field(3, ge=1, le=100, description=(
        "Failed sign-ins on one account before each further attempt must wait (2, 4, 8, ... seconds)."))
    max_delay_seconds: int = Field(300, ge=1, le=86400, description="The longest wait between two attempts.")
    lock_after: int = Field(10, ge=2, le=1000, description=(
        "Failed sign-ins on one account that lock it for lock_minutes; its owner is emailed a link that "
        "unlocks it at once."))
    lock_minutes: int = Field(15, ge=1, le=1440, description="How long a lock lasts.")
    daily_cap: int = Field(50, ge=2, le=10000, description=(
        "Failed sign-ins on one account in 24 hours that lock it for the rest of those 24 hours "
        "(the emailed link still unlocks it)."))
    address_free_failures: int = Field(20, ge=1, le=10000, description=(
        "Failed sign-ins from one client address (any accounts) before each further attempt must wait."))
    address_daily_cap: int = Field(200, ge=2, le=100000, description=(
        "Failed sign-ins from one client address in 24 hours before it may not try again that day."))
    code_attempts: int = Field(10, ge=1, le=1000, description=(
        "Wrong cohort event codes one account, or one client address, may enter in code_window_minutes."))
    code_window_minutes: int = Field(10, ge=1, le=1440, description="The window for code_attempts.")

    @model_validator(mode="after")
    def _cap_above_lock(self) -> ThrottleSettings:
        if self.daily_cap < self.lock_after:
            raise ValueError(f"daily_cap ({self.daily_cap}) must be at least lock_after ({self.lock_after})")
        return self


class SessionSettings(Section):
    """How long a sign-in lasts. Staff means every role other than participant (admins, facilitators, and
    any role added later)."""

    idle_minutes: int = Field(30, ge=1, le=1440,
                              description="A participant's session ends after this many minutes without activity.")
    absolute_hours: int = Field(12, ge=1, le=720,
                                description="A participant's session ends this many hours after signing in, "
                                "active or not.")
    staff_idle_minutes: int = Field(15, ge=1, le=1440, description="The idle timeout of staff accounts.")
    staff_absolute_hours: int = Field(8, ge=1, le=720, description="The absolute lifetime of a staff session.")
    warning_seconds: int = Field(120, ge=10, le=1800,
                                 description="How long before an idle timeout the page warns and offers to "
                                 "stay signed in.")
    remember_staff: bool = Field(False, description="Let staff accounts use \"keep me signed in\" "
                                 "(off: staff sign in again after every idle timeout).")
    reauth_minutes: int = Field(10, ge=1, le=1440, description=(
        "How long a sign-in or a \"Confirm it's you\" counts as recent: after that, changing the second factor or "
        "signing out other devices asks for the password (or a code) again."))


_ROLE_NAME = re.compile(r"^[a-z][a-z0-9_]{0,19}$")


class MfaSettings(Section):
    """Two-factor sign-in: who must set up a second factor, and how wrong codes are throttled."""

    required_roles: list[str] = Field(
        ["admin", "facilitator", "staff"],
        description="Roles that must set up a second factor (an authenticator app or a passkey) at their next "
        "sign-in. `staff` stands for every role other than participant, including roles a plugin adds later. "
        "[] lets everyone choose (participants may always opt in).")
    max_failures: int = Field(5, ge=1, le=100,
                              description="Wrong second-factor codes in a row before the account's second step "
                              "is locked.")
    lock_minutes: int = Field(15, ge=1, le=1440, description="How long that lock lasts.")
    pending_minutes: int = Field(5, ge=1, le=60,
                                 description="How long a correct password waits for the second factor.")
    enrol_minutes: int = Field(30, ge=5, le=240,
                               description="How long a correct password waits while a role that needs a second "
                               "factor sets one up (installing an app takes a while).")

    @field_validator("required_roles")
    @classmethod
    def _role_names(cls, value: list[str]) -> list[str]:
        for role in value:
            if not _ROLE_NAME.match(role):
                raise ValueError(f"{role!r} is not a role name: use lower-case letters, digits and _, "
                                 "such as admin, facilitator or staff")
        return value


class AccountSettings(Section):
    """Accounts and sign-in."""

    allow_signup: bool = Field(True, description="Let visitors create accounts.")
    password_min_length: int = Field(10, ge=8, le=128, description="Minimum password length.")
    password_min_score: int = Field(3, ge=0, le=4, description=(
        "How hard to guess a new password must be, on zxcvbn's scale 0-4 (3: about 10^8 guesses; 0 turns the "
        "check off). Common passwords and the person's own address or name score low."))
    password_context_words: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        ["conversation", "one small step", "talk across", "dialogue", "listen"], max_length=200, description=(
            "Words that make a password easy to guess on this site (the partner's name, the station's call sign, "
            "the town), refused in passwords like a person's own name. The program's name (site.name), the "
            "organisation (site.organisation), the site's host name and \"oss-connect\" always count."))
    verification_hours: int = Field(48, ge=1, le=720, description="Lifetime of an email verification link.")
    reset_minutes: int = Field(60, ge=5, le=1440, description="Lifetime of a password-reset link.")
    magic_link_minutes: int = Field(10, ge=5, le=1440, description=(
        "Lifetime of a sign-in link (ASVS 6.5.5 asks at most 10 minutes for out-of-band codes)."))
    remember_days: int = Field(30, ge=1, le=365, description="How long \"remember me\" lasts.")
    sessions: SessionSettings = Field(default_factory=SessionSettings,
                                      description="Idle timeout and absolute lifetime of sign-ins.")
    rate_limits: RateLimits = Field(default_factory=RateLimits, description="Abuse protection.")
    throttle: ThrottleSettings = Field(default_factory=ThrottleSettings, description=(
        "Sign-in throttling per account and per address, and account locks."))
    mfa: MfaSettings = Field(default_factory=MfaSettings, description="Two-factor sign-in.")


class MatchingSettings(Section):
    """Suggestions, invitations and automatic matching."""

    strategy: str = Field("bridge", min_length=1, max_length=60, description=(
        "The matching strategy that scores partners, by name; a plugin provides it "
        "(bridge: plugin matching_bridge, contrast: plugin matching_contrast)."))
    suggestions: int = Field(5, ge=1, le=50, description="How many suggested partners a participant sees at once.")
    invitation_hours: int = Field(72, ge=1, le=2160, description="Hours before an unanswered invitation expires.")
    max_open_invitations: int = Field(3, ge=1, le=50, description=(
        "How many unanswered invitations one participant may have sent at a time."))
    decline_cooldown_days: int = Field(90, ge=0, le=3650, description=(
        "Days during which two participants are not suggested to each other after one declined the other."))
    invitation_rate_limit: RateLimit = Field("10 per hour", description=(
        "Invitations one participant may send, e.g. \"10 per hour\" or \"5/hour; 20/day\"."))
    auto_match: bool = Field(True, description="Offer \"match me automatically\": invite the best available partner.")


class Agreements(Section):
    """The conversation agreements both participants accept before a time is booked."""

    version: str = Field("1", min_length=1, max_length=40, description="Change it whenever the text changes.")
    text: str = Field(
        "We will listen to understand, not to win. We will talk about our lives and values, not debate "
        "policies. Either of us may pass on any question. We will not share each other's contact details "
        "or personal information outside this conversation.",
        min_length=20, max_length=4000, description="Plain text; blank lines separate paragraphs.")


class SchedulingSettings(Section):
    """Finding a time, reminders and what happens when someone does not come."""

    slot_minutes: int = Field(75, ge=30, le=240, description=(
        "Length of a booked slot: the recorded conversation plus set-up and wrap-up."))
    recorded_minutes: int = Field(50, ge=10, le=180, description="Length of the recorded conversation.")
    horizon_days: int = Field(14, ge=1, le=90, description="How far ahead times are proposed.")
    proposals: int = Field(8, ge=1, le=50, description="How many overlapping times are offered at once.")
    reminders: list[int] = Field(default_factory=lambda: [1440, 15], description=(
        "Minutes before the start when a reminder goes out (each exactly once)."))
    no_show_minutes: int = Field(10, ge=1, le=60, description=(
        "Minutes after the start when the one who came may mark the other as absent."))
    no_show_lower_priority_after: int = Field(1, ge=1, le=20, description=(
        "No-shows after which a participant is suggested after everyone else."))
    no_show_suspend_after: int = Field(3, ge=1, le=20, description="No-shows after which an account is suspended.")
    standby_minutes: int = Field(30, ge=5, le=240, description=(
        "How long \"I'm available now\" lasts: standby partners for someone whose partner did not come."))
    early_entry_minutes: int = Field(10, ge=0, le=60, description="How early the room opens before the start.")
    agreements: Agreements = Field(default_factory=Agreements, description="The conversation agreements.")

    @model_validator(mode="after")
    def _recording_fits(self) -> SchedulingSettings:
        if self.recorded_minutes > self.slot_minutes:
            raise ValueError("recorded_minutes is longer than slot_minutes; make the slot at least as long "
                             "as the recording")
        if any(minutes < 1 or minutes > 20160 for minutes in self.reminders):
            raise ValueError("every reminder must be between 1 and 20160 minutes (14 days) before the start")
        return self


class RecordingRelease(Section):
    """What both participants agree to, in the room, before the recording starts."""

    version: str = Field("1", min_length=1, max_length=40, description="Change it whenever the text changes.")
    text: str = Field(
        "I agree that this conversation is recorded. The recording is kept by the organisers of this "
        "program. After the conversation my partner and I each decide whether it is archived, made public "
        "or kept private, and I can withdraw my consent later. Either of us may pause or stop the "
        "recording at any time.",
        min_length=20, max_length=4000, description="Plain text; blank lines separate paragraphs.")


class RoomSettings(Section):
    """The conversation room: which call provider moves the media, the guide, and consent to record."""

    call_provider: str = Field("webrtc", min_length=1, max_length=60, description=(
        "The call provider, by name; a plugin provides it (webrtc: call_webrtc, livekit: call_livekit, "
        "jitsi: call_jitsi)."))
    guide: str | None = Field(None, description=(
        "The conversation guide YAML, relative to the instance folder; empty: the bundled default "
        "(config/conversation_guide.yaml)."))
    release: RecordingRelease = Field(default_factory=RecordingRelease,
                                      description="The recording release both accept in the room.")
    participant_notes: bool = Field(True, description=(
        "After a conversation without a facilitator, offer the participants to write keyword notes."))


class S3StorageSettings(Section):
    """An S3-compatible bucket (AWS S3, MinIO, Ceph, Garage, ...) for the blob store."""

    bucket: str = Field(..., min_length=3, max_length=63, pattern=r"^[a-z0-9][a-z0-9.-]+[a-z0-9]$",
                        description="The bucket's name; it must exist.")
    endpoint_url: str | None = Field(None, description=(
        "The service's address, e.g. https://s3.example.org or http://127.0.0.1:9000; empty: AWS."))
    region: str = Field("us-east-1", min_length=1, max_length=40, description="The bucket's region.")
    prefix: str = Field("", max_length=200, pattern=r"^([a-z0-9][a-z0-9_.-]*/)*$", description=(
        "A folder inside the bucket for this instance, ending with /, e.g. oss-connect/; empty: the root."))
    access_key_id: SecretStr | None = Field(None, description=(
        "Use ${S3_ACCESS_KEY_ID}; empty: boto3's usual sources (environment, instance role)."))
    secret_access_key: SecretStr | None = Field(None, description="Use ${S3_SECRET_ACCESS_KEY}.")

    @field_validator("endpoint_url")
    @classmethod
    def _endpoint_is_http(cls, value: str | None) -> str | None:
        if value is None or value == "":
            return None
        parts = urlsplit(value)
        if parts.scheme not in ("http", "https") or not parts.netloc:
            raise ValueError("must be an http(s) address such as https://s3.example.org")
        return value.rstrip("/")


class StorageSettings(Section):
    """The blob store: where recording chunks, tracks and masters are kept."""

    backend: Literal["local", "s3"] = Field("local", description=(
        "local keeps files in a folder of the instance; s3 in an S3-compatible bucket."))
    folder: str = Field("blobs", min_length=1, description="The folder for local, relative to the instance folder.")
    s3: S3StorageSettings | None = Field(None, description="Required when backend is s3.")

    @model_validator(mode="after")
    def _s3_needs_bucket(self) -> StorageSettings:
        if self.backend == "s3" and self.s3 is None:
            raise ValueError("backend is s3 but there is no s3: section; add s3: {bucket: my-bucket, "
                             "endpoint_url: https://s3.example.org}")
        return self


class RecordingSettings(Section):
    """The in-browser recorder, its uploads, and the processing into archival masters."""

    timeslice_seconds: int = Field(5, ge=1, le=30, description=(
        "Each browser hands over a chunk of its recording this often; each chunk is uploaded at once."))
    max_chunk_bytes: int = Field(4 * 1024 * 1024, ge=64 * 1024, le=64 * 1024 * 1024, description=(
        "The largest chunk accepted (413 too_large above it); a 5-second Opus chunk is about 20-80 KB."))
    max_minutes: int = Field(90, ge=5, le=600, description=(
        "The longest recording accepted per participant (413 past it)."))
    upload_grace_minutes: int = Field(120, ge=1, le=10080, description=(
        "After the recording stops, how long chunks still queued in a browser may arrive; then the "
        "recording is processed with what arrived."))
    max_takes_per_person: int = Field(10, ge=1, le=1000, description=(
        "The most takes (recorder runs: a reload or a crash starts a new one) one participant may upload "
        "for one recording; 409 too_many_takes past it."))
    new_take_rate: RateLimit = Field("6 per hour", description=(
        "How often one participant may start a new take, across all their conversations, counted in the "
        "database, e.g. \"6 per hour\" or \"6/hour; 20/day\"; 429 take_rate_limited past it."))
    max_bitrate_kbps: int = Field(510, ge=6, le=510, description=(
        "The highest audio bitrate a take may have (Opus allows up to 510 kbit/s); with max_minutes it "
        "bounds the bytes of one take: max_minutes x 60 x this / 8, plus 5% for the container and one "
        "chunk (413 take_too_large past it)."))
    access_format: Literal["opus", "mp3"] = Field("opus", description=(
        "The listening copy: opus (Ogg Opus, 96 kb/s) or mp3 (192 kb/s)."))
    loudness_lufs: float = Field(-16.0, ge=-31.0, le=-10.0, description=(
        "Integrated loudness of the listening copy (EBU R128 two-pass)."))
    originator: str | None = Field(None, max_length=32, description=(
        "The Broadcast WAV originator (at most 32 characters); empty: site.organisation, shortened."))


class ArchiveRelease(Section):
    """What each participant agrees to when they choose what happens to the recording."""

    version: str = Field("1", min_length=1, max_length=40, description="Change it whenever the text changes.")
    text: str = Field(
        "Each of us decides separately. The recording goes to an archive only if both of us agree to "
        "the deposit, is published on this site only if both of us choose public, and may be used in "
        "broadcasts by the organisers only if both of us allow it. The archive keeps the recording, its "
        "title, summary and keywords, and our first names as we shared them; never our email addresses. "
        "I can change my choices until the deadline shown, and withdraw them at any time after.",
        min_length=20, max_length=6000, description="Plain text; blank lines separate paragraphs.")


class PublicArchiveSettings(Section):
    """The site's public listening pages and their podcast feed."""

    title: str = Field("Hear real conversations", min_length=1, max_length=120,
                       description="The listening page's heading and the feed's title.")
    description: str = Field(
        "Two strangers with different political views, talking about who they are.",
        min_length=1, max_length=1000, description="The page's introduction and the feed's description.")
    language: str = Field("en", pattern=r"^[a-z]{2,3}(-[A-Za-z]{2,4})?$",
                          description="The feed's language (RFC 5646, e.g. en or en-US).")
    per_page: int = Field(20, ge=5, le=100, description="Conversations per listening page.")
    feed_items: int = Field(100, ge=1, le=1000, description="The newest conversations in the podcast feed.")


class DepositRetrySettings(Section):
    """How failed deposits are tried again: a doubling wait between tries, up to a limit."""

    max_attempts: int = Field(8, ge=1, le=50, description="Tries before a deposit stays failed for an admin.")
    first_delay_seconds: int = Field(60, ge=1, le=86400, description="The wait after the first failure.")
    max_delay_minutes: int = Field(360, ge=1, le=10080, description="The longest wait between two tries.")


class ArchiveSettings(Section):
    """Consent to archive, the packages (BagIt bags) and where they are deposited; docs/archive.md."""

    source_organization: str | None = Field(None, max_length=200, description=(
        "Source-Organization in every bag's bag-info.txt; empty: site.organisation."))
    contact_email: str | None = Field(None, max_length=200, description=(
        "Contact-Email in bag-info.txt: who at the partner answers an archive's questions."))
    identifier_prefix: str = Field("oss-connect", pattern=r"^[a-z0-9][a-z0-9-]{0,39}$", description=(
        "External-Identifier of each bag: this prefix, a dash and the conversation's unique id."))
    decision_days: int = Field(30, ge=1, le=3650, description=(
        "For how many days after the conversation each participant may change their choices; "
        "withdrawing stays possible after."))
    release: ArchiveRelease = Field(default_factory=ArchiveRelease, description=(
        "The release each participant accepts with their choices; its version and SHA-256 are recorded."))
    public: PublicArchiveSettings = Field(default_factory=PublicArchiveSettings,
                                          description="The public listening pages and podcast feed.")
    retry: DepositRetrySettings = Field(default_factory=DepositRetrySettings,
                                        description="Retries of failed deposits.")


class Settings(Section):
    """The whole instance configuration (core sections; plugins validate their own)."""

    site: SiteSettings = Field(default_factory=SiteSettings, description="Who runs this instance and where it lives.")
    database: DatabaseSettings = Field(default_factory=DatabaseSettings, description="Where the data lives.")
    jobs: JobsSettings = Field(default_factory=JobsSettings, description="The background job queue.")
    realtime: RealtimeSettings = Field(default_factory=RealtimeSettings, description="Live connections (Socket.IO).")
    mail: MailSettings = Field(default_factory=MailSettings, description="Outgoing email.")
    theme: ThemeSettings = Field(default_factory=ThemeSettings, description="Branding.")
    program: ProgramSettings = Field(default_factory=ProgramSettings,
                                     description="What the public pages say about the program.")
    accounts: AccountSettings = Field(default_factory=AccountSettings, description="Accounts and sign-in.")
    matching: MatchingSettings = Field(default_factory=MatchingSettings,
                                       description="Suggestions, invitations and automatic matching.")
    scheduling: SchedulingSettings = Field(default_factory=SchedulingSettings,
                                           description="Finding a time, reminders and no-shows.")
    room: RoomSettings = Field(default_factory=RoomSettings,
                               description="The conversation room: call provider, guide, consent to record.")
    storage: StorageSettings = Field(default_factory=StorageSettings,
                                     description="The blob store for recordings (local folder or S3).")
    recording: RecordingSettings = Field(default_factory=RecordingSettings,
                                         description="The in-browser recorder, uploads and audio processing.")
    archive: ArchiveSettings = Field(default_factory=ArchiveSettings,
                                     description="Consent to archive, BagIt packages and deposits.")
    plugins: dict[str, dict[str, Any] | None] = Field(
        default_factory=dict, description="Enabled plugins in priority order, each with its settings.")

    @field_validator("plugins", mode="before")
    @classmethod
    def _empty_plugins(cls, value: Any) -> Any:
        return {} if value is None else value
