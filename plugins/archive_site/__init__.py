"""The site's own public archive ("Hear real conversations") as an archive destination.

A conversation goes to the site's listening pages when both participants chose public and approved
its description; core serves its listening copy and lists it while that consent stands. Withdrawal
takes it off the pages and the podcast feed at once (core does that in the same request); this
destination's `withdraw` is then a formality that always succeeds.
"""

from __future__ import annotations

from typing import Any

from core.api import (
    ArchiveDestination,
    ArchivePackage,
    CheckResult,
    WithdrawalResult,
    hookimpl,
    platform,
    publish_recording,
    published_recording,
    unpublish_recording,
)


class SiteArchive(ArchiveDestination):
    """Publishes on this site's listening pages; needs both participants' public consent."""

    name = "site"
    label = "This site's listening pages"
    consent = "public"

    @property
    def institution(self) -> str:
        """This site, by name."""
        return f"{platform().settings.site.name} (this site)"

    def deposit(self, package: ArchivePackage) -> dict[str, Any]:
        """List the conversation on the public pages; the receipt names its public address."""
        publication = publish_recording(package)
        base = platform().settings.site.base_url.rstrip("/")
        return {"conversation_id": package.conversation_id, "slug": publication.slug,
                "url": f"{base}/listen/{publication.slug}", "checksum": package.checksum}

    def withdraw(self, receipt: dict[str, Any]) -> WithdrawalResult:
        """Take it off the pages (already done at once by core when consent was withdrawn)."""
        unpublish_recording(int(receipt["conversation_id"]))
        return WithdrawalResult(removed=True, message="Taken off this site's listening pages and feed.")

    def check(self, receipt: dict[str, Any]) -> CheckResult:
        """The publication exists and its file is in the blob store with the recorded size."""
        publication = published_recording(int(receipt["conversation_id"]))
        if publication is None:
            return CheckResult(ok=False, message="The conversation is not on the listening pages.")
        size = platform().blobs.size(publication.blob_key)
        if size != publication.size:
            return CheckResult(ok=False, message=f"The listening copy has {size} bytes, {publication.size} expected.")
        return CheckResult(ok=True, message="Listed, and its listening copy is intact.")


@hookimpl
def register_archive_destinations() -> list[ArchiveDestination]:
    """The site's own public archive."""
    return [SiteArchive()]
