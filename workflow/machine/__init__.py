"""THE dossier state machine and every change of a dossier.

`states` builds the one static machine from states.yaml; `spec` is what the file says of
an event; `firing` is what guards and effects see; `guards` and `effects` are registries of
the names states.yaml uses, read by `states` (they never import it back). `operations.fire`
is the one way to change a dossier's state; `closing` and `publication` are its set-based
forms for a whole campaign, `batch` fires one event on many dossiers, `editing` holds the
déposant's edits that keep the state, `numbering` the deposit numbers.

Only this package assigns a dossier's state. May import: `plumbing`, `models`, `campaigns`,
`journal`, `people` — never the instruction, mail, scheduling or web code.
"""
