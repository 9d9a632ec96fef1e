"""Campaign definitions: the YAML schema, its loader and the completeness of a dossier."""
