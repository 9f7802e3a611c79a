"""Policies as data: see model.py (what a policy holds) and loader.py (files, validation, dates)."""

from clinic.policy.loader import all_policies, load_policy, resolve_policy
from clinic.policy.model import MissingSetting, Policy, PolicyError, period_days, period_end

__all__ = ["MissingSetting", "Policy", "PolicyError", "all_policies", "load_policy", "period_days",
           "period_end", "resolve_policy"]
