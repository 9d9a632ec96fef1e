"""The page a partner organisation reaches through its signed personal link, without an
account: the dossier's summary and, once published, its decision; and the co-signature where
the campaign asks for one."""
