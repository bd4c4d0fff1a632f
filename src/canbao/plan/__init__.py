"""The plan: targets per unit × indicator × period, groups, phases, progress, ranking, 通报.

Modules: :mod:`units`, :mod:`indicators`, :mod:`model`, :mod:`catalog` (shipped plans),
:mod:`xlsx_io` (附件1 import/template), :mod:`actuals` (the actuals seam), :mod:`progress`,
:mod:`ranking`, :mod:`narrative`, :mod:`report` (xlsx, HTML, PDF). See docs/plan.md.
"""
