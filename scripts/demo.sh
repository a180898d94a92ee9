#!/usr/bin/env bash
# `make demo`: a synthetic landing zone, then the whole chain through Airflow, each DAG run with
# `airflow dags test` in the order its Assets chain them (platform_exports_daily -> linkedin_profiles ->
# features_daily), then what was published: row counts, headline rates by arm, where the Parquet lives.
set -euo pipefail
demo_dir=${1:-demo}
scale=${2:-3000}
repo=$(cd "$(dirname "$0")/.." && pwd)
mkdir -p "$demo_dir"
demo_dir=$(cd "$demo_dir" && pwd)
bin="$repo/.venv/bin"

export AIRFLOW_HOME="$demo_dir/airflow"
export AIRFLOW__CORE__DAGS_FOLDER="$repo/dags"
export AIRFLOW__CORE__LOAD_EXAMPLES=False
export AIRFLOW_VAR_CREDSIGNAL_LANDING="$demo_dir/landing"
export AIRFLOW_VAR_CREDSIGNAL_LAKE="$demo_dir/lake"
export AIRFLOW_VAR_CREDSIGNAL_SPARK_MASTER="local[2]"
export SPARK_LOCAL_IP=127.0.0.1

run_dag() {  # run_dag DAG_ID LOGICAL_DATE [CONF]
  local log="$demo_dir/$1.log"
  local args=("$bin/airflow" dags test "$1" "$2")
  [[ -n "${3:-}" ]] && args+=(--conf "$3")
  if ! "${args[@]}" > "$log" 2>&1; then
    tail -40 "$log"
    echo "demo: the $1 run failed; full log: $log" >&2
    exit 1
  fi
  if grep -q "state=failed" "$log"; then
    grep -E "ERROR|Traceback|Error:" "$log" | tail -20
    echo "demo: a task of $1 failed; full log: $log" >&2
    exit 1
  fi
}

rm -rf "$demo_dir/landing" "$demo_dir/lake"
echo "== 1/5 synthetic landing zone: $scale learners, their exports and a LinkedIn crawl"
"$bin/credsignal" synth --landing "$demo_dir/landing" --scale "$scale" --seed 7

echo "== 2/5 Airflow metadata database in $AIRFLOW_HOME"
"$bin/airflow" db migrate > "$demo_dir/airflow-db.log" 2>&1

export_days=("$demo_dir"/landing/platform/learners/dt=*)  # a glob sorts ISO dates in order
first_day=${export_days[0]##*dt=}
last_day=${export_days[-1]##*dt=}
echo "== 3/5 platform_exports_daily: initial load of export days $first_day .. $last_day"
run_dag platform_exports_daily "${last_day}T00:00:00+00:00" "{\"since\": \"$first_day\", \"until\": \"$last_day\"}"
grep -oE "bronze (total|[a-z_]+): .*" "$demo_dir/platform_exports_daily.log" | sed 's/^/  /' || true

echo "== 4/5 linkedin_profiles: parse the crawl into silver"
run_dag linkedin_profiles "${last_day}T06:00:00+00:00"
grep -oE "silver profiles crawl=.*" "$demo_dir/linkedin_profiles.log" | sed 's/^/  /' || true

echo "== 5/5 features_daily: derive, validate, publish, readout"
run_dag features_daily "${last_day}T12:00:00+00:00"
grep -oE "validation run=.*" "$demo_dir/features_daily.log" | sed 's/^/  /' || true

echo
"$bin/credsignal" status --lake "$demo_dir/lake"
readout=$(ls -d "$demo_dir"/lake/curated/_snapshots/*/_readout/readout.html 2>/dev/null | tail -1 || true)
[[ -n "$readout" ]] && echo && echo "analyst readout: $readout"
echo "validation reports: $demo_dir/lake/_reports/validation/"
