"""Names Splunk knows the add-on by; the input, its REST handlers and the tests share them."""

APP = "TA-socdefenders"
INPUT_TYPE = "socdefenders_ioc_stats"
SOURCETYPE = "socdefenders:ioc:stats"
ACCOUNT_CONF = "ta_socdefenders_account"
SETTINGS_CONF = "ta_socdefenders_settings"
CHECKPOINT_COLLECTION = "ta_socdefenders_checkpoints"  # default/collections.conf
# $SPLUNK_HOME/var/log/splunk/<LOG_NAME>.log; UCC's monitoring page searches *ta-socdefenders*
LOG_NAME = "ta-socdefenders_socdefenders_ioc_stats"


def credential_realm(conf_name: str) -> str:
    """Where UCC keeps the encrypted fields of ``conf_name`` in storage/passwords."""
    return f"__REST_CREDENTIAL__#{APP}#configs/conf-{conf_name}"


# The indicators input (socdefenders_iocs): see docs/indicators-design.md.
INDICATORS_INPUT_TYPE = "socdefenders_iocs"
INDICATOR_SOURCETYPE = "socdefenders:ioc"  # one event per indicator added, updated, expired
SYNC_SOURCETYPE = "socdefenders:ioc:sync"  # one summary event per run
INDICATOR_COLLECTION = "socdefenders_iocs"  # default/collections.conf, shared by every input
INDICATOR_LOOKUP = "socdefenders_ioc_lookup"  # default/transforms.conf, over the collection
INDICATORS_SETTINGS_STANZA = "indicators"  # of SETTINGS_CONF: max_age_days
INDICATORS_LOG_NAME = "ta-socdefenders_socdefenders_iocs"
