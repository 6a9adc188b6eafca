"""Core tables. Plugins declare theirs with the `register_models` hook."""

from core.models.accounts import AuthToken, User
from core.models.archive import ArchiveConsent, Deposit, DescriptionProposal, Publication
from core.models.audit import AuditEvent
from core.models.matching import Cohort, CohortMember, CohortPair, Dismissal, Invitation, Match
from core.models.mfa import PasskeyCredential, RecoveryCode, SecondFactorThrottle, TotpFactor
from core.models.newsletter import NewsletterSubscriber
from core.models.presence import ConversationPresence
from core.models.profiles import Answer, Consent, Profile
from core.models.recording import Recording, RecordingChunk, RecordingOutput, RecordingTrack
from core.models.room import (
    CallRoomRecord,
    ConversationNote,
    RecordingConsent,
    RecordingEvent,
    RoomConnection,
    RoomState,
)
from core.models.safety import Block, ModerationAction, Report
from core.models.scheduling import (
    AgreementAcceptance,
    Conversation,
    LiveRsvp,
    LiveSession,
    Message,
    NoShow,
    ReminderSent,
    SlotProposal,
    Standby,
)
from core.models.sessions import SessionSocket, UserSession
from core.models.throttle import AccountLock, ThrottleFailure

CORE_MODELS = [User, AuthToken, NewsletterSubscriber, Profile, Answer, Consent, Cohort, CohortMember, CohortPair,
               Invitation, Match, Dismissal, Block, Report, ModerationAction, LiveSession, LiveRsvp, Conversation,
               SlotProposal, Message, AgreementAcceptance, ReminderSent, NoShow, Standby,
               ConversationPresence, CallRoomRecord, RoomState, RecordingConsent, RecordingEvent,
               RoomConnection, ConversationNote, Recording, RecordingTrack, RecordingChunk, RecordingOutput,
               ArchiveConsent, DescriptionProposal, Deposit, Publication, AuditEvent, ThrottleFailure,
               AccountLock, UserSession, SessionSocket, TotpFactor, RecoveryCode, PasskeyCredential,
               SecondFactorThrottle]

__all__ = [
    "CORE_MODELS",
    "AccountLock",
    "AgreementAcceptance",
    "Answer",
    "ArchiveConsent",
    "AuditEvent",
    "AuthToken",
    "Block",
    "CallRoomRecord",
    "Cohort",
    "CohortMember",
    "CohortPair",
    "Consent",
    "Conversation",
    "ConversationNote",
    "ConversationPresence",
    "Deposit",
    "DescriptionProposal",
    "Dismissal",
    "Invitation",
    "LiveRsvp",
    "LiveSession",
    "Match",
    "Message",
    "ModerationAction",
    "NewsletterSubscriber",
    "NoShow",
    "PasskeyCredential",
    "Profile",
    "Publication",
    "Recording",
    "RecordingChunk",
    "RecordingConsent",
    "RecordingEvent",
    "RecordingOutput",
    "RecordingTrack",
    "RecoveryCode",
    "ReminderSent",
    "Report",
    "RoomConnection",
    "RoomState",
    "SecondFactorThrottle",
    "SessionSocket",
    "SlotProposal",
    "Standby",
    "ThrottleFailure",
    "TotpFactor",
    "User",
    "UserSession",
]
