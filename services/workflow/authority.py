"""Who may act on a step: the officers holding its role at its agency.

Each step of a procedure's process names a role (``services.catalogue.procedures``
``StepRole``): the one-stop officer (mot_cua), the specialist (chuyen_vien), the leader
(lanh_dao). An officer's token names the roles they hold (``step_roles``). Claiming,
completing, approving and rejecting the current step need its role; assigning it to a
colleague needs its role or the agency's leader's. The agency is checked before
(``WorkflowBase._at_agency``).

Assigning a step to another officer also needs the directory (intake's record of
agencies and officers, consumed into workflow's store: ``motcua.runtime.directory``) to
list that officer at the step's agency with the step's role (``check_assignee``). An
agency the directory lists no officer at takes no assignments: its officers claim their
steps for themselves, by their tokens' roles, until an administrator enters them.

A token without ``step_roles`` holds none, so it may do none of these: the identity
provider must say what an officer may do, never the absence of a claim
(docs/architecture.md, "Who may act on a step").
"""

from __future__ import annotations

from typing import Any

from motcua.core.errors import Forbidden, Invalid
from motcua.runtime import directory
from motcua.runtime.store import Store
from motcua.web.auth import Caller
from services.catalogue.procedures import LEADER


def acting_role(
    caller: Caller, step: dict[str, Any], action: str, *, assigning: bool = False
) -> str:
    """The step role ``caller`` acts in on ``step``, or ``Forbidden`` naming the role
    needed and the caller's roles.

    ``assigning``: the caller names another officer to do the step; the leader of the
    agency may, without holding the step's role."""
    needed: str = step["role"]
    if needed in caller.step_roles:
        return needed
    if assigning and LEADER in caller.step_roles:
        return LEADER
    needs = [needed] if not assigning or needed == LEADER else [needed, LEADER]
    yours = ", ".join(caller.step_roles) or "none (the token carries no step_roles)"
    raise Forbidden(
        f"to {action} step {step['id']} ({step['name']}) you need the step role "
        f"{' or '.join(needs)}; your step roles: {yours}",
        details=[{"step": step["id"], "needed": needs, "step_roles": list(caller.step_roles)}],
    )


def check_assignee(store: Store, officer: str, agency: str, step: dict[str, Any]) -> None:
    """``Invalid`` unless the directory lists ``officer`` at ``agency`` with the role of
    ``step``, saying what it lists instead."""
    needed: str = step["role"]
    what = f"step {step['id']} ({step['name']}) needs the step role {needed} at {agency}"
    entry = directory.officer(store, officer)
    if entry is None and not directory.lists_officers_at(store, agency):
        problem = (
            f"the directory lists no officers at agency {agency}: its steps cannot be "
            "assigned until an administrator enters them (PUT /v1/directory/officers/{sub}); "
            "an officer holding the role may claim the step"
        )
    elif entry is None:
        problem = f"the directory does not list officer {officer}"
    elif entry["agency_code"] != agency:
        problem = f"the directory lists officer {officer} at agency {entry['agency_code']}"
    elif needed not in entry["step_roles"]:
        held = ", ".join(entry["step_roles"])
        problem = f"the directory lists officer {officer} at {agency} as {held}"
    else:
        return
    raise Invalid(
        f"cannot assign to {officer}: {what}, and {problem}",
        details=[{"officer": officer, "agency": agency, "needed": needed, "listed": entry}],
    )
