"""Long fuzz run of parsers.linkedin.parse_profile: crashes, hangs and peak memory over many hostile inputs.

Input number N is rebuilt from (seed, N) alone: a mutation of a real sample page or vendor record from
../shared/linkedin_samples (read from there, never copied; mutators in tests/parser_mutations.py), or generated
junk (random bytes, tag soup, JSON of the wrong types). One worker process parses the inputs one by one; this
process only hands it the numbers and waits, so a hang is caught even inside lxml's C code: a worker that gives
no answer within --timeout seconds is killed, the input is recorded as a hang, and a fresh worker goes on.

A crash is an exception out of parse_profile, an ``internal_error`` status, a result that breaks the output
contract (parsers.linkedin.result.contract_violations), or a worker that died. Peak memory is the largest
RSS high-water mark of any worker. Replay one input in this process with ``--replay N``.

    .venv/bin/python bench/fuzz_parser.py [--inputs 100000] [--seed 17] [--timeout 5] [--json fuzz.json]
"""

from __future__ import annotations

import argparse
import json
import multiprocessing
import os
import platform
import random
import resource
import sys
import time
import traceback
from collections import Counter
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO_ROOT))
sys.path.insert(0, str(REPO_ROOT / "tests"))

import parser_mutations as mutations  # noqa: E402  (path set up above for direct script runs)
from parsers.linkedin import parse_profile  # noqa: E402
from parsers.linkedin.result import contract_violations  # noqa: E402

DEFAULT_SAMPLES = REPO_ROOT / ".." / "shared" / "linkedin_samples"
CONTENT_TYPES = ("text/html", "text/html", "text/html", "", "application/json", "text/html; charset=zlib", 5, None)
# Share of inputs per family: mutated real pages, mutated vendor records, generated junk.
FAMILY_WEIGHTS = {"page": 0.5, "vendor": 0.2, "junk": 0.3}
# Chance of each sample folder's pages among the mutated pages: mostly the 2023 guest layout (the crawl's), less
# of the 0.6-1 MB logged-in pages (each costs 3-5 guest pages) and of the legacy pages (recognised, not parsed).
PAGE_FOLDER_WEIGHTS = {"guest_2023": 6.0, "loggedin_2022": 1.0, "guest_legacy_2015": 2.0}


def load_corpus(samples: Path) -> dict[str, list]:
    paths = sorted(samples.glob("*/*.html"))
    pages = [path.read_bytes() for path in paths]
    records = [record for path in sorted(samples.glob("json_brightdata/*.json"))
               for record in json.loads(path.read_bytes())]
    if not pages or not records:
        raise SystemExit(f"no sample pages or vendor records under {samples.resolve()}")
    return {"pages": pages, "page_weights": [PAGE_FOLDER_WEIGHTS.get(path.parent.name, 1.0) for path in paths],
            "records": records}


def make_input(corpus: dict[str, list], seed: int, index: int) -> tuple[str, bytes, Any]:
    """(kind, body, content_type) of input number ``index``: the same for the same seed, on any machine."""
    rng = random.Random(f"{seed}:{index}")
    family = rng.choices(list(FAMILY_WEIGHTS), weights=list(FAMILY_WEIGHTS.values()))[0]
    if family == "page":
        body = rng.choices(corpus["pages"], weights=corpus["page_weights"])[0]
        names = []
        for _ in range(rng.choice((1, 1, 2, 3))):
            mutator = rng.choice(mutations.PAGE_MUTATORS)
            names.append(mutator.__name__)
            body = mutations.mutate_page(body, rng, mutator, corpus["pages"])
        content_type = "text/html" if rng.random() < 0.9 else rng.choice(CONTENT_TYPES)
        return "page:" + "+".join(names), body, content_type
    if family == "vendor":
        kind = rng.choice(("wrong_types", "wrong_types", "truncated", "nested", "list"))
        record = mutations.mutate_json_record(rng.choice(corpus["records"]), rng, rng.choice((0.01, 0.1, 0.5)))
        if kind == "nested":
            body = mutations.nested_json(rng.choice((10, 500, 990, 5000, 200_000)))
        elif kind == "list":
            body = mutations.json_body([record, record] if rng.random() < 0.5 else [record])
        else:
            body = mutations.json_body(record)
            body = body[: rng.randrange(len(body) + 1)] if kind == "truncated" else body
        return f"vendor:{kind}", body, "application/json"
    kind = rng.choice(("bytes", "markup", "json_value"))
    if kind == "bytes":
        body = mutations.junk_bytes(rng)
    elif kind == "markup":
        body = mutations.junk_markup(rng)
    else:
        body = mutations.json_body(mutations.junk_json_value(rng))
    return f"junk:{kind}", body, rng.choice(CONTENT_TYPES)


def check(body: bytes, content_type: Any) -> tuple[str, str | None, list[str]]:
    """(status, reason, problems) of one input; problems is empty when the parser behaved."""
    try:
        result = parse_profile(body, content_type)
    except BaseException as error:  # noqa: BLE001  (anything escaping is exactly what is counted)
        return "exception", f"{type(error).__name__}: {traceback.format_exc(limit=-1).strip()[-300:]}", ["raised"]
    problems = contract_violations(result)
    if (result.get("reason") or "").startswith("internal_error"):
        problems.append(result["reason"])
    return result.get("status"), result.get("reason"), problems


def _worker(connection, samples: str, seed: int) -> None:
    """Parse the inputs of each batch of numbers received, answering after each one; None asks for the peak RSS."""
    corpus = load_corpus(Path(samples))
    while True:
        batch = connection.recv()
        if batch is None:
            connection.send(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss)
            return
        for index in batch:
            kind, body, content_type = make_input(corpus, seed, index)
            started = time.perf_counter()
            status, reason, problems = check(body, content_type)
            connection.send((index, kind, len(body), status, reason, problems, time.perf_counter() - started,
                             resource.getrusage(resource.RUSAGE_SELF).ru_maxrss))


class Worker:
    def __init__(self, context, samples: Path, seed: int) -> None:
        self.connection, child_end = context.Pipe()
        self.process = context.Process(target=_worker, args=(child_end, str(samples), seed), daemon=True)
        self.process.start()
        child_end.close()

    def stop(self) -> int | None:
        """Ask for the worker's peak RSS (KiB) and let it exit; None if it cannot answer."""
        peak = None
        try:
            self.connection.send(None)
            if self.connection.poll(30):
                peak = self.connection.recv()
        except (BrokenPipeError, EOFError, OSError):
            pass
        self.process.join(30)
        self.kill()
        return peak

    def kill(self) -> None:
        if self.process.is_alive():
            self.process.kill()
        self.process.join()
        self.connection.close()


class Tally:
    def __init__(self) -> None:
        self.by_family: Counter[str] = Counter()
        self.by_status: Counter[str] = Counter()
        self.crashes: list[dict[str, Any]] = []
        self.hangs: list[dict[str, Any]] = []
        self.durations: list[float] = []
        self.slowest: tuple[float, int, str] = (0.0, -1, "")
        self.bytes_parsed = 0
        self.peak_rss_kib = 0

    def add(self, reply: tuple) -> None:
        index, kind, size, status, reason, problems, seconds, peak_rss_kib = reply
        self.peak_rss_kib = max(self.peak_rss_kib, peak_rss_kib)
        self.by_family[kind.split("+")[0]] += 1
        self.by_status["ok" if status == "ok" else f"{status}/{reason}"] += 1
        self.durations.append(seconds)
        self.bytes_parsed += size
        if seconds > self.slowest[0]:
            self.slowest = (seconds, index, kind)
        if problems:
            self.crashes.append({"index": index, "kind": kind, "status": status, "reason": reason,
                                 "problems": problems[:5]})


def figures(tally: Tally, inputs: int, seed: int, timeout: float, wall: float, load_before: tuple) -> dict:
    durations = sorted(tally.durations)
    done = len(durations) + len(tally.hangs) + sum(1 for crash in tally.crashes if "kind" not in crash)
    return {
        "inputs": inputs,
        "done": done,
        "complete": done == inputs,
        "seed": seed,
        "timeout_s": timeout,
        "crashes": len(tally.crashes),
        "hangs": len(tally.hangs),
        "crash_examples": tally.crashes[:20],
        "hang_examples": tally.hangs[:20],
        "wall_s": round(wall, 1),
        "inputs_per_s": round(done / wall, 1),
        "mib_parsed": round(tally.bytes_parsed / 2**20, 1),
        "parse_s_median": round(durations[len(durations) // 2], 5) if durations else None,
        "parse_s_p99": round(durations[int(len(durations) * 0.99)], 4) if durations else None,
        "parse_s_max": round(tally.slowest[0], 3),
        "slowest_input": {"index": tally.slowest[1], "kind": tally.slowest[2]},
        "worker_peak_rss_mib": round(tally.peak_rss_kib / 1024, 1),
        "by_family": dict(tally.by_family.most_common()),
        "by_status": dict(tally.by_status.most_common()),
        "load_before": [round(value, 2) for value in load_before],
        "load_after": [round(value, 2) for value in os.getloadavg()],
        "machine": {"python": platform.python_version(), "platform": platform.platform(),
                    "cpus": os.cpu_count(), "processor": platform.processor() or platform.machine()},
    }


def run(inputs: int, seed: int, timeout: float, samples: Path, progress_every: int, json_path: Path | None,
        batch_size: int = 64) -> dict:
    """Parse inputs 0..inputs-1 in one worker; a worker silent for ``timeout`` s on one input is a hang.

    Every ``progress_every`` inputs a line is printed and the figures so far are written to ``json_path``.
    """
    load_corpus(samples)  # fail early, naming the folder, before any worker starts
    context = multiprocessing.get_context("spawn")
    load_before = os.getloadavg()
    started = time.perf_counter()
    worker = Worker(context, samples, seed)
    tally = Tally()
    pending = list(range(inputs))[::-1]  # a stack: pop() gives the next number
    done = 0
    while pending:
        batch = [pending.pop() for _ in range(min(batch_size, len(pending)))]
        worker.connection.send(batch)
        for position, index in enumerate(batch):
            try:
                reply = worker.connection.recv() if worker.connection.poll(timeout) else None
                problem = None if reply is not None else "hang"
            except (EOFError, OSError) as error:
                reply, problem = None, f"worker died ({type(error).__name__}, exit code {worker.process.exitcode})"
            if reply is None:
                if problem == "hang":
                    tally.hangs.append({"index": index, "seconds": timeout})
                else:
                    tally.crashes.append({"index": index, "problems": [problem]})
                pending.extend(batch[position + 1:][::-1])
                worker.kill()
                worker = Worker(context, samples, seed)
                done += 1
                break
            tally.add(reply)
            done += 1
            if progress_every and done % progress_every == 0:
                elapsed = time.perf_counter() - started
                print(f"  {done:,} inputs, {elapsed:,.0f} s, {done / elapsed:,.0f}/s, crashes {len(tally.crashes)}, "
                      f"hangs {len(tally.hangs)}, worker peak RSS {tally.peak_rss_kib / 1024:,.0f} MiB, "
                      f"load {os.getloadavg()[0]:.1f}", flush=True)
                if json_path:
                    json_path.write_text(json.dumps(
                        figures(tally, inputs, seed, timeout, elapsed, load_before), indent=2) + "\n")
    worker.stop()
    # The RSS high-water mark of workers killed after a hang: the largest of the ended children.
    tally.peak_rss_kib = max(tally.peak_rss_kib, resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss)
    return figures(tally, inputs, seed, timeout, time.perf_counter() - started, load_before)


def replay(index: int, seed: int, samples: Path) -> int:
    kind, body, content_type = make_input(load_corpus(samples), seed, index)
    print(f"input {index}: {kind}, {len(body):,} bytes, content type {content_type!r}")
    started = time.perf_counter()
    result = parse_profile(body, content_type)
    print(f"status {result['status']} reason {result['reason']} in {time.perf_counter() - started:.3f} s; "
          f"contract problems: {contract_violations(result)}")
    return 0


def main(argv: list[str] | None = None) -> int:
    arguments = argparse.ArgumentParser(prog="bench/fuzz_parser.py", description=__doc__,
                                        formatter_class=argparse.RawDescriptionHelpFormatter)
    arguments.add_argument("--inputs", type=int, default=100_000)
    arguments.add_argument("--seed", type=int, default=17)
    arguments.add_argument("--timeout", type=float, default=5.0, help="seconds per input before it is a hang")
    arguments.add_argument("--samples", type=Path, default=DEFAULT_SAMPLES)
    arguments.add_argument("--progress-every", type=int, default=10_000)
    arguments.add_argument("--json", type=Path, help="also write the figures here")
    arguments.add_argument("--replay", type=int, help="parse input number N in this process and print its status")
    options = arguments.parse_args(argv)
    if options.replay is not None:
        return replay(options.replay, options.seed, options.samples)
    result = run(options.inputs, options.seed, options.timeout, options.samples, options.progress_every,
                 options.json)
    print(json.dumps(result, indent=2))
    if options.json:
        options.json.write_text(json.dumps(result, indent=2) + "\n")
    return 0 if result["crashes"] == 0 and result["hangs"] == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
