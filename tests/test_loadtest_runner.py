"""``loadtest.runner``: the headless command line, with and without the files a run keeps."""

from __future__ import annotations

from pathlib import Path

from loadtest.runner import headless_command


def test_the_command_runs_the_locustfile_headless_and_puts_the_options_last() -> None:
    command = headless_command(Path("bench/locustfile.py"), "http://127.0.0.1:9", users=8, spawn_rate=8,
                               run_time_s=2.5, options=["--loglevel", "WARNING", "UserClass"])

    assert Path(command[0]).name == "locust"
    assert command[1:] == ["-f", "bench/locustfile.py", "--headless", "--host", "http://127.0.0.1:9",
                           "--users", "8", "--spawn-rate", "8", "--run-time", "2.5s", "--only-summary",
                           "--loglevel", "WARNING", "UserClass"]


def test_with_a_directory_the_run_keeps_its_csv_files_full_history_and_html_report(tmp_path: Path) -> None:
    command = headless_command(Path("loadtest/locustfile.py"), "http://h", users=1, spawn_rate=0.5, run_time_s=60,
                               directory=tmp_path)

    text = " ".join(command[1:])
    assert "--spawn-rate 0.5 --run-time 60s" in text
    assert f"--csv {tmp_path}/locust --csv-full-history --html {tmp_path}/locust.html --only-summary" in text
