"""The region profile: what "the city" is, as data (one file per city; docs/profile.md).

```python
from canbao import profile
p = profile.load_profile("jiujiang")            # shipped, or a path to a .json / .toml file
p.counties, p.units, p.area_units(), p.letterhead
profile.profile_for(data_dir, "jiujiang").profile  # checked against DATA/region-profile.json
```

Everything that names a county, a plan unit or the bureau reads it from here; no other module
names a city's codes or places. The profile sits just above :mod:`canbao.standards` (it checks
codes against the GB/T 2260 table) and below everything that uses it.
"""

from canbao.profile.datadir import (
    Binding,
    Record,
    in_use,
    profile_for,
    read_record,
    remember,
    use_profile,
)
from canbao.profile.loader import (
    DEFAULT_PROFILE,
    ENV,
    FORMAT,
    default_profile,
    is_path,
    load_file,
    load_profile,
    parse,
    shipped,
    shipped_names,
)
from canbao.profile.model import (
    CITY,
    CITY_LEVEL,
    Agency,
    AgencyMatch,
    City,
    County,
    Letterhead,
    PoolingArea,
    Profile,
    Unit,
    name_key,
    record_unit,
)

__all__ = [
    "CITY",
    "CITY_LEVEL",
    "DEFAULT_PROFILE",
    "ENV",
    "FORMAT",
    "Agency",
    "AgencyMatch",
    "Binding",
    "City",
    "County",
    "Letterhead",
    "PoolingArea",
    "Profile",
    "Record",
    "Unit",
    "default_profile",
    "in_use",
    "is_path",
    "load_file",
    "load_profile",
    "name_key",
    "parse",
    "profile_for",
    "read_record",
    "record_unit",
    "remember",
    "shipped",
    "shipped_names",
    "use_profile",
]
