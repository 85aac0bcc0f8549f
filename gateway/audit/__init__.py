"""The audit trail: append-only, hash-chained, fsync'd JSON lines with signed checkpoints.

    chain       record hashes: each record commits to the one before it
    segments    segment files, line reading, atomic small-file writes
    checkpoint  HMAC-signed checkpoints and the head file that remembers the newest
    guard       refuses records that name a credential
    recovery    where an existing log stands; repairs a crash's torn last line
    writer      AuditLog: durable appends with group commit, rotation, checkpoints
    verify      verify(): the first broken record, truncation, forged checkpoints;
                verify_all(): every chain (writer) of one or several directories
    scan        one segment's ordinary records checked on their stored bytes
    walk        the record-by-record checks (verify's state machine)
    report      VerifyReport, Problem, Location
    index_verify  every chain re-verified from the Elasticsearch audit index
    query       search / show / exposure over the local segments (CLI, admin API)
    spool       a consumer's cursor over the segments (complete, durable lines only)
    shipper     AuditShipper: bulk-index the spool into ``<prefix>-audit``
    cli         ``gateway audit verify|show|search|exposure``

The shipper is imported from ``gateway.audit.shipper``: importing this package or its
CLI does not load the Elasticsearch client.
"""

from gateway.audit.chain import GENESIS_HASH, record_hash
from gateway.audit.query import SearchFilters, exposure, search, show
from gateway.audit.verify import Location, Problem, VerifyReport, verify, verify_all
from gateway.audit.writer import AuditLog

__all__ = [
    "GENESIS_HASH",
    "AuditLog",
    "Location",
    "Problem",
    "SearchFilters",
    "VerifyReport",
    "exposure",
    "record_hash",
    "search",
    "show",
    "verify",
    "verify_all",
]
