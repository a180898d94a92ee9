"""bench/bench_chain.py: the generator runs in a child process, so its memory is never counted as the driver's."""

import pytest


@pytest.fixture(scope="module")
def bench_chain(bench_script):
    return bench_script("bench_chain")


def test_the_generator_runs_in_a_child_and_writes_what_it_writes_in_process(tmp_path, bench_chain):
    import resource

    import synth.platform

    expected = synth.platform.generate(tmp_path / "in_process", n_learners=300, seed=3)
    children_before = resource.getrusage(resource.RUSAGE_CHILDREN)
    summary, peak_mib = bench_chain.generate_in_child(tmp_path / "child", n_learners=300, seed=3)
    children_after = resource.getrusage(resource.RUSAGE_CHILDREN)

    # Run in this process, the generation would leave the CPU time of this process's ended children unchanged.
    assert children_after.ru_utime > children_before.ru_utime
    assert peak_mib > 0
    assert (summary.clean_rows, summary.extra_lines, summary.part_files, summary.profiles) == (
        expected.clean_rows, expected.extra_lines, expected.part_files, expected.profiles)
    files = {root: sorted(str(p.relative_to(tmp_path / root)) for p in (tmp_path / root).rglob("*") if p.is_file())
             for root in ("in_process", "child")}
    assert files["child"] == files["in_process"] != []
