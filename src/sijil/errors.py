"""The one exception tree of sijil.

Every failure a user can cause or meet is one of these, and its message is one
line a person understands. Messages never carry secrets (passphrases, private
keys, plaintext) nor network addresses. Foreign errors are translated at the
boundary with ``raise Ours(...) from exc``.

    SijilError
    ├── ConfigError                 bad setting, missing home, home already exists
    ├── PassphraseError             no passphrase available, or the wrong one
    ├── KeyFileError                a key or public-key file that cannot be read
    ├── EnvelopeError               an envelope that cannot be opened or trusted
    │   ├── NotForThisRecipient     sealed to another desk
    │   ├── TamperedEnvelope        authentication failed (a flipped byte)
    │   ├── TruncatedEnvelope       the envelope ends early
    │   ├── UnknownFormatVersion    a format version this sijil does not know
    │   ├── MalformedEnvelope       structure that does not parse
    │   ├── ManifestTooLarge        a manifest over the named limit
    │   ├── UnsafeAttachmentName    path separators, "..", control characters
    │   ├── BadSignature            the manifest signature does not verify
    │   ├── AttachmentHashMismatch  an attachment differs from its manifest entry
    │   └── ResealedReport          a report already received, re-sealed into a new envelope
    ├── ShardError                  text shards that cannot rebuild an envelope
    │   ├── MalformedShard          a shard whose header or body does not parse
    │   ├── TooFewShards            fewer than k distinct shards
    │   └── MixedShards             shards of different envelopes given together
    ├── ScrubError                  a file whose metadata cannot be removed
    │   ├── UnsupportedFormat       a format the scrubber does not handle
    │   └── CorruptMedia            a file that does not parse as its format
    ├── MediaError                  a photo or video that cannot be fingerprinted
    │   ├── UnsupportedMedia        not an image or video format sijil can hash
    │   ├── DamagedMedia            truncated or corrupt image or video data
    │   └── MediaTooLarge           over a named size, pixel or duration limit
    ├── StoreError                  the database refused or failed
    │   └── AlreadyRegistered       another process registered the same envelope first
    ├── IntakeAborted               disk full, database down: import stopped, input left in place
    ├── InputRefused                a link, FIFO, device or oversized file given as input: not read
    ├── VaultError                  a vault blob that is missing or cannot be read
    │   └── BlobAltered             a blob fails decryption or its content hash
    ├── LedgerError                 a ledger entry, proof or tree head that does not check
    │   └── TimestampError          an RFC 3161 timestamp that cannot be had or verified
    ├── PackageError                an evidence package that does not verify
    ├── PublicationError            a published post, signature or log that does not check
    ├── AuditFailed                 ``sijil verify`` found problems (listed before it)
    ├── BackupError                 a backup that cannot be read, or a restore refused
    ├── DeskError                   desk work refused: incidents, evidence, assessments, places
    │   ├── UnknownCode             an incident code, A- id, user, place, actor or report not found
    │   ├── AmbiguousName           a place or actor name matching several; give its code
    │   ├── PermissionDenied        no acting user (--as), or one without the role needed
    │   ├── VersionConflict         a save over a version someone else saved first
    │   ├── ReviewRefused           a review the rules forbid (own work, done twice, superseded)
    │   ├── CasualtyRangeError      a casualty count that is malformed or inconsistent
    │   ├── MalformedImport         an import file with a bad record (named by its position)
    │   ├── QueryError              a search query too long or with too many words
    │   ├── PublishRefused          the safety gate or a publishing rule refused a post (one line)
    │   ├── SignInRefused           a web sign-in, enrolment or session refused (see ``reason``)
    │   └── FormError               a web form or address with a missing, oversized or hostile value
    ├── RelayError                  a relay request refused or failed (carries an HTTP status)
    │   ├── RelayProtocolError      a malformed or out-of-order upload request (4xx)
    │   ├── RelayAuthError          unsigned, replayed, expired or wrongly signed request
    │   ├── RelayLimitExceeded      size, concurrency or rate limit; a full spool
    │   └── RelayUnreachable        the relay could not be reached or the link was cut
    └── NotFound                    a named thing (report, codename) does not exist
"""

from __future__ import annotations

__all__ = [
    "AlreadyRegistered",
    "AmbiguousName",
    "AttachmentHashMismatch",
    "AuditFailed",
    "BackupError",
    "BadSignature",
    "BlobAltered",
    "CasualtyRangeError",
    "ConfigError",
    "CorruptMedia",
    "DamagedMedia",
    "DeskError",
    "EnvelopeError",
    "FormError",
    "InputRefused",
    "IntakeAborted",
    "KeyFileError",
    "LedgerError",
    "MalformedEnvelope",
    "MalformedImport",
    "MalformedShard",
    "ManifestTooLarge",
    "MediaError",
    "MediaTooLarge",
    "MixedShards",
    "NotForThisRecipient",
    "NotFound",
    "PackageError",
    "PassphraseError",
    "PermissionDenied",
    "PublicationError",
    "PublishRefused",
    "QueryError",
    "RelayAuthError",
    "RelayError",
    "RelayLimitExceeded",
    "RelayProtocolError",
    "RelayUnreachable",
    "ResealedReport",
    "ReviewRefused",
    "ScrubError",
    "ShardError",
    "SignInRefused",
    "SijilError",
    "StoreError",
    "TamperedEnvelope",
    "TimestampError",
    "TooFewShards",
    "TruncatedEnvelope",
    "UnknownCode",
    "UnknownFormatVersion",
    "UnsafeAttachmentName",
    "UnsupportedFormat",
    "UnsupportedMedia",
    "VaultError",
    "VersionConflict",
]


class SijilError(Exception):
    """Root of every error sijil raises on purpose."""


class ConfigError(SijilError):
    """A setting, home folder or argument is wrong."""


class PassphraseError(SijilError):
    """No passphrase could be had, or it does not unlock the key."""


class KeyFileError(SijilError):
    """A key file or public-key file is missing, damaged or of the wrong kind."""


class EnvelopeError(SijilError):
    """An envelope cannot be opened or cannot be trusted."""


class NotForThisRecipient(EnvelopeError):
    """The envelope was sealed to a different desk key."""


class TamperedEnvelope(EnvelopeError):
    """Authentication failed: the ciphertext was changed."""


class TruncatedEnvelope(EnvelopeError):
    """The envelope ends before its last chunk."""


class UnknownFormatVersion(EnvelopeError):
    """The envelope uses a format version this sijil does not know."""


class MalformedEnvelope(EnvelopeError):
    """The envelope's structure does not parse."""


class ManifestTooLarge(EnvelopeError):
    """The manifest is larger than MAX_MANIFEST_BYTES."""


class UnsafeAttachmentName(EnvelopeError):
    """An attachment name could escape a folder or hide its nature."""


class BadSignature(EnvelopeError):
    """The manifest signature does not verify under the sender's key."""


class AttachmentHashMismatch(EnvelopeError):
    """An attachment's bytes do not match its manifest entry."""


class ResealedReport(EnvelopeError):
    """The same signed report arrived before inside a different envelope."""


class ShardError(SijilError):
    """Text shards cannot rebuild an envelope."""


class MalformedShard(ShardError):
    """A shard's header or body does not parse or fails its checksum."""


class TooFewShards(ShardError):
    """Fewer than k distinct shards of an envelope are present."""


class MixedShards(ShardError):
    """Shards of more than one envelope were given to one rebuild."""


class ScrubError(SijilError):
    """Identifying metadata cannot be removed from a file."""


class UnsupportedFormat(ScrubError):
    """The scrubber does not handle this file format."""


class CorruptMedia(ScrubError):
    """The file does not parse as the format its bytes claim."""


class MediaError(SijilError):
    """A photo or video cannot be fingerprinted."""


class UnsupportedMedia(MediaError):
    """The file is not an image or video format sijil can fingerprint."""


class DamagedMedia(MediaError):
    """The image or video data is truncated or corrupt."""


class MediaTooLarge(MediaError):
    """The file exceeds a named pixel, size or duration limit."""


class StoreError(SijilError):
    """The database refused or failed an operation."""


class NotFound(SijilError):
    """A named thing does not exist."""


class RelayError(SijilError):
    """A relay refused or failed a request; ``status`` is the HTTP status it maps to."""

    def __init__(self, message: str, *, status: int = 400) -> None:
        super().__init__(message)
        self.status = status


class RelayProtocolError(RelayError):
    """A malformed tus request, a wrong offset, a bad checksum or a body that is no envelope."""


class RelayAuthError(RelayError):
    """A request that is unsigned, replayed, expired or signed by the wrong key."""


class RelayLimitExceeded(RelayError):
    """A size, concurrency or rate limit was reached, or the spool is full."""


class RelayUnreachable(RelayError):
    """The relay could not be reached, or the connection was cut."""


class AlreadyRegistered(StoreError):
    """Another process registered the same envelope first; this one is a duplicate."""


class IntakeAborted(SijilError):
    """A failure of the machine or a service (disk full, database unreachable) stopped intake.

    Not the input's fault: nothing was quarantined for it, and the input was left
    where it was for the next import. The message is one line naming at most the
    input's file name, never a full path, a URL or content.
    """


class InputRefused(SijilError):
    """An input that is not a regular file (a link, FIFO, device) or is over a size limit.

    Refused before a byte is read, so a FIFO cannot hang a command and a link to
    ``/dev/zero`` cannot fill memory. The message names the file by its basename.
    """


class VaultError(SijilError):
    """A vault blob is missing or cannot be read."""


class BlobAltered(VaultError):
    """A vault blob fails authenticated decryption or does not hash to its address."""


class LedgerError(SijilError):
    """A ledger entry, proof or tree head does not check."""


class TimestampError(LedgerError):
    """An RFC 3161 timestamp cannot be obtained or does not verify."""


class PackageError(SijilError):
    """An evidence package is malformed or does not verify."""


class PublicationError(SijilError):
    """A published post, its signatures, the publication log or its checkpoint does not check."""


class AuditFailed(SijilError):
    """The desk audit found problems; each was reported before this is raised."""


class BackupError(SijilError):
    """A desk backup is damaged, cut short, of another desk or out of its chain."""


class DeskError(SijilError):
    """Desk work was refused: an incident, evidence link, assessment, place or actor."""


class UnknownCode(DeskError):
    """An incident code, assessment id, user, place, actor or report does not exist."""


class AmbiguousName(DeskError):
    """A place or actor name matches several records equally well; a code is needed."""


class PermissionDenied(DeskError):
    """No acting user was named, or the user lacks the role the action needs."""


class VersionConflict(DeskError):
    """A save was based on a version of the record that someone else has replaced."""


class ReviewRefused(DeskError):
    """A review the rules forbid: one's own work, a second review, a superseded assessment."""


class CasualtyRangeError(DeskError):
    """A casualty count is malformed, or its ranges contradict each other."""


class MalformedImport(DeskError):
    """An import file holds a record that cannot be read; the message names its position."""


class QueryError(DeskError):
    """A search query that cannot be run: too long, or too many words."""


class PublishRefused(DeskError):
    """The safety gate or a publishing rule refused a post; nothing was written."""


class SignInRefused(DeskError):
    """A web sign-in, enrolment or session refused; ``reason`` is a stable word for the UI.

    The reasons (sijil.desk.accounts): ``credentials`` (name, password or code wrong,
    never saying which), ``throttled`` (too many failures: wait), ``enrolment``
    (no valid enrolment code), ``password`` (a new password too short or too long),
    ``session`` (expired, revoked or unknown).
    """

    def __init__(self, message: str, *, reason: str) -> None:
        super().__init__(message)
        self.reason = reason


class FormError(DeskError):
    """A web form field or address part that is missing, too long, of the wrong kind or hostile.

    ``field`` names it (the form's own name for it), for the message in the reader's language.
    """

    def __init__(self, message: str, *, field: str) -> None:
        super().__init__(message)
        self.field = field
