"""The SOC Defenders API paths the add-on calls."""

STATS_PATH = "/api/v1/iocs/stats"  # IOC counts; Pro keys only (403 for Free)
IOCS_PATH = "/api/v1/iocs"  # the indicators, paged; Free and Pro keys
