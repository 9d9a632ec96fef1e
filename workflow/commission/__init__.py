"""The selection commission (« jury de sélection », « commission régionale »): funded posts
per group (`groups`), sessions with their members and agenda (`sessions`), opinions, ranks and
scores (`assessments`), decisions proposed from the quotas and applied in one transaction
(`proposals`), the liste complémentaire that fills itself when a laureate leaves
(`waitlist`, swept by the scheduler), invited members' signed links (`links`), the audit of
what the commission does (`journal`) and the minutes (`minutes`).

Every change of a dossier's state goes through `workflow.machine`. May import: `plumbing`,
`models`, `campaigns`, `journal`, `people`, `machine`.
"""
