#!/usr/bin/python3
"""The oracle of tests/jobs/cron_schedule_test.cc: Debian's python3-croniter. Reads lines
"EXPRESSION<TAB>START_EPOCH<TAB>COUNT" and prints, for each, the next COUNT run times after START
in UTC as epoch seconds on one line, or "error" when croniter refuses the expression."""
import datetime
import sys

import croniter

for line in sys.stdin:
    expr, start, count = line.rstrip("\n").split("\t")
    try:
        it = croniter.croniter(expr, datetime.datetime.fromtimestamp(int(start), datetime.timezone.utc))
        print(" ".join(str(int(it.get_next(float))) for _ in range(int(count))))
    except (croniter.CroniterError, ValueError, KeyError):
        print("error")
    sys.stdout.flush()
