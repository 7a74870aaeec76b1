"""SOC Defenders core: the rules for account and input settings (more layers follow).

Nothing in this package imports Splunk code (splunklib, solnlib, splunktaucclib, splunk):
the glue modules in ``bin/`` hand it plain values, so it is tested without a Splunk server
(``tests/unit/test_core_has_no_splunk_imports.py`` enforces this).
"""
