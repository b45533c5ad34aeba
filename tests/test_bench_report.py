"""The bench's table (bench/report.py): every figure with its ceiling, ratio, target and
verdict, the machine and its load, as text and as Markdown."""

from bench.report import Machine, Report, Row, cpu_model, ratio_met, render_markdown, render_text

CPUINFO = """\
processor\t: 0
vendor_id\t: AuthenticAMD
model name\t: AMD EPYC 7B13
processor\t: 1
model name\t: AMD EPYC 7B13
"""


def _report() -> Report:
    report = Report(Machine(2, "AMD EPYC 7B13", "Linux 6"), (1.5, 1.0, 0.5), (2.25, 1.0, 0.5))
    report.add(Row("GET /give/", "1,200 req/s", "4,000 req/s", 0.3, ">= 0.30", True))
    report.add(Row("support | block", "0 queries", "", None, "<= 0 queries", False))
    report.add(Row("GET /healthz", "900 req/s", "4,000 req/s", 0.225, ">= 0.50", None))
    return report


def test_the_cpu_model_is_read_from_proc_cpuinfo():
    assert cpu_model(CPUINFO) == "AMD EPYC 7B13"


def test_a_ratio_meets_its_target_at_the_target_itself():
    assert ratio_met(0.30, 0.30) is True
    assert ratio_met(0.2999, 0.30) is False
    assert ratio_met(None, 0.30) is None


def test_text_table_has_a_row_per_figure_with_ratio_and_verdict():
    text = render_text(_report())
    lines = text.splitlines()
    assert lines[0] == "Machine: 2 CPUs, AMD EPYC 7B13 (Linux 6)"
    assert "1.50 1.00 0.50 at the start, 2.25 1.00 0.50 at the end" in lines[1]
    header = next(line for line in lines if line.startswith("figure"))
    assert header.split() == ["figure", "measured", "ceiling", "ratio", "target", "met?"]
    give = next(line for line in lines if line.startswith("GET /give/"))
    assert give.split()[-4:] == ["0.30", ">=", "0.30", "yes"]
    assert next(line for line in lines if line.startswith("support")).endswith("NO")
    assert next(line for line in lines if line.startswith("GET /healthz")).endswith("-")


def test_columns_line_up_in_the_text_table():
    lines = render_text(_report()).splitlines()
    table = lines[lines.index(next(x for x in lines if x.startswith("figure"))) :]
    ceilings = {line.index("4,000 req/s") for line in table if line.startswith("GET")}
    targets = {line.index(">=") for line in table if line.startswith("GET")}
    assert len(ceilings) == len(targets) == 1


def test_markdown_table_escapes_pipes_and_lists_failures_and_notes():
    report = _report()
    report.notes.append("wrk: 2 threads")
    report.fail("GET /gift/ answered 500")
    markdown = render_markdown(report)
    assert "| figure | measured | ceiling | ratio | target | met? |" in markdown
    assert "| --- | --- | --- | --- | --- | --- |" in markdown
    assert "| support \\| block | 0 queries |  |  | <= 0 queries | NO |" in markdown
    assert "- wrk: 2 threads" in markdown
    assert markdown.rstrip().endswith("- GET /gift/ answered 500")
