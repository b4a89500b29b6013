"""Gateway rule engine (GRE): condition and action plugins, compiler, engine, cache, service."""
