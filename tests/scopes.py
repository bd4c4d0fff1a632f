"""The scope the tests read with: the whole city, named (canbao.warehouse.scope.Scope.system)."""

from canbao.warehouse.scope import Scope

SYSTEM = Scope.system("tests")
