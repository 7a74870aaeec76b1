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
