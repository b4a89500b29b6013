"""Gateway rule engine, pure core: condition schema, evaluators, compiler and interpreter."""
