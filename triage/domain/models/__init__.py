"""Models as governed versions: the registry, validation before promotion, the serving slot and model jobs."""
