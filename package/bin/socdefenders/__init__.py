"""SOC Defenders API core: account settings, HTTP client, response validation, events.

Nothing in this package imports Splunk code (splunklib, solnlib, splunk): the add-on's
glue modules in ``bin/`` hand it plain values, so it is tested without a Splunk server.
"""
