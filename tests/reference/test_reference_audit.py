import csv
import io

from credsignal.reference.audit import classify_degrees_csv, classify_titles_csv


def test_titles_csv():
    out = io.StringIO()
    written = classify_titles_csv(["Data Analyst\n", "\n", "Estagiário, TI\n", "Teacher"], out)
    rows = list(csv.reader(io.StringIO(out.getvalue())))
    assert written == 3
    assert rows == [
        ["text", "tech", "managerial", "internship", "in_scope"],
        ["Data Analyst", "1", "0", "0", "1"],
        ["Estagiário, TI", "1", "0", "1", "1"],
        ["Teacher", "0", "0", "0", "0"],
    ]


def test_degrees_csv():
    out = io.StringIO()
    classify_degrees_csv(["MSc Economics\n", "Mathematics\n", "PhD, MBA"], out)
    assert out.getvalue().splitlines() == ["text,level", "MSc Economics,master", "Mathematics,none", '"PhD, MBA",doctor']
