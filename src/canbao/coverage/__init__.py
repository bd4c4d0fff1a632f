"""Coverage and compliance: status per scheme, segments, gap work lists, duplicates, the
deceased, employer compliance, statistics and the plan's enrolment actuals."""
