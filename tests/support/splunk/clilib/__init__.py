"""Stand-in for ``splunk.clilib`` (tests only; see ../../README.md)."""
