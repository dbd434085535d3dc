"""Small dialplans the apply-path tests share (the CRM history tests and the web editor tests)."""

from __future__ import annotations

PLAN = """\
timezone: Europe/Moscow
extensions:
  "101": {{name: {name}, user: ivanov}}
  "102": {{name: Petr Petrov, user: petrov}}
groups:
  sales: {{members: ["101", "102"]}}
trunks:
  main: {{host: sip.example.net, numbers: ["+74951234567"]}}
inbound:
  - {{number: "+74951234567", to: "group:sales"}}
"""

INVALID = """\
timezone: Europe/Moscow
extensions:
  "101": {name: Ivan Ivanov, mobile: "not a number"}
"""


def plan(name: str = "Ivan Ivanov") -> str:
    """A valid plan; different names give different texts."""
    return PLAN.format(name=name)
