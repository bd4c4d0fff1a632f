"""Cases (个案): every row of a work list becomes a case that can close — assigned, contacted,
resolved with a coded outcome or escalated, verified against the next builds' data, worked in
Excel by the county offices, counted for supervision. Kept in the store (``canbao.store``);
see ``docs/cases.md``.

Modules, named after the domain:

- :mod:`.kinds` — case kinds, the stable key, how a list's rows become cases;
- :mod:`.outcomes` — the one table of coded outcomes (Chinese labels, what each needs, which the
  data can confirm);
- :mod:`.lifecycle` — states, the transition table, the staff's steps, reads;
- :mod:`.opening` — :func:`open_cases`: set-based opening, carrying and verification by data;
- :mod:`.workbook` — the Excel round trip;
- :mod:`.progress` — counts per county, township, kind and assignee; the uninsured split;
- :mod:`.review` — the registry's review queue as cases (kind ``review``);
- :mod:`.arrears` — the ledger's arrears as cases (kind ``arrears``, per employer and scheme);
- :mod:`.effects` — what resolving does outside the case (a review pair's decision);
- :mod:`.lists` — :func:`work_lists`: every list cases are opened from.

```python
from canbao import cases
r = cases.open_cases(store, scope, cases.work_lists(data_dir, scope, store), build_id)
c = cases.assign(store, actor, scope, case_id, user="li_county", version=v)
c = cases.resolve(store, actor, scope, case_id, "已参保", on=date, reason="城乡居民医疗",
                  version=c.version)
cases.export_workbook(store, scope, county, None, Path("cases.xlsx"))
result = cases.import_workbook(store, actor, scope, Path("cases.xlsx"), data_dir=data_dir)
p = cases.progress(store, scope, sla_days=30)
```
"""

from canbao.cases.arrears import arrears_list
from canbao.cases.kinds import KINDS
from canbao.cases.lifecycle import (
    STATE_LABELS,
    TRANSITIONS,
    CaseView,
    assign,
    contact,
    escalate,
    get_case,
    list_cases,
    reopen,
    resolve,
)
from canbao.cases.lists import work_lists
from canbao.cases.opening import OpenResult, open_cases
from canbao.cases.outcomes import OUTCOMES
from canbao.cases.progress import Progress, progress, uninsured_outcomes, uninsured_split
from canbao.cases.review import decide_pair, review_list
from canbao.cases.workbook import ImportResult, Rejection, export_workbook, import_workbook

__all__ = [
    "KINDS",
    "OUTCOMES",
    "STATE_LABELS",
    "TRANSITIONS",
    "CaseView",
    "ImportResult",
    "OpenResult",
    "Progress",
    "Rejection",
    "arrears_list",
    "assign",
    "contact",
    "decide_pair",
    "escalate",
    "export_workbook",
    "get_case",
    "import_workbook",
    "list_cases",
    "open_cases",
    "progress",
    "reopen",
    "resolve",
    "review_list",
    "uninsured_outcomes",
    "uninsured_split",
    "work_lists",
]
