"""The bench reads wrk's output (bench/web.py): requests/s, latency and errors."""

import pytest

from bench.web import Load, WrkOutputError, parse_wrk, wrk_command

RUN = """\
Running 8s test @ http://127.0.0.1:40001/give/
  2 threads and 16 connections
  Thread Stats   Avg      Stdev     Max   +/- Stdev
    Latency     4.21ms    4.16ms   1.20s    82.60%
    Req/Sec   574.00    753.83     2.83k    90.00%
  Latency Distribution
     50%  812.00us
     75%    7.65ms
     90%   10.29ms
     99%    1.02s
  9146 requests in 8.01s, 581.95KB read
  Non-2xx or 3xx responses: 12
  Socket errors: connect 0, read 2, write 0, timeout 5
Requests/sec:   1141.86
Transfer/sec:    289.38KB
REPEATED 0
"""


def test_requests_per_second_and_totals_are_read():
    result = parse_wrk(RUN)
    assert result.requests_per_second == 1141.86
    assert result.requests == 9146
    assert result.seconds == pytest.approx(8.01)


def test_latencies_are_read_in_milliseconds_whatever_unit_wrk_prints():
    result = parse_wrk(RUN)
    assert result.latency_avg_ms == pytest.approx(4.21)
    assert result.latency_percentiles_ms == pytest.approx(
        {50: 0.812, 75: 7.65, 90: 10.29, 99: 1020.0}
    )


def test_non_2xx_answers_and_socket_errors_count_as_errors():
    result = parse_wrk(RUN)
    assert result.non_2xx_3xx == 12
    assert result.socket_errors == {"connect": 0, "read": 2, "write": 0, "timeout": 5}
    assert result.errors == 19


def test_a_clean_run_has_no_errors():
    clean = "\n".join(
        line for line in RUN.splitlines() if "Non-2xx" not in line and "Socket" not in line
    )
    assert parse_wrk(clean).errors == 0


def test_output_without_figures_is_refused():
    with pytest.raises(WrkOutputError):
        parse_wrk("unable to connect to 127.0.0.1:9 Connection refused\n")


def test_command_has_the_same_load_and_passes_script_arguments_after_the_url():
    command = wrk_command(
        "http://127.0.0.1:1/stripe/webhook",
        Load(threads=3, connections=12, duration=7, warmup=1),
        headers={"Cookie": "sessionid=abc"},
        script="bench/ingest.lua",
        script_args=("var/timed.events", "3"),
    )
    assert command[:8] == [
        "wrk",
        *("--threads", "3", "--connections", "12", "--duration", "7s", "--latency"),
    ]
    assert command[command.index("--header") + 1] == "Cookie: sessionid=abc"
    url = command.index("http://127.0.0.1:1/stripe/webhook")
    assert command[url + 1 :] == ["--", "var/timed.events", "3"]
    assert command[command.index("--script") + 1] == "bench/ingest.lua"


def test_a_warm_up_run_takes_its_own_duration():
    command = wrk_command("http://x/", Load(duration=8, warmup=2), duration=2)
    assert command[command.index("--duration") + 1] == "2s"
