"""The indicators input (``socdefenders_iocs``): its own modules, no Splunk import."""
