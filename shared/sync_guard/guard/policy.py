"""Per-rule outcomes: each rule's default, overridden by the ``SYNC_GUARD_RULE_POLICY`` JSON setting.

``{"NAME_DRIFT": "flag", "EMAIL_MISMATCH": "allow"}`` makes name drift notify finance without holding the
record, and silences email mismatches (they are still audited). Unknown codes and outcomes are configuration
errors at cold start, not surprises at 2 a.m.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from sync_guard.errors import ConfigurationError
from sync_guard.guard.model import Decision
from sync_guard.rules.base import Rule
from sync_guard.rules.catalogue import RULES

OUTCOMES = (Decision.ALLOW, Decision.FLAG, Decision.QUARANTINE)


@dataclass(frozen=True)
class Policy:
    outcomes: Mapping[str, Decision] = field(default_factory=dict)

    @classmethod
    def build(cls, overrides: Mapping[str, str] | None = None, rules: Iterable[Rule] = RULES) -> Policy:
        outcomes = {rule.code: rule.default_decision for rule in rules}
        for code, value in (overrides or {}).items():
            if code not in outcomes:
                raise ConfigurationError(f"rule_policy names an unknown rule {code!r}", field="rule_policy")
            try:
                decision = Decision(str(value).strip().lower())
            except ValueError as error:
                raise ConfigurationError(
                    f"rule_policy[{code}] must be allow, flag or quarantine", field="rule_policy"
                ) from error
            if decision not in OUTCOMES:
                raise ConfigurationError(
                    f"rule_policy[{code}] must be allow, flag or quarantine", field="rule_policy"
                )
            outcomes[code] = decision
        return cls(outcomes)

    def outcome(self, code: str) -> Decision:
        return self.outcomes.get(code, Decision.FLAG)
