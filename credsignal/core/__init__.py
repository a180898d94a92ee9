"""The bottom layer: what every step shares and nothing else.

`config` (the one Config), `lake` (every path of the lake and the landing zone), `contracts` (every table's
columns, types, enums and descriptions), `spark` (the session), `spark_submit` (running a job on a cluster),
`storage` (atomic writes and the writer lock), `privacy` (pseudonymous keys), `pages` (HTML pages). Nothing
here imports a module above it.
"""
