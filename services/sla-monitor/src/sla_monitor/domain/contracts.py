"""Customer contracts: which of a contract's rules sets a target for a contact.

A decision names the customer's contract (`contract_id`, from the customer record via
profile-lookup and the router). For each target, the most specific of the contract's
rules that matches the contact's channel and priority and sets that target wins (the
earlier rule on a tie), before any rule of the policy; a target no contract rule sets,
or a channel none names, comes from the tier rules and the default as for anyone. A
contract the policy does not define counts as none: the contact keeps its tier's targets
and the service counts it (`switchboard_sla_unknown_contracts_total`).
"""

from __future__ import annotations

from sla_monitor.domain.policy import ContractRuleSpec, ContractSpec, TargetSpec
from switchboard_events import Channel, SlaTarget


def contract_rules(
    contract: ContractSpec, target: SlaTarget, channel: Channel, priority_label: str
) -> list[tuple[ContractRuleSpec, TargetSpec]]:
    """The contract's rules that match the contact, with what each sets for `target`, the
    winner first."""
    found = [
        (i, rule, spec)
        for i, rule in enumerate(contract.rules)
        if (spec := rule.get(target)) is not None
        and (rule.match.channel is None or channel in rule.match.channel)
        and (rule.match.priority is None or priority_label in rule.match.priority)
    ]
    found.sort(key=lambda f: (-f[1].match.specificity, f[0]))
    return [(rule, spec) for _, rule, spec in found]
