"""The socdefenders_ioc_stats input's own modules: snapshot, event, checkpoint, poll."""
