"""The catalogue: every rule, in the order findings are listed. Codes are stable; never rename one."""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from sync_guard.rules.base import Rule
from sync_guard.rules.both_sides_created import BothSidesCreated
from sync_guard.rules.broken_mapping import BrokenMapping
from sync_guard.rules.created_in_books import CreatedInBooks
from sync_guard.rules.crm_merge_orphan import CrmMergeOrphan
from sync_guard.rules.crossed_mapping import CrossedMapping
from sync_guard.rules.display_name_collision import DisplayNameCollision
from sync_guard.rules.double_link import DoubleLink
from sync_guard.rules.email_mismatch import EmailMismatch
from sync_guard.rules.mapping_moved import MappingMoved
from sync_guard.rules.mixed_mapping import MixedMapping
from sync_guard.rules.multiplication_storm import MultiplicationStorm
from sync_guard.rules.name_drift import NameDrift
from sync_guard.rules.partner_deleted import PartnerDeleted
from sync_guard.rules.recreated_after_delete import RecreatedAfterDelete
from sync_guard.rules.same_side_duplicate import SameSideDuplicate

RULES: tuple[Rule, ...] = (
    MultiplicationStorm(),
    RecreatedAfterDelete(),
    BrokenMapping(),
    DoubleLink(),
    MixedMapping(),
    NameDrift(),
    BothSidesCreated(),
    PartnerDeleted(),
    CrmMergeOrphan(),
    CrossedMapping(),
    MappingMoved(),
    EmailMismatch(),
    DisplayNameCollision(),
    SameSideDuplicate(),
    CreatedInBooks(),
)

BY_CODE: Mapping[str, Rule] = MappingProxyType({rule.code: rule for rule in RULES})
