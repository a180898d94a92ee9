"""`python -m jobs.features ...`: the feature job (jobs.features.job.main)."""

from jobs.features.job import main

raise SystemExit(main())
