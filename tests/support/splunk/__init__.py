"""Stand-in for Splunk's private ``splunk`` package (tests only; see ../README.md)."""
