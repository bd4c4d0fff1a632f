"""From a signed-in user to the :class:`~canbao.warehouse.scope.Scope` every read takes.

A county user's scope holds their counties' division codes and every code that counts for them
in the region profile (:meth:`canbao.profile.Profile.area_units`: retired codes, pooling areas):
records coded 360421 belong to the county that replaced it. City-wide roles get ``None`` (the
whole city). What the role may see comes from the permission table (:mod:`.roles`):
``person.read`` (masked personal data), ``person.reveal`` (full ID, phone, address).
"""

from __future__ import annotations

from canbao.profile import Profile
from canbao.store import roles
from canbao.store.accounts import Actor
from canbao.warehouse.scope import Scope


def scope_for(actor: Actor, profile: Profile) -> Scope:
    counties: frozenset[str] | None = None
    if actor.counties:
        mine = set(actor.counties)
        areas = {area for area, unit in profile.area_units().items() if unit in mine}
        counties = frozenset(mine | areas)
    return Scope(
        actor.name,
        actor.role,
        counties,
        personal=roles.can(actor.role, "person.read"),
        reveal=roles.can(actor.role, "person.reveal"),
        client=actor.client,
    )
