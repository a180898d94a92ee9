"""The doors: each turns its input into a Config and calls credsignal.pipeline.

`cli` (argv), `airflow_tasks` (a task's context; with `assets` and `lineage`, what the DAGs meet at and what they
report), `spark_submit` (the application spark-submit runs), `status` (a lake's tables at a glance).
"""
